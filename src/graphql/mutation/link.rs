use async_graphql::{Context, ID, Object};

use crate::db::models::ExpiringLink;
use crate::error::{AppError, AppResult};
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::{LinkObject, parse_id};

#[derive(Default)]
pub struct LinkMutation;

#[Object]
impl LinkMutation {
    /// A link to the original that works without logging in, for `expiresIn`
    /// seconds (300 to 30000). Needs a plan with expiring links.
    #[graphql(guard = "Role::User")]
    async fn create_expiring_link(
        &self,
        ctx: &Context<'_>,
        image_id: ID,
        expires_in: i32,
    ) -> AppResult<LinkObject> {
        let auth = ctx.auth()?;
        let image_id = parse_id(&image_id).map_err(|_| AppError::NotFound)?;
        let (link, image) = crate::links::create(
            ctx.app(),
            auth.user.id,
            auth.plan.as_ref(),
            image_id,
            expires_in,
        )
        .await?;
        Ok(LinkObject { link, image })
    }

    /// Revokes a link at once: it answers 410 Gone from now on.
    #[graphql(guard = "Role::User")]
    async fn delete_expiring_link(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let auth = ctx.auth()?;
        let app = ctx.app();
        let id = parse_id(&id).map_err(|_| AppError::NotFound)?;
        let mut conn = app.db().await?;
        if !ExpiringLink::revoke(&mut conn, auth.user.id, id, app.clock.now()).await? {
            return Err(AppError::NotFound);
        }
        Ok(true)
    }
}
