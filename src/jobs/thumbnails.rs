//! Makes the pending thumbnails of one image.

use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{JobError, JobKind};
use crate::app::{App, CpuError};
use crate::db::models::plan::FORMAT_WEBP;
use crate::db::models::{Image, Thumbnail, User};
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
        let (image, heights, webp) = {
            let mut conn = app.db.get().await?;
            let Some(image) = Image::find(&mut conn, self.image_id).await? else {
                tracing::debug!("image is gone; nothing to do");
                return Ok(());
            };
            if image.expires_at.is_some_and(|at| at <= app.clock.now()) {
                tracing::debug!("image has expired; the sweeper removes it");
                return Ok(());
            }
            let mut heights = Thumbnail::pending_heights(&mut conn, self.image_id).await?;
            // Same bytes uploaded before: take over what is already made.
            if !heights.is_empty() {
                let copied = Thumbnail::copy_ready_from_siblings(&mut conn, &image).await?;
                if !copied.is_empty() {
                    heights.retain(|h| !copied.contains(h));
                    crate::events::publish(&mut conn, image.id).await?;
                }
            }
            let webp = match User::find_with_plan(&mut conn, image.owner_id).await? {
                Some((_, Some(plan))) => plan.thumbnail_format == FORMAT_WEBP,
                _ => false,
            };
            (image, heights, webp)
        };
        if heights.is_empty() {
            return Ok(());
        }
        let original = app
            .storage
            .get(&StorageKey::original(image.source_id))
            .await?;
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
        // Reserve what decoding may take before decoding; an original that
        // would take more than one image may is refused for good (uploads
        // check this too; the limit may have been lowered since).
        let info = imaging::probe_bytes(&original, spec.max_pixels).map_err(JobError::abort)?;
        info.check(app.config.max_decode_bytes, app.config.max_frames)
            .map_err(JobError::abort)?;
        let need = info.decode_bytes;
        let _reservation = app
            .decode_budget
            .reserve(need)
            .await
            .map_err(JobError::retry)?;
        let thumbs = app
            .run_cpu(move || {
                let started = std::time::Instant::now();
                let result = imaging::make_thumbnails(&original, &spec);
                metrics::histogram!(crate::telemetry::metrics::THUMBNAIL_SECONDS, "source" => size_class)
                    .record(started.elapsed().as_secs_f64());
                let thumbs = result?;
                let blurhash = thumbs
                    .iter()
                    .min_by_key(|t| t.actual_height)
                    .and_then(|t| placeholder(&t.bytes));
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
        let (thumbs, blurhash) = thumbs;
        if let Some(hash) = blurhash {
            let mut conn = app.db.get().await?;
            Image::set_blurhash(&mut conn, image.source_id, &hash).await?;
        }
        for thumb in thumbs {
            let key = StorageKey::thumbnail(image.source_id, thumb.height, thumb.ext);
            let byte_size = i64::try_from(thumb.bytes.len())
                .context("thumbnail size")
                .map_err(JobError::abort)?;
            app.storage
                .put_bytes(&key, thumb.bytes.into(), thumb.content_type)
                .await?;
            let mut conn = app.db.get().await?;
            Thumbnail::mark_ready(
                &mut conn,
                image.id,
                i32::try_from(thumb.height).unwrap_or(i32::MAX),
                i32::try_from(thumb.width).unwrap_or(i32::MAX),
                i32::try_from(thumb.actual_height).unwrap_or(i32::MAX),
                byte_size,
                thumb.content_type,
            )
            .await?;
            crate::events::publish(&mut conn, image.id).await?;
            tracing::debug!(height = thumb.height, "thumbnail ready");
        }
        Ok(())
    }

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

/// A BlurHash of a (small) thumbnail: a few dozen bytes that clients paint
/// while the image loads. `None` if the thumbnail cannot be read back.
fn placeholder(thumbnail: &[u8]) -> Option<String> {
    let small = image::load_from_memory(thumbnail)
        .ok()?
        .thumbnail(32, 32)
        .to_rgba8();
    blurhash::encode(4, 3, small.width(), small.height(), small.as_raw()).ok()
}
