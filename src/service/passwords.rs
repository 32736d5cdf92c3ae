//! Passwords: an administrator (or the operator at the CLI) resets one, a
//! user changes their own. Either revokes the user's sessions and API
//! tokens; a change keeps the credential it was made with.

use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Change};
use super::{Actor, sessions};
use crate::admin::check_password;
use crate::app::App;
use crate::auth::client::ClientInfo;
use crate::auth::throttle;
use crate::auth::viewer::AuthUser;
use crate::db::models::User;
use crate::error::{AppError, AppResult};
use crate::events::publish_account;

/// Sets a user's password; their sessions and tokens stop working, and
/// their username's login throttle starts over.
pub async fn reset_password(
    app: &Arc<App>,
    actor: &Actor,
    user_id: Uuid,
    new_password: String,
) -> AppResult<User> {
    check_password(&new_password)?;
    let user = {
        let mut conn = app.db().await?;
        User::find(&mut conn, user_id)
            .await?
            .ok_or(AppError::NotFound)?
    };
    let hash = app.hash_password(new_password).await?;
    let now = app.clock.now();
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        if User::set_password_hash(conn, user_id, &hash).await? == 0 {
            return Err(AppError::NotFound);
        }
        let revoked = sessions::revoke_credentials(conn, user_id, None, now).await?;
        throttle::clear(conn, &user.username).await?;
        audit::record(
            conn,
            actor,
            now,
            Change {
                action: "user.password_reset",
                target_type: "user",
                target_id: Some(user_id),
                target_name: Some(&user.username),
                before: None,
                after: Some(json!({ "credentialsRevoked": revoked })),
            },
        )
        .await?;
        publish_account(conn, user_id).await?;
        Ok(())
    })
    .await?;
    tracing::info!(user.id = %user_id, "password reset");
    Ok(user)
}

/// The viewer changes their own password, proving they know the current
/// one (throttled like a login, so a stolen session cannot guess it).
pub async fn change_password(
    app: &Arc<App>,
    auth: &AuthUser,
    client: Option<&ClientInfo>,
    current: String,
    new_password: String,
) -> AppResult<()> {
    check_password(&new_password)?;
    let user_id = auth.user.id;
    let stored = {
        let mut conn = app.db().await?;
        throttle::reserve(app, &mut conn, &auth.user.username, client.map(|c| c.ip)).await?;
        User::find(&mut conn, user_id)
            .await?
            .ok_or(AppError::Unauthenticated)?
            .password_hash
    };
    if !app.verify_password(current, Some(stored)).await? {
        return Err(AppError::BadUserInput(
            "the current password is not right".into(),
        ));
    }
    let hash = app.hash_password(new_password).await?;
    let now = app.clock.now();
    let actor = Actor::user(&auth.user);
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        User::set_password_hash(conn, user_id, &hash).await?;
        let revoked =
            sessions::revoke_credentials(conn, user_id, Some(auth.credential), now).await?;
        throttle::clear(conn, &auth.user.username).await?;
        audit::record(
            conn,
            &actor,
            now,
            Change {
                action: "user.password_change",
                target_type: "user",
                target_id: Some(user_id),
                target_name: Some(&auth.user.username),
                before: None,
                after: Some(json!({ "credentialsRevoked": revoked })),
            },
        )
        .await?;
        publish_account(conn, user_id).await?;
        Ok(())
    })
    .await?;
    tracing::info!(user.id = %user_id, "password changed");
    Ok(())
}
