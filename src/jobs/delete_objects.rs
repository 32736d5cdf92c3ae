//! Deletes objects whose rows are gone, so that a storage outage never fails
//! the mutation that removed them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{JobError, JobKind};
use crate::app::App;
use crate::db::models::{Image, Thumbnail};
use crate::storage::StorageKey;

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteObjects {
    /// The source whose objects go (see `Image::source_id`).
    pub image_id: Uuid,
    /// Thumbnails as (height, content type); the original is always deleted.
    pub thumbnails: Vec<(u32, String)>,
}

impl JobKind for DeleteObjects {
    const NAME: &'static str = "delete_objects";
    const MAX_ATTEMPTS: i32 = 10;
}

impl DeleteObjects {
    /// Every object of an image's source: its original and every thumbnail row's
    /// object (hidden heights included; a PENDING row may have an object
    /// from a worker that died before marking it).
    pub fn of(image: &Image, thumbnails: &[Thumbnail]) -> DeleteObjects {
        DeleteObjects {
            image_id: image.source_id,
            thumbnails: thumbnails
                .iter()
                .map(|t| {
                    let ct = t.content_type.as_deref().unwrap_or(&image.content_type);
                    (u32::try_from(t.height).unwrap_or_default(), ct.to_owned())
                })
                .collect(),
        }
    }

    pub fn keys(&self) -> Vec<StorageKey> {
        let mut keys = vec![StorageKey::original(self.image_id)];
        for (height, content_type) in &self.thumbnails {
            if let Some(ext) = crate::storage::ext_for_content_type(content_type) {
                keys.push(StorageKey::thumbnail(self.image_id, *height, ext));
            }
        }
        keys
    }

    #[tracing::instrument(name = "job.delete_objects", skip_all, fields(image.id = %self.image_id))]
    pub async fn run(self, app: &Arc<App>) -> Result<(), JobError> {
        for key in self.keys() {
            app.storage.delete(&key).await.map_err(JobError::retry)?;
        }
        Ok(())
    }
}
