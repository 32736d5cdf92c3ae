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

/// What a viewer is shown of a thumbnail row: its height, status, pixel
/// width and stored type (for the object's key). A page reads only these:
/// half the columns, and none of the two timestamps that each row would
/// decode for nothing.
#[derive(Clone, Debug, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = thumbnails, check_for_backend(diesel::pg::Pg))]
pub struct Shown {
    pub image_id: Uuid,
    pub height: i32,
    pub status: String,
    pub width: Option<i32>,
    pub content_type: Option<String>,
}

impl From<Thumbnail> for Shown {
    fn from(t: Thumbnail) -> Self {
        Shown {
            image_id: t.image_id,
            height: t.height,
            status: t.status,
            width: t.width,
            content_type: t.content_type,
        }
    }
}

/// See [`Thumbnail::work_for`].
#[derive(Debug)]
pub struct Work {
    pub image: super::Image,
    pub pending: Vec<i32>,
    /// `None` when the owner has no plan.
    pub format: Option<String>,
    pub siblings_ready: bool,
}

/// One made thumbnail, for [`Thumbnail::mark_made`].
#[derive(Debug)]
pub struct Made {
    pub height: i32,
    pub width: i32,
    pub pixel_height: i32,
    pub byte_size: i64,
    pub content_type: &'static str,
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

    /// What is shown of the thumbnails of `image_ids` ([`Shown`]).
    pub async fn shown_for_images(
        conn: &mut AsyncPgConnection,
        image_ids: &[Uuid],
    ) -> QueryResult<Vec<Shown>> {
        thumbnails::table
            .filter(thumbnails::image_id.eq_any(image_ids))
            .select(Shown::as_select())
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

    /// What a thumbnail job needs, in one query: the image, its PENDING
    /// heights, the owner's plan's thumbnail format, and whether another
    /// image of the same source has READY thumbnails to take over.
    pub async fn work_for(
        conn: &mut AsyncPgConnection,
        image_id: Uuid,
    ) -> QueryResult<Option<Work>> {
        use crate::db::schema::{images, plans, users};
        use diesel::dsl::sql;
        use diesel::sql_types::{Array, Bool, Integer};
        images::table
            .inner_join(users::table.left_join(plans::table))
            .filter(images::id.eq(image_id))
            .select((
                super::Image::as_select(),
                sql::<Array<Integer>>(
                    "ARRAY(SELECT t.height FROM thumbnails t
                            WHERE t.image_id = images.id AND t.status = 'pending'
                            ORDER BY t.height)",
                ),
                plans::thumbnail_format.nullable(),
                sql::<Bool>(
                    "EXISTS (SELECT 1 FROM images s JOIN thumbnails st ON st.image_id = s.id
                              WHERE s.source_id = images.source_id AND s.id <> images.id
                                AND st.status = 'ready')",
                ),
            ))
            .first::<(super::Image, Vec<i32>, Option<String>, bool)>(conn)
            .await
            .optional()
            .map(|row| {
                row.map(|(image, pending, format, siblings_ready)| Work {
                    image,
                    pending,
                    format,
                    siblings_ready,
                })
            })
    }

    /// Records a job's result in one statement: every made height READY,
    /// the placeholder on every image of the source, and one image event
    /// (delivered at commit).
    pub async fn mark_made(
        conn: &mut AsyncPgConnection,
        image_id: Uuid,
        source_id: Uuid,
        made: &[Made],
        blurhash: Option<&str>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Uuid as SqlUuid};
        diesel::sql_query(
            "WITH made AS (
                 SELECT * FROM unnest($3::int4[], $4::int4[], $5::int4[], $6::int8[], $7::text[])
                          AS m(height, width, pixel_height, byte_size, content_type)),
             ready AS (
                 UPDATE thumbnails AS t
                    SET status = 'ready', width = m.width, pixel_height = m.pixel_height,
                        byte_size = m.byte_size, content_type = m.content_type,
                        error = NULL, updated_at = now()
                   FROM made AS m
                  WHERE t.image_id = $1 AND t.height = m.height
              RETURNING t.height),
             placeholder AS (
                 UPDATE images SET blurhash = $8
                  WHERE source_id = $2 AND $8::text IS NOT NULL
              RETURNING id)
             SELECT pg_notify($9, $1::text)",
        )
        .bind::<SqlUuid, _>(image_id)
        .bind::<SqlUuid, _>(source_id)
        .bind::<Array<Integer>, _>(made.iter().map(|m| m.height).collect::<Vec<_>>())
        .bind::<Array<Integer>, _>(made.iter().map(|m| m.width).collect::<Vec<_>>())
        .bind::<Array<Integer>, _>(made.iter().map(|m| m.pixel_height).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(made.iter().map(|m| m.byte_size).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(made.iter().map(|m| m.content_type).collect::<Vec<_>>())
        .bind::<Nullable<Text>, _>(blurhash)
        .bind::<Text, _>(crate::events::CHANNEL)
        .execute(conn)
        .await
        .map(|_| ())
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
