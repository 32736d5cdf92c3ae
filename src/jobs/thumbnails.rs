//! Makes the pending thumbnails of one image.

use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{JobError, JobKind};
use crate::app::{App, CpuError};
use crate::db::models::plan::FORMAT_WEBP;
use crate::db::models::thumbnail::Made;
use crate::db::models::{Image, Thumbnail};
use crate::imaging::{self, ImagingError, ThumbnailSpec};
use crate::storage::StorageKey;

#[derive(Debug, Serialize, Deserialize)]
pub struct MakeThumbnails {
    pub image_id: Uuid,
    /// The image's owner, for fair scheduling (absent in jobs queued
    /// before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Uuid>,
}

impl JobKind for MakeThumbnails {
    const NAME: &'static str = "make_thumbnails";

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("thumbs:{}", self.image_id))
    }

    fn owner(&self) -> Option<Uuid> {
        self.owner_id
    }
}

impl MakeThumbnails {
    /// Idempotent: makes whatever is still PENDING for the image, so a rerun
    /// after a crash (or a second job for the same image) finds nothing to do.
    #[tracing::instrument(name = "job.make_thumbnails", skip_all, fields(image.id = %self.image_id))]
    pub async fn run(self, app: &Arc<App>) -> Result<(), JobError> {
        match self.prepare(app).await? {
            Some(work) => make(app, work).await,
            None => Ok(()),
        }
    }

    /// What is left to make, in one query (two more when another upload of
    /// the same bytes has thumbnails to take over); `None`: nothing is.
    async fn prepare(&self, app: &Arc<App>) -> Result<Option<Prepared>, JobError> {
        let mut conn = app.db.get().await?;
        let Some(work) = Thumbnail::work_for(&mut conn, self.image_id).await? else {
            tracing::debug!("image is gone; nothing to do");
            return Ok(None);
        };
        let image = work.image;
        if image.expires_at.is_some_and(|at| at <= app.clock.now()) {
            tracing::debug!("image has expired; the sweeper removes it");
            return Ok(None);
        }
        let mut heights = work.pending;
        // Same bytes uploaded before: take over what is already made.
        if !heights.is_empty() && work.siblings_ready {
            let copied = Thumbnail::copy_ready_from_siblings(&mut conn, &image).await?;
            if !copied.is_empty() {
                heights.retain(|h| !copied.contains(h));
                crate::events::publish(&mut conn, image.id).await?;
            }
        }
        if heights.is_empty() {
            return Ok(None);
        }
        Ok(Some(Prepared {
            image,
            heights,
            webp: work.format.as_deref() == Some(FORMAT_WEBP),
            original: Original::Stored,
        }))
    }

    /// Runs a job that an upload handed to this worker (see `handoff`).
    #[tracing::instrument(name = "job.make_thumbnails", skip_all, fields(image.id = %work.image.id, handed = true))]
    pub async fn run_prepared(app: &Arc<App>, work: Prepared) -> Result<(), JobError> {
        make(app, work).await
    }
}

impl MakeThumbnails {
    /// Fails a job for good: its pending thumbnails are FAILED with the reason.
    pub async fn mark_failed(&self, app: &Arc<App>, reason: &str) {
        let result = async {
            let mut conn = app.db.get().await.map_err(anyhow::Error::new)?;
            Thumbnail::mark_pending_failed(&mut conn, self.image_id, reason).await?;
            crate::events::publish(&mut conn, self.image_id).await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(image.id = %self.image_id, error = %e, "cannot mark thumbnails failed");
        }
    }
}

/// Everything a thumbnail job needs to make its thumbnails.
pub struct Prepared {
    pub image: Image,
    /// PENDING heights, each at least 1.
    pub heights: Vec<i32>,
    /// The owner's plan wants WebP.
    pub webp: bool,
    pub original: Original,
}

/// Where a job finds the original's bytes.
pub enum Original {
    /// In storage, under the image's source.
    Stored,
    /// Still on local disk where the upload checked it, with what the check
    /// found (the same process and limits, so it is not inspected again).
    Local {
        file: std::fs::File,
        info: imaging::ImageInfo,
    },
}

/// Decodes once, makes every height and the placeholder, stores them, and
/// records them READY in one statement.
async fn make(app: &Arc<App>, work: Prepared) -> Result<(), JobError> {
    let Prepared {
        image,
        heights,
        webp,
        original,
    } = work;
    let spec = ThumbnailSpec {
        heights: heights
            .iter()
            .filter_map(|&h| u32::try_from(h).ok())
            .collect(),
        jpeg_quality: app.config.jpeg_quality,
        max_pixels: app.config.max_image_pixels,
    };
    let size_class = crate::telemetry::metrics::size_class(
        u32::try_from(image.width).unwrap_or(0),
        u32::try_from(image.height).unwrap_or(0),
    );
    let quality = app.config.jpeg_quality;
    // A stored original is in memory from its GET on (at most `WORKERS`
    // of them); a local one only once read, so the reservation counts it.
    let (source, info, read_later) = match original {
        Original::Stored => {
            let bytes = app
                .storage
                .get(&StorageKey::original(image.source_id))
                .await?;
            let info = imaging::probe_bytes(&bytes, spec.max_pixels).map_err(JobError::abort)?;
            (Source::Bytes(bytes), info, 0)
        }
        Original::Local { file, info } => {
            let size = file.metadata().map_or(0, |m| m.len());
            (Source::File(file), info, size)
        }
    };
    // Reserve what decoding may take before decoding; an original that
    // would take more than one image may is refused for good (uploads
    // check this too; the limit may have been lowered since).
    info.check(app.config.max_decode_bytes, app.config.max_frames)
        .map_err(JobError::abort)?;
    let _reservation = app
        .decode_budget
        .reserve(info.decode_bytes.saturating_add(read_later))
        .await
        .map_err(JobError::retry)?;
    let (thumbs, blurhash) = app
        .run_cpu(move || {
            let original = source.read()?;
            let started = std::time::Instant::now();
            let result = imaging::make_thumbnails_and_placeholder(&original, &spec);
            metrics::histogram!(crate::telemetry::metrics::THUMBNAIL_SECONDS, "source" => size_class)
                .record(started.elapsed().as_secs_f64());
            let (thumbs, blurhash) = result?;
            let outputs = thumbs
                .into_iter()
                .map(|t| Output::of(t, webp, quality))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, ImagingError>((outputs, blurhash))
        })
        .await
        .map_err(|e| match e {
            // The same input meets the same bug again: do not retry.
            CpuError::Panicked => JobError::abort(e),
            CpuError::Closed => JobError::retry(e),
        })?
        // Decoding and encoding are deterministic: an image that fails
        // once fails every time, so none of these is retried.
        .map_err(JobError::abort)?;
    let mut made = Vec::with_capacity(thumbs.len());
    let mut puts = Vec::with_capacity(thumbs.len());
    for thumb in thumbs {
        let key = StorageKey::thumbnail(image.source_id, thumb.height, thumb.ext);
        made.push(Made {
            height: i32::try_from(thumb.height).unwrap_or(i32::MAX),
            width: i32::try_from(thumb.width).unwrap_or(i32::MAX),
            pixel_height: i32::try_from(thumb.actual_height).unwrap_or(i32::MAX),
            byte_size: i64::try_from(thumb.bytes.len())
                .context("thumbnail size")
                .map_err(JobError::abort)?,
            content_type: thumb.content_type,
        });
        let storage = &app.storage;
        puts.push(async move {
            storage
                .put_bytes(&key, thumb.bytes.into(), thumb.content_type)
                .await
        });
    }
    // The heights are stored side by side, then recorded together.
    futures_util::future::try_join_all(puts).await?;
    let mut conn = app.db.get().await?;
    Thumbnail::mark_made(
        &mut conn,
        image.id,
        image.source_id,
        &made,
        blurhash.as_deref(),
    )
    .await?;
    for m in &made {
        tracing::debug!(height = m.height, "thumbnail ready");
    }
    Ok(())
}

/// The original's bytes, or where to read them.
enum Source {
    Bytes(bytes::Bytes),
    File(std::fs::File),
}

impl Source {
    fn read(self) -> Result<bytes::Bytes, ImagingError> {
        match self {
            Source::Bytes(b) => Ok(b),
            Source::File(mut file) => {
                use std::io::{Read as _, Seek as _};
                let mut buf = Vec::new();
                file.rewind()
                    .and_then(|()| file.read_to_end(&mut buf))
                    .map_err(|e| ImagingError::Decode(format!("cannot read the upload: {e}")))?;
                Ok(buf.into())
            }
        }
    }
}

/// A made thumbnail in the plan's format.
struct Output {
    height: u32,
    width: u32,
    actual_height: u32,
    bytes: Vec<u8>,
    ext: &'static str,
    content_type: &'static str,
}

impl Output {
    fn of(t: imaging::Thumbnail, webp: bool, quality: u8) -> Result<Output, ImagingError> {
        // WebP cannot hold more than 16383 px a side (a 200 px high
        // thumbnail of a long panorama): such a thumbnail keeps the
        // original's format, which every browser shows as well.
        let webp = webp && imaging::webp::fits(t.width, t.actual_height);
        let (bytes, ext, content_type) = if webp {
            (
                imaging::webp::to_webp(&t.bytes, quality)?,
                "webp",
                "image/webp",
            )
        } else {
            (t.bytes, t.kind.extension(), t.kind.content_type())
        };
        Ok(Output {
            height: t.height,
            width: t.width,
            actual_height: t.actual_height,
            bytes,
            ext,
            content_type,
        })
    }
}
