//! The real `image-vault` binary as `serve` and `worker` subprocesses, for
//! tests that kill, stop or multiply processes.
//!
//! Every process gets a clean environment (no inherited `RUST_LOG`,
//! `DATABASE_URL`, `.env`), the test's database and bucket, an ephemeral
//! port (`serve`), and JSON logs in a file. Start-up waits for `/healthz`
//! (`serve`) or the pool's start (`worker`). A process still running when
//! its [`Process`] is dropped is killed; a failing test prints the tail of
//! every process's log, so the failure message says what the server saw.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use tokio::time::Instant;

use super::TEST_SECRET;
use super::s3::TestS3;

/// How long a process may take to come up.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How often start-up and other conditions are polled.
const POLL: Duration = Duration::from_millis(25);
/// Log lines shown when a test fails.
const TAIL_LINES: usize = 40;

/// The environment of a test's processes: one database, one bucket, one
/// JWT secret (so tokens from the in-process [`TestApp`](super::TestApp)
/// work on every process).
#[derive(Clone, Debug)]
pub struct ProcessEnv {
    vars: BTreeMap<String, String>,
}

impl ProcessEnv {
    pub fn new(database_url: &str) -> ProcessEnv {
        let mut vars = BTreeMap::new();
        for (k, v) in [
            ("DATABASE_URL", database_url),
            ("JWT_SECRET", TEST_SECRET),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info,image_vault::jobs=debug"),
            // Several processes per test and tests in parallel share one
            // Postgres: keep each pool small.
            ("DB_POOL_SIZE", "4"),
        ] {
            vars.insert(k.to_owned(), v.to_owned());
        }
        ProcessEnv { vars }
    }

    /// Stores objects in the test's S3 bucket.
    pub fn s3(self, s3: &TestS3) -> ProcessEnv {
        self.var("STORAGE", "s3")
            .var("S3_ENDPOINT", &s3.endpoint)
            .var("S3_REGION", &s3.region)
            .var("S3_BUCKET", &s3.bucket)
            .var("S3_ACCESS_KEY_ID", &s3.access_key_id)
            .var("S3_SECRET_ACCESS_KEY", &s3.secret_access_key)
    }

    pub fn var(mut self, key: &str, value: impl Into<String>) -> ProcessEnv {
        self.vars.insert(key.to_owned(), value.into());
        self
    }
}

/// A running (or exited) `image-vault` process.
pub struct Process {
    pub name: String,
    /// `http://127.0.0.1:{port}` for `serve`; empty for `worker`.
    pub base: String,
    child: Child,
    log: PathBuf,
    exit: Option<ExitStatus>,
    /// The working directory (no stray `.env`) and the log file; kept
    /// when a test fails.
    dir: Option<TempDir>,
}

impl Process {
    /// Starts `image-vault serve {args}` on a free port and waits for `/healthz`.
    pub async fn serve(env: &ProcessEnv, name: &str, args: &[&str]) -> Process {
        let mut attempts = 0;
        loop {
            attempts += 1;
            // Another test may take the port between this probe and the
            // child's bind; the child then fails to listen and we try again.
            let port = free_port();
            let base = format!("http://127.0.0.1:{port}");
            let env = env
                .clone()
                .var("BIND", format!("127.0.0.1:{port}"))
                .var("PUBLIC_URL", &base);
            let mut argv = vec!["serve"];
            argv.extend_from_slice(args);
            let mut process = Process::spawn(&env, name, &argv, base);
            match process.wait_healthy().await {
                Ok(()) => return process,
                Err(logs) if attempts < 3 && logs.contains("cannot listen") => continue,
                Err(logs) => panic!("{name} did not start:\n{logs}"),
            }
        }
    }

    /// Starts `image-vault worker` and waits until its pool runs.
    pub async fn worker(env: &ProcessEnv, name: &str) -> Process {
        let mut process = Process::spawn(env, name, &["worker"], String::new());
        process
            .wait_for_log(START_DEADLINE, |line| {
                line["message"] == "worker pool started"
            })
            .await;
        process
    }

    fn spawn(env: &ProcessEnv, name: &str, args: &[&str], base: String) -> Process {
        let dir = tempfile::Builder::new()
            .prefix(&format!("iv-{name}-"))
            .tempdir()
            .expect("process directory");
        let log = dir.path().join("process.log");
        let out = std::fs::File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_image-vault"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&env.vars)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd.spawn().expect("spawn image-vault");
        Process {
            name: name.to_owned(),
            base,
            child,
            log,
            exit: None,
            dir: Some(dir),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `/healthz` until it answers 200; `Err(logs)` if the process exits
    /// or the deadline passes first.
    async fn wait_healthy(&mut self) -> Result<(), String> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + START_DEADLINE;
        let url = format!("{}/healthz", self.base);
        loop {
            if let Some(status) = self.try_exit() {
                return Err(format!("exited with {status}\n{}", self.tail()));
            }
            if let Ok(resp) = http.get(&url).send().await
                && resp.status() == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no /healthz within {START_DEADLINE:?}\n{}",
                    self.tail()
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The exit status if the process has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("poll the child");
        }
        self.exit
    }

    pub fn is_running(&mut self) -> bool {
        self.try_exit().is_none()
    }

    /// Sends a signal (`TERM`, `KILL`, ...) with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} {} failed", self.pid());
    }

    /// SIGTERM: asks for a graceful shutdown.
    pub fn terminate(&self) {
        self.signal("TERM");
    }

    /// SIGKILL, then reaps the process.
    pub fn kill(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            self.exit = Some(self.child.wait().expect("reap the child"));
        }
    }

    /// Waits for the process to exit, up to `deadline`; panics with its logs
    /// if it does not.
    pub async fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            assert!(
                Instant::now() < until,
                "{} still running {deadline:?} after being asked to stop\n{}",
                self.name,
                self.tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The whole log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log's JSON lines (other lines, e.g. `error: ...`, are skipped).
    pub fn log_lines(&self) -> Vec<Value> {
        self.logs()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until a log line matches; panics with the log if none does
    /// before `deadline` or the process exits.
    pub async fn wait_for_log(&mut self, deadline: Duration, matches: impl Fn(&Value) -> bool) {
        let until = Instant::now() + deadline;
        loop {
            if self.log_lines().iter().any(&matches) {
                return;
            }
            if let Some(status) = self.try_exit() {
                panic!(
                    "{} exited with {status} before the awaited log line\n{}",
                    self.name,
                    self.tail()
                );
            }
            assert!(
                Instant::now() < until,
                "{}: the awaited log line did not come within {deadline:?}\n{}",
                self.name,
                self.tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// The last lines of the log, headed by the process's name and log path.
    pub fn tail(&self) -> String {
        let logs = self.logs();
        let lines: Vec<&str> = logs.lines().collect();
        let start = lines.len().saturating_sub(TAIL_LINES);
        format!(
            "--- {} (pid {}, {}), last {} lines ---\n{}",
            self.name,
            self.pid(),
            self.log.display(),
            lines.len() - start,
            lines[start..].join("\n")
        )
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("{}", self.tail());
            if let Some(dir) = self.dir.take() {
                let _ = dir.keep();
            }
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}

/// The values of `field` in a log line's spans (outermost first) and in the
/// event itself, e.g. `image.id` of the `job.make_thumbnails` span.
pub fn log_field<'a>(line: &'a Value, field: &str) -> Option<&'a Value> {
    line.get(field).or_else(|| {
        line["spans"]
            .as_array()?
            .iter()
            .rev()
            .find_map(|span| span.get(field))
    })
}

/// Waits until `check` returns `Some`, polling; panics with `what` (and
/// the last value seen, formatted by the caller) after `deadline`.
pub async fn wait_until<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let until = Instant::now() + deadline;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < until,
                "{what}: not within {deadline:?}; last seen: {last}"
            ),
        }
        tokio::time::sleep(POLL).await;
    }
}
