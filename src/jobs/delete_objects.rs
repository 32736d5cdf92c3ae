//! Deletes objects whose rows are gone, so that a storage outage never fails
//! the mutation that removed them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{JobError, JobKind};
use crate::app::App;
use crate::storage::StorageKey;

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteObjects {
    pub image_id: Uuid,
    /// Thumbnails as (height, content type); the original is always deleted.
    pub thumbnails: Vec<(u32, String)>,
}

impl JobKind for DeleteObjects {
    const NAME: &'static str = "delete_objects";
    const MAX_ATTEMPTS: i32 = 10;
}

impl DeleteObjects {
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
