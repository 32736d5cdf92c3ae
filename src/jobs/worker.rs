//! The worker pool: N tokio tasks that claim jobs, woken by LISTEN/NOTIFY
//! (with a slow poll as a safety net for delayed retries and expired leases).

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt as _;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument as _;

use super::JobKind as _;
use super::handoff::Handed;
use super::orphans::{self, SweepOrphans};
use super::sweep::Sweep;
use super::thumbnails::MakeThumbnails;
use super::{JobError, dispatch, on_permanent_failure, queue};
use crate::app::App;
use crate::telemetry::metrics as m;

/// How often an idle worker looks for due jobs without a notification.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

pub struct WorkerPool {
    shutdown: watch::Sender<bool>,
    wake: Arc<watch::Sender<u64>>,
    tasks: JoinSet<()>,
    app: Arc<App>,
    count: usize,
}

impl WorkerPool {
    /// Starts `count` workers (and one listener for wake-ups).
    pub fn start(app: Arc<App>, count: usize) -> WorkerPool {
        let (shutdown, _) = watch::channel(false);
        let (wake_tx, _) = watch::channel(0u64);
        let wake_tx = Arc::new(wake_tx);
        let mut tasks = JoinSet::new();
        app.handoff.add_workers(count);
        tasks.spawn(listen(app.clone(), wake_tx.clone(), shutdown.subscribe()));
        tasks.spawn(schedule(app.clone(), shutdown.subscribe()));
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        for n in 0..count {
            let name = format!("{host}:{}:{n}", std::process::id());
            tasks.spawn(work(
                app.clone(),
                name,
                true,
                wake_tx.subscribe(),
                shutdown.subscribe(),
            ));
        }
        tracing::info!(workers = count, "worker pool started");
        WorkerPool {
            shutdown,
            wake: wake_tx,
            tasks,
            app,
            count,
        }
    }

    /// Adds `count` workers that take only the jobs this process's uploads
    /// hand over, never claiming from the table. A handed job holds no
    /// original in memory before its decode reservation (which counts the
    /// original too), so these overlap one upload's I/O and bookkeeping
    /// with another's decode without raising the memory bound; jobs from
    /// the table stay at `WORKERS` at a time.
    pub fn with_handoff_workers(mut self, count: usize) -> WorkerPool {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        for n in 0..count {
            let name = format!("{host}:{}:handoff-{n}", std::process::id());
            self.tasks.spawn(work(
                self.app.clone(),
                name,
                false,
                self.wake.subscribe(),
                self.shutdown.subscribe(),
            ));
        }
        self.app.handoff.add_workers(count);
        self.count += count;
        self
    }

    /// Stops claiming, lets running jobs finish for up to `grace`, then
    /// abandons them (their leases run out and another worker takes them).
    pub async fn shutdown(mut self, grace: Duration) {
        // Uploads stop waiting for these workers.
        self.app.handoff.remove_workers(self.count);
        let _ = self.shutdown.send(true);
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("jobs still running after {grace:?}; leaving them to their leases");
            self.tasks.abort_all();
        }
    }
}

/// Forwards Postgres notifications on the jobs channel to the workers.
async fn listen(app: Arc<App>, wake: Arc<watch::Sender<u64>>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let session = async {
            let mut conn = AsyncPgConnection::establish(&app.config.database_url).await?;
            diesel::sql_query(format!("LISTEN {}", queue::CHANNEL))
                .execute(&mut conn)
                .await?;
            // Jobs enqueued while we were not listening.
            wake.send_modify(|n| *n += 1);
            let mut stream = std::pin::pin!(conn.notifications_stream());
            while let Some(note) = stream.next().await {
                note?;
                wake.send_modify(|n| *n += 1);
            }
            anyhow::Ok(())
        };
        tokio::select! {
            result = session => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "job listener lost its connection; reconnecting");
                }
            }
            _ = shutdown.wait_for(|&s| s) => return,
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.wait_for(|&s| s) => return,
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Queues the periodic sweeps. Every process does this; the dedupe keys keep
/// one of each waiting at a time however many processes there are. The
/// orphan sweep (it lists the whole store) runs once per grace period.
async fn schedule(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let queued = async {
            let mut conn = app.db.get().await.map_err(anyhow::Error::new)?;
            let now = app.clock.now();
            queue::enqueue(&mut conn, &Sweep::default(), now).await?;
            queue::enqueue(&mut conn, &SweepOrphans::default(), now + orphans::GRACE).await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = queued {
            tracing::warn!(error = %e, "cannot schedule the sweeper");
        }
        tokio::select! {
            () = tokio::time::sleep(app.config.sweep_interval) => {}
            _ = shutdown.wait_for(|&s| s) => return,
        }
    }
}

/// One worker: claims jobs from the table while there are any (unless it
/// only takes handed jobs, `claims` false), and when idle offers itself to
/// this process's uploads.
async fn work(
    app: Arc<App>,
    name: String,
    claims: bool,
    mut wake: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        wake.borrow_and_update();
        if claims {
            match run_one(&app, &name).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => tracing::warn!(worker = %name, error = %e, "cannot claim jobs"),
            }
        }
        // Idle: an upload of this process may hand its job over directly.
        let offered = app.handoff.offer(&name);
        let mut handed = offered.rx;
        enum Woke {
            Handed(Option<Box<Handed>>),
            Look,
            Stop,
        }
        let woke = tokio::select! {
            result = &mut handed => Woke::Handed(result.ok().map(Box::new)),
            _ = wake.changed(), if claims => Woke::Look,
            () = tokio::time::sleep(POLL_INTERVAL), if claims => Woke::Look,
            _ = shutdown.wait_for(|&s| s) => Woke::Stop,
        };
        match woke {
            Woke::Handed(handed) => {
                if let Some(handed) = handed {
                    run_handed(&app, &name, *handed).await;
                }
                continue;
            }
            Woke::Look => {}
            Woke::Stop => {
                // A job handed over meanwhile is left to its lease.
                app.handoff.withdraw(offered.id);
                return;
            }
        }
        if !app.handoff.withdraw(offered.id) {
            // An upload took this worker meanwhile: it sends its job once
            // committed, or nothing if it failed.
            if let Ok(handed) = handed.await {
                run_handed(&app, &name, handed).await;
            }
        }
    }
}

/// Runs a thumbnail job that an upload recorded as claimed by `worker`.
async fn run_handed(app: &Arc<App>, worker: &str, handed: Handed) {
    let Ok(lease) = chrono::Duration::from_std(app.config.job_lease) else {
        return;
    };
    let Handed {
        job_id,
        request_id,
        work,
    } = handed;
    let job = MakeThumbnails {
        image_id: work.image.id,
        owner_id: Some(work.image.owner_id),
    };
    let Ok(payload) = serde_json::to_value(&job) else {
        return;
    };
    let claimed = queue::ClaimedJob {
        id: job_id,
        kind: MakeThumbnails::NAME.to_owned(),
        payload,
        attempts: 1,
        max_attempts: MakeThumbnails::MAX_ATTEMPTS,
        request_id,
    };
    let span = job_span(&claimed);
    let run = MakeThumbnails::run_prepared(app, work);
    if let Err(e) = finish(app, worker, claimed, lease, run)
        .instrument(span)
        .await
    {
        // The job stays claimed; its lease runs out and it is taken again.
        tracing::warn!(worker, error = %e, "cannot record a handed job's end");
    }
}

/// Claims and runs one job; returns its id, or `None` when none was due.
pub async fn run_one(app: &Arc<App>, worker: &str) -> anyhow::Result<Option<i64>> {
    let lease = chrono::Duration::from_std(app.config.job_lease)?;
    let job = {
        let mut conn = app.db.get().await?;
        let now = app.clock.now();
        queue::claim(&mut conn, worker, now, now + lease).await?
    };
    let Some(job) = job else {
        return Ok(None);
    };
    let id = job.id;
    let span = job_span(&job);
    let (kind, payload) = (job.kind.clone(), job.payload.clone());
    let run = dispatch(app, &kind, payload);
    finish(app, worker, job, lease, run)
        .instrument(span)
        .await?;
    Ok(Some(id))
}

/// The span a claimed job runs in.
fn job_span(job: &queue::ClaimedJob) -> tracing::Span {
    tracing::info_span!(
        "job",
        job.id = job.id,
        job.kind = %job.kind,
        attempt = job.attempts,
        request_id = job.request_id.as_deref().unwrap_or("-"),
    )
}

/// Runs a claimed job (`run`) under its lease and records how it ended.
async fn finish(
    app: &Arc<App>,
    worker: &str,
    job: queue::ClaimedJob,
    lease: chrono::Duration,
    run: impl Future<Output = Result<(), JobError>>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let kind = job.kind.clone();
    metrics::gauge!(m::JOBS_RUNNING, "kind" => kind.clone()).increment(1.0);
    let result = if job.attempts > job.max_attempts {
        Err(JobError::abort(anyhow::anyhow!(
            "gave up after {} attempts (leases expired)",
            job.max_attempts
        )))
    } else {
        let heartbeat = heartbeat(app, job.id, worker, lease);
        tokio::select! {
            result = run => result,
            () = heartbeat => Err(JobError::retry(anyhow::anyhow!("lost the job's lease"))),
        }
    };
    metrics::gauge!(m::JOBS_RUNNING, "kind" => kind.clone()).decrement(1.0);
    metrics::histogram!(m::JOB_SECONDS, "kind" => kind.clone())
        .record(started.elapsed().as_secs_f64());
    let mut conn = app.db.get().await?;
    match result {
        Ok(()) => {
            queue::complete(&mut conn, job.id).await?;
            metrics::counter!(m::JOBS_FINISHED, "kind" => kind).increment(1);
            let elapsed_ms = started.elapsed().as_millis();
            if job.kind == Sweep::NAME {
                tracing::debug!(elapsed_ms, "job done");
            } else {
                tracing::info!(elapsed_ms, "job done");
            }
        }
        Err(JobError::Retry(e)) if job.attempts < job.max_attempts => {
            let delay = backoff(job.attempts);
            let message = format!("{e:#}");
            tracing::warn!(retry_in = ?delay, error = %message, "job failed; will retry");
            let run_at = app.clock.now() + chrono::Duration::from_std(delay)?;
            queue::retry(&mut conn, job.id, &message, run_at).await?;
            metrics::counter!(m::JOBS_RETRIED, "kind" => kind).increment(1);
        }
        Err(JobError::Retry(e) | JobError::Abort(e)) => {
            let message = format!("{e:#}");
            tracing::error!(error = %message, "job failed permanently");
            queue::fail(&mut conn, job.id, &message).await?;
            metrics::counter!(m::JOBS_FAILED, "kind" => kind).increment(1);
            drop(conn);
            on_permanent_failure(app, &job.kind, &job.payload, &message).await;
        }
    }
    Ok(())
}

/// Keeps extending the lease while the job runs; returns if the lease is lost.
async fn heartbeat(app: &Arc<App>, id: i64, worker: &str, lease: chrono::Duration) {
    let every = (lease / 3).to_std().unwrap_or(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        let extended = async {
            let mut conn = app.db.get().await.map_err(anyhow::Error::new)?;
            queue::heartbeat(&mut conn, id, worker, app.clock.now() + lease)
                .await
                .map_err(anyhow::Error::new)
        }
        .await;
        match extended {
            Ok(true) => {}
            Ok(false) => return,
            // A database hiccup: keep working; the next beat may succeed.
            Err(e) => tracing::warn!(error = %e, "cannot extend job lease"),
        }
    }
}

/// 2 s, 4 s, 8 s, ... capped at 10 minutes, with jitter.
fn backoff(attempt: i32) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 16)).unwrap_or(1);
    let base = 2u64.saturating_pow(exp).min(600);
    let jitter = rand::random::<u64>() % (base * 250 + 1);
    Duration::from_millis(base * 1000 + jitter)
}

/// Runs due jobs in this task until none is left (tests and tools).
/// Returns how many ran.
pub async fn run_until_idle(app: &Arc<App>) -> anyhow::Result<usize> {
    let mut ran = 0;
    while run_one(app, "inline").await?.is_some() {
        ran += 1;
    }
    Ok(ran)
}
