use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::images;

/// An uploaded original. Its objects live under `source_id`: its own id, or
/// the id of an earlier upload of the same bytes by the same user.
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
    pub sha256: Option<Vec<u8>>,
    pub source_id: Uuid,
    pub blurhash: Option<String>,
    /// Frames of an animation; 1 for a still image.
    pub frame_count: i32,
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
            // `created_at <= cursor` is implied by the OR below, but only
            // this form is an index condition: without it Postgres walks
            // the owner's index from the newest image and filters every row
            // before the cursor (900,000 rows for a page that deep).
            query = query.filter(images::created_at.le(created_at)).filter(
                images::created_at
                    .lt(created_at)
                    .or(images::created_at.eq(created_at).and(images::id.lt(id))),
            );
        }
        query.load(conn).await
    }

    /// For each hash the owner uploaded before, the source whose objects
    /// hold those bytes.
    pub async fn sources_by_sha256(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
        hashes: &[Vec<u8>],
    ) -> QueryResult<Vec<(Vec<u8>, Uuid)>> {
        let rows: Vec<(Option<Vec<u8>>, Uuid)> = images::table
            .filter(images::owner_id.eq(owner_id))
            .filter(images::sha256.eq_any(hashes))
            .select((images::sha256, images::source_id))
            .distinct_on(images::sha256)
            .order((images::sha256, images::created_at))
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(sha, source)| Some((sha?, source)))
            .collect())
    }

    /// Serialises everything that decides a source's fate (uploads reusing
    /// it, deletions releasing it) for the rest of the transaction.
    pub async fn lock_source(conn: &mut AsyncPgConnection, source_id: Uuid) -> QueryResult<()> {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7164201))")
            .bind::<diesel::sql_types::Text, _>(source_id.to_string())
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// Locks a source and says whether any image still uses it.
    pub async fn claim_source(conn: &mut AsyncPgConnection, source_id: Uuid) -> QueryResult<bool> {
        Self::lock_source(conn, source_id).await?;
        Self::source_in_use(conn, source_id).await
    }

    pub async fn source_in_use(conn: &mut AsyncPgConnection, source_id: Uuid) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            images::table.filter(images::source_id.eq(source_id)),
        ))
        .get_result(conn)
        .await
    }

    /// Whether an image other than `except` uses the source.
    pub async fn source_shared(
        conn: &mut AsyncPgConnection,
        source_id: Uuid,
        except: Uuid,
    ) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            images::table
                .filter(images::source_id.eq(source_id))
                .filter(images::id.ne(except)),
        ))
        .get_result(conn)
        .await
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

impl Image {
    /// Every image of a user, expired ones included (deleting the user).
    pub async fn all_of_owner(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
    ) -> QueryResult<Vec<Image>> {
        images::table
            .filter(images::owner_id.eq(owner_id))
            .select(Image::as_select())
            .load(conn)
            .await
    }
}
