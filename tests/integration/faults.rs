//! Faults caused for real: a worker killed with SIGKILL, object storage
//! down, the database dropping every connection, SIGTERM during work, and
//! several servers and workers sharing one database and one bucket.
//!
//! Work is held mid-way by a row lock that the test takes (the database
//! shows who waits for it), not by sleeping and hoping.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt as _;
use image_vault::db::schema::{jobs, thumbnails};
use image_vault::jobs::JobKind as _;
use image_vault::jobs::WorkerPool;
use image_vault::jobs::thumbnails::MakeThumbnails;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::db::url_for;
use crate::support::images::{self, dimensions};
use crate::support::process::{Process, ProcessEnv, log_field, wait_until};
use crate::support::s3::start_s3_server;
use crate::support::{TestApp, error_code, upload_to};

/// Deadline for conditions that take well under a second when all is well.
const SOON: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Helpers

/// A transaction of the test's own holding row locks, so that a server or
/// worker that needs the rows waits, visibly, until [`release`](Self::release).
struct RowLock {
    conn: AsyncPgConnection,
    pid: i32,
}

impl RowLock {
    async fn take(database_url: &str, select_for_update: &str) -> RowLock {
        let mut conn = AsyncPgConnection::establish(database_url)
            .await
            .expect("connect the lock holder");
        diesel::sql_query("BEGIN")
            .execute(&mut conn)
            .await
            .expect("begin");
        let rows = diesel::sql_query(select_for_update)
            .execute(&mut conn)
            .await
            .expect("lock rows");
        assert!(rows > 0, "nothing to lock: {select_for_update}");
        let pid = diesel::select(diesel::dsl::sql::<Integer>("pg_backend_pid()"))
            .get_result(&mut conn)
            .await
            .expect("backend pid");
        RowLock { conn, pid }
    }

    async fn release(mut self) {
        diesel::sql_query("ROLLBACK")
            .execute(&mut self.conn)
            .await
            .expect("release the row locks");
    }
}

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .expect("connect to the test database")
}

/// How the statement that marks a job's thumbnails READY begins (see
/// `Thumbnail::mark_made`), to find a worker waiting in it.
const MARK_MADE: &str = "WITH made AS";

/// The test's own connection to a database, to watch what the servers and
/// workers do. Shared (`&self`), so polling closures can borrow it.
struct Probe {
    conn: tokio::sync::Mutex<AsyncPgConnection>,
    /// The database's name, for `pg_stat_activity`.
    db: String,
}

impl Probe {
    async fn new(url: &str, db: &str) -> Probe {
        Probe {
            conn: tokio::sync::Mutex::new(connect(url).await),
            db: db.to_owned(),
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        diesel::dsl::sql::<BigInt>(sql)
            .get_result(&mut *self.conn.lock().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn pids(&self, sql: &str) -> Vec<i32> {
        diesel::dsl::sql::<Integer>(sql)
            .load(&mut *self.conn.lock().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Backends waiting for a lock while running a statement that starts
    /// with `statement` (e.g. [`MARK_MADE`]).
    async fn lock_waiters(&self, statement: &str) -> Vec<i32> {
        self.pids(&format!(
            "SELECT pid FROM pg_stat_activity
              WHERE datname = '{}' AND wait_event_type = 'Lock'
                AND query LIKE '{}%'",
            self.db,
            statement.replace('\'', "''")
        ))
        .await
    }

    /// Backends whose session is the job queue's `LISTEN`.
    async fn listeners(&self) -> Vec<i32> {
        self.pids(&format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = '{}' AND query = 'LISTEN {}'",
            self.db,
            image_vault::jobs::queue::CHANNEL
        ))
        .await
    }

    /// Every backend of the database but this probe's and `except`.
    async fn others(&self, except: i32) -> Vec<i32> {
        self.pids(&format!(
            "SELECT pid FROM pg_stat_activity
              WHERE datname = '{}' AND pid NOT IN (pg_backend_pid(), {except})",
            self.db
        ))
        .await
    }

    /// (id, status, locked_by, attempts) of the thumbnail jobs.
    async fn thumbnail_jobs(&self) -> Vec<(i64, String, Option<String>, i32)> {
        jobs::table
            .filter(jobs::kind.eq(MakeThumbnails::NAME))
            .select((jobs::id, jobs::status, jobs::locked_by, jobs::attempts))
            .order(jobs::id)
            .load(&mut *self.conn.lock().await)
            .await
            .expect("jobs")
    }

    /// (height, status) of an image's thumbnail rows.
    async fn thumbnail_rows(&self, id: Uuid) -> Vec<(i32, String)> {
        thumbnails::table
            .filter(thumbnails::image_id.eq(id))
            .select((thumbnails::height, thumbnails::status))
            .order(thumbnails::height)
            .load(&mut *self.conn.lock().await)
            .await
            .expect("thumbnails")
    }
}

/// Terminates backends (from the maintenance database) and waits until
/// they are gone.
async fn terminate(pids: &[i32]) {
    if pids.is_empty() {
        return;
    }
    let admin = Probe::new(&url_for("postgres"), "postgres").await;
    let list = pids
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    admin
        .count(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid IN ({list})"
        ))
        .await;
    let sql = format!("SELECT count(*) FROM pg_stat_activity WHERE pid IN ({list})");
    wait_until("terminated backends are gone", SOON, || async {
        match admin.count(&sql).await {
            0 => Ok(()),
            n => Err(format!("{n} still there")),
        }
    })
    .await;
}

fn ready(heights: &[i32]) -> Vec<(i32, String)> {
    heights.iter().map(|&h| (h, "ready".to_owned())).collect()
}

fn image_id(image: &Value) -> Uuid {
    image["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no image id in {image}"))
}

/// Log events with this message.
fn events<'a>(process: &'a [Value], message: &str) -> Vec<&'a Value> {
    process.iter().filter(|l| l["message"] == message).collect()
}

fn is_thumbnail_job(line: &Value) -> bool {
    log_field(line, "job.kind").and_then(Value::as_str) == Some(MakeThumbnails::NAME)
}

/// Asserts that an error reached the client as a stable code with a
/// message that gives nothing of the server's insides away.
fn assert_clean_error(body: &Value, codes: &[&str], secrets: &[&str]) {
    let code = error_code(body);
    assert!(
        codes.contains(&code),
        "code {code}, wanted one of {codes:?}: {body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    let lower = message.to_ascii_lowercase();
    for leak in [
        "127.0.0.1",
        "localhost",
        "postgres",
        "sql",
        "terminat",
        "dispatch",
        "refused",
        "socket",
        "backtrace",
        "panick",
    ]
    .iter()
    .chain(secrets)
    {
        assert!(
            !lower.contains(&leak.to_ascii_lowercase()),
            "the message leaks {leak:?}: {body}"
        );
    }
}

// ---------------------------------------------------------------------------
// 1. A worker killed mid-job

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_leaves_the_job_to_another_after_the_lease_and_it_is_made_once() {
    let s3 = start_s3_server().await;
    let t = TestApp::builder().s3(&s3).build().await;
    let token = t.user("kill9", "Premium").await;
    let image = t.upload(&token, "a.jpg", images::jpeg(640, 480)).await;
    let id = image_id(&image);
    let probe = Probe::new(&t.db.url, &t.db.name).await;
    let job_id = probe.thumbnail_jobs().await[0].0;

    // The worker will read the original, make both thumbnails, write both
    // objects, and then wait on this lock to mark them READY.
    let lock = RowLock::take(
        &t.db.url,
        &format!("SELECT 1 FROM thumbnails WHERE image_id = '{id}' FOR UPDATE"),
    )
    .await;
    let env = ProcessEnv::new(&t.db.url)
        .s3(&s3)
        .var("WORKERS", "1")
        .var("JOB_LEASE_SECONDS", "2");
    let mut doomed = Process::worker(&env, "doomed").await;
    let worker_tag = format!(":{}:", doomed.pid());
    let stuck = wait_until("the worker is mid-job", SOON, || async {
        let jobs = probe.thumbnail_jobs().await;
        let waiting = probe.lock_waiters(MARK_MADE).await;
        let held = matches!(
            jobs.as_slice(),
            [(_, status, Some(by), 1)] if status == "running" && by.contains(worker_tag.as_str())
        );
        if held && waiting.len() == 1 {
            Ok(waiting)
        } else {
            Err(format!("jobs {jobs:?}, lock waiters {waiting:?}"))
        }
    })
    .await;
    // Mid-job indeed: the thumbnail objects written, no row marked yet.
    let keys = s3.object_keys().await;
    let written: Vec<_> = keys
        .iter()
        .filter(|k| k.starts_with("thumbnails/"))
        .collect();
    assert_eq!(written.len(), 2, "{keys:?}");
    assert_eq!(
        probe.thumbnail_rows(id).await,
        vec![(200, "pending".into()), (400, "pending".into())]
    );

    doomed.kill();
    // Its connections die with it. Postgres would notice the one waiting for
    // the lock only once granted; end it now, as a dead host's would end.
    terminate(&stuck).await;
    lock.release().await;
    // Nothing happens to the job until its lease runs out.
    let jobs = probe.thumbnail_jobs().await;
    assert!(
        matches!(jobs.as_slice(), [(j, s, _, 1)] if *j == job_id && s == "running"),
        "{jobs:?}"
    );

    let rescuer = Process::worker(&env, "rescuer").await;
    wait_until(
        "the thumbnails are READY and the job is gone",
        SOON,
        || async {
            let rows = probe.thumbnail_rows(id).await;
            let jobs = probe.thumbnail_jobs().await;
            if rows == ready(&[200, 400]) && jobs.is_empty() {
                Ok(())
            } else {
                Err(format!("rows {rows:?}, jobs {jobs:?}"))
            }
        },
    )
    .await;

    // Exactly once: the same job, claimed a second time after the lease,
    // done once; each thumbnail marked once; nothing failed or left over.
    let rescued = rescuer.log_lines();
    let done: Vec<_> = events(&rescued, "job done")
        .into_iter()
        .filter(|l| is_thumbnail_job(l))
        .collect();
    assert_eq!(done.len(), 1, "{}", rescuer.tail());
    assert_eq!(log_field(done[0], "job.id"), Some(&json!(job_id)));
    assert_eq!(log_field(done[0], "attempt"), Some(&json!(2)));
    let mut marked: Vec<i64> = events(&rescued, "thumbnail ready")
        .iter()
        .filter_map(|l| log_field(l, "height")?.as_i64())
        .collect();
    marked.sort_unstable();
    assert_eq!(marked, vec![200, 400], "{}", rescuer.tail());
    let doomed_lines = doomed.log_lines();
    assert!(events(&doomed_lines, "thumbnail ready").is_empty());
    assert!(
        !events(&doomed_lines, "job done")
            .iter()
            .any(|l| is_thumbnail_job(l)),
        "{}",
        doomed.tail()
    );
    assert_eq!(
        probe
            .count("SELECT count(*) FROM jobs WHERE status = 'failed'")
            .await,
        0
    );
    assert_eq!(
        s3.object_keys().await,
        vec![
            format!("originals/{id}"),
            format!("thumbnails/{id}/200.jpg"),
            format!("thumbnails/{id}/400.jpg"),
        ]
    );
    let image = t.image(&token, &id.to_string()).await;
    for (height, width) in [(200, 267), (400, 533)] {
        let thumb = image["thumbnails"]
            .as_array()
            .and_then(|ts| ts.iter().find(|th| th["height"] == height))
            .unwrap_or_else(|| panic!("no {height} px thumbnail: {image}"));
        assert_eq!(thumb["status"], "READY");
        let (status, bytes) = t.download(thumb["url"].as_str().expect("url")).await;
        assert_eq!(status, 200);
        let (_, w, h) = dimensions(&bytes);
        assert_eq!((w, h), (width, u32::try_from(height).expect("height")));
    }
}

// ---------------------------------------------------------------------------
// 2. Object storage down during an upload

#[tokio::test]
async fn an_upload_while_storage_is_down_fails_cleanly_leaves_nothing_and_works_once_it_is_back() {
    let mut s3 = start_s3_server().await;
    if !s3.can_stop() {
        eprintln!("skipped: needs a stoppable S3 server");
        return;
    }
    // Every /readyz call checks anew (no cached answer).
    let t = TestApp::builder()
        .s3(&s3)
        .var("READY_CACHE_MS", "0")
        .build()
        .await;
    let token = t.user("outage", "Basic").await;
    let jpeg = images::jpeg(320, 240);
    let readyz = || async {
        let resp = t
            .http
            .get(format!("{}/readyz", t.base))
            .send()
            .await
            .expect("readyz");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.expect("readyz json"))
    };

    s3.stop().await;
    let (_, body) = t.upload_raw(&token, "a.jpg", jpeg.clone(), None).await;
    assert!(body["data"]["uploadImage"].is_null(), "{body}");
    assert_clean_error(
        &body,
        &["STORAGE_UNAVAILABLE", "INTERNAL"],
        &[
            &s3.endpoint,
            &s3.bucket,
            &s3.access_key_id,
            &s3.secret_access_key,
        ],
    );
    assert_eq!(t.count("images").await, 0);
    assert_eq!(t.count("thumbnails").await, 0);
    assert_eq!(t.count("jobs").await, 0);
    let (status, ready) = readyz().await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["storage"], "unavailable", "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");

    s3.restart().await;
    let (status, ready) = readyz().await;
    assert_eq!(status, 200, "{ready}");
    let image = t.upload(&token, "a.jpg", jpeg).await;
    let id = image_id(&image);
    assert_eq!(s3.object_keys().await, vec![format!("originals/{id}")]);
    assert_eq!(t.count("images").await, 1);
    assert_eq!(t.run_jobs().await, 1);
    let image = t.image(&token, &id.to_string()).await;
    assert_eq!(image["thumbnails"][0]["status"], "READY", "{image}");
}

// ---------------------------------------------------------------------------
// 3. The database drops every connection

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_database_connections_fail_requests_cleanly_and_every_pool_recovers_on_its_own() {
    let t = TestApp::new().await;
    let pool = WorkerPool::start(t.app.clone(), 1);
    let token = t.user("dbloss", "Basic").await;
    let me = t.gql_ok(Some(&token), "{ me { id } }", json!({})).await;
    let user_id = me["me"]["id"].as_str().expect("id").to_owned();
    let probe = Probe::new(&t.db.url, &t.db.name).await;
    let db = t.db.name.clone();
    let old_listeners = wait_until("the job listener listens", SOON, || async {
        let pids = probe.listeners().await;
        if pids.is_empty() {
            Err("none".to_owned())
        } else {
            Ok(pids)
        }
    })
    .await;

    // An upload held inside its transaction: its first insert (the hour's
    // upload count, then the image) needs a key-share lock on its owner's
    // row, which we hold.
    let lock = RowLock::take(
        &t.db.url,
        &format!("SELECT 1 FROM users WHERE id = '{user_id}' FOR UPDATE"),
    )
    .await;
    let in_flight = {
        let (http, base, token) = (t.http.clone(), t.base.clone(), token.clone());
        tokio::spawn(async move {
            upload_to(&http, &base, &token, "a.jpg", images::jpeg(320, 240), None).await
        })
    };
    let waiting = wait_until("the upload waits inside its transaction", SOON, || async {
        let waiting = probe.lock_waiters("INSERT INTO").await;
        if waiting.len() == 1 {
            Ok(waiting)
        } else {
            Err(format!("waiters {waiting:?}"))
        }
    })
    .await;

    // Every connection of the server and its workers goes.
    let victims = probe.others(lock.pid).await;
    assert!(
        waiting
            .iter()
            .chain(&old_listeners)
            .all(|p| victims.contains(p)),
        "the in-flight request's and the listener's backends are among {victims:?}"
    );
    terminate(&victims).await;

    let (status, body) = in_flight.await.expect("upload task");
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"].is_null() || body["data"]["uploadImage"].is_null(),
        "{body}"
    );
    assert_clean_error(&body, &["INTERNAL"], &[&db]);
    lock.release().await;
    // The original it had stored was removed with the failed transaction.
    assert_eq!(t.fs_objects(), Vec::<String>::new());

    // Requests right after succeed or fail cleanly; soon all succeed, with
    // no restart.
    let burst = futures_util::future::join_all((0..8).map(|_| {
        t.gql(
            Some(&token),
            "{ me { id } images { edges { node { id } } } }",
            json!({}),
        )
    }))
    .await;
    for body in &burst {
        if body.get("errors").is_some() {
            assert_clean_error(body, &["INTERNAL"], &[&db]);
        } else {
            assert_eq!(body["data"]["me"]["id"], user_id.as_str(), "{body}");
        }
    }
    wait_until("requests succeed again", SOON, || async {
        let body = t.gql(Some(&token), "{ me { id } }", json!({})).await;
        if body.get("errors").is_none() {
            Ok(())
        } else {
            Err(body.to_string())
        }
    })
    .await;
    assert_eq!(t.count("images").await, 0);

    // The workers' LISTEN connection came back by itself ...
    wait_until("a new job listener listens", SOON, || async {
        let pids = probe.listeners().await;
        if !pids.is_empty() && pids.iter().all(|p| !old_listeners.contains(p)) {
            Ok(())
        } else {
            Err(format!("listeners {pids:?}, before {old_listeners:?}"))
        }
    })
    .await;
    // ... and the pool makes the thumbnails of the next upload.
    let image = t.upload(&token, "a.jpg", images::jpeg(320, 240)).await;
    let id = image_id(&image);
    wait_until("the new upload's thumbnail is READY", SOON, || async {
        let rows = probe.thumbnail_rows(id).await;
        if rows == ready(&[200]) {
            Ok(())
        } else {
            Err(format!("{rows:?}"))
        }
    })
    .await;
    pool.shutdown(Duration::from_secs(10)).await;
}

// ---------------------------------------------------------------------------
// 4. SIGTERM while a request and a job run

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_accepting_finishes_the_request_and_job_in_flight_and_leaves_the_rest_queued()
{
    let s3 = start_s3_server().await;
    let t = TestApp::builder().s3(&s3).build().await;
    let token = t.user("term", "Basic").await;
    let probe = Probe::new(&t.db.url, &t.db.name).await;
    let first = image_id(&t.upload(&token, "first.jpg", images::jpeg(320, 240)).await);
    let first_job = probe.thumbnail_jobs().await[0].0;

    // The server's worker takes `first`'s job and waits on this lock to
    // mark its thumbnails READY.
    let lock = RowLock::take(
        &t.db.url,
        &format!("SELECT 1 FROM thumbnails WHERE image_id = '{first}' FOR UPDATE"),
    )
    .await;
    let env = ProcessEnv::new(&t.db.url)
        .s3(&s3)
        .var("WORKERS", "2")
        .var("RUST_LOG", "info,tower_http=debug,image_vault::jobs=debug");
    let mut server = Process::serve(&env, "server", &[]).await;
    wait_until("the server's worker is mid-job", SOON, || async {
        let waiting = probe.lock_waiters(MARK_MADE).await;
        if waiting.len() == 1 {
            Ok(())
        } else {
            Err(format!("waiters {waiting:?}"))
        }
    })
    .await;

    // An upload whose body arrives in two halves, the second after SIGTERM.
    let jpeg = images::jpeg(320, 240);
    let boundary = "image-vault-fault-boundary";
    let operations = json!({
        "query": "mutation($file: Upload!) { uploadImage(file: $file) { id } }",
        "variables": { "file": null },
    });
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.file\"]}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"slow.jpg\"\r\n\
         Content-Type: image/jpeg\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let (half, rest) = jpeg.split_at(jpeg.len() / 2);
    let mut part_one = head.into_bytes();
    part_one.extend_from_slice(half);
    let mut part_two = rest.to_vec();
    part_two.extend_from_slice(tail.as_bytes());
    let length = part_one.len() + part_two.len();
    let (send, receive) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    let body = futures_util::stream::unfold(receive, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    let request = reqwest::Client::new()
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .header("apollo-require-preflight", "true")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("content-length", length)
        .body(reqwest::Body::wrap_stream(body));
    let slow_upload = tokio::spawn(async move {
        let resp = request.send().await.expect("send the slow upload");
        let status = resp.status();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    });
    send.send(part_one).await.expect("first half");
    server
        .wait_for_log(SOON, |line| {
            line["message"] == "started processing request"
                && log_field(line, "method") == Some(&json!("POST"))
                && log_field(line, "path") == Some(&json!("/graphql"))
        })
        .await;

    server.terminate();
    let addr = server.base.trim_start_matches("http://").to_owned();
    wait_until("new connections are refused", SOON, || {
        let addr = addr.clone();
        async move {
            match tokio::net::TcpStream::connect(&addr).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    assert!(
        server.is_running(),
        "exited with a request and a job in flight"
    );

    // Enqueued after SIGTERM: a stopping server must not start it.
    let late = image_id(&t.upload(&token, "late.jpg", images::jpeg(320, 240)).await);

    send.send(part_two).await.expect("second half");
    let (status, body) = slow_upload.await.expect("slow upload task");
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let slow = image_id(&body["data"]["uploadImage"]);

    lock.release().await;
    let exit = server.wait_exit(Duration::from_secs(40)).await;
    assert!(exit.success(), "exit status {exit}\n{}", server.tail());

    // The job in flight was finished; the ones queued meanwhile were left
    // untouched for the next start.
    assert_eq!(probe.thumbnail_rows(first).await, ready(&[200]));
    let lines = server.log_lines();
    let done: Vec<_> = events(&lines, "job done")
        .into_iter()
        .filter(|l| log_field(l, "job.id") == Some(&json!(first_job)))
        .collect();
    assert_eq!(done.len(), 1, "{}", server.tail());
    let left = probe.thumbnail_jobs().await;
    assert_eq!(left.len(), 2, "{left:?}");
    for (_, status, locked_by, attempts) in &left {
        assert_eq!(
            (status.as_str(), locked_by, *attempts),
            ("queued", &None, 0),
            "{left:?}"
        );
    }

    let next = Process::serve(&env, "next", &[]).await;
    wait_until("every image READY after the next start", SOON, || async {
        let mut seen = Vec::new();
        for id in [first, slow, late] {
            seen.push(probe.thumbnail_rows(id).await);
        }
        let jobs = probe.thumbnail_jobs().await;
        if seen.iter().all(|rows| *rows == ready(&[200])) && jobs.is_empty() {
            Ok(())
        } else {
            Err(format!("rows {seen:?}, jobs {jobs:?}"))
        }
    })
    .await;
    drop(next);
}

// ---------------------------------------------------------------------------
// 5. Scale-out

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_and_two_workers_make_every_thumbnail_of_200_uploads_exactly_once() {
    const UPLOADS: usize = 200;
    let s3 = start_s3_server().await;
    let t = TestApp::builder().s3(&s3).build().await;
    let token = t.user("scale", "Premium").await;
    let env = ProcessEnv::new(&t.db.url).s3(&s3).var("WORKERS", "2");
    let (a, b, wa, wb) = tokio::join!(
        Process::serve(&env, "serve-a", &[]),
        Process::serve(&env, "serve-b", &[]),
        Process::worker(&env, "worker-a"),
        Process::worker(&env, "worker-b"),
    );
    let servers = [a.base.clone(), b.base.clone()];
    let http = reqwest::Client::new();
    let results: Vec<(reqwest::StatusCode, Value)> = futures_util::stream::iter(0..UPLOADS)
        .map(|i| {
            // Distinct bytes each: identical ones would be deduplicated.
            let (w, h) = (64 + (i % 50) as u32, 48 + (i / 50) as u32);
            let (http, base, token, jpeg) = (&http, &servers[i % 2], &token, images::jpeg(w, h));
            async move { upload_to(http, base, token, &format!("{i}.jpg"), jpeg, None).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut ids = HashSet::new();
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        ids.insert(image_id(&body["data"]["uploadImage"]));
    }
    assert_eq!(ids.len(), UPLOADS);

    let probe = Probe::new(&t.db.url, &t.db.name).await;
    let jobs_left = format!(
        "SELECT count(*) FROM jobs WHERE kind = '{}'",
        MakeThumbnails::NAME
    );
    wait_until(
        "every thumbnail READY and no job left",
        Duration::from_secs(120),
        || async {
            let ready = probe
                .count("SELECT count(*) FROM thumbnails WHERE status = 'ready'")
                .await;
            let jobs = probe.count(&jobs_left).await;
            if ready == 2 * UPLOADS as i64 && jobs == 0 {
                Ok(())
            } else {
                Err(format!("{ready} READY, {jobs} thumbnail jobs"))
            }
        },
    )
    .await;

    // No job failed, none is left, every image has exactly its plan's rows.
    assert_eq!(
        probe
            .count("SELECT count(*) FROM jobs WHERE status = 'failed'")
            .await,
        0
    );
    assert_eq!(
        probe.count("SELECT count(*) FROM thumbnails").await,
        2 * UPLOADS as i64
    );
    let keys = s3.object_keys().await;
    assert_eq!(
        keys.len(),
        3 * UPLOADS,
        "an original and two thumbnails each"
    );
    for id in &ids {
        for key in [
            format!("originals/{id}"),
            format!("thumbnails/{id}/200.jpg"),
            format!("thumbnails/{id}/400.jpg"),
        ] {
            assert!(keys.binary_search(&key).is_ok(), "missing {key}");
        }
    }

    // From the logs of all four processes: uploads were spread over both
    // servers, every job was done once, every thumbnail marked once.
    let processes = [&a, &b, &wa, &wb];
    let logs: Vec<Vec<Value>> = processes.iter().map(|p| p.log_lines()).collect();
    for (process, lines) in processes.iter().zip(&logs) {
        let errors: Vec<_> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
        assert!(errors.is_empty(), "{}: {errors:?}", process.name);
    }
    for (process, lines) in [(&a, &logs[0]), (&b, &logs[1])] {
        assert_eq!(
            events(lines, "image uploaded").len(),
            UPLOADS / 2,
            "{}",
            process.name
        );
    }
    let mut runs: HashMap<i64, usize> = HashMap::new();
    let mut marks: BTreeMap<(String, i64), usize> = BTreeMap::new();
    let mut by_process = Vec::new();
    for lines in &logs {
        let mut here = 0;
        for line in events(lines, "job done")
            .into_iter()
            .filter(|l| is_thumbnail_job(l))
        {
            let job = log_field(line, "job.id")
                .and_then(Value::as_i64)
                .expect("job.id");
            *runs.entry(job).or_default() += 1;
            here += 1;
        }
        by_process.push(here);
        for line in events(lines, "thumbnail ready") {
            let image = log_field(line, "image.id")
                .and_then(Value::as_str)
                .expect("image.id");
            let height = log_field(line, "height")
                .and_then(Value::as_i64)
                .expect("height");
            *marks.entry((image.to_owned(), height)).or_default() += 1;
        }
    }
    assert_eq!(
        runs.len(),
        UPLOADS,
        "thumbnail jobs done per process: {by_process:?}"
    );
    assert!(runs.values().all(|&n| n == 1), "a job ran twice: {runs:?}");
    assert_eq!(marks.len(), 2 * UPLOADS);
    let twice: Vec<_> = marks.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "thumbnails made more than once: {twice:?}"
    );
    eprintln!(
        "thumbnail jobs done per process (serve-a, serve-b, worker-a, worker-b): {by_process:?}"
    );
}
