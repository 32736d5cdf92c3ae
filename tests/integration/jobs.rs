//! The job queue: leases, retries, permanent failure, concurrent workers.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Duration as Span;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use image_vault::db::schema::{jobs, thumbnails};
use image_vault::jobs::{WorkerPool, queue, run_one};
use serde_json::json;

use crate::support::TestApp;
use crate::support::images;
use crate::support::s3::start_s3_server;

#[tokio::test]
async fn a_job_whose_worker_died_is_done_by_another_after_the_lease() {
    let t = TestApp::new().await;
    let token = t.user("lease", "Basic").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(300, 200)).await;
    // A worker claims the job and dies without finishing it.
    let mut conn = t.app.db.get().await.expect("conn");
    let now = t.clock.now();
    let claimed = queue::claim(&mut conn, "dead-worker", now, now + Span::seconds(60))
        .await
        .expect("claim")
        .expect("a job");
    // While the lease holds, nobody else takes it.
    assert_eq!(t.run_jobs().await, 0);
    t.clock.advance(Span::seconds(61));
    assert_eq!(
        run_one(&t.app, "rescuer").await.expect("run"),
        Some(claimed.id)
    );
    let image = t.image(&token, img["id"].as_str().expect("id")).await;
    assert_eq!(image["thumbnails"][0]["status"], "READY");
    assert_eq!(t.count("jobs").await, 0);
}

#[tokio::test]
async fn a_job_that_keeps_failing_ends_failed_with_its_thumbnails() {
    let mut s3 = start_s3_server().await;
    if !s3.can_stop() {
        eprintln!("skipped: needs a stoppable S3 server");
        return;
    }
    let t = TestApp::builder().s3(&s3).build().await;
    let token = t.user("retry", "Premium").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(300, 200)).await;
    s3.stop().await;
    // Every attempt fails (storage down); each retry waits for its backoff.
    let mut attempts = 0;
    for _ in 0..10 {
        if t.run_jobs().await == 0 {
            t.clock.advance(Span::minutes(20));
            continue;
        }
        attempts += 1;
    }
    assert_eq!(attempts, 5, "max attempts");
    let mut conn = t.app.db.get().await.expect("conn");
    let (status, error): (String, Option<String>) = jobs::table
        .select((jobs::status, jobs::last_error))
        .first(&mut conn)
        .await
        .expect("job row");
    assert_eq!(status, "failed");
    assert!(error.is_some());
    let image = t.image(&token, img["id"].as_str().expect("id")).await;
    for th in image["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(th["status"], "FAILED", "{image}");
        assert!(th["url"].is_null());
    }
    let reasons: Vec<Option<String>> = thumbnails::table
        .select(thumbnails::error)
        .load(&mut conn)
        .await
        .expect("rows");
    assert!(reasons.iter().all(Option::is_some));
}

#[tokio::test]
async fn storage_outage_during_a_job_is_retried_until_storage_returns() {
    let mut s3 = start_s3_server().await;
    if !s3.can_stop() {
        eprintln!("skipped: needs a stoppable S3 server");
        return;
    }
    let t = TestApp::builder().s3(&s3).build().await;
    let token = t.user("outage", "Basic").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(300, 200)).await;
    s3.stop().await;
    assert_eq!(t.run_jobs().await, 1);
    let image = t.image(&token, img["id"].as_str().expect("id")).await;
    assert_eq!(image["thumbnails"][0]["status"], "PENDING");
    s3.restart().await;
    t.clock.advance(Span::minutes(1));
    assert_eq!(t.run_jobs().await, 1);
    let image = t.image(&token, img["id"].as_str().expect("id")).await;
    assert_eq!(image["thumbnails"][0]["status"], "READY");
}

#[tokio::test]
async fn a_corrupt_image_fails_at_once_with_a_reason() {
    let t = TestApp::new().await;
    let token = t.user("corrupt", "Basic").await;
    // A valid header and trailer around garbage pixel data: passes the upload
    // checks, fails to decode.
    let mut png = images::png_with_alpha(64, 64);
    let len = png.len();
    for b in &mut png[60..len - 20] {
        *b = 0x5a;
    }
    let img = t.upload(&token, "broken.png", png).await;
    assert_eq!(t.run_jobs().await, 1);
    let image = t.image(&token, img["id"].as_str().expect("id")).await;
    assert_eq!(image["thumbnails"][0]["status"], "FAILED", "{image}");
}

#[tokio::test]
async fn two_worker_pools_never_run_the_same_job_twice() {
    let t = TestApp::new().await;
    let token = t.user("many", "Premium").await;
    for i in 0..12 {
        t.upload(&token, &format!("{i}.jpg"), images::jpeg(120, 90))
            .await;
    }
    let run = |name: &'static str| {
        let app = t.app.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            while let Some(id) = run_one(&app, name).await.expect("run") {
                ids.push(id);
            }
            ids
        })
    };
    let (a, b) = (run("pool-a"), run("pool-b"));
    let (a, b) = (a.await.expect("a"), b.await.expect("b"));
    let all: HashSet<i64> = a.iter().chain(b.iter()).copied().collect();
    assert_eq!(all.len(), a.len() + b.len(), "a job ran twice: {a:?} {b:?}");
    assert_eq!(all.len(), 12);
    let list = t
        .gql_ok(
            Some(&token),
            "{ images(first: 50) { edges { node { thumbnails { status } } } } }",
            json!({}),
        )
        .await;
    for edge in list["images"]["edges"].as_array().expect("edges") {
        for th in edge["node"]["thumbnails"].as_array().expect("thumbnails") {
            assert_eq!(th["status"], "READY");
        }
    }
}

#[tokio::test]
async fn the_worker_pool_is_woken_by_notifications() {
    let t = TestApp::new().await;
    // Workers of another process (on the same database and storage): the
    // upload cannot hand its job to them, so a notification must wake them.
    let other = image_vault::app::App::new(t.app.config.clone(), t.clock.clone())
        .await
        .expect("a second app");
    let pool = WorkerPool::start(other, 2);
    let token = t.user("live", "Basic").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(300, 200)).await;
    let id = img["id"].as_str().expect("id").to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let image = t.image(&token, &id).await;
        if image["thumbnails"][0]["status"] == "READY" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never READY: {image}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pool.shutdown(Duration::from_secs(5)).await;
}
