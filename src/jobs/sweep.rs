//! The scheduled sweeper: deletes expired images' objects and then their
//! rows, expired direct uploads' staged objects and then their slots, and
//! old link records. Idempotent and safe with several workers
//! (deleting an absent object or row is a no-op).

use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};

use super::delete_objects::DeleteObjects;
use super::{JobError, JobKind};
use crate::app::App;
use crate::db::models::{ExpiringLink, Image, LoginThrottle, Session, Thumbnail};

/// Link records are kept this long after they expire or are revoked, so
/// users still see them listed as expired.
pub const LINK_RETENTION: chrono::Duration = chrono::Duration::days(7);
/// Session rows are kept this long after they expire or are revoked.
pub const SESSION_RETENTION: chrono::Duration = chrono::Duration::days(30);
const BATCH: i64 = 200;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Sweep {}

impl JobKind for Sweep {
    const NAME: &'static str = "sweep";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::NAME.to_owned())
    }
}

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub images: usize,
    pub links: usize,
    /// Expired direct-upload slots (used or abandoned).
    pub uploads: usize,
}

impl Sweep {
    #[tracing::instrument(name = "job.sweep", skip_all)]
    pub async fn run(self, app: &Arc<App>) -> Result<(), JobError> {
        let report = sweep(app).await?;
        if report != SweepReport::default() {
            tracing::info!(
                images = report.images,
                links = report.links,
                uploads = report.uploads,
                "swept"
            );
        }
        Ok(())
    }
}

pub async fn sweep(app: &Arc<App>) -> Result<SweepReport, JobError> {
    let now = app.clock.now();
    let mut report = SweepReport::default();
    loop {
        let mut conn = app.db.get().await?;
        let expired = Image::expired(&mut conn, now, BATCH).await?;
        if expired.is_empty() {
            break;
        }
        let ids: Vec<_> = expired.iter().map(|i| i.id).collect();
        let thumbs = Thumbnail::for_images(&mut conn, &ids).await?;
        for image in &expired {
            let mine: Vec<Thumbnail> = thumbs
                .iter()
                .filter(|t| t.image_id == image.id)
                .cloned()
                .collect();
            // Objects first, the row after, under the source's lock: if
            // storage is down the row stays and the next sweep tries again,
            // so no object is left without a row. Objects that another
            // image (same bytes) still uses stay.
            report.images += conn
                .transaction::<_, JobError, _>(async |conn| {
                    Image::lock_source(conn, image.source_id).await?;
                    if !Image::source_shared(conn, image.source_id, image.id).await? {
                        DeleteObjects::of(image, &mine).run(app).await?;
                    }
                    Ok(Image::delete_many(conn, &[image.id]).await?)
                })
                .await?;
        }
        drop(conn);
        if expired.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    report.uploads = crate::direct_upload::sweep_expired_slots(app, now).await?;
    let mut conn = app.db.get().await?;
    report.links = ExpiringLink::delete_stale(&mut conn, now - LINK_RETENTION).await?;
    // Ended sessions stay listed for a while (who logged in from where);
    // idle login counters go once their window has passed.
    Session::delete_stale(&mut conn, now - SESSION_RETENTION).await?;
    let window =
        chrono::Duration::from_std(app.config.login_window).unwrap_or(chrono::Duration::MAX);
    LoginThrottle::delete_stale(&mut conn, now - window, now).await?;
    Ok(report)
}
