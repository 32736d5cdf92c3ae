use async_graphql::{Context, ID, Object};

use crate::error::{AppError, AppResult};
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::{ApiTokenObject, CreatedApiToken, parse_id};
use crate::service;

/// Sessions and API tokens.
#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Revokes one of your sessions (administrators: anyone's). Its token
    /// is refused from the next request on, and its WebSockets close (4401).
    #[graphql(guard = "Role::User")]
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let id = parse_id(&id).map_err(|_| AppError::NotFound)?;
        service::sessions::revoke(ctx.app(), ctx.auth()?, id).await?;
        Ok(true)
    }

    /// A token for scripts, valid for `expiresIn` seconds (60 to 63072000;
    /// null: until revoked). Needs a login session: an API token cannot make
    /// more tokens.
    #[graphql(guard = "Role::Session")]
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        expires_in: Option<i32>,
    ) -> AppResult<CreatedApiToken> {
        let (token, secret) =
            service::api_tokens::create(ctx.app(), ctx.auth()?, &name, expires_in).await?;
        Ok(CreatedApiToken {
            secret,
            api_token: ApiTokenObject(token),
        })
    }

    /// Revokes one of your API tokens (administrators: anyone's).
    #[graphql(guard = "Role::User")]
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let id = parse_id(&id).map_err(|_| AppError::NotFound)?;
        service::api_tokens::revoke(ctx.app(), ctx.auth()?, id).await?;
        Ok(true)
    }
}
