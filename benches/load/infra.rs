//! What every scenario needs: an S3 server, a database, the real server
//! binary as a subprocess, a GraphQL client, and `/proc` readings.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "bench-secret-0123456789abcdef0123456789";
pub const PASSWORD: &str = "bench-password-0123456789";
const S3_KEY: &str = "bench-access-key";
const S3_SECRET: &str = "bench-secret-key";
pub const BUCKET: &str = "image-vault-bench";

/// Where scratch files go (S3 objects, logs, outputs): `target/bench-load`.
pub fn work_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-load")
}

/// The server binary: `IV_BIN`, else the one cargo built with this bench
/// (release profile).
pub fn server_bin() -> PathBuf {
    std::env::var_os("IV_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_image-vault")),
        PathBuf::from,
    )
}

// ---------------------------------------------------------------- S3 ----

/// The S3 store of a scenario: by default an s3s-fs server on 127.0.0.1,
/// served from this process's runtime, with one bucket under a fresh
/// directory; with `BENCH_S3_ENDPOINT` (and `BENCH_S3_REGION`,
/// `BENCH_S3_ACCESS_KEY_ID`, `BENCH_S3_SECRET_ACCESS_KEY`, `BENCH_S3_BUCKET`)
/// an external server such as Garage or MinIO (`bench/load-garage.sh`),
/// whose process `BENCH_S3_PID` names for the CPU accounting.
pub struct S3Server {
    pub endpoint: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    bucket: String,
    /// The in-process server: its directory and task.
    local: Option<(PathBuf, tokio::task::JoinHandle<()>)>,
}

impl S3Server {
    pub async fn start(name: &str) -> anyhow::Result<S3Server> {
        if let Some(endpoint) = std::env::var("BENCH_S3_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
        {
            let var =
                |n: &str| std::env::var(n).with_context(|| format!("BENCH_S3_ENDPOINT needs {n}"));
            return Ok(S3Server {
                endpoint,
                region: std::env::var("BENCH_S3_REGION").unwrap_or_else(|_| "us-east-1".into()),
                access_key_id: var("BENCH_S3_ACCESS_KEY_ID")?,
                secret_access_key: var("BENCH_S3_SECRET_ACCESS_KEY")?,
                bucket: var("BENCH_S3_BUCKET")?,
                local: None,
            });
        }
        let root = work_dir().join(format!("s3-{name}"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join(BUCKET))?;
        let fs = s3s_fs::FileSystem::new(&root).map_err(|e| anyhow::anyhow!("s3s-fs: {e:?}"))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(S3_KEY, S3_SECRET));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Ok(S3Server {
            endpoint: format!("http://{addr}"),
            region: "us-east-1".into(),
            access_key_id: S3_KEY.into(),
            secret_access_key: S3_SECRET.into(),
            bucket: BUCKET.into(),
            local: Some((root, task)),
        })
    }

    /// What serves S3, for the reports.
    pub fn describe(&self) -> String {
        match &self.local {
            Some(_) => "s3s-fs 0.14 in the bench process".into(),
            None => format!("external S3 at {}", self.endpoint),
        }
    }

    /// The external S3 server's process (`BENCH_S3_PID`), for CPU accounting.
    pub fn external_pid(&self) -> Option<u32> {
        self.local
            .is_none()
            .then(|| std::env::var("BENCH_S3_PID").ok()?.parse().ok())?
    }

    /// The server's environment for this store.
    pub fn env(&self, env: &mut Env) {
        env.set("STORAGE", "s3")
            .set("S3_ENDPOINT", &self.endpoint)
            .set("S3_REGION", &self.region)
            .set("S3_BUCKET", &self.bucket)
            .set("S3_ACCESS_KEY_ID", &self.access_key_id)
            .set("S3_SECRET_ACCESS_KEY", &self.secret_access_key);
    }

    pub fn settings(&self) -> image_vault::storage::S3Settings {
        image_vault::storage::S3Settings {
            endpoint: self.endpoint.clone(),
            public_endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some((root, task)) = &self.local {
            task.abort();
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

// ---------------------------------------------------------- Postgres ----

/// `BENCH_DATABASE_SERVER`, default `postgres://postgres@127.0.0.1:5432`.
pub fn pg_server() -> String {
    std::env::var("BENCH_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
        .trim_end_matches('/')
        .to_owned()
}

pub fn database_url(name: &str) -> String {
    format!("{}/{name}", pg_server())
}

pub async fn pg(database: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(&database_url(database), tokio_postgres::NoTls)
            .await
            .with_context(|| format!("connecting to {}", database_url(database)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Drops the database if it exists (the server creates and migrates it).
pub async fn drop_database(name: &str) -> anyhow::Result<()> {
    let admin = pg("postgres").await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

pub async fn database_exists(name: &str) -> anyhow::Result<bool> {
    let admin = pg("postgres").await?;
    let rows = admin
        .simple_query(&format!(
            "SELECT 1 FROM pg_database WHERE datname = '{name}'"
        ))
        .await?;
    Ok(rows
        .iter()
        .any(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_))))
}

/// The first column of the first row, as text.
pub async fn scalar(db: &tokio_postgres::Client, sql: &str) -> anyhow::Result<String> {
    for message in db.simple_query(sql).await? {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            return Ok(row.get(0).unwrap_or_default().to_owned());
        }
    }
    bail!("no row from {sql}")
}

// ----------------------------------------------------- server process ----

/// The environment of a server process, built from scratch (nothing
/// inherited but PATH).
#[derive(Clone, Debug)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn new(database: &str) -> Env {
        let mut env = Env {
            vars: BTreeMap::new(),
        };
        env.set("DATABASE_URL", &database_url(database))
            .set("JWT_SECRET", JWT_SECRET)
            .set("LOG_FORMAT", "json")
            .set(
                "RUST_LOG",
                &std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()),
            );
        // `BENCH_SERVER_X=v` sets `X=v` for the server (e.g. MALLOC_ARENA_MAX).
        for (key, value) in std::env::vars() {
            if let Some(name) = key.strip_prefix("BENCH_SERVER_") {
                env.set(name, &value);
            }
        }
        env
    }

    pub fn set(&mut self, key: &str, value: &str) -> &mut Env {
        self.vars.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn command(&self, args: &[&str], log: &Path) -> anyhow::Result<Command> {
        let out = std::fs::File::create(log)?;
        let mut cmd = Command::new(server_bin());
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.vars)
            .current_dir(work_dir())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        Ok(cmd)
    }

    /// Runs a one-shot subcommand with `stdin` and waits for it.
    pub fn run(&self, args: &[&str], stdin: &str) -> anyhow::Result<()> {
        use std::io::Write as _;
        let log = work_dir().join(format!("{}.log", args[0]));
        let mut child = self
            .command(args, &log)?
            .stdin(Stdio::piped())
            .spawn()
            .context("spawning image-vault")?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes())?;
        }
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "image-vault {} failed: {}",
                args.join(" "),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Ok(())
    }
}

/// A running `image-vault` process, killed when dropped.
pub struct Server {
    pub base: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Server {
    /// Starts `image-vault {args}` (`serve ...`) on a free port and waits
    /// until `/healthz` answers; returns it and the time that took.
    pub async fn serve(env: &Env, name: &str, args: &[&str]) -> anyhow::Result<(Server, Duration)> {
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut env = env.clone();
        env.set("BIND", &format!("127.0.0.1:{port}"))
            .set("PUBLIC_URL", &base);
        let log = work_dir().join(format!("{name}.log"));
        let started = Instant::now();
        let child = env.command(args, &log)?.spawn()?;
        let mut server = Server { base, child, log };
        let up = server.wait_healthy(started).await?;
        Ok((server, up))
    }

    /// Starts a process that serves no HTTP (`worker`) and waits for its pool.
    pub async fn worker(env: &Env, name: &str) -> anyhow::Result<Server> {
        let log = work_dir().join(format!("{name}.log"));
        let child = env.command(&["worker"], &log)?.spawn()?;
        let mut server = Server {
            base: String::new(),
            child,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !std::fs::read_to_string(&server.log)
            .unwrap_or_default()
            .contains("worker pool started")
        {
            server.check_alive()?;
            if Instant::now() > deadline {
                bail!("worker did not start");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "server exited with {status}:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        Ok(())
    }

    /// Polls `/healthz` every millisecond with a raw HTTP/1.1 request (no
    /// client pool to warm up), returning the time since `started`.
    async fn wait_healthy(&mut self, started: Instant) -> anyhow::Result<Duration> {
        let addr = self.base.trim_start_matches("http://").to_owned();
        loop {
            if healthz(&addr).await {
                return Ok(started.elapsed());
            }
            self.check_alive()?;
            if started.elapsed() > Duration::from_secs(60) {
                bail!("no /healthz within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// SIGTERM, then wait (SIGKILL after 30 s).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn healthz(addr: &str) -> bool {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(mut socket) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if socket.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    socket.read_exact(&mut buf).await.is_ok() && &buf == b"HTTP/1.1 200"
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

// ------------------------------------------------------------- /proc ----

/// A `kB` field of `/proc/{pid}/status` (`VmHWM`, `VmRSS`), in MiB.
pub fn proc_mib(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    let kb: f64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

/// Resets `VmHWM` to the current RSS (`echo 5 > /proc/pid/clear_refs`);
/// false where the kernel does not allow it.
pub fn reset_hwm(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

// ----------------------------------------------------------- GraphQL ----

/// A client of one server, logged in as one user.
#[derive(Clone)]
pub struct Gql {
    pub http: reqwest::Client,
    pub url: String,
    pub token: String,
}

impl Gql {
    /// Creates `username` with `plan` through the CLI and logs in.
    pub async fn user(env: &Env, base: &str, username: &str, plan: &str) -> anyhow::Result<Gql> {
        env.run(
            &[
                "create-user",
                "--username",
                username,
                "--password-stdin",
                "--plan",
                plan,
            ],
            &format!("{PASSWORD}\n"),
        )?;
        Gql::login(base, username).await
    }

    pub async fn login(base: &str, username: &str) -> anyhow::Result<Gql> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        let mut gql = Gql {
            http,
            url: format!("{base}/graphql"),
            token: String::new(),
        };
        let data = gql
            .query(
                "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
                json!({ "u": username, "p": PASSWORD }),
            )
            .await?;
        gql.token = data["login"]["token"]
            .as_str()
            .context("no token")?
            .to_owned();
        Ok(gql)
    }

    /// Runs a query; errors in the response are errors.
    pub async fn query(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        let body: Value = req.send().await?.json().await?;
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(body["data"].clone())
    }

    /// `uploadImage` through the multipart request spec; returns the id.
    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> anyhow::Result<String> {
        let operations = json!({
            "query": "mutation($file: Upload!) { uploadImage(file: $file) { id } }",
            "variables": { "file": null },
        });
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", r#"{"0": ["variables.file"]}"#)
            .part(
                "0",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(filename.to_owned())
                    .mime_str("image/jpeg")?,
            );
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("apollo-require-preflight", "true")
            .multipart(form)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() || body.get("errors").is_some() {
            bail!("upload failed ({status}): {body}");
        }
        body["data"]["uploadImage"]["id"]
            .as_str()
            .map(str::to_owned)
            .context("no id")
    }
}

/// Waits until `count` thumbnails are READY in `database` (polling
/// Postgres every 10 ms, which costs the server nothing).
pub async fn wait_ready(db: &tokio_postgres::Client, count: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let ready: i64 = scalar(db, "SELECT count(*) FROM thumbnails WHERE status = 'ready'")
            .await?
            .parse()?;
        if ready >= count {
            return Ok(());
        }
        let failed: i64 = scalar(
            db,
            "SELECT count(*) FROM thumbnails WHERE status = 'failed'",
        )
        .await?
        .parse()?;
        if failed > 0 {
            bail!("{failed} thumbnails FAILED");
        }
        if Instant::now() > deadline {
            bail!("only {ready} of {count} thumbnails ready after 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Index `v` into `0..size`, reflecting at the edges: a photo continued past
/// its border by its mirror image, without seams.
pub fn mirror(v: u32, size: u32) -> u32 {
    let period = 2 * size;
    let m = v % period;
    if m < size { m } else { period - 1 - m }
}

/// Median of a sample (sorted in place).
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    if xs.is_empty() {
        return f64::NAN;
    }
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The JPEG with a comment segment after its SOI marker: the same picture
/// in other bytes, which the server's content-hash dedup takes as new.
pub fn with_comment(jpeg: &[u8], comment: &str) -> Vec<u8> {
    let len = u16::try_from(comment.len() + 2).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(jpeg.len() + comment.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(comment.as_bytes());
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A client WebSocket as tokio-tungstenite opens it.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/graphql/ws` on the server at `base` with the
/// `graphql-transport-ws` protocol and sends `connection_init` with `token`
/// (the ack is the caller's to read).
pub async fn ws_open(base: &str, token: &str) -> anyhow::Result<Ws> {
    use futures_util::SinkExt as _;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("{}/graphql/ws", base.replace("http://", "ws://"));
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    ws.send(Message::text(
        json!({
            "type": "connection_init",
            "payload": { "Authorization": format!("Bearer {token}") },
        })
        .to_string(),
    ))
    .await?;
    Ok(ws)
}
