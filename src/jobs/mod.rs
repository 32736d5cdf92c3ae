//! The durable job queue on Postgres and the tokio worker pool that runs it.
//!
//! Jobs are enqueued in the transaction that creates the rows they serve,
//! claimed with `FOR UPDATE SKIP LOCKED` under a lease, retried with
//! exponential backoff, and failed for good after their attempts run out.

pub mod backfill;
pub mod budget;
pub mod delete_objects;
pub mod delete_user_objects;
pub mod handoff;
pub mod orphans;
pub mod queue;
pub mod sweep;
pub mod thumbnails;
pub mod worker;

use std::sync::Arc;

use crate::app::App;
pub use queue::JobKind;
pub use worker::{WorkerPool, run_one, run_until_idle};

/// How a job run ended when it did not succeed (after pict-rs' `JobError`).
#[derive(Debug)]
pub enum JobError {
    /// A passing fault (storage or database down): try again later.
    Retry(anyhow::Error),
    /// Will never succeed (the input is bad): fail now.
    Abort(anyhow::Error),
}

impl JobError {
    pub fn retry(e: impl Into<anyhow::Error>) -> Self {
        JobError::Retry(e.into())
    }
    pub fn abort(e: impl Into<anyhow::Error>) -> Self {
        JobError::Abort(e.into())
    }
}

impl From<crate::storage::StorageError> for JobError {
    fn from(e: crate::storage::StorageError) -> Self {
        match e {
            crate::storage::StorageError::NotFound => {
                JobError::Abort(anyhow::Error::new(e).context("object missing"))
            }
            other => JobError::Retry(other.into()),
        }
    }
}

impl From<diesel::result::Error> for JobError {
    fn from(e: diesel::result::Error) -> Self {
        JobError::Retry(e.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for JobError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        JobError::Retry(e.into())
    }
}

/// Runs one claimed job by kind.
async fn dispatch(app: &Arc<App>, kind: &str, payload: serde_json::Value) -> Result<(), JobError> {
    fn parse<T: serde::de::DeserializeOwned>(payload: serde_json::Value) -> Result<T, JobError> {
        serde_json::from_value(payload)
            .map_err(|e| JobError::abort(anyhow::anyhow!("bad payload: {e}")))
    }
    match kind {
        thumbnails::MakeThumbnails::NAME => {
            parse::<thumbnails::MakeThumbnails>(payload)?.run(app).await
        }
        backfill::BackfillThumbnails::NAME => {
            parse::<backfill::BackfillThumbnails>(payload)?
                .run(app)
                .await
        }
        delete_objects::DeleteObjects::NAME => {
            parse::<delete_objects::DeleteObjects>(payload)?
                .run(app)
                .await
        }
        delete_user_objects::DeleteUserObjects::NAME => {
            parse::<delete_user_objects::DeleteUserObjects>(payload)?
                .run(app)
                .await
        }
        sweep::Sweep::NAME => parse::<sweep::Sweep>(payload)?.run(app).await,
        orphans::SweepOrphans::NAME => parse::<orphans::SweepOrphans>(payload)?.run(app).await,
        other => Err(JobError::abort(anyhow::anyhow!(
            "unknown job kind {other:?}"
        ))),
    }
}

/// Called once when a job fails for good, so it can leave its rows in a
/// truthful state (thumbnails FAILED with the reason).
async fn on_permanent_failure(
    app: &Arc<App>,
    kind: &str,
    payload: &serde_json::Value,
    reason: &str,
) {
    if kind == thumbnails::MakeThumbnails::NAME
        && let Ok(job) = serde_json::from_value::<thumbnails::MakeThumbnails>(payload.clone())
    {
        job.mark_failed(app, reason).await;
    }
}
