//! Disabling and enabling a user. A disabled user cannot log in, and every
//! session and token of theirs is revoked at once (open WebSockets close):
//! enabling them again does not bring old tokens back.

use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use uuid::Uuid;

use super::audit::{self, Change, user_snapshot};
use super::update_user::LAST_ADMIN;
use super::{Actor, sessions};
use crate::app::App;
use crate::db::models::User;
use crate::error::{AppError, AppResult};
use crate::events::publish_account;

pub async fn disable_user(app: &Arc<App>, actor: &Actor, id: Uuid) -> AppResult<User> {
    set_disabled(app, actor, id, true).await
}

pub async fn enable_user(app: &Arc<App>, actor: &Actor, id: Uuid) -> AppResult<User> {
    set_disabled(app, actor, id, false).await
}

async fn set_disabled(app: &Arc<App>, actor: &Actor, id: Uuid, disable: bool) -> AppResult<User> {
    if disable && actor.is(id) {
        return Err(AppError::BadUserInput("you cannot disable yourself".into()));
    }
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let user = conn
        .transaction::<_, AppError, _>(async |conn| {
            User::lock_admins(conn).await?;
            let before = User::find_for_update(conn, id)
                .await?
                .ok_or(AppError::NotFound)?;
            if before.is_disabled() == disable {
                return Ok(before);
            }
            if disable && before.is_admin && User::count_other_enabled_admins(conn, id).await? == 0
            {
                return Err(AppError::BadUserInput(LAST_ADMIN.into()));
            }
            let after = User::set_disabled(conn, id, disable.then_some(now)).await?;
            if disable {
                sessions::revoke_credentials(conn, id, None, now).await?;
            }
            audit::record(
                conn,
                actor,
                now,
                Change {
                    action: if disable {
                        "user.disable"
                    } else {
                        "user.enable"
                    },
                    target_type: "user",
                    target_id: Some(id),
                    target_name: Some(&after.username),
                    before: Some(user_snapshot(&before)),
                    after: Some(user_snapshot(&after)),
                },
            )
            .await?;
            publish_account(conn, id).await?;
            Ok(after)
        })
        .await?;
    tracing::info!(user.id = %id, disabled = disable, "user status changed");
    Ok(user)
}
