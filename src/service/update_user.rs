//! An administrator changes a user's name, administrator flag or plan.

use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use uuid::Uuid;

use super::Actor;
use super::audit::{self, Change, user_snapshot};
use crate::app::App;
use crate::auth::{normalize_username, valid_username};
use crate::db::models::{Plan, User};
use crate::error::{AppError, AppResult};
use crate::events::publish_account;
use crate::jobs::backfill::BackfillThumbnails;
use crate::jobs::queue;

/// What to change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    pub username: Option<String>,
    pub is_admin: Option<bool>,
    /// `Some(None)`: no plan.
    pub plan_id: Option<Option<Uuid>>,
}

pub const LAST_ADMIN: &str = "this is the last enabled administrator; make another one first";

pub async fn update_user(
    app: &Arc<App>,
    actor: &Actor,
    id: Uuid,
    changes: UserChanges,
) -> AppResult<User> {
    let username = changes
        .username
        .as_deref()
        .map(|raw| {
            let name = normalize_username(raw);
            if valid_username(&name) {
                Ok(name)
            } else {
                Err(AppError::BadUserInput(format!(
                    "invalid username {name:?}: use 1 to 64 of a-z 0-9 _ . @ -, starting with a letter or digit"
                )))
            }
        })
        .transpose()?;
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let user = conn
        .transaction::<_, AppError, _>(async |conn| {
            User::lock_admins(conn).await?;
            let before = User::find_for_update(conn, id)
                .await?
                .ok_or(AppError::NotFound)?;
            let username = username.unwrap_or_else(|| before.username.clone());
            let is_admin = changes.is_admin.unwrap_or(before.is_admin);
            let plan_id = changes.plan_id.unwrap_or(before.plan_id);
            if let Some(plan_id) = plan_id
                && Some(plan_id) != before.plan_id
                && Plan::find(conn, plan_id).await?.is_none()
            {
                return Err(AppError::BadUserInput("no such plan".into()));
            }
            if before.is_admin
                && !is_admin
                && !before.is_disabled()
                && User::count_other_enabled_admins(conn, id).await? == 0
            {
                return Err(AppError::BadUserInput(LAST_ADMIN.into()));
            }
            if username != before.username
                && User::find_by_username(conn, &username).await?.is_some()
            {
                return Err(taken(&username));
            }
            let after = User::update_profile(conn, id, &username, is_admin, plan_id)
                .await
                .map_err(|e| match e {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => taken(&username),
                    other => other.into(),
                })?;
            if after.plan_id != before.plan_id && after.plan_id.is_some() {
                queue::enqueue(conn, &BackfillThumbnails { user_id: id }, now).await?;
            }
            audit::record(
                conn,
                actor,
                now,
                Change {
                    action: "user.update",
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
    tracing::info!(user.id = %id, "user updated");
    Ok(user)
}

fn taken(username: &str) -> AppError {
    AppError::BadUserInput(format!("a user named {username:?} already exists"))
}
