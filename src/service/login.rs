//! Logging in: throttled before the password is hashed, then a session.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::app::App;
use crate::auth::client::ClientInfo;
use crate::auth::password::MAX_PASSWORD_LEN;
use crate::auth::{normalize_username, throttle};
use crate::db::models::{Session, User};
use crate::error::{AppError, AppResult};

pub struct LoggedIn {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// A wrong password, an unknown user and a disabled user get the same
/// answer, in similar time.
#[tracing::instrument(skip_all)]
pub async fn login(
    app: &Arc<App>,
    username: &str,
    password: String,
    client: Option<&ClientInfo>,
) -> AppResult<LoggedIn> {
    if password.len() > MAX_PASSWORD_LEN || username.len() > 256 {
        return Err(AppError::Unauthenticated);
    }
    let name = normalize_username(username);
    let user = {
        let mut conn = app.db().await?;
        throttle::reserve(app, &mut conn, &name, client.map(|c| c.ip)).await?;
        User::find_by_username(&mut conn, &name).await?
    };
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let ok = app.verify_password(password, stored).await?;
    let Some(user) = user.filter(|u| ok && !u.is_disabled()) else {
        tracing::info!(username = %name, "login failed");
        return Err(AppError::Unauthenticated);
    };
    let now = app.clock.now();
    let expires_at =
        now + chrono::Duration::from_std(app.config.token_ttl).map_err(AppError::internal)?;
    let session = Session {
        id: Uuid::now_v7(),
        user_id: user.id,
        created_at: now,
        last_used_at: now,
        expires_at,
        revoked_at: None,
        client_address: client.map(|c| c.ip.to_string()),
        user_agent: client.and_then(|c| c.user_agent.clone()),
    };
    {
        let mut conn = app.db().await?;
        throttle::clear(&mut conn, &name).await?;
        session.insert(&mut conn).await?;
    }
    let token = app
        .tokens
        .issue(user.id, session.id, now, expires_at)
        .map_err(AppError::internal)?;
    tracing::info!(user.id = %user.id, session.id = %session.id, "login");
    Ok(LoggedIn {
        token,
        expires_at,
        user,
    })
}
