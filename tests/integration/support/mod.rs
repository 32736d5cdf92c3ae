//! The shared test harness: a fresh database, storage, the real router served
//! on an ephemeral port, and a small GraphQL client.

pub mod db;
pub mod images;
pub mod process;
pub mod s3;

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
    pub storage_dir: tempfile::TempDir,
    // Dropped last: the database goes after the server stops using it.
    pub db: TestDb,
}

pub struct TestAppBuilder {
    vars: HashMap<&'static str, String>,
}

/// Which storage backend a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Fs,
    S3,
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

impl TestApp {
    /// Uploads one file through the GraphQL multipart request spec and
    /// returns the whole response (status, body).
    pub async fn upload_raw(
        &self,
        token: &str,
        filename: &str,
        bytes: Vec<u8>,
        expires_in: Option<i32>,
    ) -> (reqwest::StatusCode, Value) {
        upload_to(&self.http, &self.base, token, filename, bytes, expires_in).await
    }

    /// Uploads and expects success; returns the image.
    pub async fn upload(&self, token: &str, filename: &str, bytes: Vec<u8>) -> Value {
        let (status, body) = self.upload_raw(token, filename, bytes, None).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "upload failed: {body:#}");
        body["data"]["uploadImage"].clone()
    }

    /// Runs every due job in this task.
    pub async fn run_jobs(&self) -> usize {
        image_vault::jobs::run_until_idle(&self.app)
            .await
            .expect("run jobs")
    }

    /// Fetches one image through GraphQL.
    pub async fn image(&self, token: &str, id: &str) -> Value {
        let data = self
            .gql_ok(
                Some(token),
                &format!("query($id: ID!) {{ image(id: $id) {{ {IMAGE_FIELDS} }} }}"),
                json!({ "id": id }),
            )
            .await;
        data["image"].clone()
    }

    /// GETs a URL and returns (status, bytes).
    pub async fn download(&self, url: &str) -> (reqwest::StatusCode, Vec<u8>) {
        let resp = self.http.get(url).send().await.expect("download");
        let status = resp.status();
        (status, resp.bytes().await.expect("body").to_vec())
    }

    /// Objects in the fs backend's directory, as keys.
    pub fn fs_objects(&self) -> Vec<String> {
        fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    let rel = rel.to_string_lossy().to_string();
                    // Sidecars and hidden files (locks, temporaries) are
                    // not objects.
                    let hidden = path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                    if !rel.ends_with(".content-type") && !hidden {
                        out.push(rel);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(self.storage_dir.path(), self.storage_dir.path(), &mut out);
        out.sort();
        out
    }

    /// How many rows a table has (to prove nothing was left behind).
    pub async fn count(&self, table: &str) -> i64 {
        use diesel_async::RunQueryDsl;
        let mut conn = self.app.db.get().await.expect("conn");
        diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("SELECT count(*) FROM {table}"))
            .get_result(&mut conn)
            .await
            .expect("count")
    }
}

/// A test app on the given backend (the S3 server lives as long as the app).
pub async fn setup(
    backend: Backend,
    vars: &[(&'static str, &str)],
) -> (TestApp, Option<s3::TestS3>) {
    let s3 = match backend {
        Backend::Fs => None,
        Backend::S3 => Some(s3::start_s3_server().await),
    };
    let mut builder = TestApp::builder();
    if let Some(s3) = &s3 {
        builder = builder.s3(s3);
    }
    for (k, v) in vars {
        builder = builder.var(k, *v);
    }
    (builder.build().await, s3)
}

/// Every object in the backend.
pub async fn objects(t: &TestApp, s3: &Option<s3::TestS3>) -> Vec<String> {
    match s3 {
        Some(s3) => s3.object_keys().await,
        None => t.fs_objects(),
    }
}

/// Uploads one file to the server at `base` through the GraphQL multipart
/// request spec; returns the status and the whole response body.
pub async fn upload_to(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    filename: &str,
    bytes: Vec<u8>,
    expires_in: Option<i32>,
) -> (reqwest::StatusCode, Value) {
    let operations = json!({
        "query": format!("mutation($file: Upload!, $exp: Int) {{ uploadImage(file: $file, expiresIn: $exp) {{ {IMAGE_FIELDS} }} }}"),
        "variables": { "file": null, "exp": expires_in },
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{"0": ["variables.file"]}"#)
        .part(
            "0",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()),
        );
    let resp = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .expect("send upload");
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

pub const IMAGE_FIELDS: &str = "id filename contentType width height byteSize createdAt expiresAt blurhash originalUrl thumbnails { height width status url }";

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no code>")
}

impl TestAppBuilder {
    pub fn var(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.vars.insert(key, value.into());
        self
    }

    /// Stores objects in the given S3 server instead of local files.
    pub fn s3(mut self, s3: &s3::TestS3) -> Self {
        self.vars.insert("STORAGE", "s3".into());
        self.vars.insert("S3_ENDPOINT", s3.endpoint.clone());
        self.vars.insert("S3_REGION", s3.region.clone());
        self.vars.insert("S3_BUCKET", s3.bucket.clone());
        self.vars
            .insert("S3_ACCESS_KEY_ID", s3.access_key_id.clone());
        self.vars
            .insert("S3_SECRET_ACCESS_KEY", s3.secret_access_key.clone());
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
        let events = app.start_event_listener();
        let serving = serve_app(listener, app.clone());
        let server = tokio::spawn(async move {
            let _events = AbortOnDrop(events);
            serving.await;
        });
        TestApp {
            app,
            base,
            http: reqwest::Client::new(),
            clock,
            server,
            storage_dir,
            db,
        }
    }
}

/// Serves `app`'s router on `listener` until dropped (the real HTTP
/// server, as `serve` runs it).
pub fn serve_app(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let router = image_vault::http::router(app);
    async move {
        let _ = image_vault::http::serve(
            listener,
            router,
            std::future::pending(),
            std::time::Duration::from_secs(1),
        )
        .await;
    }
}

/// Stops the event listener with the server.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A client WebSocket as tokio-tungstenite opens it.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` on the server at `base` with the
/// `graphql-transport-ws` protocol and sends `connection_init` with `init`
/// as its payload (the answer is the caller's to read).
pub async fn ws_connect(base: &str, init: Value) -> Ws {
    use futures_util::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let mut req = url.into_client_request().expect("request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": init }).to_string(),
    ))
    .await
    .expect("init");
    ws
}
