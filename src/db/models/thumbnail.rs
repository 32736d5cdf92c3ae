use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::thumbnails;

pub const PENDING: &str = "pending";
pub const READY: &str = "ready";
pub const FAILED: &str = "failed";

/// One thumbnail height of one image. Rows outlive plan changes: a height the
/// current plan does not grant is hidden, not deleted.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = thumbnails, primary_key(image_id, height), check_for_backend(diesel::pg::Pg))]
pub struct Thumbnail {
    pub image_id: Uuid,
    pub height: i32,
    pub status: String,
    pub width: Option<i32>,
    pub pixel_height: Option<i32>,
    pub byte_size: Option<i64>,
    pub content_type: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Thumbnail {
    /// Adds PENDING rows for the heights an image lacks; returns how many were added.
    pub async fn insert_pending(
        conn: &mut AsyncPgConnection,
        image_id: Uuid,
        heights: &[i32],
    ) -> QueryResult<usize> {
        let rows: Vec<_> = heights
            .iter()
            .map(|&h| {
                (
                    thumbnails::image_id.eq(image_id),
                    thumbnails::height.eq(h),
                    thumbnails::status.eq(PENDING),
                )
            })
            .collect();
        diesel::insert_into(thumbnails::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await
    }

    /// All rows of a set of images, in one query.
    pub async fn for_images(
        conn: &mut AsyncPgConnection,
        image_ids: &[Uuid],
    ) -> QueryResult<Vec<Thumbnail>> {
        thumbnails::table
            .filter(thumbnails::image_id.eq_any(image_ids))
            .select(Thumbnail::as_select())
            .load(conn)
            .await
    }

    /// The heights of an image still waiting to be made.
    pub async fn pending_heights(
        conn: &mut AsyncPgConnection,
        image_id: Uuid,
    ) -> QueryResult<Vec<i32>> {
        thumbnails::table
            .filter(thumbnails::image_id.eq(image_id))
            .filter(thumbnails::status.eq(PENDING))
            .select(thumbnails::height)
            .order(thumbnails::height)
            .load(conn)
            .await
    }

    /// Marks this image's PENDING heights READY where another image with the
    /// same source already has them READY (their objects are shared).
    /// Returns the heights taken over.
    pub async fn copy_ready_from_siblings(
        conn: &mut AsyncPgConnection,
        image: &super::Image,
    ) -> QueryResult<Vec<i32>> {
        use diesel::sql_types::Uuid as SqlUuid;
        #[derive(QueryableByName)]
        struct Height {
            #[diesel(sql_type = diesel::sql_types::Int4)]
            height: i32,
        }
        let rows: Vec<Height> = diesel::sql_query(
            "UPDATE thumbnails AS t
                SET status = 'ready', width = s.width, pixel_height = s.pixel_height,
                    byte_size = s.byte_size, content_type = s.content_type,
                    error = NULL, updated_at = now()
               FROM (SELECT DISTINCT ON (th.height) th.*
                       FROM thumbnails th JOIN images i ON i.id = th.image_id
                      WHERE i.source_id = $2 AND th.image_id <> $1 AND th.status = 'ready'
                      ORDER BY th.height, th.updated_at) AS s
              WHERE t.image_id = $1 AND t.height = s.height AND t.status = 'pending'
          RETURNING t.height",
        )
        .bind::<SqlUuid, _>(image.id)
        .bind::<SqlUuid, _>(image.source_id)
        .load(conn)
        .await?;
        if image.blurhash.is_none() {
            diesel::sql_query(
                "UPDATE images SET blurhash = (SELECT blurhash FROM images
                  WHERE source_id = $2 AND blurhash IS NOT NULL LIMIT 1)
                 WHERE id = $1 AND blurhash IS NULL",
            )
            .bind::<SqlUuid, _>(image.id)
            .bind::<SqlUuid, _>(image.source_id)
            .execute(conn)
            .await?;
        }
        Ok(rows.into_iter().map(|r| r.height).collect())
    }

    pub async fn mark_ready(
        conn: &mut AsyncPgConnection,
        image_id: Uuid,
        height: i32,
        width: i32,
        pixel_height: i32,
        byte_size: i64,
        content_type: &str,
    ) -> QueryResult<usize> {
        diesel::update(thumbnails::table.find((image_id, height)))
            .set((
                thumbnails::status.eq(READY),
                thumbnails::width.eq(width),
                thumbnails::pixel_height.eq(pixel_height),
                thumbnails::byte_size.eq(byte_size),
                thumbnails::content_type.eq(content_type),
                thumbnails::error.eq(None::<String>),
                thumbnails::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
    }

    /// Marks every still-pending height of an image FAILED with a reason.
    pub async fn mark_pending_failed(
        conn: &mut AsyncPgConnection,
        image_id: Uuid,
        reason: &str,
    ) -> QueryResult<usize> {
        diesel::update(
            thumbnails::table
                .filter(thumbnails::image_id.eq(image_id))
                .filter(thumbnails::status.eq(PENDING)),
        )
        .set((
            thumbnails::status.eq(FAILED),
            thumbnails::error.eq(reason),
            thumbnails::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
    }

    /// Puts an image's FAILED thumbnails back to PENDING (an operator
    /// retries their job).
    pub async fn reset_failed(conn: &mut AsyncPgConnection, image_id: Uuid) -> QueryResult<usize> {
        diesel::update(
            thumbnails::table
                .filter(thumbnails::image_id.eq(image_id))
                .filter(thumbnails::status.eq(FAILED)),
        )
        .set((
            thumbnails::status.eq(PENDING),
            thumbnails::error.eq(None::<String>),
            thumbnails::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
    }
}
