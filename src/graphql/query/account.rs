use async_graphql::{Context, ID, Object};

use crate::error::{AppError, AppResult};
use crate::graphql::context::{ContextExt, Credential};
use crate::graphql::guards::SelfOrAdmin;
use crate::graphql::types::{ApiTokenObject, SessionObject, parse_id};
use crate::service;

#[derive(Default)]
pub struct AccountQuery;

/// Whose sessions or tokens: the viewer's, or (administrators) `user_id`'s.
fn owner(ctx: &Context<'_>, user_id: Option<&ID>) -> AppResult<uuid::Uuid> {
    match user_id {
        Some(id) => parse_id(id).map_err(|_| AppError::NotFound),
        None => Ok(ctx.auth()?.user.id),
    }
}

#[Object]
impl AccountQuery {
    /// Your live sessions (logins), newest first. Administrators may name
    /// another user.
    #[graphql(guard = "SelfOrAdmin(user_id.clone())")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
    ) -> AppResult<Vec<SessionObject>> {
        let auth = ctx.auth()?;
        let rows =
            service::sessions::list_for_user(ctx.app(), owner(ctx, user_id.as_ref())?).await?;
        Ok(rows
            .into_iter()
            .map(|session| SessionObject {
                current: auth.credential == Credential::Session(session.id),
                session,
            })
            .collect())
    }

    /// Your API tokens that are not revoked (expired ones included), newest
    /// first. Administrators may name another user.
    #[graphql(guard = "SelfOrAdmin(user_id.clone())")]
    async fn api_tokens(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
    ) -> AppResult<Vec<ApiTokenObject>> {
        let rows =
            service::api_tokens::list_for_user(ctx.app(), owner(ctx, user_id.as_ref())?).await?;
        Ok(rows.into_iter().map(ApiTokenObject).collect())
    }
}
