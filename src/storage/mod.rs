//! Object storage: S3 and local-files backends behind one entry point.
//!
//! Everything above this module talks to [`Storage`] with typed
//! [`StorageKey`]s. The S3 backend serves MinIO/AWS in production; the fs
//! backend keeps development free of external services, with the app serving
//! its files under `/files/...` behind HMAC-signed expiring URLs.

mod fs;
mod key;
mod presign_cache;
mod s3;
mod staging;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use fs::{FsObject, FsStore};
pub use key::{StorageKey, ext_for_content_type};
pub use s3::S3Store;
pub use staging::{Fetched, ObjectVersion, PresignedPut, PutStreamError};

/// Failures callers act on differently: `NotFound` is an answer,
/// `Unavailable` is worth retrying later (and makes `/readyz` fail), `Other`
/// is a bug or a misconfiguration.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object not found")]
    NotFound,
    /// The store could not be reached or answered with a server error:
    /// connection refused, timeouts, 5xx, throttling.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage error: {0}")]
    Other(String),
}

impl StorageError {
    /// Whether trying again later may succeed (jobs retry, requests fail).
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

/// Connection settings for an S3-compatible store (MinIO, AWS).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// The address this process uses, e.g. `http://minio:9000`.
    pub endpoint: String,
    /// The address clients use; presigned URLs are made for it.
    pub public_endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Settings for the local-files backend.
#[derive(Debug, Clone)]
pub struct FsSettings {
    pub dir: PathBuf,
    /// The app's own public address, e.g. `http://127.0.0.1:8080`; file URLs
    /// point at its `/files/...` route.
    pub public_url: String,
    /// Secret for the HMAC in file URLs; shared by every server process.
    pub signing_key: Vec<u8>,
}

/// The one storage entry point, shared by HTTP handlers, resolvers and jobs.
/// Cheap to clone.
#[derive(Clone)]
pub enum Storage {
    S3(S3Store),
    Fs(FsStore),
}

impl Storage {
    /// Builds the S3 clients. Does not contact the store, so the app can start
    /// while the store is down; [`check`](Self::check) reports it.
    pub async fn s3(settings: S3Settings) -> Result<Storage, StorageError> {
        S3Store::new(settings).map(Storage::S3)
    }

    /// Creates the storage directory if needed.
    pub fn fs(settings: FsSettings) -> Result<Storage, StorageError> {
        FsStore::new(settings).map(Storage::Fs)
    }

    /// Streams a file from disk into the store. Readers never see a partial
    /// object: S3 publishes on PutObject/CompleteMultipartUpload, fs renames.
    pub async fn put_file(
        &self,
        key: &StorageKey,
        path: &Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        self.timed("put", async {
            match self {
                Storage::S3(s) => s.put_file(key, path, content_type).await,
                Storage::Fs(s) => s.put_file(key, path, content_type).await,
            }
        })
        .await
    }

    /// Records the latency and the errors of one call in the metrics.
    async fn timed<T>(
        &self,
        op: &'static str,
        call: impl std::future::Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        use crate::telemetry::metrics::{STORAGE_ERRORS, STORAGE_SECONDS};
        let started = std::time::Instant::now();
        let result = call.await;
        let backend = self.backend_name();
        metrics::histogram!(STORAGE_SECONDS, "op" => op, "backend" => backend)
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            let kind = match e {
                StorageError::NotFound => "not_found",
                StorageError::Unavailable(_) => "unavailable",
                StorageError::Other(_) => "other",
            };
            metrics::counter!(STORAGE_ERRORS, "op" => op, "backend" => backend, "kind" => kind)
                .increment(1);
        }
        result
    }

    pub async fn put_bytes(
        &self,
        key: &StorageKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        self.timed("put", async {
            match self {
                Storage::S3(s) => s.put_bytes(key, bytes, content_type).await,
                Storage::Fs(s) => s.put_bytes(key, bytes, content_type).await,
            }
        })
        .await
    }

    /// The whole object in memory; `NotFound` when absent.
    pub async fn get(&self, key: &StorageKey) -> Result<Bytes, StorageError> {
        self.timed("get", async {
            match self {
                Storage::S3(s) => s.get(key).await,
                Storage::Fs(s) => s.get(key).await,
            }
        })
        .await
    }

    /// Idempotent so that sweeps and retried jobs can delete again: an absent
    /// object is `Ok`.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        self.timed("delete", async {
            match self {
                Storage::S3(s) => s.delete(key).await,
                Storage::Fs(s) => s.delete(key).await,
            }
        })
        .await
    }

    pub async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError> {
        match self {
            Storage::S3(s) => s.exists(key).await,
            Storage::Fs(s) => s.exists(key).await,
        }
    }

    /// A URL a client can GET for at least `lifetime` (at most 1.25 times
    /// that). Calls within the same quarter of `lifetime` return the same URL,
    /// so browsers and CDNs can cache the object across page loads.
    pub async fn presign_get(
        &self,
        key: &StorageKey,
        lifetime: Duration,
    ) -> Result<String, StorageError> {
        self.presign_get_at(key, lifetime, SystemTime::now()).await
    }

    /// [`presign_get`](Self::presign_get) as if called at `now`, for tests of
    /// expiry that must not sleep.
    pub async fn presign_get_at(
        &self,
        key: &StorageKey,
        lifetime: Duration,
        now: SystemTime,
    ) -> Result<String, StorageError> {
        self.presign_shared_at(key, lifetime, now)
            .await
            .map(|url| url.to_string())
    }

    /// [`presign_get_at`](Self::presign_get_at), the URL shared with the
    /// presigning cache (S3): a page of images asks for 150 of them.
    pub async fn presign_shared_at(
        &self,
        key: &StorageKey,
        lifetime: Duration,
        now: SystemTime,
    ) -> Result<Arc<str>, StorageError> {
        let window = PresignWindow::new(now, lifetime);
        match self {
            Storage::S3(s) => s.presign_get(key, window).await,
            Storage::Fs(s) => s.presign_get(key, window),
        }
    }

    /// Keys of objects last modified before `cutoff`, for the orphan sweep.
    pub async fn list_older_than(
        &self,
        cutoff: SystemTime,
    ) -> Result<Vec<StorageKey>, StorageError> {
        match self {
            Storage::S3(s) => s.list_older_than(cutoff).await,
            Storage::Fs(s) => s.list_older_than(cutoff).await,
        }
    }

    /// Readiness: S3 HeadBucket, fs a write in the directory.
    pub async fn check(&self) -> Result<(), StorageError> {
        self.timed("check", async {
            match self {
                Storage::S3(s) => s.check().await,
                Storage::Fs(s) => s.check().await,
            }
        })
        .await
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Storage::S3(_) => "s3",
            Storage::Fs(_) => "fs",
        }
    }

    /// The fs backend, for the `/files/{*key}` handler; `None` with S3.
    pub fn as_fs(&self) -> Option<&FsStore> {
        match self {
            Storage::Fs(s) => Some(s),
            Storage::S3(_) => None,
        }
    }
}

/// The validity of a presigned URL, aligned to a time bucket of a quarter of
/// the lifetime so that every call within one bucket signs the same inputs
/// and so yields the same URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PresignWindow {
    /// Unix seconds at the start of the bucket; S3 signs with this time.
    signed_at: u64,
    /// Unix seconds after which the URL is refused.
    expires_at: u64,
}

impl PresignWindow {
    fn new(now: SystemTime, lifetime: Duration) -> Self {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let lifetime = lifetime.as_secs().max(1);
        let bucket = (lifetime / 4).max(1);
        let signed_at = now - now % bucket;
        PresignWindow {
            signed_at,
            expires_at: signed_at + lifetime + bucket,
        }
    }
}

#[cfg(test)]
mod window_tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn presign_window_lasts_between_one_and_one_and_a_quarter_lifetimes() {
        let lifetime = Duration::from_secs(3600);
        for now in 1_700_000_000..1_700_000_000 + 2000 {
            let window = PresignWindow::new(at(now), lifetime);
            let remaining = window.expires_at - now;
            assert!(remaining > 3600 && remaining <= 4500, "{now}: {remaining}");
            assert!(window.signed_at <= now);
        }
    }

    #[test]
    fn presign_window_is_stable_within_a_bucket() {
        let lifetime = Duration::from_secs(60);
        let first = PresignWindow::new(at(1_700_000_010), lifetime);
        assert_eq!(first, PresignWindow::new(at(1_700_000_024), lifetime));
        assert_ne!(first, PresignWindow::new(at(1_700_000_025), lifetime));
    }

    #[test]
    fn presign_window_handles_tiny_lifetimes() {
        let window = PresignWindow::new(at(1_000), Duration::from_millis(10));
        assert_eq!(window.signed_at, 1_000);
        assert_eq!(window.expires_at, 1_002);
    }
}
