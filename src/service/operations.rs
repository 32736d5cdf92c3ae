//! What operators look at and do from the console: the job queue, failed
//! jobs and their retry, and readiness (shared with `GET /readyz`).

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
use serde_json::json;
use tokio::time::Instant;

use crate::app::App;
use crate::db::models::Thumbnail;
use crate::error::{AppError, AppResult};
use crate::jobs::JobKind as _;
use crate::jobs::queue::{self, FailedJob};
use crate::jobs::thumbnails::MakeThumbnails;
use crate::service::audit::{self, Actor, Change};

/// Jobs by state, and the oldest due job's age.
#[derive(Clone, Debug, Default)]
pub struct QueueStatus {
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
    pub oldest_queued_seconds: f64,
}

pub async fn queue_status(app: &Arc<App>) -> AppResult<QueueStatus> {
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let (by_status, oldest) = queue::depth(&mut conn, now).await?;
    let count = |s: &str| {
        by_status
            .iter()
            .find(|(status, _)| status == s)
            .map_or(0, |(_, n)| *n)
    };
    Ok(QueueStatus {
        queued: count("queued"),
        running: count("running"),
        failed: count("failed"),
        oldest_queued_seconds: oldest
            .map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0),
    })
}

pub async fn failed_jobs(app: &Arc<App>, limit: i64) -> AppResult<Vec<FailedJob>> {
    let mut conn = app.db().await?;
    Ok(queue::failed(&mut conn, limit.clamp(1, 100)).await?)
}

/// Queues a failed job again (a thumbnail job's FAILED thumbnails become
/// PENDING with it), audited. `NOT_FOUND` unless the job failed.
pub async fn retry_job(app: &Arc<App>, actor: &Actor, id: i64) -> AppResult<()> {
    let now = app.clock.now();
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let job = queue::requeue_failed(conn, id, now)
            .await?
            .ok_or(AppError::NotFound)?;
        if job.kind == MakeThumbnails::NAME
            && let Ok(thumbs) = serde_json::from_value::<MakeThumbnails>(job.payload.clone())
        {
            Thumbnail::reset_failed(conn, thumbs.image_id).await?;
        }
        audit::record(
            conn,
            actor,
            now,
            Change {
                action: "job.retry",
                target_type: "job",
                target_id: None,
                target_name: Some(&format!("{} #{}", job.kind, job.id)),
                before: Some(json!({ "status": "failed", "lastError": job.last_error })),
                after: Some(json!({ "status": "queued" })),
            },
        )
        .await?;
        Ok(())
    })
    .await?;
    tracing::info!(job.id = id, "failed job queued again");
    Ok(())
}

/// Whether the database and the object storage answer.
#[derive(Clone, Debug)]
pub struct Readiness {
    pub database: Result<(), String>,
    pub storage: Result<(), String>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database.is_ok() && self.storage.is_ok()
    }

    /// How `/readyz` and the console say one check's result.
    pub fn word(result: &Result<(), String>) -> &'static str {
        if result.is_ok() { "ok" } else { "unavailable" }
    }
}

/// The last readiness answer and when it was made: `/readyz` is public and
/// each check queries the database and writes to storage, so an answer is
/// reused for `READY_CACHE_MS`, and callers arriving while a check runs
/// wait for it instead of starting their own.
#[derive(Default)]
pub struct ReadyCache(tokio::sync::Mutex<Option<(Instant, Readiness)>>);

pub async fn readiness(app: &Arc<App>) -> Readiness {
    let mut cached = app.ready.0.lock().await;
    if let Some((at, answer)) = cached.as_ref()
        && at.elapsed() < app.config.ready_cache
    {
        return answer.clone();
    }
    let answer = check(app).await;
    *cached = Some((Instant::now(), answer.clone()));
    answer
}

async fn check(app: &Arc<App>) -> Readiness {
    let timeout = Duration::from_secs(3);
    let database = tokio::time::timeout(timeout, async {
        let mut conn = app.db.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| "timed out".to_owned())
    .and_then(|r| r);
    let storage = tokio::time::timeout(timeout, app.storage.check())
        .await
        .map_err(|_| "timed out".to_owned())
        .and_then(|r| r.map_err(|e| e.to_string()));
    for (what, result) in [("database", &database), ("storage", &storage)] {
        if let Err(e) = result {
            tracing::warn!(error = %e, "{what} readiness check failed");
        }
    }
    Readiness { database, storage }
}
