//! After a plan change: adds the thumbnails the user's plan now grants to the
//! images already uploaded, and queues their making. Heights the plan no
//! longer grants keep their rows and objects (hidden), so a downgrade then
//! upgrade costs nothing.

use std::sync::Arc;

use diesel::sql_types::{Array, Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::queue::NEXT_FAIR_SEQ;
use super::thumbnails::MakeThumbnails;
use super::{JobError, JobKind};
use crate::app::App;
use crate::db::models::User;

#[derive(Debug, Serialize, Deserialize)]
pub struct BackfillThumbnails {
    pub user_id: Uuid,
}

impl JobKind for BackfillThumbnails {
    const NAME: &'static str = "backfill_thumbnails";

    fn dedupe_key(&self) -> Option<String> {
        Some(format!("backfill:{}", self.user_id))
    }

    fn owner(&self) -> Option<Uuid> {
        Some(self.user_id)
    }
}

impl BackfillThumbnails {
    #[tracing::instrument(name = "job.backfill_thumbnails", skip_all, fields(user.id = %self.user_id))]
    pub async fn run(self, app: &Arc<App>) -> Result<(), JobError> {
        let mut conn = app.db.get().await?;
        let Some((_, Some(plan))) = User::find_with_plan(&mut conn, self.user_id).await? else {
            return Ok(());
        };
        // One statement: missing rows for every unexpired image, and one
        // thumbnail job per image that got any.
        // The user's jobs take their turns with everyone else's (fair_seq).
        let queued = diesel::sql_query(format!(
            "WITH added AS (
                 INSERT INTO thumbnails (image_id, height, status)
                 SELECT i.id, h, 'pending'
                   FROM images i CROSS JOIN unnest($2::int4[]) AS h
                  WHERE i.owner_id = $1 AND (i.expires_at IS NULL OR i.expires_at > $3)
                 ON CONFLICT DO NOTHING
                 RETURNING image_id),
             base AS (SELECT {NEXT_FAIR_SEQ} AS seq)
             INSERT INTO jobs (kind, payload, max_attempts, run_at, dedupe_key, owner_id, fair_seq)
             SELECT $4, jsonb_build_object('image_id', image_id, 'owner_id', $1), 5, $3,
                    'thumbs:' || image_id, $1,
                    (SELECT seq FROM base) + row_number() OVER (ORDER BY image_id) - 1
               FROM (SELECT DISTINCT image_id FROM added) AS a
             ON CONFLICT DO NOTHING",
        ))
        .bind::<SqlUuid, _>(self.user_id)
        .bind::<Array<Integer>, _>(&plan.thumbnail_heights)
        .bind::<Timestamptz, _>(app.clock.now())
        .bind::<Text, _>(MakeThumbnails::NAME)
        .execute(&mut conn)
        .await?;
        tracing::info!(images = queued, "thumbnail backfill queued");
        Ok(())
    }
}
