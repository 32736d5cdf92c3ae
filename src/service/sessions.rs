//! Sessions: your own list, logging out, revoking one; and revoking all of
//! a user's credentials when their password changes or they are disabled.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use serde_json::json;
use uuid::Uuid;

use super::Actor;
use super::audit::{self, Change};
use crate::app::App;
use crate::auth::viewer::{AuthUser, Credential};
use crate::db::models::{ApiToken, Session};
use crate::error::{AppError, AppResult};
use crate::events::publish_account;

/// A user's live sessions, newest first.
pub async fn list_for_user(app: &Arc<App>, user_id: Uuid) -> AppResult<Vec<Session>> {
    let mut conn = app.db().await?;
    Ok(Session::live_for_user(&mut conn, user_id, app.clock.now()).await?)
}

/// Ends the credential this request came with (a session, or an API token).
pub async fn logout(app: &Arc<App>, auth: &AuthUser) -> AppResult<()> {
    let now = app.clock.now();
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        match auth.credential {
            Credential::Session(id) => {
                Session::revoke(conn, id, Some(auth.user.id), now).await?;
            }
            Credential::ApiToken(id) => {
                ApiToken::revoke(conn, id, Some(auth.user.id), now).await?;
            }
        }
        publish_account(conn, auth.user.id).await?;
        Ok(())
    })
    .await?;
    tracing::info!(user.id = %auth.user.id, "logout");
    Ok(())
}

/// Revokes a session: one's own, or (administrators) anyone's. Another
/// user's session answers a non-administrator like one that does not exist.
pub async fn revoke(app: &Arc<App>, auth: &AuthUser, id: Uuid) -> AppResult<()> {
    let now = app.clock.now();
    let actor = Actor::user(&auth.user);
    let only_own = (!auth.user.is_admin).then_some(auth.user.id);
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let session = Session::revoke(conn, id, only_own, now)
            .await?
            .ok_or(AppError::NotFound)?;
        audit::record(
            conn,
            &actor,
            now,
            Change {
                action: "session.revoke",
                target_type: "session",
                target_id: Some(session.id),
                target_name: None,
                before: Some(json!({ "userId": session.user_id, "revoked": false })),
                after: Some(json!({ "userId": session.user_id, "revoked": true })),
            },
        )
        .await?;
        publish_account(conn, session.user_id).await?;
        Ok(())
    })
    .await?;
    tracing::info!(session.id = %id, "session revoked");
    Ok(())
}

/// Revokes every session and API token of a user but `keep`; returns how
/// many went. Call it in the transaction of the change that demands it.
pub async fn revoke_credentials(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    keep: Option<Credential>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    let keep_session = match keep {
        Some(Credential::Session(id)) => Some(id),
        _ => None,
    };
    let keep_token = match keep {
        Some(Credential::ApiToken(id)) => Some(id),
        _ => None,
    };
    let sessions = Session::revoke_all_for_user(conn, user_id, keep_session, now).await?;
    let tokens = ApiToken::revoke_all_for_user(conn, user_id, keep_token, now).await?;
    Ok(sessions + tokens)
}
