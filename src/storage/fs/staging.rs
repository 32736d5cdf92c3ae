//! The fs backend's side of direct uploads: `PUT /uploads/{id}` URLs signed
//! like `/files` URLs (the size is signed too), streaming the body into the
//! store, and hard links to turn a checked upload into an original.

use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use uuid::Uuid;

use super::{FsStore, HmacSha256, create_in_dir, io_error, publish, type_to_keep};
use crate::storage::staging::{Fetched, ObjectVersion, PresignedPut, PutStreamError, Version};
use crate::storage::{StorageError, StorageKey};

const COPY_BUFFER: usize = 256 * 1024;

impl FsStore {
    pub(in crate::storage) fn presign_put(
        &self,
        key: &StorageKey,
        size: u64,
        content_type: &str,
        expires_at: SystemTime,
    ) -> Result<PresignedPut, StorageError> {
        self.path(key)?;
        let key_path = key.as_path();
        let expires = expires_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_secs()).ok())
            .ok_or_else(|| StorageError::Other("expiry out of range".into()))?;
        let sig = URL_SAFE_NO_PAD.encode(
            self.put_mac(&key_path, expires, size)
                .finalize()
                .into_bytes(),
        );
        Ok(PresignedPut {
            url: format!(
                "{}/{key_path}?expires={expires}&size={size}&sig={sig}",
                self.inner.public_url
            ),
            method: "PUT",
            // Checked against the slot by the handler, as S3 checks its
            // signed Content-Type.
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
        })
    }

    /// Checks a `PUT /uploads/{id}` request: the signature is ours for this
    /// key, expiry and size, and has not expired at `now_unix`. Only upload
    /// keys qualify, so a PUT can never write an original or a thumbnail.
    pub fn authorize_put(
        &self,
        key_path: &str,
        expires: i64,
        size: u64,
        sig: &str,
        now_unix: i64,
    ) -> Option<StorageKey> {
        let key = StorageKey::parse(key_path).filter(|k| matches!(k, StorageKey::Upload(_)))?;
        if now_unix > expires {
            return None;
        }
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        self.put_mac(key_path, expires, size)
            .verify_slice(&sig)
            .ok()
            .map(|()| key)
    }

    /// Distinct from a `/files` signature (which covers key and expiry
    /// only), so neither kind of URL can pass for the other.
    fn put_mac(&self, key_path: &str, expires: i64, size: u64) -> HmacSha256 {
        let mut mac = self.mac(key_path, expires);
        mac.update(b"\nPUT ");
        mac.update(size.to_string().as_bytes());
        mac
    }

    /// Streams exactly `size` bytes of `body` into a temporary file next to
    /// the object and publishes it with a rename; reads nothing past `size`.
    /// A body that ends early stores nothing.
    pub async fn put_stream<R: AsyncRead + Unpin>(
        &self,
        key: &StorageKey,
        content_type: &str,
        size: u64,
        mut body: R,
    ) -> Result<(), PutStreamError> {
        let dest = self.path(key)?;
        let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
            return Err(StorageError::Other("object path has no parent".into()).into());
        };
        let dir = dir.to_owned();
        // One PUT per upload at a time, across processes sharing the
        // directory: parallel PUTs to one URL would each stage a whole
        // file. An advisory lock on a file beside the object, released
        // when this returns (or the process dies).
        let _lock = {
            let lock = dir.join(format!(".{}.lock", name.to_string_lossy()));
            let lock_dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&lock_dir)
                    .map_err(|e| PutStreamError::Storage(io_error(e)))?;
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&lock)
                    .map_err(|e| PutStreamError::Storage(io_error(e)))?;
                match file.try_lock() {
                    Ok(()) => Ok(file),
                    Err(std::fs::TryLockError::WouldBlock) => Err(PutStreamError::Busy),
                    Err(std::fs::TryLockError::Error(e)) => {
                        Err(PutStreamError::Storage(io_error(e)))
                    }
                }
            })
            .await
            .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))??
        };
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            Uuid::now_v7()
        ));
        let file = {
            let (dir, tmp) = (dir.clone(), tmp.clone());
            tokio::task::spawn_blocking(move || create_in_dir(&dir, &tmp))
                .await
                .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))?
                .map_err(io_error)?
        };
        let mut file = tokio::fs::File::from_std(file);
        let written = async {
            let mut buf = vec![0u8; COPY_BUFFER];
            let mut got = 0u64;
            while got < size {
                let want = usize::try_from(size - got).map_or(buf.len(), |n| n.min(buf.len()));
                let n = body
                    .read(&mut buf[..want])
                    .await
                    .map_err(PutStreamError::Body)?;
                if n == 0 {
                    return Err(PutStreamError::Short {
                        got,
                        expected: size,
                    });
                }
                file.write_all(&buf[..n])
                    .await
                    .map_err(|e| PutStreamError::Storage(io_error(e)))?;
                got += n as u64;
            }
            file.sync_all()
                .await
                .map_err(|e| PutStreamError::Storage(io_error(e)))
        }
        .await;
        drop(file);
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        let content_type = type_to_keep(key, content_type);
        let published =
            tokio::task::spawn_blocking(move || publish(&dest, &tmp, content_type.as_deref()))
                .await
                .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))?;
        published.map_err(|e| PutStreamError::Storage(io_error(e)))
    }

    /// Opens the object's file; its inode is the version.
    pub(in crate::storage) async fn fetch(
        &self,
        key: &StorageKey,
    ) -> Result<Fetched, StorageError> {
        let path = self.path(key)?;
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            let meta = file.metadata()?;
            Ok::<_, io::Error>(Fetched {
                size: meta.len(),
                version: ObjectVersion(Version::Inode {
                    dev: meta.dev(),
                    ino: meta.ino(),
                }),
                file,
            })
        })
        .await
        .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))?
        .map_err(io_error)
    }

    /// A hard link: no bytes are copied, and the staging name can be
    /// deleted (or replaced by a new PUT) without touching the original.
    pub(in crate::storage) async fn copy_if_unchanged(
        &self,
        from: &StorageKey,
        version: &ObjectVersion,
        to: &StorageKey,
        content_type: &str,
    ) -> Result<bool, StorageError> {
        let Version::Inode { dev, ino } = version.0 else {
            return Err(StorageError::Other(
                "an S3 object version given to the fs backend".into(),
            ));
        };
        let src = self.path(from)?;
        let dest = self.path(to)?;
        let content_type = type_to_keep(to, content_type);
        tokio::task::spawn_blocking(move || {
            let (Some(dir), Some(name)) = (dest.parent(), dest.file_name()) else {
                return Err(io::Error::other("object path has no parent"));
            };
            let tmp = dir.join(format!(
                ".{}.{}.tmp",
                name.to_string_lossy(),
                Uuid::now_v7()
            ));
            std::fs::create_dir_all(dir)?;
            std::fs::hard_link(&src, &tmp)?;
            let result = (|| {
                let meta = std::fs::metadata(&tmp)?;
                if (meta.dev(), meta.ino()) != (dev, ino) {
                    return Ok(false);
                }
                publish(&dest, &tmp, content_type.as_deref())?;
                Ok(true)
            })();
            if !matches!(result, Ok(true)) {
                let _ = std::fs::remove_file(&tmp);
            }
            result
        })
        .await
        .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))?
        .map_err(io_error)
    }
}
