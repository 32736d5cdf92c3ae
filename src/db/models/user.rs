use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Plan;
use crate::db::schema::{plans, users};

#[derive(Clone, Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub plan_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the user may not log in (see `service::disable_user`).
    pub disabled_at: Option<DateTime<Utc>>,
}

/// Advisory lock key that serialises changes to who is an enabled
/// administrator, so two admins cannot demote or delete each other at once.
const ADMINS_LOCK_KEY: i64 = 0x1a6e_ad01;

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub username: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
    pub plan_id: Option<Uuid>,
}

impl User {
    /// Locks the user's row until the transaction ends: what serialises a
    /// user's quota and upload-slot checks against each other.
    pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
        users::table
            .find(id)
            .select(users::id)
            .for_update()
            .first::<Uuid>(conn)
            .await
            .optional()?;
        Ok(())
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<User>> {
        users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The user with their plan, in one query (every authenticated request does this).
    pub async fn find_with_plan(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> QueryResult<Option<(User, Option<Plan>)>> {
        users::table
            .left_join(plans::table)
            .filter(users::id.eq(id))
            .select((User::as_select(), Option::<Plan>::as_select()))
            .first(conn)
            .await
            .optional()
    }

    /// `username` must already be normalised (lower case).
    pub async fn find_by_username(
        conn: &mut AsyncPgConnection,
        username: &str,
    ) -> QueryResult<Option<User>> {
        users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// A page of users, newest first, after the keyset cursor `(created_at, id)`;
    /// with `name_contains` (normalised, non-empty) only the usernames that
    /// contain it, taken literally (`%` and `_` are not wildcards).
    pub async fn page(
        conn: &mut AsyncPgConnection,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
        name_contains: Option<&str>,
    ) -> QueryResult<Vec<User>> {
        let mut query = users::table
            .select(User::as_select())
            .order((users::created_at.desc(), users::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some(part) = name_contains {
            query = query.filter(users::username.like(like_contains(part)).escape('\\'));
        }
        if let Some((created_at, id)) = after {
            query = query.filter(
                users::created_at
                    .lt(created_at)
                    .or(users::created_at.eq(created_at).and(users::id.lt(id))),
            );
        }
        query.load(conn).await
    }

    pub async fn ids_with_plan(
        conn: &mut AsyncPgConnection,
        plan_id: Uuid,
    ) -> QueryResult<Vec<Uuid>> {
        users::table
            .filter(users::plan_id.eq(plan_id))
            .select(users::id)
            .load(conn)
            .await
    }

    pub async fn set_plan(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        plan_id: Option<Uuid>,
    ) -> QueryResult<User> {
        diesel::update(users::table.find(id))
            .set((
                users::plan_id.eq(plan_id),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }
}

impl User {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// Takes the administrators lock for the rest of the transaction.
    pub async fn lock_admins(conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({ADMINS_LOCK_KEY})"))
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// Enabled administrators other than `except`.
    pub async fn count_other_enabled_admins(
        conn: &mut AsyncPgConnection,
        except: Uuid,
    ) -> QueryResult<i64> {
        users::table
            .filter(users::is_admin.eq(true))
            .filter(users::disabled_at.is_null())
            .filter(users::id.ne(except))
            .count()
            .get_result(conn)
            .await
    }

    /// Locks the user's row for the rest of the transaction.
    pub async fn find_for_update(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> QueryResult<Option<User>> {
        users::table
            .find(id)
            .select(User::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    pub async fn update_profile(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        username: &str,
        is_admin: bool,
        plan_id: Option<Uuid>,
    ) -> QueryResult<User> {
        diesel::update(users::table.find(id))
            .set((
                users::username.eq(username),
                users::is_admin.eq(is_admin),
                users::plan_id.eq(plan_id),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn set_disabled(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        disabled_at: Option<DateTime<Utc>>,
    ) -> QueryResult<User> {
        diesel::update(users::table.find(id))
            .set((
                users::disabled_at.eq(disabled_at),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn set_password_hash(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        hash: &str,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(hash),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
    }

    /// Deletes the row; sessions, tokens, images, links and upload slots go
    /// with it (`ON DELETE CASCADE`).
    pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
        diesel::delete(users::table.find(id)).execute(conn).await
    }
}

impl NewUser<'_> {
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<User> {
        diesel::insert_into(users::table)
            .values(self)
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }
}

/// A LIKE pattern matching any text that contains `part` literally, with `\\`
/// as the escape character.
fn like_contains(part: &str) -> String {
    let mut pattern = String::with_capacity(part.len() + 2);
    pattern.push('%');
    for c in part.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}
