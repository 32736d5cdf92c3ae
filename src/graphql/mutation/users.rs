use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};

use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::{UserObject, parse_id};
use crate::service::{self, Actor};

/// Fields to change; those left out stay as they are.
#[derive(InputObject)]
pub struct UpdateUserInput {
    pub username: Option<String>,
    /// Refused for the last enabled administrator.
    pub is_admin: Option<bool>,
    /// null: no plan.
    pub plan_id: MaybeUndefined<ID>,
}

fn actor(ctx: &Context<'_>) -> AppResult<Actor> {
    Ok(Actor::user(&ctx.auth()?.user))
}

/// The user life cycle, for administrators.
#[derive(Default)]
pub struct UsersMutation;

#[Object]
impl UsersMutation {
    /// A new plan backfills the thumbnails it grants; a demoted
    /// administrator loses admin rights on their next request, WebSockets included.
    #[graphql(guard = "Role::Admin")]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateUserInput,
    ) -> AppResult<UserObject> {
        let plan_id = match input.plan_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(parse_id(&id)?)),
        };
        let changes = service::update_user::UserChanges {
            username: input.username,
            is_admin: input.is_admin,
            plan_id,
        };
        let user =
            service::update_user::update_user(ctx.app(), &actor(ctx)?, parse_id(&id)?, changes)
                .await?;
        Ok(UserObject { user, plan: None })
    }

    /// The user cannot log in, and every session and token of theirs stops
    /// working at once. Refused for yourself and the last administrator.
    #[graphql(guard = "Role::Admin")]
    async fn disable_user(&self, ctx: &Context<'_>, id: ID) -> AppResult<UserObject> {
        let user =
            service::user_status::disable_user(ctx.app(), &actor(ctx)?, parse_id(&id)?).await?;
        Ok(UserObject { user, plan: None })
    }

    /// The user may log in again (old sessions and tokens stay revoked).
    #[graphql(guard = "Role::Admin")]
    async fn enable_user(&self, ctx: &Context<'_>, id: ID) -> AppResult<UserObject> {
        let user =
            service::user_status::enable_user(ctx.app(), &actor(ctx)?, parse_id(&id)?).await?;
        Ok(UserObject { user, plan: None })
    }

    /// Deletes the user with their images, thumbnails, links, uploads,
    /// sessions and tokens; their objects are removed in the background.
    /// Refused for yourself and the last administrator.
    #[graphql(guard = "Role::Admin")]
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        service::delete_user::delete_user(ctx.app(), &actor(ctx)?, parse_id(&id)?).await?;
        Ok(true)
    }

    /// Sets a user's password (at least 8 characters); their sessions and
    /// tokens stop working.
    #[graphql(guard = "Role::Admin")]
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        #[graphql(secret)] new_password: String,
    ) -> AppResult<bool> {
        service::passwords::reset_password(
            ctx.app(),
            &actor(ctx)?,
            parse_id(&user_id)?,
            new_password,
        )
        .await?;
        Ok(true)
    }
}
