//! What operators watch: the job queue, failed jobs, readiness.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::service::operations::{self, Readiness};

#[derive(Default)]
pub struct OperationsQuery;

#[Object]
impl OperationsQuery {
    /// The job queue (administrators only).
    #[graphql(guard = "Role::Admin")]
    async fn queue(&self, ctx: &Context<'_>) -> AppResult<QueueStatusObject> {
        let status = operations::queue_status(ctx.app()).await?;
        Ok(QueueStatusObject {
            queued: i32::try_from(status.queued).unwrap_or(i32::MAX),
            running: i32::try_from(status.running).unwrap_or(i32::MAX),
            failed: i32::try_from(status.failed).unwrap_or(i32::MAX),
            oldest_queued_seconds: status.oldest_queued_seconds,
        })
    }

    /// Whether the database and object storage answer, as `/readyz` says
    /// (administrators only).
    #[graphql(guard = "Role::Admin")]
    async fn readiness(&self, ctx: &Context<'_>) -> ReadinessObject {
        let answer = operations::readiness(ctx.app()).await;
        ReadinessObject {
            database: Readiness::word(&answer.database).to_owned(),
            storage: Readiness::word(&answer.storage).to_owned(),
        }
    }
}

/// Jobs by state.
#[derive(SimpleObject)]
#[graphql(name = "QueueStatus", complex)]
pub struct QueueStatusObject {
    pub queued: i32,
    pub running: i32,
    /// Failed for good; see `failedJobs`, retry with `retryJob`.
    pub failed: i32,
    /// Age of the oldest due job, 0 when none waits.
    pub oldest_queued_seconds: f64,
}

#[async_graphql::ComplexObject]
impl QueueStatusObject {
    /// The newest failed jobs with their last error.
    #[graphql(complexity = "crate::graphql::page_cost(first, child_complexity)")]
    async fn failed_jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> AppResult<Vec<FailedJobObject>> {
        let jobs = operations::failed_jobs(ctx.app(), i64::from(first)).await?;
        Ok(jobs
            .into_iter()
            .map(|j| FailedJobObject {
                id: ID(j.id.to_string()),
                kind: j.kind,
                attempts: j.attempts,
                last_error: j.last_error,
                created_at: j.created_at,
            })
            .collect())
    }
}

/// A job that failed for good.
#[derive(SimpleObject)]
#[graphql(name = "FailedJob")]
pub struct FailedJobObject {
    pub id: ID,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `ok` or `unavailable` per dependency.
#[derive(SimpleObject)]
#[graphql(name = "Readiness")]
pub struct ReadinessObject {
    pub database: String,
    pub storage: String,
}
