use async_graphql::{Context, Object};

use crate::error::AppResult;
use crate::graphql::context::{ClientInfo, ContextExt};
use crate::graphql::guards::Role;
use crate::graphql::types::{AuthPayload, UserObject};
use crate::service;

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Exchanges a username and password for an access token and opens a
    /// session. A wrong password and an unknown user get the same answer, in
    /// similar time; too many attempts get `TOO_MANY_REQUESTS`.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        #[graphql(secret)] password: String,
    ) -> AppResult<AuthPayload> {
        let client = ctx.data_opt::<ClientInfo>();
        let done = service::login::login(ctx.app(), &username, password, client).await?;
        Ok(AuthPayload {
            token: done.token,
            expires_at: done.expires_at,
            user: UserObject {
                user: done.user,
                plan: None,
            },
        })
    }

    /// Ends the session (or revokes the API token) this request was made with.
    #[graphql(guard = "Role::User")]
    async fn logout(&self, ctx: &Context<'_>) -> AppResult<bool> {
        service::sessions::logout(ctx.app(), ctx.auth()?).await?;
        Ok(true)
    }

    /// Changes your password. Every other session and every API token of
    /// yours stops working; this session stays.
    #[graphql(guard = "Role::User")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] current_password: String,
        #[graphql(secret)] new_password: String,
    ) -> AppResult<bool> {
        let client = ctx.data_opt::<ClientInfo>();
        service::passwords::change_password(
            ctx.app(),
            ctx.auth()?,
            client,
            current_password,
            new_password,
        )
        .await?;
        Ok(true)
    }
}
