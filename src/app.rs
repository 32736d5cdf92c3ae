//! The application state, built once and shared by HTTP handlers, resolvers
//! and jobs.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::auth::TokenKeys;
use crate::clock::Clock;
use crate::config::{Config, StorageConfig};
use crate::db::{self, DbConn, DbPool};
use crate::error::{AppError, AppResult};
use crate::events::EventHub;
use crate::storage::{FsSettings, S3Settings, Storage};

pub struct App {
    pub config: Config,
    pub db: DbPool,
    pub storage: Storage,
    pub tokens: TokenKeys,
    pub clock: Clock,
    /// Image events from every process (see `start_event_listener`).
    pub events: EventHub,
    /// SQL statements sent so far (for tests and metrics).
    pub queries: db::QueryCounter,
    /// Bounds CPU-heavy work (decoding, resizing) to the number of cores so
    /// that the async runtime stays responsive.
    cpu: tokio::sync::Semaphore,
    /// Bounds password hashing (19 MiB and tens of milliseconds each) to
    /// the number of cores, apart from image work so neither starves the
    /// other, each in a working memory that is reused.
    pub passwords: crate::auth::password::Hasher,
    /// Bounds the memory that decoding jobs may hold at once.
    pub decode_budget: crate::jobs::budget::MemoryBudget,
    /// The last readiness check (see `service::operations::readiness`).
    pub ready: crate::service::operations::ReadyCache,
    /// Idle workers of this process that uploads may hand their jobs to.
    pub handoff: crate::jobs::handoff::Handoff,
}

/// Why CPU work handed to [`App::run_cpu`] did not return.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// A bug met by this input; running it again meets it again.
    #[error("a CPU task panicked")]
    Panicked,
    #[error("the CPU pool is shutting down")]
    Closed,
}

impl App {
    /// Connects the pool (lazily) and the storage backend. Does not migrate.
    pub async fn new(config: Config, clock: Clock) -> anyhow::Result<Arc<App>> {
        let queries = db::QueryCounter::default();
        let db = db::pool(&config.database_url, config.db_pool_size, queries.clone())?;
        let storage = match &config.storage {
            StorageConfig::Fs { dir } => Storage::fs(FsSettings {
                dir: dir.clone(),
                public_url: config.public_url.clone(),
                signing_key: derive_key(config.jwt_secret.expose(), b"image-vault files v1"),
            })?,
            StorageConfig::S3(s3) => {
                Storage::s3(S3Settings {
                    endpoint: s3.endpoint.clone(),
                    public_endpoint: s3.public_endpoint.clone(),
                    region: s3.region.clone(),
                    bucket: s3.bucket.clone(),
                    access_key_id: s3.access_key_id.clone(),
                    secret_access_key: s3.secret_access_key.clone(),
                })
                .await?
            }
        };
        let tokens = TokenKeys::new(&derive_key(
            config.jwt_secret.expose(),
            b"image-vault jwt v1",
        ));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let config_budget = config.decode_memory_budget;
        Ok(Arc::new(App {
            config,
            db,
            storage,
            tokens,
            clock,
            queries,
            events: EventHub::new(),
            cpu: tokio::sync::Semaphore::new(cores),
            passwords: crate::auth::password::Hasher::new(cores),
            decode_budget: crate::jobs::budget::MemoryBudget::new(config_budget),
            ready: Default::default(),
            handoff: Default::default(),
        }))
    }

    /// Runs CPU-heavy work on rayon's pool (one thread per core), at most
    /// one task per core.
    ///
    /// Not on tokio's blocking pool: the JPEG decoder hands rows to the
    /// current rayon pool, and from a blocking thread every row crossed to
    /// rayon's threads and back (context switches, cold caches). From a
    /// rayon thread the rows stay on the pool that runs the task, as in
    /// `image-vault thumbnail`: about 10 % less server CPU per upload in the
    /// pipeline benchmark (BENCHMARKS.md).
    pub async fn run_cpu<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CpuError> {
        let _permit = self.cpu.acquire().await.map_err(|_| CpuError::Closed)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        rayon::spawn(move || {
            // A panic stays in the task (rayon would abort the process).
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(result);
        });
        rx.await
            .map_err(|_| CpuError::Closed)?
            .map_err(|_| CpuError::Panicked)
    }

    /// Checks a password on the bounded hashing pool (see `verify_password`).
    pub async fn verify_password(
        &self,
        password: String,
        stored: Option<String>,
    ) -> AppResult<bool> {
        self.passwords
            .verify(password, stored)
            .await
            .map_err(AppError::internal)
    }

    /// Hashes a new password on the bounded hashing pool.
    pub async fn hash_password(&self, password: String) -> AppResult<String> {
        self.passwords
            .hash(password)
            .await
            .map_err(AppError::internal)
    }

    /// Starts receiving other processes' image events (servers need this for
    /// subscriptions; one-shot commands do not).
    pub fn start_event_listener(&self) -> tokio::task::JoinHandle<()> {
        crate::events::spawn_listener(&self.events, &self.config.database_url)
    }

    /// A pooled database connection.
    pub async fn db(&self) -> AppResult<DbConn> {
        self.db.get().await.map_err(AppError::from)
    }
}

/// Derives an independent key per purpose from the one configured secret, so
/// that a `/files` signature can never pass as a token signature.
fn derive_key(secret: &[u8], purpose: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(purpose);
    mac.finalize().into_bytes().to_vec()
}
