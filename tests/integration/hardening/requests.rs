//! Request bodies, multipart boundaries, WebSocket messages, `/metrics`,
//! query cost, refused bodies that the client never stops sending, and
//! `/readyz`.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::process::{Process, ProcessEnv, free_port};
use crate::support::{TestApp, TestDb, error_code, images, ws_connect};

/// `{"query":"{__typename}","variables":{"a":[0,0,0,...]}}` of about `size` bytes.
fn json_bomb(size: usize) -> Vec<u8> {
    let mut body = br#"{"query":"{__typename}","variables":{"a":[0"#.to_vec();
    while body.len() + 4 < size {
        body.extend_from_slice(b",0");
    }
    body.extend_from_slice(b"]}}");
    body
}

/// Peak and current resident memory of a process, in bytes.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets the peak (Linux `clear_refs` 5) so that it starts from now;
/// returns the baseline to compare the next peak with.
fn reset_peak(pid: u32) -> u64 {
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let (peak, rss) = memory(pid);
    if reset { rss } else { peak }
}

#[tokio::test]
async fn three_maximal_anonymous_json_bodies_cost_the_server_little_memory() {
    let db = TestDb::new().await;
    let storage = tempfile::tempdir().expect("storage dir");
    let env =
        ProcessEnv::new(&db.url).var("STORAGE_DIR", storage.path().to_str().expect("utf-8 path"));
    let server = Process::serve(&env, "server", &["--no-workers"]).await;
    let http = reqwest::Client::new();
    let url = format!("{}/graphql", server.base);
    // Warm up: one ordinary request, so that idle includes what a first
    // request allocates anyway.
    let warm: Value = http
        .post(&url)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("warm-up")
        .json()
        .await
        .expect("json");
    assert_eq!(warm["data"]["__typename"], "Query");
    let idle = reset_peak(server.pid());

    let bomb = json_bomb(48 << 20);
    let mut sends = Vec::new();
    for chunked in [false, false, true] {
        let http = http.clone();
        let url = url.clone();
        let bomb = bomb.clone();
        sends.push(tokio::spawn(async move {
            let body = if chunked {
                // No Content-Length: the server must count as it reads.
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                    bomb.chunks(64 << 10).map(|c| Ok(c.to_vec())).collect();
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
                    let status = resp.status();
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    (Some(status), body)
                }
                // A chunked body cut off before its end may see the
                // connection close once the answer is written.
                Err(_) if chunked => (None, Value::Null),
                Err(e) => panic!("request failed: {e}"),
            }
        }));
    }
    for send in sends {
        let (status, body) = send.await.expect("task");
        if let Some(status) = status {
            assert_eq!(status, 413, "{body}");
            assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
        }
    }
    let (peak, _) = memory(server.pid());
    let above = peak.saturating_sub(idle);
    eprintln!("idle {idle} bytes, peak {peak} bytes, {above} above idle");
    assert!(
        above < 100 << 20,
        "three 48 MB JSON bodies raised the peak by {} MiB",
        above >> 20
    );

    // A query of ordinary size still works, and so does the largest allowed.
    let ok: Value = http
        .post(&url)
        .header("content-type", "application/json")
        .body(json_bomb(200 << 10))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(ok["data"]["__typename"], "Query", "{ok}");
}

#[tokio::test]
async fn oversized_multipart_operations_and_map_fields_are_refused() {
    let t = TestApp::new().await;
    let token = t.user("ops", "Basic").await;
    let big = String::from_utf8(json_bomb(2 << 20)).expect("utf-8");
    for (operations, map) in [
        (big.clone(), r#"{"0": ["variables.file"]}"#.to_owned()),
        (
            json!({ "query": "mutation($file: Upload!) { uploadImage(file: $file) { id } }", "variables": { "file": null } }).to_string(),
            format!(r#"{{"0": ["variables.file"], "x": [{}]}}"#, "\"a\",".repeat(1 << 19) + "\"a\""),
        ),
    ] {
        let form = reqwest::multipart::Form::new()
            .text("operations", operations)
            .text("map", map)
            .part(
                "0",
                reqwest::multipart::Part::bytes(images::jpeg(20, 20)).file_name("a.jpg"),
            );
        let resp = t
            .http
            .post(format!("{}/graphql", t.base))
            .bearer_auth(&token)
            .header("apollo-require-preflight", "true")
            .multipart(form)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 413);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("GraphQL request"),
            "{body}"
        );
    }
    assert_eq!(t.count("images").await, 0);
}

#[tokio::test]
async fn an_oversized_websocket_message_closes_the_socket() {
    use tokio_tungstenite::tungstenite::Message;
    let t = TestApp::new().await;
    let token = t.user("wsbig", "Basic").await;
    let mut ws = ws_connect(
        &t.base,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await;
    let ack = ws.next().await.expect("ack").expect("ack frame");
    assert!(ack.to_text().unwrap_or_default().contains("connection_ack"));
    let big = String::from_utf8(json_bomb(1 << 20)).expect("utf-8");
    let _ = ws
        .send(Message::text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": big } }).to_string(),
        ))
        .await;
    // The server ends the connection instead of buffering the message.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(ended, Ok(true), "the socket stayed open");
}

/// A multipart body of `files` JPEG parts named 0..files, all mapped.
fn multipart_body(boundary: &str, files: usize) -> Vec<u8> {
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
    let jpeg = images::jpeg(8, 8);
    for i in 0..files {
        field(
            &format!(
                "Content-Disposition: form-data; name=\"{i}\"; filename=\"{i}.jpg\"\r\nContent-Type: image/jpeg"
            ),
            &jpeg,
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn the_file_limit_holds_however_the_boundary_is_written() {
    let t = TestApp::builder()
        .var("MAX_FILES_PER_REQUEST", "5")
        .build()
        .await;
    let token = t.user("boundary", "Basic").await;
    for content_type in [
        "multipart/form-data; boundary=real",
        // A quoted parameter that contains `; boundary=...`: a naive split
        // on `;` finds a boundary the body never uses.
        r#"multipart/form-data; x="; boundary=zzz"; boundary=real"#,
        r#"Multipart/Form-Data; BOUNDARY="real""#,
        "multipart/form-data; charset=utf-8; boundary=real",
    ] {
        let resp = t
            .http
            .post(format!("{}/graphql", t.base))
            .bearer_auth(&token)
            .header("apollo-require-preflight", "true")
            .header("content-type", content_type)
            .body(multipart_body("real", 50))
            .send()
            .await
            .expect("send");
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        assert_eq!(status, 413, "{content_type}: {body}");
        assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    }
    assert_eq!(t.count("images").await, 0);
    // Within the limit, the same header shapes work.
    let resp = t
        .http
        .post(format!("{}/graphql", t.base))
        .bearer_auth(&token)
        .header("apollo-require-preflight", "true")
        .header(
            "content-type",
            r#"multipart/form-data; x="; boundary=zzz"; boundary=real"#,
        )
        .body(multipart_body("real", 5))
        .send()
        .await
        .expect("send");
    let body: Value = resp.json().await.expect("json");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(t.count("images").await, 5);
}

#[tokio::test]
async fn invented_operation_names_do_not_grow_the_metrics() {
    let t = TestApp::new().await;
    let token = t.user("names", "Basic").await;
    let scrape = || async {
        t.http
            .get(format!("{}/metrics", t.base))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text")
    };
    t.gql_ok(Some(&token), "query Warm { me { id } }", json!({}))
        .await;
    t.gql(None, "query { nope }", json!({})).await;
    let before = scrape().await;
    for i in 0..300 {
        let name = format!("Invented{i}");
        let query = if i % 2 == 0 {
            format!("query {name} {{ me {{ id }} }}")
        } else {
            format!("query {name} {{ nothing{i} }}")
        };
        let _ = t
            .http
            .post(format!("{}/graphql", t.base))
            .bearer_auth(&token)
            .json(&json!({ "query": query, "operationName": name }))
            .send()
            .await
            .expect("send");
    }
    let after = scrape().await;
    assert!(!after.contains("Invented"), "client names became labels");
    assert!(
        after.contains(r#"image_vault_graphql_requests_total{operation="me",outcome="ok"}"#),
        "{after}"
    );
    assert!(
        after.contains(r#"operation="other""#),
        "unknown fields are counted as other: {after}"
    );
    assert!(
        after.len() < before.len() + 4096,
        "300 invented names grew /metrics by {} bytes",
        after.len() - before.len()
    );
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let secret = "metrics-secret-0123456789";
    let t = TestApp::builder()
        .var("METRICS_TOKEN", secret)
        .build()
        .await;
    let url = format!("{}/metrics", t.base);
    let resp = t.http.get(&url).send().await.expect("scrape");
    assert_eq!(resp.status(), 401);
    let resp = t
        .http
        .get(&url)
        .bearer_auth("metrics-secret-0123456780")
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 401);
    let resp = t
        .http
        .get(&url)
        .bearer_auth(secret)
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("text").contains("image_vault_"));
}

#[tokio::test]
async fn metrics_can_listen_on_a_private_address_for_servers_and_workers() {
    let db = TestDb::new().await;
    let storage = tempfile::tempdir().expect("storage dir");
    let dir = storage.path().to_str().expect("utf-8 path");
    let port = free_port();
    let env = ProcessEnv::new(&db.url)
        .var("STORAGE_DIR", dir)
        .var("METRICS_BIND", format!("127.0.0.1:{port}"));
    let server = Process::serve(&env, "server", &["--no-workers"]).await;
    let http = reqwest::Client::new();
    let public = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("public");
    assert_eq!(public.status(), 404, "not on the public address");
    let private = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("private");
    assert_eq!(private.status(), 200);
    assert!(private.text().await.expect("text").contains("image_vault_"));

    let worker_port = free_port();
    let worker_env = ProcessEnv::new(&db.url)
        .var("STORAGE_DIR", dir)
        .var("METRICS_BIND", format!("127.0.0.1:{worker_port}"));
    let _worker = Process::worker(&worker_env, "worker").await;
    let text = http
        .get(format!("http://127.0.0.1:{worker_port}/metrics"))
        .send()
        .await
        .expect("worker metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains("image_vault_queue_depth"), "{text}");
}

#[tokio::test]
async fn query_cost_counts_the_size_of_every_page() {
    let t = TestApp::new().await;
    let token = t.user("costly", "Premium").await;
    let page = "images(first: 100) { edges { node { originalUrl thumbnails { url } } } }";
    // Eight pages of 100 images with URLs: about 2,400 presigned URLs.
    let aliases: String = (0..8).map(|i| format!("p{i}: {page} ")).collect();
    let body = t
        .gql(Some(&token), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("too complex"),
        "{body}"
    );
    // Variables count as literals do.
    let body = t
        .gql(
            Some(&token),
            "query($n: Int!) { a: images(first: $n) { edges { node { originalUrl thumbnails { url } } } } \
             b: images(first: $n) { edges { node { originalUrl thumbnails { url } } } } \
             c: images(first: $n) { edges { node { originalUrl thumbnails { url } } } } \
             d: images(first: $n) { edges { node { originalUrl thumbnails { url } } } } \
             e: images(first: $n) { edges { node { originalUrl thumbnails { url } } } } }",
            json!({ "n": 100 }),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    // One such page, and several small ones, are fine.
    t.gql_ok(Some(&token), &format!("{{ {page} }}"), json!({}))
        .await;
    let small: String = (0..4)
        .map(|i| format!("p{i}: images(first: 10) {{ edges {{ node {{ originalUrl thumbnails {{ url }} }} }} }} "))
        .collect();
    t.gql_ok(Some(&token), &format!("{{ {small} }}"), json!({}))
        .await;
    // Many cheap root fields are refused on their own.
    let me: String = (0..21).map(|i| format!("m{i}: me {{ id }} ")).collect();
    let body = t.gql(Some(&token), &format!("{{ {me} }}"), json!({})).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    // Fragments spread many times are measured once each, quickly (they
    // took async-graphql minutes of CPU to refuse).
    let mut fragments = String::from("fragment F0 on Query { me { id } }\n");
    for i in 1..=14 {
        let p = i - 1;
        fragments.push_str(&format!(
            "fragment F{i} on Query {{ ...F{p} ...F{p} ...F{p} ...F{p} }}\n"
        ));
    }
    let body = t
        .gql(
            Some(&token),
            &format!("{{ ...F14 }}\n{fragments}"),
            json!({}),
        )
        .await;
    assert!(body["errors"].is_array(), "{body}");
}

/// Sends a whole oversized request without reading, as Python's `requests`
/// does, then reads the answer.
async fn send_all_then_read(base: &str, head: String, body_len: usize) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b'x'; 64 << 10];
    let mut sent = 0;
    while sent < body_len {
        let n = chunk.len().min(body_len - sent);
        if stream.write_all(&chunk[..n]).await.is_err() {
            return String::from("<reset while sending>");
        }
        sent += n;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n")
                        && answer.windows(17).any(|w| w == b"PAYLOAD_TOO_LARGE")
                    {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_that_sends_its_whole_oversized_body_reads_the_413() {
    let t = TestApp::builder()
        .var("MAX_UPLOAD_BYTES", (1 << 20).to_string())
        .build()
        .await;
    let token = t.user("pyclient", "Basic").await;
    let host = t.base.trim_start_matches("http://").to_owned();
    // Declared too large (multipart), and a JSON body over its own limit.
    for (content_type, len) in [
        ("multipart/form-data; boundary=x", 12 << 20),
        ("application/json", 8 << 20),
    ] {
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
             Apollo-Require-Preflight: true\r\nContent-Type: {content_type}\r\n\
             Content-Length: {len}\r\n\r\n"
        );
        let answer = send_all_then_read(&t.base, head, len).await;
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "{content_type}: {answer:.300}"
        );
        assert!(answer.contains("PAYLOAD_TOO_LARGE"), "{answer:.300}");
    }
}

#[tokio::test]
async fn readiness_is_checked_at_most_once_per_cache_period() {
    let t = TestApp::builder()
        .var("READY_CACHE_MS", "60000")
        .build()
        .await;
    let ready = || async {
        t.http
            .get(format!("{}/readyz", t.base))
            .send()
            .await
            .expect("readyz")
            .status()
    };
    assert_eq!(ready().await, 200);
    let before = t.app.queries.get();
    let storage_dir = t.storage_dir.path().to_owned();
    let files_before = count_files(&storage_dir);
    let mut calls = Vec::new();
    for _ in 0..50 {
        calls.push(ready());
    }
    for status in futures_util::future::join_all(calls).await {
        assert_eq!(status, 200);
    }
    assert_eq!(t.app.queries.get(), before, "no SQL for cached answers");
    assert_eq!(count_files(&storage_dir), files_before);
}

fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        count_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Logins beside uploads: each password check needs 19 MiB of working
/// memory. Allocated per check, those buffers fragmented the heap and the
/// server's RSS stepped up by 19 MiB again and again (the 30-minute soak:
/// 104 to 199 MiB); now at most one per concurrent check is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_beside_uploads_keep_the_servers_memory_bounded() {
    let t = TestApp::new().await;
    t.create_user("hasher", "Premium", false).await;
    // A token from the in-process app: the server process has hashed nothing.
    let token = t.login("hasher", crate::support::PASSWORD).await;
    let env = ProcessEnv::new(&t.db.url).var(
        "STORAGE_DIR",
        t.storage_dir.path().to_str().expect("utf-8 path"),
    );
    let server = Process::serve(&env, "server", &["--no-workers"]).await;
    let http = reqwest::Client::new();
    let upload = |i: usize| {
        let (http, base, token) = (http.clone(), server.base.clone(), token.clone());
        async move {
            let jpeg = images::jpeg_with_comment(800, 600, format!("round {i}").as_bytes());
            let (status, body) =
                crate::support::upload_to(&http, &base, &token, "a.jpg", jpeg, None).await;
            assert_eq!(status, 200, "{body}");
            assert!(body.get("errors").is_none(), "{body}");
        }
    };
    upload(0).await;
    let idle = memory(server.pid()).1;
    let url = format!("{}/graphql", server.base);
    let mut peak = 0;
    for round in 1..=12 {
        let logins = (0..4).map(|_| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let body: Value = http
                    .post(&url)
                    .json(&json!({
                        "query": "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
                        "variables": { "u": "hasher", "p": crate::support::PASSWORD },
                    }))
                    .send()
                    .await
                    .expect("login")
                    .json()
                    .await
                    .expect("json");
                assert!(body["data"]["login"]["token"].is_string(), "{body}");
            }
        });
        let uploads = (0..3).map(|k| upload(round * 10 + k));
        futures_util::future::join(
            futures_util::future::join_all(logins),
            futures_util::future::join_all(uploads),
        )
        .await;
        peak = peak.max(memory(server.pid()).0);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let bound = cores * (19 << 20) + (24 << 20);
    let grown = peak.saturating_sub(idle);
    println!(
        "48 logins beside 36 uploads: peak {:.1} MiB above idle",
        grown as f64 / f64::from(1 << 20)
    );
    assert!(
        grown <= bound,
        "peak {} MiB above idle after 48 logins; at most {} MiB expected",
        grown >> 20,
        bound >> 20
    );
}
