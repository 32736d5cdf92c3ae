//! The shared test harness: a fresh database, storage, the real router served
//! on an ephemeral port, and a small GraphQL client.

pub mod db;

use std::collections::HashMap;
use std::sync::Arc;

use image_vault::app::App;
use image_vault::clock::Clock;
use image_vault::config::Config;
use serde_json::{Value, json};

pub use db::TestDb;

pub const TEST_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub app: Arc<App>,
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Clock,
    server: tokio::task::JoinHandle<()>,
    _storage_dir: tempfile::TempDir,
    // Dropped last: the database goes after the server stops using it.
    pub db: TestDb,
}

pub struct TestAppBuilder {
    vars: HashMap<&'static str, String>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            vars: HashMap::new(),
        }
    }

    pub async fn new() -> TestApp {
        Self::builder().build().await
    }

    /// POSTs a GraphQL request as JSON and returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("send GraphQL request");
        resp.json().await.expect("GraphQL response is JSON")
    }

    /// Like `gql` but panics on errors and returns `data`.
    pub async fn gql_ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Creates a user directly (as the CLI does) and returns their token.
    pub async fn user(&self, username: &str, plan: &str) -> String {
        self.create_user(username, plan, false).await;
        self.login(username, PASSWORD).await
    }

    pub async fn admin(&self, username: &str) -> String {
        self.create_user(username, "Enterprise", true).await;
        self.login(username, PASSWORD).await
    }

    pub async fn create_user(&self, username: &str, plan: &str, admin: bool) {
        image_vault::cli::create_user(&self.app, username, PASSWORD, admin, Some(plan))
            .await
            .expect("create user");
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let data = self
            .gql_ok(
                None,
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
                json!({ "u": username, "p": password }),
            )
            .await;
        data["login"]["token"].as_str().expect("token").to_owned()
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no code>")
}

impl TestAppBuilder {
    #[allow(dead_code, reason = "used by later test modules")]
    pub fn var(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.vars.insert(key, value.into());
        self
    }

    pub async fn build(mut self) -> TestApp {
        let db = TestDb::new().await;
        let storage_dir = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        self.vars.insert("DATABASE_URL", db.url.clone());
        self.vars.entry("JWT_SECRET").or_insert(TEST_SECRET.into());
        self.vars.insert("PUBLIC_URL", base.clone());
        self.vars.entry("DB_POOL_SIZE").or_insert("4".into());
        self.vars
            .entry("STORAGE_DIR")
            .or_insert(storage_dir.path().display().to_string());
        let config = Config::from_map(&self.vars).expect("test config");
        let clock = Clock::default();
        let app = App::new(config, clock.clone()).await.expect("app");
        let router = image_vault::http::router(app.clone());
        let server = tokio::spawn(async move {
            let _ = image_vault::http::serve(
                listener,
                router,
                std::future::pending(),
                std::time::Duration::from_secs(1),
            )
            .await;
        });
        TestApp {
            app,
            base,
            http: reqwest::Client::new(),
            clock,
            server,
            _storage_dir: storage_dir,
            db,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}
