//! The soak of issue 10 ("Hardening"): two `serve --no-workers` processes
//! and one `worker` (WORKERS=2) on one database and one storage directory
//! (fs, the default), all on 127.0.0.1, for `--minutes` (default 30) of
//! well-behaved clients and attackers together:
//!
//! - well-behaved (every error counts, with its message; target: none):
//!   two Premium uploaders (a distinct 640x480..1600x1200 JPEG every
//!   ~250 ms each, alternating servers), two listers (`images(first: 20)`
//!   with URLs), and a subscriber that follows every 10th upload over
//!   graphql-transport-ws, on the other server, until its thumbnails are
//!   READY (60 s deadline);
//! - attackers, each refused (refusals counted by status and code; an
//!   acceptance is a finding): 48 MB anonymous JSON bodies (three at once
//!   now and then), the multipart boundary trick with 50 files, invented
//!   operation names (`/metrics` must not grow), aliased `images(first:
//!   100)` pages, a flood user (batches of 10 as fast as the server takes
//!   them, on a WebP plan, plus a 16-bit 3000x3000 PNG of zeros and a
//!   40000x400 panorama every minute), 40 parallel `createUploadUrl` for a
//!   fresh user (at most 20 may succeed), an oversized upload written whole
//!   before reading, and 200 parallel `/readyz` now and then.
//!
//! A sampler takes each process's peak RSS every 10 s (`VmHWM`, reset after
//! each reading where the kernel allows, so a spike between two readings
//! counts; else `VmRSS`) and prints a row per minute. Afterwards the job
//! queue is drained (bounded) and rows and objects are compared directly
//! in Postgres and the storage directory.
//!
//! The flood user waits while `--flood-backlog` of its jobs are queued or
//! running: its backlog stays in front of everyone else's for the whole run
//! (what fair scheduling is about), but stays bounded, so that the run ends
//! with a queue that drains and a disk that is not filled.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::infra::{self, Env, Gql, Server};

pub struct Options {
    pub minutes: f64,
    pub upload_interval_ms: u64,
    pub flood_backlog: i64,
    pub warmup_minutes: Option<f64>,
    pub drain_minutes: f64,
    pub keep: bool,
}

const DATABASE: &str = "iv_bench_soak";
/// `MAX_UPLOAD_BYTES` of the servers (the default).
const MAX_UPLOAD_BYTES: u64 = 50 << 20;
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const SUBSCRIPTION_DEADLINE: Duration = Duration::from_secs(60);
const WELL_BEHAVED_PLAN: &str = "Premium";
const FLOOD_PLAN: &str = "SoakWebP";
const IMAGES_QUERY: &str =
    "{ images(first: 20) { edges { node { id thumbnails { status url } originalUrl } } } }";
const SLOTS_MUTATION: &str = "mutation($f: String!, $n: Int!, $t: String!) { \
     createUploadUrl(filename: $f, byteSize: $n, contentType: $t) { id url method headers { name value } } }";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sleeps for `d`, or until `stop`; false when stopped.
async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(d) => true,
    }
}

// ------------------------------------------------------------- tallies ----

/// A well-behaved client: requests, errors (with their messages), latencies.
struct Client {
    name: String,
    requests: AtomicU64,
    errors: AtomicU64,
    messages: Mutex<Vec<String>>,
    latencies: Mutex<Vec<f64>>,
}

impl Client {
    fn new(name: impl Into<String>) -> Arc<Client> {
        Arc::new(Client {
            name: name.into(),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            messages: Mutex::default(),
            latencies: Mutex::default(),
        })
    }

    fn ok(&self, started: Instant) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        lock(&self.latencies).push(started.elapsed().as_secs_f64());
    }

    fn err(&self, message: String) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.errors.fetch_add(1, Ordering::Relaxed);
        eprintln!("soak: {} error: {message}", self.name);
        let mut messages = lock(&self.messages);
        if messages.len() < 20 {
            messages.push(message);
        }
    }
}

/// An attacker: what the servers answered, and findings (acceptances and
/// other surprises).
struct Attack {
    name: &'static str,
    expected: &'static str,
    sent: AtomicU64,
    outcomes: Mutex<BTreeMap<String, u64>>,
    findings: AtomicU64,
    notes: Mutex<Vec<String>>,
}

impl Attack {
    fn new(name: &'static str, expected: &'static str) -> Arc<Attack> {
        Arc::new(Attack {
            name,
            expected,
            sent: AtomicU64::new(0),
            outcomes: Mutex::default(),
            findings: AtomicU64::new(0),
            notes: Mutex::default(),
        })
    }

    /// Counts one answer; `refused` false makes it a finding.
    fn record(&self, outcome: &str, refused: bool) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        *lock(&self.outcomes).entry(outcome.to_owned()).or_default() += 1;
        if !refused {
            self.finding(format!("unexpected: {outcome}"));
        }
    }

    fn finding(&self, note: String) {
        let n = self.findings.fetch_add(1, Ordering::Relaxed);
        if n < 10 {
            eprintln!("soak: finding ({}): {note}", self.name);
            lock(&self.notes).push(note);
        }
    }

    fn note(&self, note: String) {
        lock(&self.notes).push(note);
    }
}

/// `"{status} {code}"` of a GraphQL answer (`ok` without errors).
fn outcome(status: u16, body: &Value) -> String {
    let code = body["errors"][0]["extensions"]["code"]
        .as_str()
        .map_or_else(
            || {
                if body.get("errors").is_some() {
                    "error".to_owned()
                } else {
                    "ok".to_owned()
                }
            },
            str::to_owned,
        );
    format!("{status} {code}")
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(300).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

// -------------------------------------------------------------- images ----

/// A synthetic photo-like JPEG (gradients and noise) of `w`x`h`.
fn synthetic_jpeg(w: u32, h: u32, seed: u32, quality: u8) -> anyhow::Result<Vec<u8>> {
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    let mut pixels = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h {
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state >> 27) as i64 - 16;
            let fx = i64::from(x) * 255 / i64::from(w);
            let fy = i64::from(y) * 255 / i64::from(h);
            let wave = i64::from((x / 7 + y / 11 + seed * 13) % 64);
            for c in [fx + noise, fy + wave + noise, (fx + fy) / 2 - wave + noise] {
                pixels.push(c.clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder.encode(
        &pixels,
        u16::try_from(w)?,
        u16::try_from(h)?,
        jpeg_encoder::ColorType::Rgb,
    )?;
    Ok(out)
}

/// A 16-bit RGB PNG of zeros but its first pixel (`n`, to make it distinct).
fn zeros_png16(side: u32, n: u16) -> anyhow::Result<Vec<u8>> {
    let mut img = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::new(side, side);
    img.put_pixel(0, 0, image::Rgb([n, 0, 0]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// `{"query":"{__typename}","variables":{"a":[0,0,0,...]}}` of about `size` bytes.
fn json_bomb(size: usize) -> Bytes {
    let mut body = br#"{"query":"{__typename}","variables":{"a":[0"#.to_vec();
    body.reserve(size);
    while body.len() + 5 < size {
        body.extend_from_slice(b",0");
    }
    body.extend_from_slice(b"]}}");
    Bytes::from(body)
}

/// A multipart body of `files` JPEG parts, all mapped, with `boundary`.
fn multipart_body(boundary: &str, files: usize, jpeg: &[u8]) -> Vec<u8> {
    let nulls = vec![Value::Null; files];
    let operations = json!({
        "query": "mutation($files: [Upload!]!) { uploadImages(files: $files) { id } }",
        "variables": { "files": nulls },
    });
    let map: serde_json::Map<String, Value> = (0..files)
        .map(|i| (i.to_string(), json!([format!("variables.files.{i}")])))
        .collect();
    let mut body = Vec::new();
    let mut field = |headers: &str, content: &[u8]| {
        body.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    field(
        "Content-Disposition: form-data; name=\"operations\"",
        operations.to_string().as_bytes(),
    );
    field(
        "Content-Disposition: form-data; name=\"map\"",
        Value::Object(map).to_string().as_bytes(),
    );
    for i in 0..files {
        field(
            &format!(
                "Content-Disposition: form-data; name=\"{i}\"; filename=\"{i}.jpg\"\r\nContent-Type: image/jpeg"
            ),
            jpeg,
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

// ------------------------------------------------------------- clients ----

fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(64)
        .build()?)
}

/// Creates `username` with `plan` (the CLI, off the runtime's threads) and
/// logs in on `base`; the client has a timeout.
async fn new_user(env: &Env, base: &str, username: &str, plan: &str) -> anyhow::Result<Gql> {
    let (env, name, plan_name) = (env.clone(), username.to_owned(), plan.to_owned());
    tokio::task::spawn_blocking(move || {
        env.run(
            &[
                "create-user",
                "--username",
                &name,
                "--password-stdin",
                "--plan",
                &plan_name,
            ],
            &format!("{}\n", infra::PASSWORD),
        )
    })
    .await??;
    let mut gql = Gql::login(base, username).await?;
    gql.http = http_client(Duration::from_secs(60))?;
    Ok(gql)
}

/// The same user's client on another server.
fn on(gql: &Gql, base: &str) -> Gql {
    Gql {
        http: gql.http.clone(),
        url: format!("{base}/graphql"),
        token: gql.token.clone(),
    }
}

/// `uploadImage` (one file) or `uploadImages` (several); returns the ids.
async fn upload(
    gql: &Gql,
    files: Vec<(String, Vec<u8>, &'static str)>,
) -> anyhow::Result<Vec<String>> {
    let single = files.len() == 1;
    let operations = if single {
        json!({
            "query": "mutation($file: Upload!) { uploadImage(file: $file) { id } }",
            "variables": { "file": null },
        })
    } else {
        json!({
            "query": "mutation($files: [Upload!]!) { uploadImages(files: $files) { id } }",
            "variables": { "files": vec![Value::Null; files.len()] },
        })
    };
    let map: serde_json::Map<String, Value> = (0..files.len())
        .map(|i| {
            let path = if single {
                "variables.file".to_owned()
            } else {
                format!("variables.files.{i}")
            };
            (i.to_string(), json!([path]))
        })
        .collect();
    let mut form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", Value::Object(map).to_string());
    for (i, (name, bytes, mime)) in files.into_iter().enumerate() {
        form = form.part(
            i.to_string(),
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str(mime)?,
        );
    }
    let resp = gql
        .http
        .post(&gql.url)
        .bearer_auth(&gql.token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    let body: Value = serde_json::from_str(&text)
        .with_context(|| format!("upload answer ({status}) is not JSON: {}", short(&text)))?;
    if !status.is_success() || body.get("errors").is_some() {
        bail!(
            "upload refused ({}): {}",
            outcome(status.as_u16(), &body),
            short(&text)
        );
    }
    let ids = if single {
        vec![body["data"]["uploadImage"]["id"].clone()]
    } else {
        body["data"]["uploadImages"]
            .as_array()
            .map(|a| a.iter().map(|i| i["id"].clone()).collect())
            .unwrap_or_default()
    };
    ids.iter()
        .map(|id| {
            id.as_str()
                .map(str::to_owned)
                .context("no id in the answer")
        })
        .collect()
}

/// A POST of a GraphQL JSON request; the status and the answer.
async fn post_json(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> anyhow::Result<(u16, Value)> {
    let mut req = http.post(url).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(short(&text))),
    ))
}

/// An image to follow: its id, the server to subscribe on, the owner's
/// token, when its upload was acknowledged.
struct Follow {
    id: String,
    base: String,
    token: String,
    uploaded: Instant,
}

#[allow(clippy::too_many_arguments, reason = "one task's whole world")]
async fn uploader(
    index: usize,
    gqls: [Gql; 2],
    photos: Arc<Vec<Vec<u8>>>,
    client: Arc<Client>,
    acked: Arc<AtomicU64>,
    follow: tokio::sync::mpsc::UnboundedSender<Follow>,
    bases: [String; 2],
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0usize;
    while !stop.is_cancelled() {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let server = n % 2;
        let bytes = infra::with_comment(
            &photos[(n + index * 7) % photos.len()],
            &format!("soak uploader {index} upload {n}"),
        );
        let started = Instant::now();
        match upload(
            &gqls[server],
            vec![(format!("u{index}-{n}.jpg"), bytes, "image/jpeg")],
        )
        .await
        {
            Ok(ids) => {
                client.ok(started);
                acked.fetch_add(1, Ordering::Relaxed);
                if n % 10 == 9
                    && let Some(id) = ids.into_iter().next()
                {
                    let _ = follow.send(Follow {
                        id,
                        base: bases[1 - server].clone(),
                        token: gqls[server].token.clone(),
                        uploaded: Instant::now(),
                    });
                }
            }
            Err(e) => client.err(format!("server {}: {e:#}", ["A", "B"][server])),
        }
        n += 1;
    }
}

async fn lister(index: usize, gqls: [Gql; 2], client: Arc<Client>, stop: CancellationToken) {
    let mut n = index;
    while !stop.is_cancelled() {
        let server = n % 2;
        let started = Instant::now();
        match gqls[server].query(IMAGES_QUERY, json!({})).await {
            Ok(data) if data["images"]["edges"].is_array() => client.ok(started),
            Ok(data) => client.err(format!(
                "server {}: no edges in {}",
                ["A", "B"][server],
                short(&data.to_string())
            )),
            Err(e) => client.err(format!("server {}: {e:#}", ["A", "B"][server])),
        }
        n += 1;
        if !pause(&stop, Duration::from_millis(150 + 50 * (n as u64 % 4))).await {
            break;
        }
    }
}

/// Subscribes to `imageUpdated` for the image and waits until all its
/// thumbnails are READY; returns how many events that took.
async fn follow_until_ready(follow: &Follow) -> anyhow::Result<usize> {
    let mut ws = infra::ws_open(&follow.base, &follow.token).await?;
    let mut events = 0;
    let mut acked = false;
    loop {
        let Some(msg) = ws.next().await else {
            bail!("socket closed after {events} events");
        };
        let text = match msg? {
            Message::Text(text) => text,
            Message::Close(frame) => bail!("socket closed after {events} events: {frame:?}"),
            _ => continue,
        };
        let msg: Value = serde_json::from_str(&text)?;
        match msg["type"].as_str() {
            Some("connection_ack") if !acked => {
                acked = true;
                ws.send(Message::text(
                    json!({
                        "id": "1",
                        "type": "subscribe",
                        "payload": {
                            "query": "subscription($id: ID!) { imageUpdated(id: $id) { id thumbnails { status } } }",
                            "variables": { "id": follow.id },
                        },
                    })
                    .to_string(),
                ))
                .await?;
            }
            Some("ping") => {
                ws.send(Message::text(json!({ "type": "pong" }).to_string()))
                    .await?;
            }
            Some("next") => {
                events += 1;
                let thumbs = &msg["payload"]["data"]["imageUpdated"]["thumbnails"];
                let Some(thumbs) = thumbs.as_array() else {
                    bail!("event without thumbnails: {}", short(&msg.to_string()));
                };
                if thumbs.iter().any(|t| t["status"] == "FAILED") {
                    bail!("a thumbnail FAILED: {}", short(&msg.to_string()));
                }
                if !thumbs.is_empty() && thumbs.iter().all(|t| t["status"] == "READY") {
                    let _ = ws
                        .send(Message::text(
                            json!({ "id": "1", "type": "complete" }).to_string(),
                        ))
                        .await;
                    let _ = ws.close(None).await;
                    return Ok(events);
                }
            }
            Some("complete") => bail!("subscription completed before READY"),
            _ => bail!("unexpected message {}", short(&msg.to_string())),
        }
    }
}

async fn subscriber(
    mut follows: tokio::sync::mpsc::UnboundedReceiver<Follow>,
    client: Arc<Client>,
) {
    let mut running = tokio::task::JoinSet::new();
    while let Some(follow) = follows.recv().await {
        let client = client.clone();
        running.spawn(async move {
            match tokio::time::timeout(SUBSCRIPTION_DEADLINE, follow_until_ready(&follow)).await {
                Ok(Ok(_)) => client.ok(follow.uploaded),
                Ok(Err(e)) => client.err(format!("image {} on {}: {e:#}", follow.id, follow.base)),
                Err(_) => client.err(format!(
                    "image {} on {}: thumbnails not READY within {} s",
                    follow.id,
                    follow.base,
                    SUBSCRIPTION_DEADLINE.as_secs()
                )),
            }
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

// ----------------------------------------------------------- attackers ----

/// 1: anonymous 48 MB JSON bodies; three at once every 10th round (one of
/// them without Content-Length).
async fn json_bombs(bases: [String; 2], attack: Arc<Attack>, stop: CancellationToken) {
    let bomb = json_bomb(48_000_000);
    let Ok(http) = http_client(Duration::from_secs(120)) else {
        return;
    };
    let mut round = 0usize;
    while !stop.is_cancelled() {
        let many = if round % 10 == 5 { 3 } else { 1 };
        let sends = (0..many).map(|k| {
            let url = format!("{}/graphql", bases[(round + k) % 2]);
            let (http, bomb) = (http.clone(), bomb.clone());
            let chunked = k == 2;
            async move {
                let body = if chunked {
                    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..bomb.len())
                        .step_by(64 << 10)
                        .map(|at| Ok(bomb.slice(at..(at + (64 << 10)).min(bomb.len()))))
                        .collect();
                    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
                } else {
                    reqwest::Body::from(bomb)
                };
                let resp = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match resp {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body: Value = resp.json().await.unwrap_or(Value::Null);
                        (outcome(status, &body), chunked)
                    }
                    Err(e) => (format!("transport error: {e}"), chunked),
                }
            }
        });
        for (result, chunked) in futures_util::future::join_all(sends).await {
            let label = if chunked { " (chunked)" } else { "" };
            let refused = result == "413 PAYLOAD_TOO_LARGE";
            attack.record(&format!("{result}{label}"), refused);
        }
        round += 1;
        if !pause(&stop, Duration::from_secs(3)).await {
            break;
        }
    }
}

/// 2: 50 file parts behind a boundary that a naive parser reads differently.
async fn boundary_trick(
    gqls: [Gql; 2],
    jpeg: Vec<u8>,
    attack: Arc<Attack>,
    stop: CancellationToken,
) {
    let body = Bytes::from(multipart_body("real", 50, &jpeg));
    let mut n = 0usize;
    while !stop.is_cancelled() {
        let gql = &gqls[n % 2];
        let resp = gql
            .http
            .post(&gql.url)
            .bearer_auth(&gql.token)
            .header("apollo-require-preflight", "true")
            .header(
                "content-type",
                r#"multipart/form-data; x="; boundary=zzz"; boundary=real"#,
            )
            .body(body.clone())
            .send()
            .await;
        match resp {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                let o = outcome(status, &body);
                attack.record(&o, o == "413 PAYLOAD_TOO_LARGE");
            }
            Err(e) => attack.record(&format!("transport error: {e}"), false),
        }
        n += 1;
        if !pause(&stop, Duration::from_secs(3)).await {
            break;
        }
    }
}

/// 3: a new operation name on every request.
async fn invented_names(gqls: [Gql; 2], attack: Arc<Attack>, stop: CancellationToken) {
    let mut n = 0usize;
    while !stop.is_cancelled() {
        let gql = &gqls[n % 2];
        let name = format!("Invented{n}");
        let body =
            json!({ "query": format!("query {name} {{ me {{ id }} }}"), "operationName": name });
        match post_json(&gql.http, &gql.url, Some(&gql.token), &body).await {
            // Answering is right: what must not happen is a new series.
            Ok((status, body)) => {
                let o = outcome(status, &body);
                attack.record(&o, o == "200 ok");
            }
            Err(e) => attack.record(&format!("transport error: {e}"), false),
        }
        n += 1;
        if !pause(&stop, Duration::from_millis(200)).await {
            break;
        }
    }
}

/// 4: eight aliases of a page of 100 images with URLs (by the flood user,
/// who has thousands).
async fn aliased_pages(gqls: [Gql; 2], attack: Arc<Attack>, stop: CancellationToken) {
    let page = "images(first: 100){ edges { node { originalUrl thumbnails { url } } } }";
    let aliases: String = (0..8).map(|i| format!("p{i}: {page} ")).collect();
    let body = json!({ "query": format!("{{ {aliases} }}") });
    let mut n = 0usize;
    while !stop.is_cancelled() {
        let gql = &gqls[n % 2];
        match post_json(&gql.http, &gql.url, Some(&gql.token), &body).await {
            Ok((status, body)) => {
                let too_complex = body["errors"][0]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("too complex"));
                let o = format!(
                    "{}{}",
                    outcome(status, &body),
                    if too_complex { " (too complex)" } else { "" }
                );
                attack.record(&o, too_complex && o.contains("BAD_USER_INPUT"));
            }
            Err(e) => attack.record(&format!("transport error: {e}"), false),
        }
        n += 1;
        if !pause(&stop, Duration::from_secs(2)).await {
            break;
        }
    }
}

/// Ids of the flood user's special uploads (PNG of zeros, panorama).
#[derive(Default)]
struct Specials {
    png16: Vec<String>,
    panoramas: Vec<String>,
}

/// 5: batches of 10 as fast as the server takes them (while the user's
/// backlog is under `backlog`), and every minute a 16-bit 3000x3000 PNG of
/// zeros and a 40000x400 panorama.
#[allow(clippy::too_many_arguments, reason = "one task's whole world")]
async fn flood(
    gqls: [Gql; 2],
    user_id: String,
    small: Arc<Vec<Vec<u8>>>,
    panorama: Arc<Vec<u8>>,
    backlog: i64,
    attack: Arc<Attack>,
    acked: Arc<AtomicU64>,
    specials: Arc<Mutex<Specials>>,
    stop: CancellationToken,
) {
    let Ok(db) = infra::pg(DATABASE).await else {
        attack.finding("flood: no database connection".into());
        return;
    };
    let mut last_special: Option<Instant> = None;
    let (mut batch, mut waited) = (0usize, Duration::ZERO);
    while !stop.is_cancelled() {
        let gql = &gqls[batch % 2];
        if last_special.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            last_special = Some(Instant::now());
            let n = specials_count(&specials);
            let png = tokio::task::spawn_blocking(move || zeros_png16(3000, n as u16 + 1)).await;
            let pano = infra::with_comment(&panorama, &format!("soak panorama {n}"));
            let files: Vec<(String, Vec<u8>, &'static str)> = match png {
                Ok(Ok(png)) => vec![
                    (format!("zeros16-{n}.png"), png, "image/png"),
                    (format!("panorama-{n}.jpg"), pano, "image/jpeg"),
                ],
                _ => {
                    attack.finding("could not make the 16-bit PNG".into());
                    vec![(format!("panorama-{n}.jpg"), pano, "image/jpeg")]
                }
            };
            for (name, bytes, mime) in files {
                let png = mime == "image/png";
                match upload(gql, vec![(name, bytes, mime)]).await {
                    Ok(ids) => {
                        acked.fetch_add(1, Ordering::Relaxed);
                        attack.record(
                            if png {
                                "16-bit 3000x3000 PNG accepted (expected under MAX_DECODE_BYTES)"
                            } else {
                                "40000x400 panorama accepted (expected)"
                            },
                            true,
                        );
                        let mut s = lock(&specials);
                        let list = if png { &mut s.png16 } else { &mut s.panoramas };
                        list.extend(ids);
                    }
                    Err(e) => attack.record(&format!("special upload refused: {e:#}"), false),
                }
            }
        }
        let queued = infra::scalar(
            &db,
            &format!(
                "SELECT count(*) FROM jobs WHERE owner_id = '{user_id}' AND status IN ('queued', 'running')"
            ),
        )
        .await
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
        if queued >= backlog {
            waited += Duration::from_millis(250);
            if !pause(&stop, Duration::from_millis(250)).await {
                break;
            }
            continue;
        }
        let files = (0..10)
            .map(|k| {
                (
                    format!("flood-{batch}-{k}.jpg"),
                    infra::with_comment(
                        &small[k % small.len()],
                        &format!("soak flood {batch} {k}"),
                    ),
                    "image/jpeg",
                )
            })
            .collect();
        match upload(gql, files).await {
            Ok(ids) => {
                acked.fetch_add(ids.len() as u64, Ordering::Relaxed);
                attack.record("batch of 10 accepted (no quota on the plan)", true);
            }
            Err(e) => {
                let msg = format!("{e:#}");
                let code = msg
                    .split_once('(')
                    .and_then(|(_, rest)| rest.split_once(')'))
                    .map_or("error", |(code, _)| code)
                    .to_owned();
                attack.record(&format!("batch refused: {code}"), true);
                if !code.contains("QUOTA") && !code.contains("TOO_MANY") {
                    attack.finding(format!("batch refused unexpectedly: {}", short(&msg)));
                }
                let _ = pause(&stop, Duration::from_secs(1)).await;
            }
        }
        batch += 1;
    }
    attack.note(format!(
        "{batch} batches; waited {:.0} s in all for the backlog to fall under {backlog}",
        waited.as_secs_f64()
    ));
}

fn specials_count(specials: &Mutex<Specials>) -> usize {
    lock(specials).panoramas.len()
}

/// 6: 40 parallel `createUploadUrl` for a fresh user: at most 20 open
/// slots may be granted; then 5 more, of which none may be.
async fn slots(
    env: Env,
    bases: [String; 2],
    attack: Arc<Attack>,
    users: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
) {
    let mut round = 0usize;
    while !stop.is_cancelled() {
        let name = format!("soak-slots-{round}");
        let gql = match new_user(&env, &bases[round % 2], &name, "Basic").await {
            Ok(gql) => gql,
            Err(e) => {
                attack.finding(format!("could not create {name}: {e:#}"));
                if !pause(&stop, Duration::from_secs(30)).await {
                    break;
                }
                continue;
            }
        };
        lock(&users).push(name.clone());
        let results =
            futures_util::future::join_all((0..40).map(|i| ask_slot(&gql, &bases[i % 2], i))).await;
        let mut granted = 0;
        for r in &results {
            match r {
                Ok((status, body)) => {
                    let o = outcome(*status, body);
                    if o == "200 ok" {
                        granted += 1;
                    }
                    *lock(&attack.outcomes)
                        .entry(format!("{o} (of 40)"))
                        .or_default() += 1;
                }
                Err(e) => {
                    *lock(&attack.outcomes)
                        .entry(format!("transport error: {e}"))
                        .or_default() += 1;
                }
            }
        }
        attack.sent.fetch_add(40, Ordering::Relaxed);
        if granted > 20 {
            attack.finding(format!(
                "{name}: {granted} of 40 parallel slots granted (limit 20)"
            ));
        } else if granted < 20 {
            attack.note(format!(
                "{name}: only {granted} of 40 granted (fewer than the 20 allowed)"
            ));
        }
        let more =
            futures_util::future::join_all((40..45).map(|i| ask_slot(&gql, &bases[i % 2], i)))
                .await;
        for r in more {
            attack.sent.fetch_add(1, Ordering::Relaxed);
            match r {
                Ok((status, body)) => {
                    let o = outcome(status, &body);
                    *lock(&attack.outcomes)
                        .entry(format!("{o} (5 more)"))
                        .or_default() += 1;
                    if o == "200 ok" {
                        attack.finding(format!("{name}: a slot granted beyond the 20 open"));
                    }
                }
                Err(e) => attack.finding(format!("{name}: transport error {e}")),
            }
        }
        round += 1;
        if !pause(&stop, Duration::from_secs(30)).await {
            break;
        }
    }
}

async fn ask_slot(gql: &Gql, base: &str, i: usize) -> anyhow::Result<(u16, Value)> {
    let gql = on(gql, base);
    let vars = json!({ "f": format!("slot-{i}.jpg"), "n": 1000, "t": "image/jpeg" });
    post_json(
        &gql.http,
        &gql.url,
        Some(&gql.token),
        &json!({ "query": SLOTS_MUTATION, "variables": vars }),
    )
    .await
}

/// 7: a multipart POST declaring MAX_UPLOAD_BYTES + 8 MiB, written whole
/// before the answer is read (as Python's requests does).
async fn send_whole_then_read(
    bases: [String; 2],
    token: String,
    attack: Arc<Attack>,
    stop: CancellationToken,
) {
    let len = MAX_UPLOAD_BYTES + (8 << 20);
    let mut n = 0usize;
    while !stop.is_cancelled() {
        let addr = bases[n % 2].trim_start_matches("http://").to_owned();
        let o = match oversized_once(&addr, &token, len).await {
            Ok(o) => o,
            Err(e) => format!("error: {e:#}"),
        };
        // The server reads (and discards) a refused body up to a bound
        // (MAX_UPLOAD_BYTES), then closes: a send cut there is by design,
        // as long as the 413 can still be read.
        attack.record(&o, o.starts_with("413"));
        n += 1;
        if !pause(&stop, Duration::from_secs(10)).await {
            break;
        }
    }
}

async fn oversized_once(addr: &str, token: &str, len: u64) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Apollo-Require-Preflight: true\r\nContent-Type: multipart/form-data; boundary=x\r\n\
         Content-Length: {len}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let chunk = vec![b'x'; 64 << 10];
    let mut sent: u64 = 0;
    let mut send_error = None;
    let writing = tokio::time::timeout(Duration::from_secs(60), async {
        while sent < len {
            let n = (chunk.len() as u64).min(len - sent) as usize;
            if let Err(e) = stream.write_all(&chunk[..n]).await {
                send_error = Some(e.kind());
                break;
            }
            sent += n as u64;
        }
    })
    .await;
    if writing.is_err() {
        return Ok(format!("send stalled after {} MiB", sent >> 20));
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(17).any(|w| w == b"PAYLOAD_TOO_LARGE") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    let got_413 = answer.starts_with("HTTP/1.1 413") && answer.contains("PAYLOAD_TOO_LARGE");
    Ok(match (send_error, got_413) {
        (None, true) => "413 PAYLOAD_TOO_LARGE read after sending all".to_owned(),
        (Some(kind), true) => format!(
            "413 readable, but the send failed ({kind:?}) after {} of {} MiB",
            sent >> 20,
            len >> 20
        ),
        (Some(kind), false) => format!(
            "send failed ({kind:?}) after {} of {} MiB, no answer",
            sent >> 20,
            len >> 20
        ),
        (None, false) => format!(
            "sent all, answer {:?}",
            short(answer.lines().next().unwrap_or(""))
        ),
    })
}

/// 8: 200 parallel `/readyz` every few seconds.
async fn readyz_flood(bases: [String; 2], attack: Arc<Attack>, stop: CancellationToken) {
    let Ok(http) = http_client(Duration::from_secs(30)) else {
        return;
    };
    let mut round = 0usize;
    let mut slowest = 0.0f64;
    while !stop.is_cancelled() {
        let url = format!("{}/readyz", bases[round % 2]);
        let started = Instant::now();
        let results = futures_util::future::join_all((0..200).map(|_| http.get(&url).send())).await;
        slowest = slowest.max(started.elapsed().as_secs_f64());
        for r in results {
            match r {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    attack.record(&format!("{status}"), status == 200);
                }
                Err(e) => attack.record(&format!("transport error: {e}"), false),
            }
        }
        round += 1;
        if !pause(&stop, Duration::from_secs(3)).await {
            break;
        }
    }
    attack.note(format!("slowest round of 200: {slowest:.2} s"));
}

// ------------------------------------------------------------- sampler ----

struct Sample {
    at: f64,
    /// Peak RSS (MiB) of server A, server B, the worker since the last sample.
    peak: [f64; 3],
}

struct Sampled {
    samples: Vec<Sample>,
    hwm_reset: bool,
    gone: Vec<String>,
}

const PROCESSES: [&str; 3] = ["server A", "server B", "worker"];

/// Reads the peak RSS of each process every 10 s and prints a row per minute.
async fn sampler(
    pids: [u32; 3],
    started: Instant,
    clients: Vec<Arc<Client>>,
    attacks: Vec<Arc<Attack>>,
    stop: CancellationToken,
) -> Sampled {
    let db = infra::pg(DATABASE).await.ok();
    let hwm_reset = pids.iter().all(|&pid| infra::reset_hwm(pid));
    let mut out = Sampled {
        samples: Vec::new(),
        hwm_reset,
        gone: Vec::new(),
    };
    let mut minute_peak = [0.0f64; 3];
    let mut minute = 0usize;
    println!(
        "soak: peak RSS per minute, MiB ({}); requests and errors of the well-behaved clients so far; attack requests so far; thumbnail jobs waiting",
        if hwm_reset {
            "VmHWM over each 10 s, reset after each reading"
        } else {
            "VmRSS every 10 s; VmHWM cannot be reset here"
        }
    );
    println!(
        "{:>6} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>8}",
        "minute", "server A", "server B", "worker", "requests", "errors", "attacks", "jobs"
    );
    let mut ticks = tokio::time::interval(SAMPLE_EVERY);
    ticks.tick().await;
    loop {
        let stopped = tokio::select! {
            () = stop.cancelled() => true,
            _ = ticks.tick() => false,
        };
        let at = started.elapsed().as_secs_f64();
        let mut peak = [0.0f64; 3];
        for (i, &pid) in pids.iter().enumerate() {
            let field = if hwm_reset { "VmHWM" } else { "VmRSS" };
            match infra::proc_mib(pid, field) {
                Ok(mib) => peak[i] = mib,
                Err(e) => {
                    if out.gone.len() < 3 {
                        out.gone
                            .push(format!("{} (pid {pid}) at {at:.0} s: {e:#}", PROCESSES[i]));
                    }
                }
            }
            if hwm_reset {
                infra::reset_hwm(pid);
            }
        }
        // A reading covers the 10 s before it: it belongs to the minute
        // those end in.
        let this_minute = ((at - 1.0).max(0.0) / 60.0).floor() as usize;
        if this_minute > minute {
            print_row(minute, &minute_peak, &clients, &attacks, db.as_ref()).await;
            minute = this_minute;
            minute_peak = [0.0; 3];
        }
        for (m, p) in minute_peak.iter_mut().zip(peak) {
            *m = m.max(p);
        }
        if stopped && at > 60.0 * minute as f64 + 1.0 {
            print_row(minute, &minute_peak, &clients, &attacks, db.as_ref()).await;
        }
        out.samples.push(Sample { at, peak });
        if stopped {
            return out;
        }
    }
}

/// One row of the live table.
async fn print_row(
    minute: usize,
    peak: &[f64; 3],
    clients: &[Arc<Client>],
    attacks: &[Arc<Attack>],
    db: Option<&tokio_postgres::Client>,
) {
    let requests: u64 = clients
        .iter()
        .map(|c| c.requests.load(Ordering::Relaxed))
        .sum();
    let errors: u64 = clients
        .iter()
        .map(|c| c.errors.load(Ordering::Relaxed))
        .sum();
    let attacked: u64 = attacks.iter().map(|a| a.sent.load(Ordering::Relaxed)).sum();
    let jobs = match db {
        Some(db) => infra::scalar(
            db,
            "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running') AND kind = 'make_thumbnails'",
        )
        .await
        .unwrap_or_else(|_| "?".into()),
        None => "?".into(),
    };
    println!(
        "{:>6} {:>9.1} {:>9.1} {:>9.1} {requests:>9} {errors:>7} {attacked:>9} {jobs:>8}",
        minute + 1,
        peak[0],
        peak[1],
        peak[2]
    );
}

// --------------------------------------------------------- consistency ----

/// What the storage directory holds.
#[derive(Default)]
struct Store {
    originals: HashMap<Uuid, SystemTime>,
    thumbnails: HashMap<(Uuid, u32, &'static str), SystemTime>,
    uploads: HashMap<Uuid, SystemTime>,
    sidecars: usize,
    stray_sidecars: Vec<String>,
    temporary: Vec<String>,
    other: Vec<String>,
}

fn walk_store(root: &Path) -> anyhow::Result<Store> {
    fn walk(root: &Path, dir: &Path, store: &mut Store) -> anyhow::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let meta = entry.metadata()?;
            if meta.is_dir() {
                walk(root, &path, store)?;
                continue;
            }
            let rel = path
                .strip_prefix(root)?
                .to_str()
                .context("non-UTF-8 path")?
                .to_owned();
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(object) = rel.strip_suffix(".content-type") {
                store.sidecars += 1;
                if !root.join(object).exists() {
                    store.stray_sidecars.push(rel);
                }
                continue;
            }
            if name.starts_with('.') {
                store.temporary.push(rel);
                continue;
            }
            let modified = meta.modified()?;
            match image_vault::storage::StorageKey::parse(&rel) {
                Some(image_vault::storage::StorageKey::Original(id)) => {
                    store.originals.insert(id, modified);
                }
                Some(image_vault::storage::StorageKey::Thumbnail {
                    image_id,
                    height,
                    ext,
                }) => {
                    store.thumbnails.insert((image_id, height, ext), modified);
                }
                Some(image_vault::storage::StorageKey::Upload(id)) => {
                    store.uploads.insert(id, modified);
                }
                None => store.other.push(rel),
            }
        }
        Ok(())
    }
    let mut store = Store::default();
    walk(root, root, &mut store)?;
    Ok(store)
}

/// Rows of a query whose columns are all text.
async fn rows(db: &tokio_postgres::Client, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    for message in db.simple_query(sql).await? {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
            out.push(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or_default().to_owned())
                    .collect(),
            );
        }
    }
    Ok(out)
}

fn uuid(s: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(s).with_context(|| format!("bad uuid {s:?}"))
}

/// Waits until no thumbnail, delete or backfill job is queued or running
/// (the periodic sweeps always have one waiting); false on timeout.
async fn drain(db: &tokio_postgres::Client, limit: Duration) -> anyhow::Result<(bool, f64)> {
    let started = Instant::now();
    loop {
        let waiting: i64 = infra::scalar(
            db,
            "SELECT count(*) FROM jobs WHERE status IN ('queued', 'running') \
             AND kind NOT IN ('sweep', 'sweep_orphans')",
        )
        .await?
        .parse()?;
        if waiting == 0 {
            return Ok((true, started.elapsed().as_secs_f64()));
        }
        if started.elapsed() > limit {
            println!(
                "soak: {waiting} jobs still waiting after {:.0} s",
                limit.as_secs_f64()
            );
            return Ok((false, started.elapsed().as_secs_f64()));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Compares rows and objects; returns the failures.
async fn consistency(
    db: &tokio_postgres::Client,
    storage: &Path,
    well_behaved: &[String],
    acked: &[(String, u64)],
    no_images: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut failures = Vec::new();
    let grace = image_vault::jobs::orphans::GRACE.to_std()?;
    let root = storage.to_owned();
    let store = tokio::task::spawn_blocking(move || walk_store(&root)).await??;
    let now = SystemTime::now();
    let age = |t: &SystemTime| now.duration_since(*t).unwrap_or_default();

    // Images and their originals.
    let images = rows(db, "SELECT id::text, source_id::text FROM images").await?;
    let sources: HashSet<Uuid> = images
        .iter()
        .map(|r| uuid(&r[1]))
        .collect::<anyhow::Result<_>>()?;
    let missing_originals: Vec<&Uuid> = sources
        .iter()
        .filter(|s| !store.originals.contains_key(s))
        .collect();
    println!(
        "soak: consistency: {} image rows, {} distinct sources; {} original files ({} content-type files, {} of them stray); {} temporary files; {} other files",
        images.len(),
        sources.len(),
        store.originals.len(),
        store.sidecars,
        store.stray_sidecars.len(),
        store.temporary.len(),
        store.other.len()
    );
    if !missing_originals.is_empty() {
        failures.push(format!(
            "{} image sources have no originals/ file, e.g. {:?}",
            missing_originals.len(),
            missing_originals.iter().take(5).collect::<Vec<_>>()
        ));
    }

    // Thumbnails: rows per image, files per source.
    let thumbs = rows(
        db,
        "SELECT i.source_id::text, t.height::text, t.status, coalesce(t.content_type, ''), u.username, coalesce(t.error, '') \
           FROM thumbnails t JOIN images i ON i.id = t.image_id JOIN users u ON u.id = i.owner_id",
    )
    .await?;
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut ready_keys: HashSet<(Uuid, u32, &'static str)> = HashSet::new();
    let mut missing_thumbs = Vec::new();
    let mut failed_by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &thumbs {
        *by_status.entry(r[2].clone()).or_default() += 1;
        match r[2].as_str() {
            "ready" => {
                let source = uuid(&r[0])?;
                let height: u32 = r[1].parse()?;
                let Some(ext) = image_vault::storage::ext_for_content_type(&r[3]) else {
                    failures.push(format!(
                        "READY thumbnail of {source} with content type {:?}",
                        r[3]
                    ));
                    continue;
                };
                let key = (source, height, ext);
                if !store.thumbnails.contains_key(&key) {
                    missing_thumbs.push(format!("thumbnails/{source}/{height}.{ext}"));
                }
                ready_keys.insert(key);
            }
            "failed" => failed_by_user
                .entry(r[4].clone())
                .or_default()
                .push(format!("{} h{}: {}", r[0], r[1], r[5])),
            _ => {}
        }
    }
    println!(
        "soak: consistency: {} thumbnail rows {:?}; {} distinct READY objects expected, {} thumbnail files",
        thumbs.len(),
        by_status,
        ready_keys.len(),
        store.thumbnails.len()
    );
    if !missing_thumbs.is_empty() {
        failures.push(format!(
            "{} READY thumbnails have no file, e.g. {:?}",
            missing_thumbs.len(),
            &missing_thumbs[..missing_thumbs.len().min(5)]
        ));
    }
    if let Some(pending) = by_status.get("pending") {
        failures.push(format!(
            "{pending} thumbnails still PENDING after the drain"
        ));
    }
    for (user, failed) in &failed_by_user {
        let line = format!(
            "{} FAILED thumbnails of {user}, e.g. {:?}",
            failed.len(),
            &failed[..failed.len().min(3)]
        );
        if well_behaved.contains(user) {
            failures.push(line);
        } else {
            println!("soak: consistency: {line}");
        }
    }

    // Objects without rows: orphans once older than the grace period.
    let mut unreferenced = Vec::new();
    for (id, modified) in &store.originals {
        if !sources.contains(id) {
            unreferenced.push((format!("originals/{id}"), age(modified)));
        }
    }
    for ((id, height, ext), modified) in &store.thumbnails {
        if !ready_keys.contains(&(*id, *height, *ext)) {
            unreferenced.push((format!("thumbnails/{id}/{height}.{ext}"), age(modified)));
        }
    }
    let open_slots: HashSet<Uuid> = rows(
        db,
        "SELECT id::text FROM upload_slots WHERE completed_at IS NULL",
    )
    .await?
    .iter()
    .map(|r| uuid(&r[0]))
    .collect::<anyhow::Result<_>>()?;
    for (id, modified) in &store.uploads {
        if !open_slots.contains(id) {
            unreferenced.push((format!("uploads/{id}"), age(modified)));
        }
    }
    unreferenced.sort();
    let old: Vec<&(String, Duration)> = unreferenced.iter().filter(|(_, a)| *a > grace).collect();
    println!(
        "soak: consistency: {} objects without a row ({} older than the {} min orphan grace); {} open upload slots, {} staged uploads",
        unreferenced.len(),
        old.len(),
        grace.as_secs() / 60,
        open_slots.len(),
        store.uploads.len()
    );
    for (key, age) in unreferenced.iter().take(20) {
        println!(
            "soak:   without a row: {key} ({:.0} s old)",
            age.as_secs_f64()
        );
    }
    if !old.is_empty() {
        failures.push(format!(
            "{} orphan objects older than the grace period",
            old.len()
        ));
    }
    for path in store
        .stray_sidecars
        .iter()
        .chain(&store.temporary)
        .chain(&store.other)
        .take(10)
    {
        println!("soak:   unexpected file: {path}");
    }
    if !store.other.is_empty() {
        failures.push(format!(
            "{} files no key names, e.g. {:?}",
            store.other.len(),
            &store.other[..store.other.len().min(3)]
        ));
    }

    // Every acknowledged upload has its row; refused ones none.
    for (user, count) in acked {
        let rows: u64 = infra::scalar(
            db,
            &format!("SELECT count(*) FROM images i JOIN users u ON u.id = i.owner_id WHERE u.username = '{user}'"),
        )
        .await?
        .parse()?;
        println!("soak: consistency: {user}: {count} uploads acknowledged, {rows} image rows");
        if rows != *count {
            failures.push(format!(
                "{user}: {count} uploads acknowledged but {rows} image rows"
            ));
        }
    }
    for user in no_images {
        let rows: u64 = infra::scalar(
            db,
            &format!("SELECT count(*) FROM images i JOIN users u ON u.id = i.owner_id WHERE u.username = '{user}'"),
        )
        .await?
        .parse()?;
        if rows != 0 {
            failures.push(format!(
                "{user} uploaded nothing that was accepted, yet has {rows} image rows"
            ));
        }
    }
    let failed_jobs = rows(
        db,
        "SELECT kind, attempts::text, max_attempts::text, left(coalesce(last_error, ''), 200) FROM jobs WHERE status = 'failed' LIMIT 10",
    )
    .await?;
    let failed_count =
        infra::scalar(db, "SELECT count(*) FROM jobs WHERE status = 'failed'").await?;
    println!("soak: consistency: {failed_count} failed jobs");
    for r in failed_jobs {
        println!(
            "soak:   failed job {} (attempt {} of {}): {}",
            r[0], r[1], r[2], r[3]
        );
    }
    Ok(failures)
}

// ------------------------------------------------------------ the soak ----

fn percentile(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len() - 1) as f64 * p).round() as usize;
    xs[i]
}

async fn metrics_page(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    Ok(http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

/// The series of a Prometheus page (name and labels, without histogram
/// buckets and values).
fn series(page: &str) -> std::collections::BTreeSet<String> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.contains("le=\""))
        .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s.to_owned()))
        .collect()
}

/// ERROR and WARN lines and panics in a process log.
fn log_summary(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(r#""level":"ERROR""#))
        .collect();
    let warns = text
        .lines()
        .filter(|l| l.contains(r#""level":"WARN""#))
        .count();
    let panics = text.lines().filter(|l| l.contains("panicked")).count();
    let mut s = format!(
        "{}: {} lines, {} ERROR, {warns} WARN, {panics} panics",
        log.file_name().unwrap_or_default().to_string_lossy(),
        text.lines().count(),
        errors.len()
    );
    for e in errors.iter().take(3) {
        s.push_str(&format!("\n      {}", short(e)));
    }
    s
}

pub async fn run(opts: &Options) -> anyhow::Result<()> {
    anyhow::ensure!(opts.minutes > 0.0, "--minutes must be positive");
    let storage: PathBuf = infra::work_dir().join("soak-data");
    let _ = std::fs::remove_dir_all(&storage);
    std::fs::create_dir_all(&storage)?;
    infra::drop_database(DATABASE).await?;
    let mut env = Env::new(DATABASE);
    env.set("STORAGE", "fs")
        .set(
            "STORAGE_DIR",
            storage.to_str().context("non-UTF-8 work dir")?,
        )
        .set("WORKERS", "2");

    // Test material, made before anything is timed.
    let made = Instant::now();
    let (photos, small, panorama, trick_jpeg) = tokio::task::spawn_blocking(|| {
        let sizes = [
            (640, 480),
            (800, 600),
            (1024, 768),
            (1280, 960),
            (1600, 1200),
            (1200, 800),
            (960, 640),
            (1440, 1080),
        ];
        let mut photos = Vec::new();
        for (i, (w, h)) in sizes.iter().cycle().take(16).enumerate() {
            photos.push(synthetic_jpeg(*w, *h, i as u32, 85)?);
        }
        let small = (0..4)
            .map(|i| synthetic_jpeg(320 + 32 * i, 240 + 24 * i, 100 + i, 80))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let panorama = synthetic_jpeg(40_000, 400, 7, 80)?;
        let trick = synthetic_jpeg(8, 8, 1, 80)?;
        anyhow::Ok((photos, small, panorama, trick))
    })
    .await??;
    println!(
        "soak: made 16 photos ({:.0}..{:.0} KB), 4 small flood JPEGs, a 40000x400 panorama ({:.0} KB) in {:.1} s",
        photos.iter().map(Vec::len).min().unwrap_or(0) as f64 / 1e3,
        photos.iter().map(Vec::len).max().unwrap_or(0) as f64 / 1e3,
        panorama.len() as f64 / 1e3,
        made.elapsed().as_secs_f64()
    );

    let (mut server_a, _) = Server::serve(&env, "soak-serve-a", &["serve", "--no-workers"]).await?;
    let (mut server_b, _) = Server::serve(&env, "soak-serve-b", &["serve", "--no-workers"]).await?;
    let mut worker = Server::worker(&env, "soak-worker").await?;
    let bases = [server_a.base.clone(), server_b.base.clone()];
    let db = infra::pg(DATABASE).await?;
    db.batch_execute(&format!(
        "INSERT INTO plans (id, name, thumbnail_heights, original_link, expiring_links, thumbnail_format) \
         VALUES ('{}', '{FLOOD_PLAN}', '{{200,400}}', true, false, 'webp')",
        Uuid::now_v7()
    ))
    .await?;
    println!(
        "soak: servers A {} (pid {}) and B {} (pid {}), serve --no-workers; worker pid {} (WORKERS=2); fs storage {}; database {DATABASE}",
        server_a.base,
        server_a.pid(),
        server_b.base,
        server_b.pid(),
        worker.pid(),
        storage.display()
    );

    // Users.
    let mut uploaders = Vec::new();
    for i in 0..2 {
        let gql = new_user(&env, &bases[i], &format!("soak-up-{i}"), WELL_BEHAVED_PLAN).await?;
        uploaders.push([on(&gql, &bases[0]), on(&gql, &bases[1])]);
    }
    let attacker = new_user(&env, &bases[0], "soak-attacker", "Basic").await?;
    let attacker = [on(&attacker, &bases[0]), on(&attacker, &bases[1])];
    let flood_user = new_user(&env, &bases[1], "soak-flood", FLOOD_PLAN).await?;
    let flood_user = [on(&flood_user, &bases[0]), on(&flood_user, &bases[1])];
    let flood_id = infra::scalar(
        &db,
        "SELECT id::text FROM users WHERE username = 'soak-flood'",
    )
    .await?;

    // Warm up each server once, then the baselines.
    let probe = http_client(Duration::from_secs(30))?;
    for g in &uploaders[0] {
        g.query(IMAGES_QUERY, json!({})).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pids = [server_a.pid(), server_b.pid(), worker.pid()];
    let idle: Vec<f64> = pids
        .iter()
        .map(|&pid| infra::proc_mib(pid, "VmRSS"))
        .collect::<anyhow::Result<_>>()?;
    let metrics_before = [
        metrics_page(&probe, &bases[0]).await?,
        metrics_page(&probe, &bases[1]).await?,
    ];
    println!(
        "soak: idle RSS: server A {:.1} MiB, server B {:.1} MiB, worker {:.1} MiB; /metrics A {} bytes, B {} bytes",
        idle[0],
        idle[1],
        idle[2],
        metrics_before[0].len(),
        metrics_before[1].len()
    );
    println!(
        "soak: {:.1} minutes: 2 uploaders (every {} ms), 2 listers, 1 subscriber; 8 attackers (flood backlog cap {} jobs)",
        opts.minutes, opts.upload_interval_ms, opts.flood_backlog
    );

    // Go.
    let clients_stop = CancellationToken::new();
    let attacks_stop = CancellationToken::new();
    let sampler_stop = CancellationToken::new();
    let started = Instant::now();
    let photos = Arc::new(photos);
    let (follow_tx, follow_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut clients = Vec::new();
    let mut client_tasks = Vec::new();
    let mut acked_counts = Vec::new();
    for (i, gqls) in uploaders.iter().enumerate() {
        let client = Client::new(format!("uploader {i}"));
        let acked = Arc::new(AtomicU64::new(0));
        acked_counts.push((format!("soak-up-{i}"), acked.clone()));
        clients.push(client.clone());
        client_tasks.push(tokio::spawn(uploader(
            i,
            gqls.clone(),
            photos.clone(),
            client,
            acked,
            follow_tx.clone(),
            bases.clone(),
            Duration::from_millis(opts.upload_interval_ms),
            clients_stop.clone(),
        )));
    }
    drop(follow_tx);
    for (i, gqls) in uploaders.iter().enumerate() {
        let client = Client::new(format!("lister {i}"));
        clients.push(client.clone());
        client_tasks.push(tokio::spawn(lister(
            i,
            gqls.clone(),
            client,
            clients_stop.clone(),
        )));
    }
    let sub_client = Client::new("subscriber");
    clients.push(sub_client.clone());
    let subscriber_task = tokio::spawn(subscriber(follow_rx, sub_client.clone()));

    let attacks = [
        Attack::new("1 anonymous 48 MB JSON", "413 PAYLOAD_TOO_LARGE"),
        Attack::new(
            "2 multipart boundary trick, 50 files",
            "413 PAYLOAD_TOO_LARGE",
        ),
        Attack::new(
            "3 invented operationName",
            "answered; /metrics does not grow",
        ),
        Attack::new(
            "4 8 aliased images(first: 100)",
            "BAD_USER_INPUT too complex",
        ),
        Attack::new(
            "5 flood user (WebP plan)",
            "accepted, bounded memory, others unaffected",
        ),
        Attack::new(
            "6 40 parallel createUploadUrl",
            "at most 20 granted, then none",
        ),
        Attack::new(
            "7 oversized upload sent whole",
            "413 read after sending all",
        ),
        Attack::new("8 /readyz x200", "200, cached"),
    ];
    let flood_acked = Arc::new(AtomicU64::new(0));
    let specials = Arc::new(Mutex::new(Specials::default()));
    let slot_users = Arc::new(Mutex::new(Vec::new()));
    let attack_tasks = vec![
        tokio::spawn(json_bombs(
            bases.clone(),
            attacks[0].clone(),
            attacks_stop.clone(),
        )),
        tokio::spawn(boundary_trick(
            attacker.clone(),
            trick_jpeg,
            attacks[1].clone(),
            attacks_stop.clone(),
        )),
        tokio::spawn(invented_names(
            attacker.clone(),
            attacks[2].clone(),
            attacks_stop.clone(),
        )),
        tokio::spawn(aliased_pages(
            flood_user.clone(),
            attacks[3].clone(),
            attacks_stop.clone(),
        )),
        tokio::spawn(flood(
            flood_user.clone(),
            flood_id,
            Arc::new(small),
            Arc::new(panorama),
            opts.flood_backlog,
            attacks[4].clone(),
            flood_acked.clone(),
            specials.clone(),
            attacks_stop.clone(),
        )),
        tokio::spawn(slots(
            env.clone(),
            bases.clone(),
            attacks[5].clone(),
            slot_users.clone(),
            attacks_stop.clone(),
        )),
        tokio::spawn(send_whole_then_read(
            bases.clone(),
            attacker[0].token.clone(),
            attacks[6].clone(),
            attacks_stop.clone(),
        )),
        tokio::spawn(readyz_flood(
            bases.clone(),
            attacks[7].clone(),
            attacks_stop.clone(),
        )),
    ];
    let sampler_task = tokio::spawn(sampler(
        pids,
        started,
        clients.clone(),
        attacks.to_vec(),
        sampler_stop.clone(),
    ));

    let warmup = opts
        .warmup_minutes
        .unwrap_or_else(|| (opts.minutes / 10.0).clamp(1.0, 3.0))
        .min(opts.minutes / 2.0)
        * 60.0;
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    let metrics_warm = [
        metrics_page(&probe, &bases[0]).await?,
        metrics_page(&probe, &bases[1]).await?,
    ];
    tokio::time::sleep(Duration::from_secs_f64(opts.minutes * 60.0 - warmup)).await;
    clients_stop.cancel();
    attacks_stop.cancel();
    sampler_stop.cancel();
    let sampled = sampler_task.await?;
    let soak_secs = started.elapsed().as_secs_f64();
    for task in client_tasks.into_iter().chain(attack_tasks) {
        if tokio::time::timeout(Duration::from_secs(180), task)
            .await
            .is_err()
        {
            println!("soak: a task did not stop within 180 s");
        }
    }
    // Subscriptions still waiting have their own 60 s deadline.
    if tokio::time::timeout(Duration::from_secs(120), subscriber_task)
        .await
        .is_err()
    {
        println!("soak: the subscriber did not finish within 120 s");
    }
    println!(
        "soak: load stopped after {soak_secs:.0} s; every task ended after {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // /metrics at the end.
    let metrics_after = [
        metrics_page(&probe, &bases[0]).await?,
        metrics_page(&probe, &bases[1]).await?,
    ];

    // Drain, then compare.
    let (drained, drain_secs) =
        drain(&db, Duration::from_secs_f64(opts.drain_minutes * 60.0)).await?;
    let after_drain: Vec<f64> = pids
        .iter()
        .map(|&pid| infra::proc_mib(pid, "VmRSS").unwrap_or(f64::NAN))
        .collect();

    let mut failures = Vec::new();
    let mut findings = Vec::new();
    let mut acked = vec![
        (
            acked_counts[0].0.clone(),
            acked_counts[0].1.load(Ordering::Relaxed),
        ),
        (
            acked_counts[1].0.clone(),
            acked_counts[1].1.load(Ordering::Relaxed),
        ),
    ];
    acked.push(("soak-flood".to_owned(), flood_acked.load(Ordering::Relaxed)));
    let mut no_images = vec!["soak-attacker".to_owned()];
    no_images.extend(lock(&slot_users).iter().cloned());
    let well_behaved: Vec<String> = vec!["soak-up-0".into(), "soak-up-1".into()];
    let consistency_failures =
        consistency(&db, &storage, &well_behaved, &acked, &no_images).await?;

    // ----- the report -----
    println!();
    println!(
        "soak: === report ({:.1} minutes of load, {} samples) ===",
        soak_secs / 60.0,
        sampled.samples.len()
    );
    println!(
        "soak: peak RSS per minute (MiB; {}):",
        if sampled.hwm_reset {
            "VmHWM of each 10 s, reset after each reading"
        } else {
            "VmRSS sampled every 10 s"
        }
    );
    println!(
        "{:>6} {:>9} {:>9} {:>9}",
        "minute", "server A", "server B", "worker"
    );
    let minutes = sampled
        .samples
        .iter()
        .map(|s| ((s.at - 1.0).max(0.0) / 60.0).floor() as usize + 1)
        .max()
        .unwrap_or(0);
    for m in 0..minutes {
        let mut peak = [0.0f64; 3];
        for s in sampled
            .samples
            .iter()
            .filter(|s| ((s.at - 1.0).max(0.0) / 60.0).floor() as usize == m)
        {
            for (p, q) in peak.iter_mut().zip(s.peak) {
                *p = p.max(q);
            }
        }
        println!(
            "{:>6} {:>9.1} {:>9.1} {:>9.1}",
            m + 1,
            peak[0],
            peak[1],
            peak[2]
        );
    }
    let rest = soak_secs - warmup;
    let window_peak = |i: usize, from: f64, to: f64| {
        sampled
            .samples
            .iter()
            .filter(|s| s.at > from && s.at <= to)
            .map(|s| s.peak[i])
            .fold(0.0f64, f64::max)
    };
    for (i, name) in PROCESSES.iter().enumerate() {
        let overall = sampled
            .samples
            .iter()
            .map(|s| s.peak[i])
            .fold(0.0f64, f64::max);
        let first = window_peak(i, warmup, warmup + rest / 3.0);
        let last = window_peak(i, soak_secs - rest / 3.0, soak_secs + 1.0);
        let ratio = last / first;
        println!(
            "soak: {name}: idle {:.1} MiB, overall peak {overall:.1} MiB, after the drain {:.1} MiB; \
             peak of the last third {last:.1} / of the first third after {:.1} min warm-up {first:.1} = {ratio:.3}{}",
            idle[i],
            after_drain[i],
            warmup / 60.0,
            if ratio > 1.2 { "  (NOT FLAT)" } else { "" }
        );
        // Where the peak stepped up (by more than 2 MiB over all before).
        let mut high = 0.0f64;
        let mut steps = Vec::new();
        for sample in &sampled.samples {
            if sample.peak[i] > high + 2.0 {
                steps.push(format!("{:.0} s: {:.1}", sample.at, sample.peak[i]));
            }
            high = high.max(sample.peak[i]);
        }
        println!("soak:   {name}: new highs at {}", steps.join(", "));
        if ratio > 1.2 {
            findings.push(format!(
                "{name}: peak RSS grew {ratio:.2}x from the first to the last third"
            ));
        }
    }
    for gone in &sampled.gone {
        failures.push(format!("process gone: {gone}"));
    }
    for (name, process) in [
        ("server A", &mut server_a),
        ("server B", &mut server_b),
        ("worker", &mut worker),
    ] {
        if let Ok(Some(status)) = process.child.try_wait() {
            failures.push(format!("{name} exited during the soak: {status}"));
        }
    }

    println!("soak: well-behaved clients (target: zero errors):");
    for c in &clients {
        let mut lat = lock(&c.latencies).clone();
        let errors = c.errors.load(Ordering::Relaxed);
        println!(
            "soak:   {:<11} {:>6} requests, {errors} errors; {} p50 {:.3} s, p99 {:.3} s, max {:.3} s",
            c.name,
            c.requests.load(Ordering::Relaxed),
            if c.name == "subscriber" {
                "upload to all READY:"
            } else {
                "latency"
            },
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99),
            percentile(&mut lat, 1.0)
        );
        for m in lock(&c.messages).iter() {
            println!("soak:     error: {}", short(m));
        }
        if errors > 0 {
            failures.push(format!("{}: {errors} errors", c.name));
        }
    }
    if sub_client.requests.load(Ordering::Relaxed) == 0 {
        failures.push("the subscriber followed no image".into());
    }

    println!("soak: attacks (outcome: count):");
    for a in &attacks {
        println!(
            "soak:   {} — expected: {}; {} requests, {} findings",
            a.name,
            a.expected,
            a.sent.load(Ordering::Relaxed),
            a.findings.load(Ordering::Relaxed)
        );
        for (o, n) in lock(&a.outcomes).iter() {
            println!("soak:     {n:>6}  {o}");
        }
        for note in lock(&a.notes).iter() {
            println!("soak:     note: {note}");
        }
        if a.findings.load(Ordering::Relaxed) > 0 {
            findings.push(format!(
                "{}: {} findings",
                a.name,
                a.findings.load(Ordering::Relaxed)
            ));
        }
    }
    for (i, name) in ["A", "B"].iter().enumerate() {
        let (before, warm, after) = (
            metrics_before[i].len(),
            metrics_warm[i].len(),
            metrics_after[i].len(),
        );
        let grown = after as i64 - warm as i64;
        let invented = metrics_after[i].contains("Invented");
        let (start_series, warm_series, end_series) = (
            series(&metrics_before[i]),
            series(&metrics_warm[i]),
            series(&metrics_after[i]),
        );
        println!(
            "soak: /metrics of server {name}: {before} bytes at the start, {warm} after the warm-up, {after} at the end \
             ({grown:+} bytes since the warm-up); series {} / {} / {}{}",
            start_series.len(),
            warm_series.len(),
            end_series.len(),
            if invented {
                "; contains client-invented names"
            } else {
                ""
            }
        );
        let since_warm: Vec<&String> = end_series.difference(&warm_series).collect();
        let since_start = end_series.difference(&start_series).count();
        println!(
            "soak:   {since_start} series new since the start, {} since the warm-up{}",
            since_warm.len(),
            if since_warm.is_empty() { "" } else { ":" }
        );
        for s in since_warm.iter().take(12) {
            println!("soak:     {s}");
        }
        if grown > 4096 || invented {
            findings.push(format!(
                "/metrics of server {name} grew by {grown} bytes after the warm-up (invented names: {invented})"
            ));
        }
    }
    {
        let ids: Vec<String> = {
            let s = lock(&specials);
            s.png16
                .iter()
                .chain(&s.panoramas)
                .map(|i| format!("'{i}'"))
                .collect()
        };
        if !ids.is_empty() {
            let statuses = rows(
                &db,
                &format!(
                    "SELECT i.width::text || 'x' || i.height::text, t.height::text, t.status, coalesce(t.content_type, ''), count(*)::text \
                       FROM thumbnails t JOIN images i ON i.id = t.image_id WHERE t.image_id::text IN ({}) \
                      GROUP BY 1, 2, 3, 4 ORDER BY 1, 2",
                    ids.join(",")
                ),
            )
            .await?;
            for r in statuses {
                println!(
                    "soak: flood specials: {} at height {}: {} x {} ({})",
                    r[0], r[1], r[4], r[2], r[3]
                );
            }
        }
    }
    println!("soak: logs:");
    for log in [&server_a.log, &server_b.log, &worker.log] {
        println!("soak:   {}", log_summary(log));
    }

    println!(
        "soak: queue {} in {drain_secs:.0} s after the load",
        if drained { "drained" } else { "NOT drained" }
    );
    if !drained {
        failures.push(format!(
            "the job queue did not drain within {} minutes",
            opts.drain_minutes
        ));
    }
    failures.extend(consistency_failures);
    for f in &findings {
        println!("soak: FINDING: {f}");
    }
    worker.stop();
    server_a.stop();
    server_b.stop();
    drop(db);
    if failures.is_empty() {
        println!("soak: PASS: no errors for the well-behaved clients; rows and objects consistent");
        if !opts.keep {
            infra::drop_database(DATABASE).await?;
            let _ = std::fs::remove_dir_all(&storage);
        }
        Ok(())
    } else {
        for f in &failures {
            println!("soak: FAILURE: {f}");
        }
        println!(
            "soak: kept database {DATABASE} and {} for inspection",
            storage.display()
        );
        bail!("soak failed: {} failures", failures.len())
    }
}
