//! Deletes a deleted user's objects: every original and thumbnail of their
//! images and every staged direct upload. The rows went in the transaction
//! that deleted the user; this job is enqueued in it, so storage being down
//! never fails `deleteUser`, and deleting an absent object is a no-op, so a
//! retry after a partial run is harmless.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::delete_objects::DeleteObjects;
use super::{JobError, JobKind};
use crate::app::App;
use crate::storage::StorageKey;

#[derive(Debug, Serialize, Deserialize)]
pub struct DeleteUserObjects {
    pub user_id: Uuid,
    /// One entry per source (see `Image::source_id`).
    pub sources: Vec<DeleteObjects>,
    /// Upload slots whose staging objects go.
    pub uploads: Vec<Uuid>,
}

impl JobKind for DeleteUserObjects {
    const NAME: &'static str = "delete_user_objects";
    const MAX_ATTEMPTS: i32 = 10;
}

impl DeleteUserObjects {
    #[tracing::instrument(name = "job.delete_user_objects", skip_all, fields(user.id = %self.user_id))]
    pub async fn run(self, app: &Arc<App>) -> Result<(), JobError> {
        let count = self.sources.len();
        for source in self.sources {
            source.run(app).await?;
        }
        for slot in &self.uploads {
            app.storage
                .delete(&StorageKey::upload(*slot))
                .await
                .map_err(JobError::retry)?;
        }
        tracing::info!(
            sources = count,
            uploads = self.uploads.len(),
            "user objects deleted"
        );
        Ok(())
    }
}
