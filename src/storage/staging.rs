//! Storage for direct uploads: a signed request with which a client puts one
//! file of a fixed size straight into the store (`uploads/{slot}`), reading
//! that file back to check it, and turning it into an original without
//! sending its bytes through this process a second time.
//!
//! The copy is conditional on the version that was read (S3 `ETag`, the fs
//! inode), because the client may put the file again while it is checked:
//! what becomes the original is always exactly what was checked.

use std::time::{Duration, SystemTime};

use super::{Storage, StorageError, StorageKey};

/// How a client sends the file: `method` to `url`, with `headers`, and the
/// file as the whole body (its `Content-Length` must be the announced size;
/// HTTP clients set it themselves, browsers refuse to let scripts set it).
#[derive(Clone, Debug)]
pub struct PresignedPut {
    pub url: String,
    pub method: &'static str,
    pub headers: Vec<(String, String)>,
}

/// A stored object's bytes as a local file (a temporary download for S3,
/// the object's own file for fs), and which version of the object they are.
#[derive(Debug)]
pub struct Fetched {
    pub file: std::fs::File,
    /// Bytes in `file`. For S3 the download stops after `limit + 1` bytes,
    /// so a larger object shows up as a size over the limit.
    pub size: u64,
    pub version: ObjectVersion,
}

/// Identifies the bytes that [`Storage::fetch`] returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectVersion(pub(in crate::storage) Version);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::storage) enum Version {
    ETag(Option<String>),
    Inode { dev: u64, ino: u64 },
}

/// Why the fs backend did not store a streamed upload.
#[derive(Debug, thiserror::Error)]
pub enum PutStreamError {
    /// The body ended before the announced size (the client went away).
    #[error("the body ended after {got} of {expected} bytes")]
    Short { got: u64, expected: u64 },
    #[error("reading the body failed: {0}")]
    Body(std::io::Error),
    /// Another request is storing this upload right now.
    #[error("another request is uploading this file")]
    Busy,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Storage {
    /// A request that stores exactly `size` bytes of `content_type` at
    /// `key`, valid from `now` for `lifetime`. S3: a presigned PutObject
    /// that signs `Content-Length` and `Content-Type`, made for
    /// `S3_PUBLIC_ENDPOINT`. fs: `PUT {PUBLIC_URL}/uploads/{id}` with an HMAC
    /// over the key, the expiry and the size, checked by the server.
    pub async fn presign_put(
        &self,
        key: &StorageKey,
        size: u64,
        content_type: &str,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<PresignedPut, StorageError> {
        if !matches!(key, StorageKey::Upload(_)) {
            return Err(StorageError::Other(format!(
                "only upload keys take client PUTs, not {key}"
            )));
        }
        match self {
            Storage::S3(s) => s.presign_put(key, size, content_type, now, lifetime).await,
            Storage::Fs(s) => s.presign_put(key, size, content_type, now + lifetime),
        }
    }

    /// The object's bytes in a local file, read at most `limit + 1` bytes
    /// far (S3 streams into an unnamed temporary file, never whole into
    /// memory; fs opens the object's own file). `NotFound` when absent.
    pub async fn fetch(&self, key: &StorageKey, limit: u64) -> Result<Fetched, StorageError> {
        self.timed("fetch", async {
            match self {
                Storage::S3(s) => s.fetch(key, limit).await,
                Storage::Fs(s) => s.fetch(key).await,
            }
        })
        .await
    }

    /// Ends a direct upload's staged object so that its upload URL, valid
    /// until it expires, stores nothing more. S3: the presigned PUT carries
    /// `If-None-Match: *`, so a zero-byte tombstone at the key makes any
    /// further PUT fail (412) until the sweeper removes the expired slot's
    /// key; fs: the server refuses PUTs to completed slots itself, so the
    /// file just goes.
    pub async fn close_upload(&self, key: &StorageKey) -> Result<(), StorageError> {
        if !matches!(key, StorageKey::Upload(_)) {
            return Err(StorageError::Other(format!(
                "only upload keys are closed, not {key}"
            )));
        }
        match self {
            Storage::S3(_) => {
                self.put_bytes(key, bytes::Bytes::new(), "application/octet-stream")
                    .await
            }
            Storage::Fs(_) => self.delete(key).await,
        }
    }

    /// Copies `from` to `to` inside the store (S3 CopyObject, fs hard link),
    /// if `from` still holds the `version` that was fetched; `Ok(false)` when
    /// it has been replaced since. `to` is published atomically; `from` is
    /// left in place.
    pub async fn copy_if_unchanged(
        &self,
        from: &StorageKey,
        version: &ObjectVersion,
        to: &StorageKey,
        content_type: &str,
    ) -> Result<bool, StorageError> {
        self.timed("copy", async {
            match self {
                Storage::S3(s) => s.copy_if_unchanged(from, version, to, content_type).await,
                Storage::Fs(s) => s.copy_if_unchanged(from, version, to, content_type).await,
            }
        })
        .await
    }
}
