//! The database: connection pool, embedded migrations, models with their SQL.

pub mod models;
pub mod schema;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel_async::pooled_connection::{ManagerConfig, RecyclingMethod};

use diesel::{ConnectionError, RunQueryDsl as _};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// Arbitrary, fixed key of the advisory lock that serialises migrations
/// between processes starting at the same time.
const MIGRATION_LOCK_KEY: i64 = 0x1a6e_7a17;

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] ConnectionError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("connection pool: {0}")]
    Pool(String),
    #[error("invalid DATABASE_URL: {0}")]
    Url(String),
}

/// The statement that checks a pooled connection before reuse; marked so
/// that query counting can leave it out.
const PING: &str = "/* pool ping */ SELECT 1";

/// Counts the SQL statements the application sends (pool pings excluded):
/// tests use it to prove a page costs a constant number of queries.
#[derive(Clone, Debug, Default)]
pub struct QueryCounter(Arc<AtomicU64>);

impl QueryCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Instrumentation for QueryCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event
            && !starts_with(query, PING)
        {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether `query`'s text starts with `prefix`, without rendering the rest:
/// a statement's `Display` is its SQL and then its binds (a page's 50 image
/// ids among them), which `to_string` formatted for every statement.
fn starts_with(query: &dyn std::fmt::Display, prefix: &str) -> bool {
    struct Prefix<'a> {
        rest: &'a [u8],
        differs: bool,
    }
    impl std::fmt::Write for Prefix<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let n = self.rest.len().min(s.len());
            if self.rest[..n] != s.as_bytes()[..n] {
                self.differs = true;
            }
            self.rest = &self.rest[n..];
            // Stop formatting once the answer is known.
            if self.differs || self.rest.is_empty() {
                Err(std::fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut w = Prefix {
        rest: prefix.as_bytes(),
        differs: false,
    };
    let _ = std::fmt::Write::write_fmt(&mut w, format_args!("{query}"));
    !w.differs && w.rest.is_empty()
}

/// Builds the pool. Connections are checked before reuse, so a pool whose
/// connections were killed heals itself on the next checkout.
pub fn pool(
    database_url: &str,
    max_size: usize,
    counter: QueryCounter,
) -> Result<DbPool, DbSetupError> {
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.recycling_method = RecyclingMethod::CustomQuery(PING.into());
    config.custom_setup = Box::new(move |url| {
        let counter = counter.clone();
        Box::pin(async move {
            let mut conn = AsyncPgConnection::establish(url).await?;
            conn.set_instrumentation(counter);
            Ok(conn)
        })
    });
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(database_url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| DbSetupError::Pool(e.to_string()))
}

/// Splits a postgres URL into (url of the `postgres` maintenance database, database name).
pub fn split_database_url(url: &str) -> Result<(String, String), DbSetupError> {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = before_query
        .find("://")
        .ok_or_else(|| DbSetupError::Url("missing scheme".into()))?
        + 3;
    let slash = before_query[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .ok_or_else(|| DbSetupError::Url("missing database name".into()))?;
    let name = &before_query[slash + 1..];
    if name.is_empty() {
        return Err(DbSetupError::Url("missing database name".into()));
    }
    let mut maintenance = format!("{}/postgres", &before_query[..slash]);
    if let Some(q) = query {
        maintenance.push('?');
        maintenance.push_str(q);
    }
    Ok((maintenance, name.to_owned()))
}

/// Creates the database named in the URL when it does not exist yet and the
/// role is allowed to. A role without CREATEDB gets on with an existing one.
pub async fn ensure_database(database_url: &str) -> Result<(), DbSetupError> {
    match AsyncPgConnection::establish(database_url).await {
        Ok(_) => return Ok(()),
        Err(e) if !e.to_string().contains("does not exist") => return Err(e.into()),
        Err(_) => {}
    }
    let (maintenance_url, name) = split_database_url(database_url)?;
    let mut conn = AsyncPgConnection::establish(&maintenance_url).await?;
    let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match diesel_async::RunQueryDsl::execute(diesel::sql_query(sql), &mut conn).await {
        Ok(_) => {
            tracing::info!(database = %name, "created database");
            Ok(())
        }
        // Another process created it in the meantime.
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("already exists") =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs pending embedded migrations, serialised across processes by an
/// advisory lock. Returns the versions applied.
pub async fn run_migrations(database_url: &str) -> Result<Vec<String>, DbSetupError> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut harness =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)?;
        let lock = format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})");
        diesel::sql_query(lock).execute(&mut harness)?;
        let result = harness
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| DbSetupError::Migration(e.to_string()));
        let unlock = format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})");
        diesel::sql_query(unlock).execute(&mut harness)?;
        result
    })
    .await
    .map_err(|e| DbSetupError::Migration(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_database_urls() {
        let (m, n) =
            split_database_url("postgres://u:p@h:5432/image_vault?sslmode=disable").expect("valid");
        assert_eq!(m, "postgres://u:p@h:5432/postgres?sslmode=disable");
        assert_eq!(n, "image_vault");
        assert!(split_database_url("postgres://h:5432").is_err());
        assert!(split_database_url("postgres://h:5432/").is_err());
    }

    #[test]
    fn a_prefix_is_found_without_the_rest_and_a_difference_anywhere_in_it_is_seen() {
        assert!(starts_with(&format_args!("{PING} -- binds: []"), PING));
        assert!(starts_with(
            &format_args!("{}{}", "/* pool", " ping */ SELECT 1"),
            PING
        ));
        assert!(!starts_with(&"SELECT 1", PING));
        assert!(!starts_with(&"/* pool ping */ SELECT", PING));
        assert!(!starts_with(
            &format_args!("{}{}", "/* pool", " pong */ SELECT 1"),
            PING
        ));
        assert!(starts_with(&"anything", ""));
    }
}
