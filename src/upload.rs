//! Turning uploaded files into images: validate, store the original, then one
//! transaction for the rows and the thumbnail job. A failure at any step
//! leaves neither a row without its object nor an object without its row.
//!
//! Multipart uploads and direct uploads (see `direct_upload`) share this:
//! [`check`] validates a local file, [`persist`] stores and records checked
//! files; only where the original's bytes come from differs ([`Origin`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use uuid::Uuid;

use crate::app::App;
use crate::db::models::plan::FORMAT_WEBP;
use crate::db::models::{Image, Plan, Thumbnail, UploadSlot};
use crate::error::{AppError, AppResult};
use crate::imaging::{self, ImageInfo, ImagingError};
use crate::jobs::handoff::{Handed, Reserved};
use crate::jobs::queue;
use crate::jobs::thumbnails::{MakeThumbnails, Original, Prepared};
use crate::service::quota;
use crate::storage::{ObjectVersion, StorageKey};

/// Bounds of `expiresIn` for uploads, in seconds: five minutes to a year.
pub const IMAGE_EXPIRY_RANGE: std::ops::RangeInclusive<i32> = 300..=31_536_000;

/// A file received from the client, already on local disk.
pub struct IncomingFile {
    pub filename: String,
    pub file: std::fs::File,
}

/// A file that passed [`check`], ready for [`persist`].
pub(crate) struct Checked {
    id: Uuid,
    filename: String,
    info: ImageInfo,
    size: u64,
    sha256: [u8; 32],
    file: std::fs::File,
    origin: Origin,
}

/// Where the original's bytes come from when it is stored.
enum Origin {
    /// Only the local file: it is streamed into the store.
    Local,
    /// A direct upload already in the store: copied there, server-side,
    /// if it is still the version that was checked.
    Staged {
        key: StorageKey,
        version: ObjectVersion,
    },
}

impl Checked {
    /// The checked file is (a local copy of) the staged object `key` at
    /// `version`, which becomes the original without being sent again.
    pub(crate) fn staged(mut self, key: StorageKey, version: ObjectVersion) -> Self {
        self.origin = Origin::Staged { key, version };
        self
    }
}

/// Validates every file, stores every original, then records them all in
/// one transaction. All or nothing.
pub async fn store_images(
    app: &Arc<App>,
    owner_id: Uuid,
    plan: Option<&Plan>,
    files: Vec<IncomingFile>,
    expires_in: Option<i32>,
) -> AppResult<Vec<Image>> {
    let now = app.clock.now();
    let expires_at = expiry(now, expires_in)?;
    let many = files.len() > 1;

    let mut checked = Vec::with_capacity(files.len());
    for incoming in files {
        let name = clean_filename(&incoming.filename);
        let result = check(app, incoming, app.config.max_upload_bytes).await;
        let ok = result.map_err(|e| if many { prefix(&name, e) } else { e })?;
        checked.push(ok);
    }
    persist(app, owner_id, plan, checked, expires_at, now, None).await
}

/// Stores every checked file's original (unless the owner has the same
/// bytes already), then records the images, their pending thumbnails and
/// the thumbnail jobs in one transaction, which also marks `slot` (a direct
/// upload) completed. All or nothing: on failure the originals stored here
/// are removed again.
pub(crate) async fn persist(
    app: &Arc<App>,
    owner_id: Uuid,
    plan: Option<&Plan>,
    checked: Vec<Checked>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    slot: Option<Uuid>,
) -> AppResult<Vec<Image>> {
    // Over quota: refused before anything is stored (and checked again,
    // for good, when recorded).
    let total: u64 = checked.iter().map(|c| c.size).sum();
    {
        let mut conn = app.db().await?;
        quota::check_upload(&mut conn, owner_id, plan, checked.len(), total, now, false).await?;
    }
    // Deduplication: bytes this user uploaded before (or earlier in this
    // request) reuse that image's objects instead of storing new ones.
    let hashes: Vec<Vec<u8>> = checked.iter().map(|c| c.sha256.to_vec()).collect();
    let mut sources: HashMap<[u8; 32], Uuid> = {
        let mut conn = app.db().await?;
        Image::sources_by_sha256(&mut conn, owner_id, &hashes)
            .await?
            .into_iter()
            .filter_map(|(sha, source)| Some((<[u8; 32]>::try_from(sha).ok()?, source)))
            .collect()
    };
    let mut source_ids = Vec::with_capacity(checked.len());
    let mut reused = Vec::new();
    let mut stored: Vec<StorageKey> = Vec::with_capacity(checked.len());
    for c in &checked {
        if let Some(&source) = sources.get(&c.sha256) {
            source_ids.push(source);
            // Sources stored earlier must still exist at commit; ones this
            // request stores are created by it.
            if !checked.iter().any(|other| other.id == source) {
                reused.push(source);
            }
            continue;
        }
        sources.insert(c.sha256, c.id);
        source_ids.push(c.id);
        let key = StorageKey::original(c.id);
        let content_type = c.info.kind.content_type();
        let result = match &c.origin {
            Origin::Local => match file_path(&c.file) {
                Ok(path) => app
                    .storage
                    .put_file(&key, &path, content_type)
                    .await
                    .map_err(AppError::from),
                Err(e) => Err(e),
            },
            Origin::Staged { key: from, version } => match app
                .storage
                .copy_if_unchanged(from, version, &key, content_type)
                .await
            {
                Ok(true) => Ok(()),
                // The client put the file again after it was read; what
                // was checked is gone. Nothing is stored; it may retry.
                Ok(false) => Err(AppError::BadUserInput(
                    "the uploaded file was replaced while it was being checked; \
                     complete the upload again"
                        .into(),
                )),
                Err(e) => Err(e.into()),
            },
        };
        if let Err(e) = result {
            remove_objects(app, &stored).await;
            return Err(e);
        }
        stored.push(key);
    }

    let images: Vec<Image> = checked
        .iter()
        .zip(source_ids)
        .map(|(c, source_id)| Image {
            id: c.id,
            owner_id,
            filename: c.filename.clone(),
            content_type: c.info.kind.content_type().to_owned(),
            width: i32::try_from(c.info.width).unwrap_or(i32::MAX),
            height: i32::try_from(c.info.height).unwrap_or(i32::MAX),
            byte_size: i64::try_from(c.size).unwrap_or(i64::MAX),
            created_at: now,
            expires_at,
            sha256: Some(c.sha256.to_vec()),
            source_id,
            blurhash: None,
            frame_count: i32::try_from(c.info.frame_count).unwrap_or(i32::MAX),
        })
        .collect();
    let heights = plan
        .map(|p| p.thumbnail_heights.clone())
        .unwrap_or_default();
    let quota = Quota {
        owner_id,
        plan,
        bytes: total,
    };
    // Fresh originals go straight to idle workers of this process, if any,
    // with the local file they were checked from.
    let mut handoffs: Vec<Option<Handoff>> = Vec::with_capacity(images.len());
    // The first waits a little for a worker when all are busy (see
    // `Handoff::take_within`); the others take what is idle then.
    let mut wait = app.config.handoff_wait;
    for (c, image) in checked.iter().zip(&images) {
        let handoff = if heights.is_empty() || image.source_id != image.id {
            None
        } else {
            let worker = app.handoff.take_within(wait).await;
            wait = std::time::Duration::ZERO;
            match (worker, c.file.try_clone()) {
                (Some(worker), Ok(file)) => Some(Handoff {
                    worker,
                    file,
                    info: c.info,
                    job_id: None,
                }),
                _ => None,
            }
        };
        handoffs.push(handoff);
    }
    let recorded = record(
        app,
        &images,
        &heights,
        &reused,
        slot,
        now,
        quota,
        &mut handoffs,
    )
    .await;
    if let Err(e) = recorded {
        remove_objects(app, &stored).await;
        return Err(e);
    }
    let webp = plan.is_some_and(|p| p.thumbnail_format == FORMAT_WEBP);
    for (image, handoff) in images.iter().zip(handoffs) {
        if let Some(Handoff {
            worker,
            file,
            info,
            job_id: Some(job_id),
        }) = handoff
        {
            worker.send(Handed {
                job_id,
                request_id: crate::telemetry::current_request_id(),
                work: Prepared {
                    image: image.clone(),
                    heights: heights.clone(),
                    webp,
                    original: Original::Local { file, info },
                },
            });
        }
    }
    for image in &images {
        tracing::info!(image.id = %image.id, bytes = image.byte_size, "image uploaded");
        metrics::counter!(crate::telemetry::metrics::UPLOADS).increment(1);
        metrics::counter!(crate::telemetry::metrics::UPLOAD_BYTES)
            .increment(u64::try_from(image.byte_size).unwrap_or(0));
    }
    Ok(images)
}

/// An image's thumbnail job going to an idle worker of this process.
struct Handoff {
    worker: Reserved,
    file: std::fs::File,
    info: ImageInfo,
    /// Set once the job is recorded as claimed by the worker.
    job_id: Option<i64>,
}

/// Whose quota an upload counts against, and how much it adds.
struct Quota<'a> {
    owner_id: Uuid,
    plan: Option<&'a Plan>,
    bytes: u64,
}

#[allow(clippy::too_many_arguments)]
async fn record(
    app: &Arc<App>,
    images: &[Image],
    heights: &[i32],
    reused: &[Uuid],
    slot: Option<Uuid>,
    now: DateTime<Utc>,
    quota: Quota<'_>,
    handoffs: &mut [Option<Handoff>],
) -> AppResult<()> {
    let lease = chrono::Duration::from_std(app.config.job_lease).map_err(AppError::internal)?;
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        // Exactly one completion of a direct upload gets this far.
        if let Some(slot) = slot
            && !UploadSlot::mark_completed(conn, slot, now).await?
        {
            return Err(already_completed());
        }
        quota::check_upload(
            conn,
            quota.owner_id,
            quota.plan,
            images.len(),
            quota.bytes,
            now,
            true,
        )
        .await?;
        // A reused source must still be referenced: its last image may have
        // been deleted (and its objects queued for deletion) since we looked.
        for &source in reused {
            if !Image::claim_source(conn, source).await? {
                return Err(AppError::internal(anyhow::anyhow!(
                    "deduplication source {source} vanished during the upload"
                )));
            }
        }
        for (image, handoff) in images.iter().zip(handoffs.iter_mut()) {
            image.insert(conn).await?;
            if !heights.is_empty() {
                Thumbnail::insert_pending(conn, image.id, heights).await?;
                let job = MakeThumbnails {
                    image_id: image.id,
                    owner_id: Some(image.owner_id),
                };
                match handoff {
                    Some(h) => {
                        let worker = h.worker.worker();
                        h.job_id =
                            queue::enqueue_claimed(conn, &job, now, worker, now + lease).await?;
                    }
                    None => {
                        queue::enqueue(conn, &job, now).await?;
                    }
                }
            }
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// The answer to completing a direct upload a second time.
pub(crate) fn already_completed() -> AppError {
    AppError::BadUserInput("this upload has been completed already".into())
}

/// Validates one file of at most `max_bytes`: magic bytes, header, pixel
/// count, truncation; and hashes it for deduplication.
pub(crate) async fn check(
    app: &Arc<App>,
    incoming: IncomingFile,
    max_bytes: u64,
) -> AppResult<Checked> {
    let size = incoming.file.metadata().map_err(AppError::internal)?.len();
    if size == 0 {
        return Err(imaging_error(ImagingError::Empty));
    }
    if size > max_bytes {
        return Err(AppError::PayloadTooLarge(format!(
            "the file exceeds the limit of {max_bytes} bytes"
        )));
    }
    // Handles of one part share a file offset (the multipart layer hands out
    // a dup for every path a part is mapped to), and `probe` starts where the
    // handle stands: rewind, or the second probe of a part sees no bytes.
    let mut reader = incoming.file.try_clone().map_err(AppError::internal)?;
    std::io::Seek::rewind(&mut reader).map_err(AppError::internal)?;
    let max_pixels = app.config.max_image_pixels;
    let (info, sha256) = app
        .run_cpu(move || {
            let info = imaging::probe(std::io::BufReader::new(&mut reader), max_pixels)?;
            let sha256 = sha256_of(&mut reader)
                .map_err(|e| ImagingError::Decode(format!("reading the file failed: {e}")))?;
            Ok::<_, ImagingError>((info, sha256))
        })
        .await
        .map_err(AppError::internal)?
        .map_err(imaging_error)?;
    info.check(app.config.max_decode_bytes, app.config.max_frames)
        .map_err(imaging_error)?;
    Ok(Checked {
        id: Uuid::now_v7(),
        filename: clean_filename(&incoming.filename),
        info,
        size,
        sha256,
        file: incoming.file,
        origin: Origin::Local,
    })
}

/// SHA-256 of a whole file, read from the start in blocks.
fn sha256_of(file: &mut std::fs::File) -> std::io::Result<[u8; 32]> {
    use sha2::Digest as _;
    use std::io::Read as _;
    std::io::Seek::rewind(file)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

pub(crate) fn expiry(
    now: DateTime<Utc>,
    expires_in: Option<i32>,
) -> AppResult<Option<DateTime<Utc>>> {
    let Some(seconds) = expires_in else {
        return Ok(None);
    };
    if !IMAGE_EXPIRY_RANGE.contains(&seconds) {
        return Err(AppError::BadUserInput(format!(
            "expiresIn must be between {} and {} seconds",
            IMAGE_EXPIRY_RANGE.start(),
            IMAGE_EXPIRY_RANGE.end()
        )));
    }
    Ok(Some(now + chrono::Duration::seconds(i64::from(seconds))))
}

/// How an unusable image is reported to the client.
pub fn imaging_error(e: ImagingError) -> AppError {
    match e {
        ImagingError::UnsupportedFormat
        | ImagingError::NotBuilt { .. }
        | ImagingError::Unsupported(_) => AppError::UnsupportedMediaType(e.to_string()),
        ImagingError::Encode(_) => AppError::internal(e),
        other => AppError::BadUserInput(other.to_string()),
    }
}

fn prefix(filename: &str, e: AppError) -> AppError {
    match e {
        AppError::BadUserInput(m) => AppError::BadUserInput(format!("{filename}: {m}")),
        AppError::UnsupportedMediaType(m) => {
            AppError::UnsupportedMediaType(format!("{filename}: {m}"))
        }
        AppError::PayloadTooLarge(m) => AppError::PayloadTooLarge(format!("{filename}: {m}")),
        other => other,
    }
}

/// The last path component, without control characters, at most 255 bytes.
pub fn clean_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = base.chars().filter(|c| !c.is_control()).collect();
    name = name.trim().to_owned();
    while name.len() > 255 {
        name.pop();
    }
    if name.is_empty() {
        "upload".to_owned()
    } else {
        name
    }
}

/// A path that reopens an already open (possibly unnamed) temporary file,
/// so the storage backend can stream it (and re-read it on a retry).
fn file_path(file: &std::fs::File) -> AppResult<PathBuf> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        Ok(PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd())))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        Err(AppError::internal(anyhow::anyhow!(
            "uploads need /proc/self/fd (Linux)"
        )))
    }
}

async fn remove_objects(app: &Arc<App>, keys: &[StorageKey]) {
    for key in keys {
        if let Err(e) = app.storage.delete(key).await {
            // The orphan sweep removes what cannot be removed now.
            tracing::warn!(key = %key.as_path(), error = %e, "cannot remove object of a failed upload");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\photos\\cat.jpg"), "cat.jpg");
        assert_eq!(clean_filename("a\u{0}b\nc.png"), "abc.png");
        assert_eq!(clean_filename(""), "upload");
        assert_eq!(clean_filename(&"x".repeat(300)).len(), 255);
    }
}
