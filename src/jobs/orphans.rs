//! The orphan sweep: objects without rows, older than a grace period, are
//! what a crash between "object written" and "rows committed" leaves behind
//! (or a failed cleanup). They are deleted here. A direct upload's staging
//! object (`uploads/{slot}`) is live while its slot row exists; the sweeper
//! deletes expired slots, so an object found here without one is a leftover.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{JobError, JobKind};
use crate::app::App;
use crate::db::models::UploadSlot;
use crate::db::schema::{images, thumbnails};
use crate::storage::StorageKey;

/// Objects younger than this are never orphans: their upload may still be
/// on its way to the database.
pub const GRACE: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SweepOrphans {}

impl JobKind for SweepOrphans {
    const NAME: &'static str = "sweep_orphans";
    const MAX_ATTEMPTS: i32 = 3;

    fn dedupe_key(&self) -> Option<String> {
        Some(Self::NAME.to_owned())
    }
}

impl SweepOrphans {
    #[tracing::instrument(name = "job.sweep_orphans", skip_all)]
    pub async fn run(self, app: &Arc<App>) -> Result<(), JobError> {
        let removed = sweep_orphans(app).await?;
        if removed > 0 {
            tracing::info!(removed, "orphan objects removed");
        }
        Ok(())
    }
}

/// Deletes objects that no row refers to; returns how many.
pub async fn sweep_orphans(app: &Arc<App>) -> Result<usize, JobError> {
    let cutoff = SystemTime::from(app.clock.now() - GRACE);
    let keys = app.storage.list_older_than(cutoff).await?;
    let mut removed = 0;
    for chunk in keys.chunks(500) {
        let ids: Vec<Uuid> = chunk
            .iter()
            .filter(|key| !matches!(key, StorageKey::Upload(_)))
            .map(StorageKey::image_id)
            .collect();
        let slot_ids: Vec<Uuid> = chunk
            .iter()
            .filter_map(|key| match key {
                StorageKey::Upload(id) => Some(*id),
                _ => None,
            })
            .collect();
        let mut conn = app.db.get().await?;
        let live_slots: HashSet<Uuid> = if slot_ids.is_empty() {
            HashSet::new()
        } else {
            UploadSlot::existing(&mut conn, &slot_ids)
                .await?
                .into_iter()
                .collect()
        };
        // Objects are keyed by source (see `Image::source_id`): live while
        // any image uses the source, and, for a thumbnail, has that height.
        let live_images: HashSet<Uuid> = images::table
            .filter(images::source_id.eq_any(&ids))
            .select(images::source_id)
            .load(&mut conn)
            .await?
            .into_iter()
            .collect();
        let live_thumbs: HashSet<(Uuid, i32)> = thumbnails::table
            .inner_join(images::table)
            .filter(images::source_id.eq_any(&ids))
            .select((images::source_id, thumbnails::height))
            .load(&mut conn)
            .await?
            .into_iter()
            .collect();
        drop(conn);
        for key in chunk {
            let live = match key {
                StorageKey::Original(id) => live_images.contains(id),
                StorageKey::Thumbnail {
                    image_id, height, ..
                } => i32::try_from(*height).is_ok_and(|h| live_thumbs.contains(&(*image_id, h))),
                StorageKey::Upload(id) => live_slots.contains(id),
            };
            if !live {
                app.storage.delete(key).await?;
                tracing::debug!(key = %key.as_path(), "orphan removed");
                removed += 1;
            }
        }
    }
    Ok(removed)
}
