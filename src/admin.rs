//! What administrators do, shared by GraphQL and the CLI: plans, users and
//! plan assignment. Plan changes enqueue thumbnail backfills in the same
//! transaction; every change writes its audit entry in it too. (The account
//! use cases added since live in `service/`.)

use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use uuid::Uuid;

use crate::app::App;
use crate::auth::password::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use crate::auth::{normalize_username, valid_username};
use crate::db::models::plan::{FORMAT_ORIGINAL, FORMAT_WEBP};
use crate::db::models::{NewPlan, NewUser, Plan, User};
use crate::error::{AppError, AppResult};
use crate::events::publish_account;
use crate::jobs::backfill::BackfillThumbnails;
use crate::jobs::queue;
use crate::service::Actor;
use crate::service::audit::{self, Change, plan_snapshot, user_snapshot};

pub const MAX_HEIGHTS: usize = 10;
pub const HEIGHT_RANGE: std::ops::RangeInclusive<i32> = 16..=4096;

/// A plan as an administrator describes it.
#[derive(Clone, Debug)]
pub struct PlanSpec {
    pub name: String,
    pub thumbnail_heights: Vec<i32>,
    pub original_link: bool,
    pub expiring_links: bool,
    /// `original` or `webp` (see `db::models::plan`).
    pub thumbnail_format: String,
    /// Quotas (see `service::quota`); `None` is unlimited.
    pub max_images: Option<i32>,
    pub max_storage_bytes: Option<i64>,
    pub max_uploads_per_hour: Option<i32>,
}

impl PlanSpec {
    fn as_new(&self) -> NewPlan<'_> {
        NewPlan {
            name: &self.name,
            thumbnail_heights: &self.thumbnail_heights,
            original_link: self.original_link,
            expiring_links: self.expiring_links,
            thumbnail_format: &self.thumbnail_format,
            max_images: self.max_images,
            max_storage_bytes: self.max_storage_bytes,
            max_uploads_per_hour: self.max_uploads_per_hour,
        }
    }

    /// Checks the rules the database also enforces, with messages a person can act on.
    fn validate(mut self) -> AppResult<PlanSpec> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.chars().count() > 64 {
            return Err(AppError::BadUserInput(
                "name must have 1 to 64 characters".into(),
            ));
        }
        if self.thumbnail_heights.len() > MAX_HEIGHTS {
            return Err(AppError::BadUserInput(format!(
                "a plan has at most {MAX_HEIGHTS} thumbnail heights"
            )));
        }
        if let Some(h) = self
            .thumbnail_heights
            .iter()
            .find(|h| !HEIGHT_RANGE.contains(h))
        {
            return Err(AppError::BadUserInput(format!(
                "thumbnail height {h} is outside {}..={}",
                HEIGHT_RANGE.start(),
                HEIGHT_RANGE.end()
            )));
        }
        let mut sorted = self.thumbnail_heights.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(AppError::BadUserInput(
                "thumbnail heights must be distinct".into(),
            ));
        }
        self.thumbnail_heights = sorted;
        let positive = |v: Option<i64>| v.is_none_or(|v| v > 0);
        if !positive(self.max_images.map(i64::from))
            || !positive(self.max_storage_bytes)
            || !positive(self.max_uploads_per_hour.map(i64::from))
        {
            return Err(AppError::BadUserInput(
                "quotas must be positive (leave them out for no limit)".into(),
            ));
        }
        if ![FORMAT_ORIGINAL, FORMAT_WEBP].contains(&self.thumbnail_format.as_str()) {
            return Err(AppError::BadUserInput(format!(
                "unknown thumbnail format {:?}",
                self.thumbnail_format
            )));
        }
        Ok(self)
    }
}

async fn ensure_name_free(app: &Arc<App>, name: &str, except: Option<Uuid>) -> AppResult<()> {
    let mut conn = app.db().await?;
    match Plan::find_by_name(&mut conn, name).await? {
        Some(existing) if Some(existing.id) != except => Err(AppError::BadUserInput(format!(
            "a plan named {:?} already exists",
            existing.name
        ))),
        _ => Ok(()),
    }
}

pub async fn create_plan(app: &Arc<App>, actor: &Actor, spec: PlanSpec) -> AppResult<Plan> {
    let spec = spec.validate()?;
    ensure_name_free(app, &spec.name, None).await?;
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let plan = conn
        .transaction::<_, AppError, _>(async |conn| {
            let plan = spec.as_new().insert(conn).await.map_err(unique_name)?;
            audit::record(
                conn,
                actor,
                now,
                Change {
                    action: "plan.create",
                    target_type: "plan",
                    target_id: Some(plan.id),
                    target_name: Some(&plan.name),
                    before: None,
                    after: Some(plan_snapshot(&plan)),
                },
            )
            .await?;
            Ok(plan)
        })
        .await?;
    tracing::info!(plan.id = %plan.id, plan.name = %plan.name, "plan created");
    Ok(plan)
}

/// Changes a plan; when its heights change, every holder's images get the
/// new heights by background jobs.
pub async fn update_plan(
    app: &Arc<App>,
    actor: &Actor,
    id: Uuid,
    spec: PlanSpec,
) -> AppResult<Plan> {
    let spec = spec.validate()?;
    ensure_name_free(app, &spec.name, Some(id)).await?;
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let plan = conn
        .transaction::<_, AppError, _>(async |conn| {
            let Some(old) = Plan::find(conn, id).await? else {
                return Err(AppError::NotFound);
            };
            let plan = spec.as_new().update(conn, id).await.map_err(unique_name)?;
            if plan.heights() != old.heights() {
                let holders = User::ids_with_plan(conn, id).await?;
                for user_id in holders {
                    queue::enqueue(conn, &BackfillThumbnails { user_id }, now).await?;
                }
            }
            audit::record(
                conn,
                actor,
                now,
                Change {
                    action: "plan.update",
                    target_type: "plan",
                    target_id: Some(plan.id),
                    target_name: Some(&plan.name),
                    before: Some(plan_snapshot(&old)),
                    after: Some(plan_snapshot(&plan)),
                },
            )
            .await?;
            Ok(plan)
        })
        .await?;
    tracing::info!(plan.id = %plan.id, "plan updated");
    Ok(plan)
}

/// Refused while any user holds the plan.
pub async fn delete_plan(app: &Arc<App>, actor: &Actor, id: Uuid) -> AppResult<()> {
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let holders = Plan::holders(&mut conn, id).await?;
    if holders > 0 {
        return Err(AppError::BadUserInput(format!(
            "the plan is held by {holders} user(s); move them to another plan first"
        )));
    }
    conn.transaction::<_, AppError, _>(async |conn| {
        let plan = Plan::find(conn, id).await?.ok_or(AppError::NotFound)?;
        match Plan::delete(conn, id).await {
            Ok(0) => return Err(AppError::NotFound),
            Ok(_) => {}
            // A user took the plan between the check and the delete.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _,
            )) => return Err(AppError::BadUserInput("the plan is held by users".into())),
            Err(e) => return Err(e.into()),
        }
        audit::record(
            conn,
            actor,
            now,
            Change {
                action: "plan.delete",
                target_type: "plan",
                target_id: Some(id),
                target_name: Some(&plan.name),
                before: Some(plan_snapshot(&plan)),
                after: None,
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// A new user for the admin API and the CLI.
#[derive(Clone, Debug)]
pub struct UserSpec {
    pub username: String,
    pub password: String,
    pub is_admin: bool,
    /// `None`: the Basic plan.
    pub plan_id: Option<Uuid>,
}

pub fn check_password(password: &str) -> AppResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::BadUserInput(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::BadUserInput("the password is too long".into()));
    }
    Ok(())
}

pub async fn create_user(app: &Arc<App>, actor: &Actor, spec: UserSpec) -> AppResult<User> {
    let username = normalize_username(&spec.username);
    if !valid_username(&username) {
        return Err(AppError::BadUserInput(format!(
            "invalid username {username:?}: use 1 to 64 of a-z 0-9 _ . @ -, starting with a letter or digit"
        )));
    }
    check_password(&spec.password)?;
    let mut conn = app.db().await?;
    let plan = match spec.plan_id {
        Some(id) => Plan::find(&mut conn, id).await?,
        None => Plan::find_by_name(&mut conn, "Basic").await?,
    }
    .ok_or_else(|| AppError::BadUserInput("no such plan".into()))?;
    if User::find_by_username(&mut conn, &username)
        .await?
        .is_some()
    {
        return Err(AppError::BadUserInput(format!(
            "a user named {username:?} already exists"
        )));
    }
    drop(conn);
    let hash = app.hash_password(spec.password).await?;
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let user = conn
        .transaction::<_, AppError, _>(async |conn| {
            let user = NewUser {
                id: Uuid::now_v7(),
                username: &username,
                password_hash: &hash,
                is_admin: spec.is_admin,
                plan_id: Some(plan.id),
            }
            .insert(conn)
            .await
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => AppError::BadUserInput(format!("a user named {username:?} already exists")),
                other => other.into(),
            })?;
            audit::record(
                conn,
                actor,
                now,
                Change {
                    action: "user.create",
                    target_type: "user",
                    target_id: Some(user.id),
                    target_name: Some(&user.username),
                    before: None,
                    after: Some(user_snapshot(&user)),
                },
            )
            .await?;
            Ok(user)
        })
        .await?;
    tracing::info!(user.id = %user.id, admin = user.is_admin, "user created");
    Ok(user)
}

/// Assigns a plan (or none) and backfills the thumbnails it grants.
pub async fn set_user_plan(
    app: &Arc<App>,
    actor: &Actor,
    user_id: Uuid,
    plan_id: Option<Uuid>,
) -> AppResult<User> {
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let user = conn
        .transaction::<_, AppError, _>(async |conn| {
            if let Some(plan_id) = plan_id
                && Plan::find(conn, plan_id).await?.is_none()
            {
                return Err(AppError::BadUserInput("no such plan".into()));
            }
            let Some(before) = User::find(conn, user_id).await? else {
                return Err(AppError::NotFound);
            };
            let user = User::set_plan(conn, user_id, plan_id).await?;
            if before.plan_id != plan_id && plan_id.is_some() {
                queue::enqueue(conn, &BackfillThumbnails { user_id }, now).await?;
            }
            audit::record(
                conn,
                actor,
                now,
                Change {
                    action: "user.set_plan",
                    target_type: "user",
                    target_id: Some(user_id),
                    target_name: Some(&user.username),
                    before: Some(user_snapshot(&before)),
                    after: Some(user_snapshot(&user)),
                },
            )
            .await?;
            publish_account(conn, user_id).await?;
            Ok(user)
        })
        .await?;
    tracing::info!(user.id = %user_id, plan.id = ?plan_id, "plan assigned");
    Ok(user)
}

fn unique_name(e: diesel::result::Error) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::BadUserInput("a plan with that name already exists".into()),
        other => other.into(),
    }
}
