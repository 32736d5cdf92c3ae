use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::images;

/// An uploaded original. Its object lives at `StorageKey::original(id)`.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = images, check_for_backend(diesel::pg::Pg))]
pub struct Image {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
    pub byte_size: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Image {
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(images::table)
            .values(self)
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// The owner's image, unless it has expired.
    pub async fn find_visible(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<Image>> {
        images::table
            .find(id)
            .filter(images::owner_id.eq(owner_id))
            .filter(images::expires_at.is_null().or(images::expires_at.gt(now)))
            .select(Image::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Image>> {
        images::table
            .find(id)
            .select(Image::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// A page of the owner's unexpired images, newest first, after the keyset
    /// cursor `(created_at, id)`. Served by `images_owner_created_idx`.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
        now: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> QueryResult<Vec<Image>> {
        let mut query = images::table
            .filter(images::owner_id.eq(owner_id))
            .filter(images::expires_at.is_null().or(images::expires_at.gt(now)))
            .select(Image::as_select())
            .order((images::created_at.desc(), images::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some((created_at, id)) = after {
            query = query.filter(
                images::created_at
                    .lt(created_at)
                    .or(images::created_at.eq(created_at).and(images::id.lt(id))),
            );
        }
        query.load(conn).await
    }

    /// Images whose expiry has passed, oldest expiry first.
    pub async fn expired(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<Image>> {
        images::table
            .filter(images::expires_at.le(now))
            .select(Image::as_select())
            .order(images::expires_at)
            .limit(limit)
            .load(conn)
            .await
    }

    pub async fn delete_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<usize> {
        diesel::delete(images::table.filter(images::id.eq_any(ids)))
            .execute(conn)
            .await
    }

    /// Deletes the owner's unexpired image; returns it when there was one.
    pub async fn delete_visible(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<Image>> {
        diesel::delete(
            images::table
                .find(id)
                .filter(images::owner_id.eq(owner_id))
                .filter(images::expires_at.is_null().or(images::expires_at.gt(now))),
        )
        .returning(Image::as_returning())
        .get_result(conn)
        .await
        .optional()
    }
}
