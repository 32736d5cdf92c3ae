//! Target 3: the read path. `images(first: 50)` with thumbnails and URLs
//! against `{ __typename }` on the same server, a page deep in 1,000,000
//! images against the first page, the query plans, and the cost of
//! presigning.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::json;

use crate::infra::{self, Env, Gql, S3Server, Server};

pub struct Options {
    pub clients: usize,
    pub seconds: f64,
    pub rounds: usize,
    pub images: i64,
    /// Keep (and reuse) the seeded database between runs.
    pub keep_db: bool,
    /// Record a perf profile of the server under the images(first: 50) load.
    pub perf: bool,
}

const DATABASE: &str = "iv_bench_read";

const PAGE_QUERY: &str = "query($n: Int!, $after: String) { images(first: $n, after: $after) { \
    edges { node { id filename contentType width height byteSize createdAt expiresAt originalUrl \
    thumbnails { height width status url } } } pageInfo { hasNextPage endCursor } } }";

pub async fn run(opts: &Options) -> anyhow::Result<()> {
    let reuse = opts.keep_db && infra::database_exists(DATABASE).await?;
    if !reuse {
        infra::drop_database(DATABASE).await?;
    }
    let s3 = S3Server::start("read").await?;
    let mut env = Env::new(DATABASE);
    s3.env(&mut env);
    // The read path only: no thumbnails to make.
    let (server, _) = Server::serve(&env, "read-serve", &["serve", "--no-workers"]).await?;
    let gql = if reuse {
        Gql::login(&server.base, "reader").await?
    } else {
        Gql::user(&env, &server.base, "reader", "Premium").await?
    };
    let db = infra::pg(DATABASE).await?;
    let owner = infra::scalar(&db, "SELECT id FROM users WHERE username = 'reader'").await?;
    seed(&db, &owner, opts.images).await?;

    // The cursor after which the deep page starts: 90 % of the way down.
    let depth = opts.images * 9 / 10;
    let row = infra::scalar(
        &db,
        &format!(
            "SELECT (extract(epoch FROM created_at) * 1000000)::int8 || ':' || id FROM images \
             WHERE owner_id = '{owner}' ORDER BY created_at DESC, id DESC OFFSET {} LIMIT 1",
            depth - 1
        ),
    )
    .await?;
    let deep_cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(row);

    let page = |after: Option<&str>| json!({ "query": PAGE_QUERY, "variables": { "n": 50, "after": after } });
    let first_body = page(None);
    let deep_body = page(Some(&deep_cursor));
    // Both answer 50 images with URLs.
    for (name, body) in [("first", &first_body), ("deep", &deep_body)] {
        let data = gql.query(PAGE_QUERY, body["variables"].clone()).await?;
        let edges = data["images"]["edges"].as_array().context("edges")?;
        anyhow::ensure!(edges.len() == 50, "{name} page has {} images", edges.len());
        anyhow::ensure!(
            edges[0]["node"]["thumbnails"][1]["url"].is_string(),
            "no URL"
        );
    }

    let cases: Vec<(&str, serde_json::Value, bool)> = vec![
        (
            "{ __typename } (with token)",
            json!({ "query": "{ __typename }" }),
            true,
        ),
        (
            "{ me { id } } (with token)",
            json!({ "query": "{ me { id } }" }),
            true,
        ),
        (
            "{ __typename } (anonymous)",
            json!({ "query": "{ __typename }" }),
            false,
        ),
        ("images(first: 50), first page", first_body.clone(), true),
        (
            "images(first: 50), page after 900,000 (90 %)",
            deep_body.clone(),
            true,
        ),
    ];
    println!(
        "read: {} images for one Premium user (3 presigned S3 URLs per image), {} clients, {} s per measurement, {} rounds",
        opts.images, opts.clients, opts.seconds, opts.rounds
    );
    let mut rates = vec![Vec::new(); cases.len()];
    let mut latencies = vec![Vec::new(); cases.len()];
    let mut server_ms = vec![Vec::new(); cases.len()];
    let mut postgres_ms = vec![Vec::new(); cases.len()];
    for round in 1..=opts.rounds {
        for (i, (name, body, auth)) in cases.iter().enumerate() {
            let m = load(
                &gql,
                &db,
                server.pid(),
                body,
                *auth,
                opts.clients,
                opts.seconds,
            )
            .await?;
            println!(
                "round {round}: {name:48} {:8.1} req/s  p50 {:6.2} ms  p99 {:6.2} ms  CPU/request: server {:.3} ms, Postgres {:.3} ms, clients {:.3} ms",
                m.rate, m.p50, m.p99, m.server_ms, m.postgres_ms, m.client_ms
            );
            rates[i].push(m.rate);
            latencies[i].push(m.p50);
            server_ms[i].push(m.server_ms);
            postgres_ms[i].push(m.postgres_ms);
        }
    }
    let med: Vec<f64> = rates.iter_mut().map(|r| infra::median(r)).collect();
    let lat: Vec<f64> = latencies.iter_mut().map(|r| infra::median(r)).collect();
    let cost: Vec<f64> = server_ms.iter_mut().map(|r| infra::median(r)).collect();
    let pg: Vec<f64> = postgres_ms.iter_mut().map(|r| infra::median(r)).collect();
    println!("read summary (medians over rounds):");
    for (i, (name, _, _)) in cases.iter().enumerate() {
        println!(
            "  {name:48} {:8.1} req/s  p50 {:6.2} ms  server CPU {:.3} ms/request, Postgres {:.3} ms",
            med[i], lat[i], cost[i], pg[i]
        );
    }
    // The cases' places in `cases`.
    let (trivial, page, deep) = (0, 3, 4);
    println!(
        "  images page / trivial (same token): {:.3} in requests/s, {:.3} in server CPU per request (target >= 0.25)",
        med[page] / med[trivial],
        cost[trivial] / cost[page]
    );
    println!(
        "  deep page / first page, latency: {:.3}, throughput: {:.3} (target: cost <= 1.5x)",
        lat[deep] / lat[page],
        med[page] / med[deep]
    );

    presign_cost(&s3).await?;
    explain(&env, &db, &gql, &deep_cursor).await?;

    if opts.perf {
        profile(&server, &gql, &first_body, opts).await?;
    }
    server.stop();
    if !opts.keep_db {
        drop(db);
        infra::drop_database(DATABASE).await?;
    }
    Ok(())
}

/// One INSERT ... SELECT generate_series of images (one a second, newest
/// now) and their two READY thumbnails, unless they are there already.
async fn seed(db: &tokio_postgres::Client, owner: &str, count: i64) -> anyhow::Result<()> {
    let have: i64 = infra::scalar(
        db,
        &format!("SELECT count(*) FROM images WHERE owner_id = '{owner}'"),
    )
    .await?
    .parse()?;
    if have >= count {
        println!("read: reusing {have} seeded images");
        return Ok(());
    }
    let started = Instant::now();
    db.batch_execute(&format!(
        "DELETE FROM images WHERE owner_id = '{owner}';
         INSERT INTO images (id, source_id, owner_id, filename, content_type, width, height, byte_size, created_at)
         SELECT u, u, '{owner}', 'seed-' || g || '.jpg', 'image/jpeg', 1920, 1080, 430000,
                now() - make_interval(secs => g)
           FROM (SELECT gen_random_uuid() AS u, g FROM generate_series(1, {count}) AS g) AS s;
         INSERT INTO thumbnails (image_id, height, status, width, pixel_height, byte_size, content_type)
         SELECT i.id, h.h, 'ready', h.h * 16 / 9, h.h, 20000, 'image/jpeg'
           FROM images i CROSS JOIN (VALUES (200), (400)) AS h(h)
          WHERE i.owner_id = '{owner}';"
    ))
    .await?;
    // Not in the batch above: VACUUM refuses to run in a transaction.
    db.batch_execute("VACUUM ANALYZE images").await?;
    db.batch_execute("VACUUM ANALYZE thumbnails").await?;
    println!(
        "read: seeded {count} images and {} thumbnails in {:.1} s",
        2 * count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `clients` tasks POST `body` back to back for `seconds` (after a 1 s
/// warm-up); returns requests per second, p50 and p99 latency in ms.
/// One load measurement.
struct Measured {
    rate: f64,
    p50: f64,
    p99: f64,
    /// CPU milliseconds per request of the server process and of this one
    /// (the clients).
    server_ms: f64,
    client_ms: f64,
    /// CPU milliseconds per request of the Postgres backends serving the
    /// server (those connected to the bench database when the measurement
    /// starts, but the bench's own).
    postgres_ms: f64,
}

async fn load(
    gql: &Gql,
    db: &tokio_postgres::Client,
    server_pid: u32,
    body: &serde_json::Value,
    auth: bool,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<Measured> {
    let body = Arc::new(serde_json::to_vec(body)?);
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (gql, body, stop, measuring) =
            (gql.clone(), body.clone(), stop.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut req = gql
                    .http
                    .post(&gql.url)
                    .header("content-type", "application/json")
                    .body(body.as_ref().clone());
                if auth {
                    req = req.bearer_auth(&gql.token);
                }
                let resp = req.send().await?;
                let ok = resp.status().is_success();
                let bytes = resp.bytes().await?;
                anyhow::ensure!(
                    ok && !bytes.windows(9).any(|w| w == b"\"errors\":"),
                    "request failed: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
                );
                if measuring.load(Ordering::Relaxed) {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            anyhow::Ok(lat)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu = |pid| crate::pipeline::cpu_seconds(pid);
    let backends = crate::pipeline::postgres_backends(db, DATABASE).await?;
    let postgres = || -> f64 { backends.iter().filter_map(|&p| cpu(p).ok()).sum() };
    let (server_before, client_before) = (cpu(server_pid)?, cpu(std::process::id())?);
    let postgres_before = postgres();
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let (server_cpu, client_cpu) = (
        cpu(server_pid)? - server_before,
        cpu(std::process::id())? - client_before,
    );
    let postgres_cpu = postgres() - postgres_before;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let n = all.len().max(1) as f64;
    Ok(Measured {
        rate: all.len() as f64 / elapsed,
        p50: pct(0.5),
        p99: pct(0.99),
        server_ms: server_cpu * 1000.0 / n,
        client_ms: client_cpu * 1000.0 / n,
        postgres_ms: postgres_cpu * 1000.0 / n,
    })
}

/// The plans Postgres really runs for the server's page queries: a second
/// server on the same database with `auto_explain` (ANALYZE, BUFFERS) turned
/// on for this database only, asked for each page 7 times (enough for a
/// prepared statement to switch to a generic plan), the plans read back from
/// the Postgres log (`PG_LOG`, default the Debian cluster's log file).
async fn explain(
    env: &Env,
    db: &tokio_postgres::Client,
    gql: &Gql,
    deep_cursor: &str,
) -> anyhow::Result<()> {
    let log_path = std::env::var("PG_LOG")
        .unwrap_or_else(|_| "/var/log/postgresql/postgresql-15-main.log".into());
    let Ok(before) = std::fs::metadata(&log_path).map(|m| m.len()) else {
        println!("explain: cannot read {log_path} (set PG_LOG); no plans recorded");
        return Ok(());
    };
    db.batch_execute(&format!(
        "ALTER DATABASE {DATABASE} SET session_preload_libraries = 'auto_explain';
         ALTER DATABASE {DATABASE} SET auto_explain.log_min_duration = 0;
         ALTER DATABASE {DATABASE} SET auto_explain.log_analyze = on;
         ALTER DATABASE {DATABASE} SET auto_explain.log_buffers = on;"
    ))
    .await?;
    let result = async {
        let (server, _) = Server::serve(env, "read-explain", &["serve", "--no-workers"]).await?;
        let client = Gql {
            url: format!("{}/graphql", server.base),
            ..gql.clone()
        };
        for after in [None, Some(deep_cursor)] {
            for _ in 0..7 {
                client
                    .query(PAGE_QUERY, json!({ "n": 50, "after": after }))
                    .await?;
            }
        }
        server.stop();
        anyhow::Ok(())
    }
    .await;
    db.batch_execute(&format!(
        "ALTER DATABASE {DATABASE} RESET session_preload_libraries;
         ALTER DATABASE {DATABASE} RESET auto_explain.log_min_duration;
         ALTER DATABASE {DATABASE} RESET auto_explain.log_analyze;
         ALTER DATABASE {DATABASE} RESET auto_explain.log_buffers;"
    ))
    .await?;
    result?;
    let log = std::fs::read(&log_path)?;
    let log = String::from_utf8_lossy(&log[usize::try_from(before)?.min(log.len())..]).into_owned();
    // A plan is a "duration: ... plan:" line and the tab-indented lines after it.
    let mut plans: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in log.lines() {
        if line.contains("duration:") && line.ends_with("plan:") {
            plans.extend(current.take());
            current = Some(format!(
                "{}\n",
                line.split_once("LOG:").map_or(line, |x| x.1).trim()
            ));
        } else if let Some(plan) = current.as_mut() {
            if line.starts_with('\t') || line.starts_with(' ') {
                plan.push_str(line);
                plan.push('\n');
            } else {
                plans.extend(current.take());
            }
        }
    }
    plans.extend(current);
    let pages: Vec<&String> = plans
        .iter()
        .filter(|p| p.contains("FROM \"images\"") && p.contains("LIMIT"))
        .collect();
    // 7 first pages then 7 deep pages; show the last of each.
    for (name, plan) in [
        ("first page", pages.get(6)),
        ("page after 900,000", pages.get(13)),
    ] {
        match plan {
            Some(plan) => println!(
                "auto_explain, {name} (7th execution):\n{}",
                plan.replace('\t', "    ")
            ),
            None => println!(
                "auto_explain: no plan found for the {name} ({} page plans in the log)",
                pages.len()
            ),
        }
    }
    // The page's thumbnails, in one query by image ids.
    if let Some(plan) = plans.iter().rfind(|p| p.contains("FROM \"thumbnails\"")) {
        println!(
            "auto_explain, the thumbnails of the deep page:\n{}",
            plan.replace('\t', "    ")
        );
    }
    Ok(())
}

/// Microseconds per `presign_get` on the S3 backend, in this process, as
/// the resolvers call it: new keys (signed by the SDK), then the same keys
/// again within the time bucket (from the cache).
async fn presign_cost(s3: &S3Server) -> anyhow::Result<()> {
    use image_vault::storage::{Storage, StorageKey};
    let storage = Storage::s3(s3.settings()).await?;
    let ttl = Duration::from_secs(3600);
    let now = SystemTime::now();
    // A page's worth of keys: 50 images x (original + 2 thumbnails).
    let page = || -> Vec<StorageKey> {
        (0..50)
            .flat_map(|_| {
                let id = uuid::Uuid::now_v7();
                [
                    StorageKey::original(id),
                    StorageKey::thumbnail(id, 200, "jpg"),
                    StorageKey::thumbnail(id, 400, "jpg"),
                ]
            })
            .collect()
    };
    let (mut signed, mut cached) = (Vec::new(), Vec::new());
    for round in 0..21 {
        // New keys: every URL is signed by the SDK (the cache misses).
        let keys = page();
        let started = Instant::now();
        for k in &keys {
            storage.presign_get_at(k, ttl, now).await?;
        }
        let miss = started.elapsed().as_secs_f64() * 1e6 / keys.len() as f64;
        // The same page again within the time bucket: every URL is a hit.
        let started = Instant::now();
        for k in &keys {
            storage.presign_get_at(k, ttl, now).await?;
        }
        let hit = started.elapsed().as_secs_f64() * 1e6 / keys.len() as f64;
        if round > 0 {
            signed.push(miss);
            cached.push(hit);
        }
    }
    let (miss, hit) = (infra::median(&mut signed), infra::median(&mut cached));
    println!(
        "presign_get (S3 backend, one task, median of 20 pages of 150 URLs): signing {miss:.1} us per URL \
         ({:.2} ms per page), cached {hit:.2} us per URL ({:.3} ms per page)",
        miss * 150.0 / 1000.0,
        hit * 150.0 / 1000.0
    );
    Ok(())
}

/// `perf record` of the server while the images page is under load.
async fn profile(
    server: &Server,
    gql: &Gql,
    body: &serde_json::Value,
    opts: &Options,
) -> anyhow::Result<()> {
    let data = infra::work_dir().join("read.perf.data");
    let seconds = opts.seconds.max(5.0);
    let mut perf = std::process::Command::new("perf")
        .args([
            "record",
            "-F",
            "499",
            "--call-graph",
            std::env::var("BENCH_PERF_CALLGRAPH")
                .as_deref()
                .unwrap_or("fp"),
            "-o",
        ])
        .arg(&data)
        .args(["-p", &server.pid().to_string(), "--", "sleep"])
        .arg(format!("{}", seconds + 1.0))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("perf record")?;
    let db = infra::pg(DATABASE).await?;
    let Measured { rate, p50, .. } =
        load(gql, &db, server.pid(), body, true, opts.clients, seconds).await?;
    let _ = perf.wait();
    println!(
        "perf: recorded {} under images(first: 50) load ({rate:.1} req/s, p50 {p50:.2} ms); \
         see `perf report -i {} --no-children --sort dso,symbol`",
        data.display(),
        data.display()
    );
    Ok(())
}
