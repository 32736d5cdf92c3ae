use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::upload_slots;

/// A direct upload in progress: the client may put one file of `byte_size`
/// bytes at `uploads/{id}` until `expires_at`. `completed_at` is set once,
/// when the file became an image or was refused.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = upload_slots, check_for_backend(diesel::pg::Pg))]
pub struct UploadSlot {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub filename: String,
    pub byte_size: i64,
    pub content_type: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl UploadSlot {
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(upload_slots::table)
            .values(self)
            .execute(conn)
            .await
            .map(|_| ())
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<UploadSlot>> {
        upload_slots::table
            .find(id)
            .select(UploadSlot::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The owner's slot; someone else's is as absent as a made-up id.
    pub async fn find_own(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
        id: Uuid,
    ) -> QueryResult<Option<UploadSlot>> {
        upload_slots::table
            .find(id)
            .filter(upload_slots::owner_id.eq(owner_id))
            .select(UploadSlot::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Slots of the owner that still accept a file.
    pub async fn count_open(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<i64> {
        upload_slots::table
            .filter(upload_slots::owner_id.eq(owner_id))
            .filter(upload_slots::expires_at.gt(now))
            .filter(upload_slots::completed_at.is_null())
            .count()
            .get_result(conn)
            .await
    }

    /// Marks the slot used; false when it was already (or is gone). The
    /// conditional update is what keeps two completions from both winning.
    pub async fn mark_completed(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            upload_slots::table
                .find(id)
                .filter(upload_slots::completed_at.is_null()),
        )
        .set(upload_slots::completed_at.eq(now))
        .execute(conn)
        .await?;
        Ok(n == 1)
    }

    /// Slots whose time has passed (used or not), oldest first.
    pub async fn expired(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<Uuid>> {
        upload_slots::table
            .filter(upload_slots::expires_at.le(now))
            .select(upload_slots::id)
            .order(upload_slots::expires_at)
            .limit(limit)
            .load(conn)
            .await
    }

    /// Which of `ids` still have a row (their staging objects are live).
    pub async fn existing(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<Uuid>> {
        upload_slots::table
            .filter(upload_slots::id.eq_any(ids))
            .select(upload_slots::id)
            .load(conn)
            .await
    }

    pub async fn delete_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<usize> {
        diesel::delete(upload_slots::table.filter(upload_slots::id.eq_any(ids)))
            .execute(conn)
            .await
    }
}

impl UploadSlot {
    /// Every slot of a user (their staging objects go when the user does).
    pub async fn ids_of_owner(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
    ) -> QueryResult<Vec<Uuid>> {
        upload_slots::table
            .filter(upload_slots::owner_id.eq(owner_id))
            .select(upload_slots::id)
            .load(conn)
            .await
    }
}
