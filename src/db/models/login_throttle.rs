use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Interval, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::login_throttle;

/// Counters of login attempts shared by every server (see the
/// `login_reserve` function in the accounts migration).
pub struct LoginThrottle;

/// How one key is throttled.
#[derive(Clone, Copy, Debug)]
pub struct ThrottleRule {
    pub window: chrono::Duration,
    pub limit: i32,
    /// Growing delays after `limit` (usernames) or a fixed window (networks).
    pub growing: bool,
    pub base_delay: chrono::Duration,
    pub max_delay: chrono::Duration,
}

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    blocked_until: Option<DateTime<Utc>>,
}

fn interval(d: chrono::Duration) -> diesel::pg::data_types::PgInterval {
    diesel::pg::data_types::PgInterval::from_microseconds(d.num_microseconds().unwrap_or(i64::MAX))
}

impl LoginThrottle {
    /// Counts an attempt for `key` unless it is blocked. `Some(until)`: refused
    /// until then (the attempt was not counted).
    pub async fn reserve(
        conn: &mut AsyncPgConnection,
        key: &str,
        now: DateTime<Utc>,
        rule: ThrottleRule,
    ) -> QueryResult<Option<DateTime<Utc>>> {
        let row: Reserved =
            diesel::sql_query("SELECT login_reserve($1, $2, $3, $4, $5, $6, $7) AS blocked_until")
                .bind::<Text, _>(key)
                .bind::<Timestamptz, _>(now)
                .bind::<Interval, _>(interval(rule.window))
                .bind::<Integer, _>(rule.limit)
                .bind::<Bool, _>(rule.growing)
                .bind::<Interval, _>(interval(rule.base_delay))
                .bind::<Interval, _>(interval(rule.max_delay))
                .get_result(conn)
                .await?;
        Ok(row.blocked_until)
    }

    /// Forgets a key's attempts (a successful login, a password reset).
    pub async fn clear(conn: &mut AsyncPgConnection, key: &str) -> QueryResult<usize> {
        diesel::delete(login_throttle::table.find(key))
            .execute(conn)
            .await
    }

    /// Removes counters untouched since `before` and not blocking any more.
    pub async fn delete_stale(
        conn: &mut AsyncPgConnection,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::delete(
            login_throttle::table
                .filter(login_throttle::last_at.lt(before))
                .filter(
                    login_throttle::blocked_until
                        .is_null()
                        .or(login_throttle::blocked_until.lt(now)),
                ),
        )
        .execute(conn)
        .await
    }
}
