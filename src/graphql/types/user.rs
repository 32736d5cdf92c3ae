use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::PlanObject;
use crate::db::models::{Plan, User};
use crate::error::{AppError, AppResult};
use crate::graphql::context::ContextExt;
use crate::graphql::loaders::{PlanLoader, load_one};
use crate::service::quota::Usage;

pub struct UserObject {
    pub user: User,
    /// The plan when the caller already has it (the viewer); loaded in a batch otherwise.
    pub plan: Option<Plan>,
}

#[Object(name = "User")]
impl UserObject {
    async fn id(&self) -> ID {
        ID(self.user.id.to_string())
    }

    async fn username(&self) -> &str {
        &self.user.username
    }

    async fn is_admin(&self) -> bool {
        self.user.is_admin
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.user.created_at
    }

    /// A disabled user cannot log in, and has no live sessions or tokens.
    async fn disabled(&self) -> bool {
        self.user.is_disabled()
    }

    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.user.disabled_at
    }

    async fn plan(&self, ctx: &Context<'_>) -> AppResult<Option<PlanObject>> {
        if let Some(plan) = &self.plan {
            return Ok(Some(plan.into()));
        }
        let Some(plan_id) = self.user.plan_id else {
            return Ok(None);
        };
        let plan = load_one::<PlanLoader>(ctx, plan_id, "plan").await?;
        Ok(plan.as_ref().map(PlanObject::from))
    }

    /// What the user holds against their plan's quotas; for the user and
    /// administrators. One query per user.
    async fn usage(&self, ctx: &Context<'_>) -> AppResult<UsageObject> {
        let auth = ctx.auth()?;
        if !auth.user.is_admin && auth.user.id != self.user.id {
            return Err(AppError::Forbidden);
        }
        let app = ctx.app();
        let mut conn = app.db().await?;
        let usage = Usage::of(&mut conn, self.user.id, app.clock.now()).await?;
        Ok(UsageObject {
            images: i32::try_from(usage.images).unwrap_or(i32::MAX),
            stored_bytes: usage.stored_bytes as f64,
            uploads_this_hour: i32::try_from(usage.uploads_this_hour).unwrap_or(i32::MAX),
        })
    }
}

/// A user's holdings, to compare with the plan's `maxImages`,
/// `maxStorageMib` and `maxUploadsPerHour`.
#[derive(SimpleObject)]
#[graphql(name = "Usage")]
pub struct UsageObject {
    /// Unexpired images.
    pub images: i32,
    /// Bytes of their originals (a Float: it may pass 2^31).
    pub stored_bytes: f64,
    /// Images uploaded in the current clock hour, deleted ones included.
    pub uploads_this_hour: i32,
}

/// The answer to `login`.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserObject,
}
