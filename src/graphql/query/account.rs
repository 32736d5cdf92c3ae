use async_graphql::{Context, Object};

use crate::error::AppResult;
use crate::graphql::context::{ContextExt, Credential};
use crate::graphql::guards::Role;
use crate::graphql::types::{ApiTokenObject, SessionObject};
use crate::service;

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// Your live sessions (logins), newest first.
    #[graphql(guard = "Role::User")]
    async fn sessions(&self, ctx: &Context<'_>) -> AppResult<Vec<SessionObject>> {
        let auth = ctx.auth()?;
        let rows = service::sessions::list_own(ctx.app(), auth.user.id).await?;
        Ok(rows
            .into_iter()
            .map(|session| SessionObject {
                current: auth.credential == Credential::Session(session.id),
                session,
            })
            .collect())
    }

    /// Your API tokens that are not revoked (expired ones included), newest first.
    #[graphql(guard = "Role::User")]
    async fn api_tokens(&self, ctx: &Context<'_>) -> AppResult<Vec<ApiTokenObject>> {
        let auth = ctx.auth()?;
        let rows = service::api_tokens::list_own(ctx.app(), auth.user.id).await?;
        Ok(rows.into_iter().map(ApiTokenObject).collect())
    }
}
