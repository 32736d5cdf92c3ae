//! The job table's own queries: enqueue, claim with a lease, heartbeat,
//! complete, retry, fail. Raw SQL where diesel cannot say it (SKIP LOCKED).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::db::schema::jobs;

/// The Postgres channel that `jobs_notify()` signals on every insert.
pub const CHANNEL: &str = "image_vault_jobs";

/// A job that a worker has claimed.
#[derive(Debug, QueryableByName)]
pub struct ClaimedJob {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
    /// The request that enqueued the job, if any.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub request_id: Option<String>,
}

/// Describes a job kind: its name in the table and how often it is tried.
pub trait JobKind: Serialize {
    const NAME: &'static str;
    const MAX_ATTEMPTS: i32 = 5;

    /// Jobs with the same key are not queued twice while one is pending.
    fn dedupe_key(&self) -> Option<String> {
        None
    }

    /// The user this job serves, for fair scheduling: users' jobs are taken
    /// in turns. `None`: the job serves nobody in particular (sweeps).
    fn owner(&self) -> Option<Uuid> {
        None
    }
}

/// The queue's virtual time: the lowest waiting `fair_seq`.
macro_rules! virtual_time {
    () => {
        "COALESCE((SELECT min(fair_seq) FROM jobs WHERE status = 'queued'), 0)"
    };
}

/// The `fair_seq` of a user's next job (see the hardening migration): one
/// more than their last waiting job's, and at least the queue's virtual
/// time. `$1` is the user (or NULL).
pub(crate) const NEXT_FAIR_SEQ: &str = concat!(
    "GREATEST(
        COALESCE((SELECT max(fair_seq) + 1 FROM jobs
                   WHERE owner_id = $1 AND status IN ('queued', 'running')), 0),
        ",
    virtual_time!(),
    ")"
);

/// Enqueues a job; call it inside the transaction that creates the rows the
/// job serves. Returns false when a pending job with the same dedupe key exists.
pub async fn enqueue<J: JobKind>(
    conn: &mut AsyncPgConnection,
    job: &J,
    run_at: DateTime<Utc>,
) -> QueryResult<bool> {
    Ok(insert(conn, job, run_at, None).await?.is_some())
}

/// Enqueues a job already claimed by `worker` until `lease_until` (its
/// first attempt), for a worker of this process that is handed the work
/// directly; no worker is woken. Returns the job's id, or `None` when a
/// pending job with the same dedupe key exists.
pub async fn enqueue_claimed<J: JobKind>(
    conn: &mut AsyncPgConnection,
    job: &J,
    now: DateTime<Utc>,
    worker: &str,
    lease_until: DateTime<Utc>,
) -> QueryResult<Option<i64>> {
    insert(conn, job, now, Some((worker, lease_until))).await
}

async fn insert<J: JobKind>(
    conn: &mut AsyncPgConnection,
    job: &J,
    run_at: DateTime<Utc>,
    claimed: Option<(&str, DateTime<Utc>)>,
) -> QueryResult<Option<i64>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let payload = serde_json::to_value(job)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let (worker, lease_until) = claimed.unzip();
    // A claimed job is `running`, on its first attempt; the insert trigger
    // wakes workers for `queued` ones only.
    let inserted: Option<Id> = diesel::sql_query(format!(
        "INSERT INTO jobs (kind, payload, max_attempts, run_at, dedupe_key, request_id,
                           owner_id, fair_seq, status, attempts, locked_by, locked_until)
         VALUES ($2, $3, $4, $5, $6, $7, $1, {NEXT_FAIR_SEQ},
                 CASE WHEN $8::text IS NULL THEN 'queued' ELSE 'running' END,
                 CASE WHEN $8::text IS NULL THEN 0 ELSE 1 END, $8, $9)
         ON CONFLICT DO NOTHING
         RETURNING id"
    ))
    .bind::<Nullable<SqlUuid>, _>(job.owner())
    .bind::<Text, _>(J::NAME)
    .bind::<Jsonb, _>(payload)
    .bind::<Integer, _>(J::MAX_ATTEMPTS)
    .bind::<Timestamptz, _>(run_at)
    .bind::<Nullable<Text>, _>(job.dedupe_key())
    .bind::<Nullable<Text>, _>(crate::telemetry::current_request_id())
    .bind::<Nullable<Text>, _>(worker)
    .bind::<Nullable<Timestamptz>, _>(lease_until)
    .get_result(conn)
    .await
    .optional()?;
    if inserted.is_some() {
        metrics::counter!(crate::telemetry::metrics::JOBS_ENQUEUED, "kind" => J::NAME).increment(1);
    }
    Ok(inserted.map(|r| r.id))
}

/// Claims a runnable job: first one whose worker died (running with an
/// expired lease), else the queued and due job that is next in the users'
/// turns (`fair_seq`), oldest first among equals. Concurrent claimers skip
/// each other's rows.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> QueryResult<Option<ClaimedJob>> {
    diesel::sql_query(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1,
                locked_until = $2, locked_by = $3
          WHERE id = COALESCE(
                (SELECT id FROM jobs
                  WHERE status = 'running' AND locked_until <= $1
                  ORDER BY locked_until
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED),
                (SELECT id FROM jobs
                  WHERE status = 'queued' AND run_at <= $1
                  ORDER BY fair_seq, run_at, id
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED))
      RETURNING id, kind, payload, attempts, max_attempts, request_id",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(lease_until)
    .bind::<Text, _>(worker)
    .get_result(conn)
    .await
    .optional()
}

/// Extends the lease of a job this worker still holds.
pub async fn heartbeat(
    conn: &mut AsyncPgConnection,
    id: i64,
    worker: &str,
    lease_until: DateTime<Utc>,
) -> QueryResult<bool> {
    let n = diesel::update(
        jobs::table
            .find(id)
            .filter(jobs::status.eq("running"))
            .filter(jobs::locked_by.eq(worker)),
    )
    .set(jobs::locked_until.eq(lease_until))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// A finished job leaves the table.
pub async fn complete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(jobs::table.find(id)).execute(conn).await?;
    Ok(())
}

/// Puts a job back in the queue to run again at `run_at`. When a twin with
/// the same dedupe key is already waiting, this one is dropped instead: the
/// twin will do the same work.
pub async fn retry(
    conn: &mut AsyncPgConnection,
    id: i64,
    error: &str,
    run_at: DateTime<Utc>,
) -> QueryResult<()> {
    let result = diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq("queued"),
            jobs::run_at.eq(run_at),
            jobs::last_error.eq(error),
            jobs::locked_until.eq(None::<DateTime<Utc>>),
            jobs::locked_by.eq(None::<String>),
        ))
        .execute(conn)
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => complete(conn, id).await,
        Err(e) => Err(e),
    }
}

/// Gives up on a job; it stays in the table, `failed`, for inspection.
pub async fn fail(conn: &mut AsyncPgConnection, id: i64, error: &str) -> QueryResult<()> {
    diesel::update(jobs::table.find(id))
        .set((
            jobs::status.eq("failed"),
            jobs::last_error.eq(error),
            jobs::locked_until.eq(None::<DateTime<Utc>>),
            jobs::locked_by.eq(None::<String>),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Jobs per status and the age of the oldest due one, for the metrics.
pub async fn depth(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> QueryResult<(Vec<(String, i64)>, Option<DateTime<Utc>>)> {
    let by_status = jobs::table
        .group_by(jobs::status)
        .select((jobs::status, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    let oldest = jobs::table
        .filter(jobs::status.eq("queued"))
        .filter(jobs::run_at.le(now))
        .select(diesel::dsl::min(jobs::run_at))
        .first(conn)
        .await?;
    Ok((by_status, oldest))
}

/// Jobs waiting or running (for tests and readiness).
pub async fn pending_count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    jobs::table
        .filter(jobs::status.eq_any(["queued", "running"]))
        .count()
        .get_result(conn)
        .await
}

/// A job that failed for good, for operators.
#[derive(Debug, QueryableByName)]
pub struct FailedJob {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

/// The columns of a [`FailedJob`].
macro_rules! failed_job_columns {
    () => {
        "SELECT id, kind, payload, attempts, last_error, created_at FROM jobs"
    };
}

/// The newest failed jobs.
pub async fn failed(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<FailedJob>> {
    diesel::sql_query(concat!(
        failed_job_columns!(),
        " WHERE status = 'failed' ORDER BY created_at DESC, id DESC LIMIT $1"
    ))
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// Queues a failed job again with fresh attempts; `None` when there is no
/// such failed job. When a twin with the same dedupe key is already
/// waiting, the failed one is dropped instead: the twin does the work.
pub async fn requeue_failed(
    conn: &mut AsyncPgConnection,
    id: i64,
    now: DateTime<Utc>,
) -> QueryResult<Option<FailedJob>> {
    let job: Option<FailedJob> = diesel::sql_query(concat!(
        failed_job_columns!(),
        " WHERE id = $1 AND status = 'failed' FOR UPDATE"
    ))
    .bind::<BigInt, _>(id)
    .get_result(conn)
    .await
    .optional()?;
    let Some(job) = job else {
        return Ok(None);
    };
    // It takes its turn from now: at the queue's virtual time.
    let requeued = diesel::sql_query(concat!(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $2, fair_seq = ",
        virtual_time!(),
        " WHERE id = $1
            AND NOT EXISTS (SELECT 1 FROM jobs t WHERE t.status = 'queued'
                             AND t.dedupe_key = jobs.dedupe_key)"
    ))
    .bind::<BigInt, _>(id)
    .bind::<Timestamptz, _>(now)
    .execute(conn)
    .await?;
    if requeued == 0 {
        complete(conn, id).await?;
    }
    diesel::sql_query(format!("NOTIFY {CHANNEL}"))
        .execute(conn)
        .await?;
    Ok(Some(job))
}
