use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::lower;
use crate::db::schema::{plans, users};

/// A subscription plan: which thumbnails its users get and what links they may see.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = plans, check_for_backend(diesel::pg::Pg))]
pub struct Plan {
    pub id: Uuid,
    pub name: String,
    pub thumbnail_heights: Vec<i32>,
    pub original_link: bool,
    pub expiring_links: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `original` (JPEG in, JPEG out; PNG in, PNG out) or `webp`.
    pub thumbnail_format: String,
    /// Quotas; `None` is unlimited.
    pub max_images: Option<i32>,
    pub max_storage_bytes: Option<i64>,
    pub max_uploads_per_hour: Option<i32>,
}

impl Plan {
    /// Whether any quota applies to this plan's users.
    pub fn has_quotas(&self) -> bool {
        self.max_images.is_some()
            || self.max_storage_bytes.is_some()
            || self.max_uploads_per_hour.is_some()
    }
}

pub const FORMAT_ORIGINAL: &str = "original";
pub const FORMAT_WEBP: &str = "webp";

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = plans, treat_none_as_null = true)]
pub struct NewPlan<'a> {
    pub name: &'a str,
    pub thumbnail_heights: &'a [i32],
    pub original_link: bool,
    pub expiring_links: bool,
    pub thumbnail_format: &'a str,
    pub max_images: Option<i32>,
    pub max_storage_bytes: Option<i64>,
    pub max_uploads_per_hour: Option<i32>,
}

impl Plan {
    pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Plan>> {
        plans::table
            .select(Plan::as_select())
            .order((plans::created_at, plans::name))
            .load(conn)
            .await
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Plan>> {
        plans::table
            .find(id)
            .select(Plan::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Plan names are unique regardless of case.
    pub async fn find_by_name(
        conn: &mut AsyncPgConnection,
        name: &str,
    ) -> QueryResult<Option<Plan>> {
        plans::table
            .filter(lower(plans::name).eq(name.trim().to_lowercase()))
            .select(Plan::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<Plan>> {
        plans::table
            .filter(plans::id.eq_any(ids))
            .select(Plan::as_select())
            .load(conn)
            .await
    }

    pub async fn holders(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<i64> {
        users::table
            .filter(users::plan_id.eq(id))
            .count()
            .get_result(conn)
            .await
    }

    /// How many users hold each of `ids`, in one grouped query; a plan
    /// nobody holds is absent.
    pub async fn holders_of(
        conn: &mut AsyncPgConnection,
        ids: &[Uuid],
    ) -> QueryResult<Vec<(Uuid, i64)>> {
        users::table
            .filter(users::plan_id.eq_any(ids))
            .group_by(users::plan_id)
            .select((users::plan_id.assume_not_null(), diesel::dsl::count_star()))
            .load(conn)
            .await
    }

    pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::delete(plans::table.find(id)).execute(conn).await
    }

    /// Sorted heights, smallest first.
    pub fn heights(&self) -> Vec<u32> {
        let mut h: Vec<u32> = self
            .thumbnail_heights
            .iter()
            .filter_map(|&h| u32::try_from(h).ok())
            .collect();
        h.sort_unstable();
        h
    }
}

impl NewPlan<'_> {
    pub async fn update(&self, conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Plan> {
        diesel::update(plans::table.find(id))
            .set((self, plans::updated_at.eq(diesel::dsl::now)))
            .returning(Plan::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<Plan> {
        diesel::insert_into(plans::table)
            .values((plans::id.eq(Uuid::now_v7()), self))
            .returning(Plan::as_returning())
            .get_result(conn)
            .await
    }
}
