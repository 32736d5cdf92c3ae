//! API tokens (personal access tokens) for scripts and CI: made by a
//! logged-in user, shown once, listed with their last use, revoked.

use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use serde_json::json;
use uuid::Uuid;

use super::Actor;
use super::audit::{self, Change};
use crate::app::App;
use crate::auth::api_token;
use crate::auth::viewer::AuthUser;
use crate::db::models::ApiToken;
use crate::error::{AppError, AppResult};
use crate::events::publish_account;

/// Live tokens one user may hold.
pub const MAX_LIVE_TOKENS: i64 = 50;
/// `expiresIn` bounds, in seconds (a minute to two years); none: never expires.
pub const EXPIRES_IN: std::ops::RangeInclusive<i32> = 60..=63_072_000;

/// Makes a token for the viewer; returns it with its secret, which is not
/// stored and cannot be shown again.
pub async fn create(
    app: &Arc<App>,
    auth: &AuthUser,
    name: &str,
    expires_in: Option<i32>,
) -> AppResult<(ApiToken, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::BadUserInput(
            "name must have 1 to 64 characters".into(),
        ));
    }
    if let Some(s) = expires_in
        && !EXPIRES_IN.contains(&s)
    {
        return Err(AppError::BadUserInput(format!(
            "expiresIn must be between {} and {} seconds (or null: never)",
            EXPIRES_IN.start(),
            EXPIRES_IN.end()
        )));
    }
    let now = app.clock.now();
    let secret = api_token::generate();
    let token = ApiToken {
        id: Uuid::now_v7(),
        user_id: auth.user.id,
        name: name.to_owned(),
        token_hash: secret.hash,
        prefix: secret.prefix,
        created_at: now,
        last_used_at: None,
        expires_at: expires_in.map(|s| now + chrono::Duration::seconds(i64::from(s))),
        revoked_at: None,
    };
    let actor = Actor::user(&auth.user);
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        if ApiToken::count_live(conn, auth.user.id, now).await? >= MAX_LIVE_TOKENS {
            return Err(AppError::BadUserInput(format!(
                "at most {MAX_LIVE_TOKENS} API tokens may be live at once; revoke some first"
            )));
        }
        token.insert(conn).await?;
        audit::record(
            conn,
            &actor,
            now,
            Change {
                action: "api_token.create",
                target_type: "api_token",
                target_id: Some(token.id),
                target_name: Some(&token.name),
                before: None,
                after: Some(json!({
                    "userId": token.user_id,
                    "name": token.name,
                    "prefix": token.prefix,
                    "expiresAt": token.expires_at,
                })),
            },
        )
        .await?;
        Ok(())
    })
    .await?;
    tracing::info!(api_token.id = %token.id, user.id = %auth.user.id, "API token created");
    Ok((token, secret.secret))
}

/// A user's tokens that are not revoked, newest first.
pub async fn list_for_user(app: &Arc<App>, user_id: Uuid) -> AppResult<Vec<ApiToken>> {
    let mut conn = app.db().await?;
    Ok(ApiToken::unrevoked_for_user(&mut conn, user_id).await?)
}

/// Revokes a token: one's own, or (administrators) anyone's.
pub async fn revoke(app: &Arc<App>, auth: &AuthUser, id: Uuid) -> AppResult<()> {
    let now = app.clock.now();
    let actor = Actor::user(&auth.user);
    let only_own = (!auth.user.is_admin).then_some(auth.user.id);
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let token = ApiToken::revoke(conn, id, only_own, now)
            .await?
            .ok_or(AppError::NotFound)?;
        audit::record(
            conn,
            &actor,
            now,
            Change {
                action: "api_token.revoke",
                target_type: "api_token",
                target_id: Some(token.id),
                target_name: Some(&token.name),
                before: Some(json!({ "userId": token.user_id, "revoked": false })),
                after: Some(json!({ "userId": token.user_id, "revoked": true })),
            },
        )
        .await?;
        publish_account(conn, token.user_id).await?;
        Ok(())
    })
    .await?;
    tracing::info!(api_token.id = %id, "API token revoked");
    Ok(())
}
