//! Local-files backend: objects under one directory, served by the app.
//!
//! Writes go to a temporary file in the target directory, are fsynced and
//! then renamed over the final name, so readers see the old object or the new
//! one, never a partial file. The content type lives next to the object in a
//! `{name}.content-type` file, which no key can name, unless the key's own
//! name tells it (a thumbnail's extension: `StorageKey::implied_content_type`).

mod staging;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use super::{FsSettings, PresignWindow, StorageError, StorageKey};

type HmacSha256 = Hmac<Sha256>;

const CONTENT_TYPE_SUFFIX: &str = ".content-type";
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// How often a write retries after a concurrent delete removed its directory.
const CREATE_ATTEMPTS: usize = 3;

#[derive(Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    public_url: String,
    signing_key: Vec<u8>,
}

/// An object opened for the `/files` handler to stream.
#[derive(Debug)]
pub struct FsObject {
    pub file: tokio::fs::File,
    pub size: u64,
    pub content_type: String,
}

impl FsStore {
    pub fn new(settings: FsSettings) -> Result<Self, StorageError> {
        if settings.signing_key.is_empty() {
            return Err(StorageError::Other("fs signing key is empty".into()));
        }
        std::fs::create_dir_all(&settings.dir).map_err(|e| {
            StorageError::Other(format!("creating {}: {e}", settings.dir.display()))
        })?;
        Ok(FsStore {
            inner: Arc::new(Inner {
                dir: settings.dir,
                public_url: settings.public_url.trim_end_matches('/').to_owned(),
                signing_key: settings.signing_key,
            }),
        })
    }

    /// The directory objects live under.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Checks a `/files/{key}` request: the URL has not expired at
    /// `now_unix` and its signature is ours (compared in constant time).
    pub fn verify(&self, key_path: &str, expires: i64, sig: &str, now_unix: i64) -> bool {
        if now_unix > expires {
            return false;
        }
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        self.mac(key_path, expires).verify_slice(&sig).is_ok()
    }

    /// [`verify`](Self::verify) plus key parsing: the key to serve, or `None`
    /// when the request must be refused. Only canonical key paths parse, so a
    /// signature can never open anything outside the store.
    pub fn authorize(
        &self,
        key_path: &str,
        expires: i64,
        sig: &str,
        now_unix: i64,
    ) -> Option<StorageKey> {
        let key = StorageKey::parse(key_path)?;
        self.verify(key_path, expires, sig, now_unix).then_some(key)
    }

    pub async fn open(&self, key: &StorageKey) -> Result<FsObject, StorageError> {
        let path = self.path(key)?;
        let file = tokio::fs::File::open(&path).await.map_err(io_error)?;
        let size = file.metadata().await.map_err(io_error)?.len();
        let content_type = match tokio::fs::read_to_string(content_type_path(&path)).await {
            Ok(content_type) => content_type,
            Err(e) if e.kind() == io::ErrorKind::NotFound => key
                .implied_content_type()
                .unwrap_or(DEFAULT_CONTENT_TYPE)
                .to_owned(),
            Err(e) => return Err(io_error(e)),
        };
        Ok(FsObject {
            file,
            size,
            content_type,
        })
    }

    pub(super) async fn put_file(
        &self,
        key: &StorageKey,
        src: &Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let dest = self.path(key)?;
        let src = src.to_owned();
        let content_type = type_to_keep(key, content_type);
        blocking(move || {
            let mut source = std::fs::File::open(&src)?;
            write_object(&dest, content_type.as_deref(), |file| {
                io::copy(&mut source, file).map(drop)
            })
        })
        .await
    }

    pub(super) async fn put_bytes(
        &self,
        key: &StorageKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let dest = self.path(key)?;
        let content_type = type_to_keep(key, content_type);
        blocking(move || {
            write_object(&dest, content_type.as_deref(), |file| {
                file.write_all(&bytes)
            })
        })
        .await
    }

    pub(super) async fn get(&self, key: &StorageKey) -> Result<Bytes, StorageError> {
        let path = self.path(key)?;
        tokio::fs::read(&path)
            .await
            .map(Bytes::from)
            .map_err(io_error)
    }

    pub(super) async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        let path = self.path(key)?;
        remove_if_present(&path).await?;
        remove_if_present(&content_type_path(&path)).await?;
        if let StorageKey::Upload(_) = key
            && let (Some(dir), Some(name)) = (path.parent(), path.file_name())
        {
            // The PUT lock of a direct upload (see `put_stream`).
            remove_if_present(&dir.join(format!(".{}.lock", name.to_string_lossy()))).await?;
        }
        if let StorageKey::Thumbnail { .. } = key
            && let Some(dir) = path.parent()
        {
            // Keeps thumbnails/ from filling up with empty per-image folders;
            // fails harmlessly while other thumbnails remain.
            let _ = tokio::fs::remove_dir(dir).await;
        }
        Ok(())
    }

    pub(super) async fn exists(&self, key: &StorageKey) -> Result<bool, StorageError> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }

    pub(super) fn presign_get(
        &self,
        key: &StorageKey,
        window: PresignWindow,
    ) -> Result<Arc<str>, StorageError> {
        self.path(key)?;
        let key_path = key.as_path();
        let expires = i64::try_from(window.expires_at)
            .map_err(|_| StorageError::Other("expiry out of range".into()))?;
        let sig = URL_SAFE_NO_PAD.encode(self.mac(&key_path, expires).finalize().into_bytes());
        Ok(format!(
            "{}/files/{key_path}?expires={expires}&sig={sig}",
            self.inner.public_url
        )
        .into())
    }

    pub(super) async fn check(&self) -> Result<(), StorageError> {
        let probe = self
            .inner
            .dir
            .join(format!(".readyz-{}.tmp", Uuid::now_v7()));
        blocking(move || {
            let result = std::fs::File::create_new(&probe).and_then(|mut f| f.write_all(b"ok"));
            let removed = std::fs::remove_file(&probe);
            result.and(removed)
        })
        .await
        .map_err(|e| match e {
            StorageError::NotFound => StorageError::Unavailable("storage dir is missing".into()),
            StorageError::Other(msg) => StorageError::Unavailable(msg),
            e @ StorageError::Unavailable(_) => e,
        })
    }

    /// The file for a key. Keys that `StorageKey::parse` would not give back
    /// are refused, so no key reaches outside the directory.
    fn path(&self, key: &StorageKey) -> Result<PathBuf, StorageError> {
        if !key.is_canonical() {
            return Err(StorageError::Other(format!("invalid storage key {key:?}")));
        }
        Ok(self.inner.dir.join(key.as_path()))
    }

    fn mac(&self, key_path: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.inner.signing_key)
            .expect("HMAC accepts keys of any length");
        mac.update(key_path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }
}

impl FsStore {
    /// Keys of objects modified before `cutoff`. Temporary files a crash left
    /// behind (older than `cutoff`) are removed on the way.
    pub(super) async fn list_older_than(
        &self,
        cutoff: std::time::SystemTime,
    ) -> Result<Vec<StorageKey>, StorageError> {
        let root = self.dir().to_owned();
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&root, &root, cutoff, &mut keys)?;
            Ok(keys)
        })
        .await
        .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))?
        .map_err(io_error)
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    cutoff: std::time::SystemTime,
    keys: &mut Vec<StorageKey>,
) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(root, &path, cutoff, keys)?;
            continue;
        }
        if meta.modified()? >= cutoff {
            continue;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && (name.ends_with(".tmp") || name.ends_with(".lock")) {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let key = path
            .strip_prefix(root)
            .ok()
            .and_then(|rel| rel.to_str())
            .and_then(StorageKey::parse);
        if let Some(key) = key {
            keys.push(key);
        }
    }
    Ok(())
}

fn content_type_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(CONTENT_TYPE_SUFFIX);
    PathBuf::from(name)
}

/// The content type to keep in a file beside the object: none when the
/// key's name tells it (a thumbnail's extension), which saves a file and
/// its fsync per thumbnail.
fn type_to_keep(key: &StorageKey, content_type: &str) -> Option<String> {
    (key.implied_content_type() != Some(content_type)).then(|| content_type.to_owned())
}

/// Writes the object into a temporary file and [`publish`]es it.
fn write_object(
    dest: &Path,
    content_type: Option<&str>,
    fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> io::Result<()> {
    let Some(dir) = dest.parent() else {
        return Err(io::Error::other("object path has no parent"));
    };
    let tmp = filled_temporary(dir, dest, fill)?;
    publish(dest, &tmp, content_type)
}

/// Moves `tmp` (a filled, fsynced file in `dest`'s directory) over `dest`
/// with its content type beside it, so the object survives a crash once
/// this returns: the content type is filled and fsynced, renamed into place
/// before the object, and the directory is fsynced once for both (it was
/// once for each, two of the four syncs of every object). A crash before
/// the directory sync leaves at worst a content type without its object.
/// With no content type (the key tells it: [`type_to_keep`]) only the
/// object is renamed, and a content-type file left from an earlier object
/// is removed. `tmp` is removed when publishing fails.
fn publish(dest: &Path, tmp: &Path, content_type: Option<&str>) -> io::Result<()> {
    let Some(dir) = dest.parent() else {
        let _ = std::fs::remove_file(tmp);
        return Err(io::Error::other("object path has no parent"));
    };
    let type_dest = content_type_path(dest);
    let typed = match content_type {
        Some(content_type) => {
            filled_temporary(dir, &type_dest, |f| f.write_all(content_type.as_bytes())).and_then(
                |type_tmp| {
                    let renamed = std::fs::rename(&type_tmp, &type_dest);
                    if renamed.is_err() {
                        let _ = std::fs::remove_file(&type_tmp);
                    }
                    renamed
                },
            )
        }
        None => match std::fs::remove_file(&type_dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            removed => removed,
        },
    };
    let result = typed
        .and_then(|()| std::fs::rename(tmp, dest))
        .and_then(|()| std::fs::File::open(dir)?.sync_all());
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// A temporary file next to `dest`, filled and fsynced; removed again when
/// that fails.
fn filled_temporary(
    dir: &Path,
    dest: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
) -> io::Result<PathBuf> {
    let name = dest
        .file_name()
        .ok_or_else(|| io::Error::other("object path has no name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        Uuid::now_v7()
    ));
    let mut file = create_in_dir(dir, &tmp)?;
    let written = fill(&mut file).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// Creates `dir` and a new file in it; retries when a concurrent delete
/// removed the (then empty) directory in between.
fn create_in_dir(dir: &Path, file: &Path) -> io::Result<std::fs::File> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        std::fs::create_dir_all(dir)?;
        match std::fs::File::create_new(file) {
            Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < CREATE_ATTEMPTS => {}
            result => return result,
        }
    }
}

async fn remove_if_present(path: &Path) -> Result<(), StorageError> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(e)),
        _ => Ok(()),
    }
}

async fn blocking(f: impl FnOnce() -> io::Result<()> + Send + 'static) -> Result<(), StorageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))?
        .map_err(io_error)
}

fn io_error(e: io::Error) -> StorageError {
    match e.kind() {
        io::ErrorKind::NotFound => StorageError::NotFound,
        _ => StorageError::Other(e.to_string()),
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]
mod tests;
