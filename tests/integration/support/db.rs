//! A fresh, migrated database per test, cloned from a template that is
//! migrated once per migration set, and dropped when the test ends.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::OnceCell;

pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

pub fn url_for(name: &str) -> String {
    format!("{}/{name}", server_url())
}

/// The template's name depends on the migrations' contents, so a changed
/// migration gets a new template instead of a stale one.
fn template_name() -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut entries: Vec<_> = walk(std::path::Path::new(dir));
    entries.sort();
    for path in entries {
        path.hash(&mut hasher);
        std::fs::read(&path).unwrap_or_default().hash(&mut hasher);
    }
    format!("iv_tpl_{:016x}", hasher.finish())
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn maintenance() -> AsyncPgConnection {
    AsyncPgConnection::establish(&url_for("postgres"))
        .await
        .expect("connect to the test Postgres (TEST_DATABASE_URL)")
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut conn = maintenance().await;
            // Serialise template creation between test processes.
            diesel::sql_query("SELECT pg_advisory_lock(7164201)")
                .execute(&mut conn)
                .await
                .expect("lock");
            let exists: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
            ))
            .get_result(&mut conn)
            .await
            .expect("query pg_database");
            if exists == 0 {
                let building = format!("{name}_building");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .expect("drop stale template");
                diesel::sql_query(format!("CREATE DATABASE {building}"))
                    .execute(&mut conn)
                    .await
                    .expect("create template");
                image_vault::db::run_migrations(&url_for(&building))
                    .await
                    .expect("migrate template");
                diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("rename template");
            }
            diesel::sql_query("SELECT pg_advisory_unlock(7164201)")
                .execute(&mut conn)
                .await
                .expect("unlock");
            name
        })
        .await
}

/// A database that lives as long as this value.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub async fn new() -> TestDb {
        let template = template().await;
        let name = format!(
            "iv_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        let mut conn = maintenance().await;
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        TestDb {
            url: url_for(&name),
            name,
        }
    }

    /// A database that does not exist yet (for the create-on-start test).
    pub fn unique_name() -> String {
        format!(
            "iv_test_new_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        )
    }
}

pub fn drop_database(name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    // Drop runs outside any runtime: use a small one of its own.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut conn = maintenance().await;
            let _ = diesel::sql_query(sql).execute(&mut conn).await;
        });
    })
    .join();
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(&self.name);
    }
}
