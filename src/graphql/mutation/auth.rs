use async_graphql::{Context, Object};

use crate::auth::password::MAX_PASSWORD_LEN;
use crate::auth::{normalize_username, verify_password};
use crate::db::models::User;
use crate::error::{AppError, AppResult};
use crate::graphql::context::{ClientIp, ContextExt};
use crate::graphql::types::{AuthPayload, UserObject};

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Exchanges a username and password for an access token. A wrong password
    /// and an unknown user get the same answer, in similar time.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username: String,
        #[graphql(secret)] password: String,
    ) -> AppResult<AuthPayload> {
        let app = ctx.app();
        if password.len() > MAX_PASSWORD_LEN || username.len() > 256 {
            return Err(AppError::Unauthenticated);
        }
        let name = normalize_username(&username);
        let ip = ctx.data_opt::<ClientIp>().map(|c| c.0);
        if let Err(wait) = app.login_limiter.check(ip, &name, app.clock.now()) {
            tracing::warn!(username = %name, ip = ?ip, "login rate limited");
            return Err(AppError::TooManyRequests(format!(
                "too many login attempts; try again in {wait} seconds"
            )));
        }
        let user = {
            let mut conn = app.db().await?;
            User::find_by_username(&mut conn, &name).await?
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, stored.as_deref()))
            .await
            .map_err(AppError::internal)?;
        let Some(user) = user.filter(|_| ok) else {
            tracing::info!(username = %name, "login failed");
            app.login_limiter.record_failure(&name, app.clock.now());
            return Err(AppError::Unauthenticated);
        };
        app.login_limiter.record_success(&name);
        let now = app.clock.now();
        let expires_at =
            now + chrono::Duration::from_std(app.config.token_ttl).map_err(AppError::internal)?;
        let token = app
            .tokens
            .issue(user.id, now, expires_at)
            .map_err(AppError::internal)?;
        tracing::info!(user.id = %user.id, "login");
        Ok(AuthPayload {
            token,
            expires_at,
            user: UserObject { user, plan: None },
        })
    }
}
