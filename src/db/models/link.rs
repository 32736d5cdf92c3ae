use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Image;
use crate::db::schema::{expiring_links, images};

/// A shareable link to an image's original, valid until `expires_at` or
/// until revoked.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = expiring_links, check_for_backend(diesel::pg::Pg))]
pub struct ExpiringLink {
    pub id: Uuid,
    pub image_id: Uuid,
    pub owner_id: Uuid,
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ExpiringLink {
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(expiring_links::table)
            .values(self)
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// The link and its image, for `/links/{token}`.
    pub async fn find_by_token(
        conn: &mut AsyncPgConnection,
        token: &str,
    ) -> QueryResult<Option<(ExpiringLink, Image)>> {
        expiring_links::table
            .inner_join(images::table)
            .filter(expiring_links::token.eq(token))
            .select((ExpiringLink::as_select(), Image::as_select()))
            .first(conn)
            .await
            .optional()
    }

    /// The owner's links (not revoked) of unexpired images, newest first,
    /// optionally of one image, after a keyset cursor. Expired links are
    /// included: their `expires_at` says so.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
        image_id: Option<Uuid>,
        now: DateTime<Utc>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> QueryResult<Vec<(ExpiringLink, Image)>> {
        let mut query = expiring_links::table
            .inner_join(images::table)
            .filter(expiring_links::owner_id.eq(owner_id))
            .filter(expiring_links::revoked_at.is_null())
            .filter(images::expires_at.is_null().or(images::expires_at.gt(now)))
            .select((ExpiringLink::as_select(), Image::as_select()))
            .order((expiring_links::created_at.desc(), expiring_links::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(image_id) = image_id {
            query = query.filter(expiring_links::image_id.eq(image_id));
        }
        if let Some((created_at, id)) = after {
            query = query.filter(
                expiring_links::created_at
                    .lt(created_at)
                    .or(expiring_links::created_at
                        .eq(created_at)
                        .and(expiring_links::id.lt(id))),
            );
        }
        query.load(conn).await
    }

    /// Revokes the owner's link; false when there is no such (live) link.
    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        owner_id: Uuid,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<bool> {
        let n = diesel::update(
            expiring_links::table
                .find(id)
                .filter(expiring_links::owner_id.eq(owner_id))
                .filter(expiring_links::revoked_at.is_null()),
        )
        .set(expiring_links::revoked_at.eq(now))
        .execute(conn)
        .await?;
        Ok(n == 1)
    }

    /// Removes records of links that expired or were revoked before `before`.
    pub async fn delete_stale(
        conn: &mut AsyncPgConnection,
        before: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::delete(
            expiring_links::table.filter(
                expiring_links::expires_at
                    .lt(before)
                    .or(expiring_links::revoked_at.lt(before)),
            ),
        )
        .execute(conn)
        .await
    }
}
