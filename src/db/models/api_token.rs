use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::{Plan, User};
use crate::db::schema::{api_tokens, plans, users};

/// A personal access token. The secret itself is never stored: only its
/// SHA-256 (`token_hash`) and its first characters (`prefix`).
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = api_tokens, check_for_backend(diesel::pg::Pg))]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub token_hash: Vec<u8>,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(api_tokens::table)
            .values(self)
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// The token with its user and plan, by the hash of the secret (unique
    /// index): the one query that authenticates a request made with it.
    pub async fn find_with_user(
        conn: &mut AsyncPgConnection,
        hash: &[u8],
    ) -> QueryResult<Option<(ApiToken, User, Option<Plan>)>> {
        api_tokens::table
            .inner_join(users::table.left_join(plans::table))
            .filter(api_tokens::token_hash.eq(hash))
            .select((
                ApiToken::as_select(),
                User::as_select(),
                Option::<Plan>::as_select(),
            ))
            .first(conn)
            .await
            .optional()
    }

    pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<ApiToken>> {
        api_tokens::table
            .find(id)
            .select(ApiToken::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// Records a use, at most once a minute per token.
    pub async fn touch(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        now: DateTime<Utc>,
        older_than: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(
            api_tokens::table.find(id).filter(
                api_tokens::last_used_at
                    .is_null()
                    .or(api_tokens::last_used_at.lt(older_than)),
            ),
        )
        .set(api_tokens::last_used_at.eq(now))
        .execute(conn)
        .await
    }

    /// The user's tokens that are not revoked (expired ones included: their
    /// `expires_at` says so), newest first.
    pub async fn unrevoked_for_user(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
    ) -> QueryResult<Vec<ApiToken>> {
        api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null())
            .select(ApiToken::as_select())
            .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
            .load(conn)
            .await
    }

    pub async fn count_live(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<i64> {
        api_tokens::table
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null())
            .filter(
                api_tokens::expires_at
                    .is_null()
                    .or(api_tokens::expires_at.gt(now)),
            )
            .count()
            .get_result(conn)
            .await
    }

    /// Revokes one token (of `user_id` when given); returns it.
    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        id: Uuid,
        user_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> QueryResult<Option<ApiToken>> {
        let mut query = diesel::update(api_tokens::table)
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null())
            .into_boxed();
        if let Some(user_id) = user_id {
            query = query.filter(api_tokens::user_id.eq(user_id));
        }
        query
            .set(api_tokens::revoked_at.eq(now))
            .returning(ApiToken::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// Revokes every token of a user but `except`; returns how many.
    pub async fn revoke_all_for_user(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        except: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        let mut query = diesel::update(api_tokens::table)
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null())
            .into_boxed();
        if let Some(except) = except {
            query = query.filter(api_tokens::id.ne(except));
        }
        query
            .set(api_tokens::revoked_at.eq(now))
            .execute(conn)
            .await
    }
}
