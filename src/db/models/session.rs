use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{Plan, User};
use crate::db::schema::{plans, sessions, users};

/// One login: the access token names it, and it is live until it expires
/// or is revoked.
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = sessions, check_for_backend(diesel::pg::Pg))]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

impl Session {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(sessions::table)
            .values(self)
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// The session with its user and the user's plan: the one query that
    /// authenticates a request (primary key, then two primary keys).
    pub async fn find_with_user(
        conn: &mut AsyncPgConnection,
        id: Uuid,
    ) -> QueryResult<Option<(Session, User, Option<Plan>)>> {
        sessions::table
            .inner_join(users::table.left_join(plans::table))
            .filter(sessions::id.eq(id))
            .select((
                Session::as_select(),
                User::as_select(),
                Option::<Plan>::as_select(),
            ))
            .first(conn)
            .await
            .optional()
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Session>> {
        sessions::table
            .find(id)
            .select(Session::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Records a use, at most once a minute per session (the caller checks
    /// the age; the condition here keeps concurrent requests from writing twice).
    pub async fn touch(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        now: DateTime<Utc>,
        older_than: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(
            sessions::table
                .find(id)
                .filter(sessions::last_used_at.lt(older_than)),
        )
        .set(sessions::last_used_at.eq(now))
        .execute(conn)
        .await
    }

    /// The user's live sessions, newest first.
    pub async fn live_for_user(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<Vec<Session>> {
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .select(Session::as_select())
            .order((sessions::created_at.desc(), sessions::id.desc()))
            .limit(200)
            .load(conn)
            .await
    }

    /// Revokes one live session (of `user_id` when given); returns it.
    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        user_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<Session>> {
        let mut query = diesel::update(sessions::table)
            .filter(sessions::id.eq(id))
            .filter(sessions::revoked_at.is_null())
            .into_boxed();
        if let Some(user_id) = user_id {
            query = query.filter(sessions::user_id.eq(user_id));
        }
        query
            .set(sessions::revoked_at.eq(now))
            .returning(Session::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Revokes every live session of a user but `except`; returns how many.
    pub async fn revoke_all_for_user(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        except: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        let mut query = diesel::update(sessions::table)
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now))
            .into_boxed();
        if let Some(except) = except {
            query = query.filter(sessions::id.ne(except));
        }
        query.set(sessions::revoked_at.eq(now)).execute(conn).await
    }

    /// Removes sessions that expired or were revoked before `before`.
    pub async fn delete_stale(
        conn: &mut AsyncPgConnection,
        before: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::delete(
            sessions::table.filter(
                sessions::expires_at
                    .lt(before)
                    .or(sessions::revoked_at.lt(before)),
            ),
        )
        .execute(conn)
        .await
    }
}
