//! Uploads handed straight to an idle worker of the same process, and the
//! statements a thumbnail job costs either way.

use chrono::Duration as Span;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use image_vault::db::schema::{jobs, thumbnails};
use image_vault::jobs::thumbnails::MakeThumbnails;
use image_vault::storage::StorageKey;
use uuid::Uuid;

use crate::support::TestApp;
use crate::support::images;

async fn job_row(t: &TestApp) -> Option<(String, i32, Option<String>)> {
    let mut conn = t.app.db.get().await.expect("conn");
    jobs::table
        .filter(jobs::kind.eq("make_thumbnails"))
        .select((jobs::status, jobs::attempts, jobs::locked_by))
        .first(&mut conn)
        .await
        .optional()
        .expect("job")
}

async fn statuses(t: &TestApp, id: Uuid) -> Vec<String> {
    let mut conn = t.app.db.get().await.expect("conn");
    thumbnails::table
        .filter(thumbnails::image_id.eq(id))
        .select(thumbnails::status)
        .order(thumbnails::height)
        .load(&mut conn)
        .await
        .expect("thumbnails")
}

#[tokio::test]
async fn an_upload_hands_its_job_to_an_idle_worker_which_needs_no_storage_read_and_one_statement() {
    let t = TestApp::new().await;
    let token = t.user("handed", "Premium").await;
    // An idle worker of this process offers itself.
    let offered = t.app.handoff.offer("idle-worker");
    let img = t
        .upload(
            &token,
            "a.jpg",
            images::jpeg_with_comment(640, 480, b"handed"),
        )
        .await;
    let id: Uuid = img["id"].as_str().expect("id").parse().expect("uuid");
    let handed = offered.rx.await.expect("the upload hands its job over");
    // The durable record: claimed by that worker, on its first attempt.
    assert_eq!(
        job_row(&t).await,
        Some(("running".into(), 1, Some("idle-worker".into())))
    );
    assert_eq!(handed.work.image.id, id);
    assert_eq!(handed.work.heights, vec![200, 400]);
    // The worker reads the checked upload, not the stored original.
    t.app
        .storage
        .delete(&StorageKey::original(id))
        .await
        .expect("delete the original");
    let before = t.app.queries.get();
    MakeThumbnails::run_prepared(&t.app, handed.work)
        .await
        .expect("the handed job runs");
    assert_eq!(
        t.app.queries.get() - before,
        1,
        "both heights READY, the placeholder and the event in one statement"
    );
    assert_eq!(statuses(&t, id).await, ["ready", "ready"]);
    let image = t.image(&token, &id.to_string()).await;
    assert!(
        image["blurhash"].as_str().is_some_and(|h| h.len() >= 6),
        "{image}"
    );
    for th in image["thumbnails"].as_array().expect("thumbnails") {
        let (status, bytes) = t.download(th["url"].as_str().expect("url")).await;
        assert_eq!(status, 200);
        let (_, _, h) = images::dimensions(&bytes);
        assert_eq!(i64::from(h), th["height"].as_i64().expect("height"));
    }
}

#[tokio::test]
async fn a_refused_upload_leaves_the_idle_worker_to_the_next_one() {
    let t = TestApp::new().await;
    let token = t.user("refused", "Premium").await;
    let offered = t.app.handoff.offer("idle-worker");
    let (status, body) = t
        .upload_raw(&token, "not.jpg", b"not an image at all".to_vec(), None)
        .await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_some(), "{body}");
    assert!(job_row(&t).await.is_none());
    let next = t
        .upload(&token, "b.jpg", images::jpeg_with_comment(64, 48, b"b"))
        .await;
    let handed = offered.rx.await.expect("handed");
    assert_eq!(
        handed.work.image.id.to_string(),
        next["id"].as_str().expect("id")
    );
}

#[tokio::test]
async fn a_handed_job_whose_worker_never_runs_it_is_taken_from_the_table_after_its_lease() {
    let t = TestApp::new().await;
    let token = t.user("orphan", "Basic").await;
    let offered = t.app.handoff.offer("doomed-worker");
    let img = t
        .upload(
            &token,
            "a.jpg",
            images::jpeg_with_comment(300, 200, b"orphan"),
        )
        .await;
    // The worker dies holding it.
    drop(offered.rx.await.expect("handed"));
    assert_eq!(t.run_jobs().await, 0, "claimed by the handed worker");
    t.clock
        .advance(Span::from_std(t.app.config.job_lease).expect("lease") + Span::seconds(1));
    assert_eq!(t.run_jobs().await, 1);
    let id: Uuid = img["id"].as_str().expect("id").parse().expect("uuid");
    assert_eq!(statuses(&t, id).await, ["ready"]);
}

#[tokio::test]
async fn a_queued_thumbnail_job_costs_four_statements() {
    let t = TestApp::new().await;
    let token = t.user("queued", "Premium").await;
    let img = t
        .upload(
            &token,
            "a.jpg",
            images::jpeg_with_comment(640, 480, b"queued"),
        )
        .await;
    assert_eq!(job_row(&t).await.map(|j| j.0), Some("queued".into()));
    let before = t.app.queries.get();
    assert!(
        image_vault::jobs::run_one(&t.app, "w")
            .await
            .expect("run")
            .is_some()
    );
    // Claim, what to make (image, pending heights, plan, siblings), the
    // result (READY, placeholder, event), the job's end.
    assert_eq!(t.app.queries.get() - before, 4);
    let id: Uuid = img["id"].as_str().expect("id").parse().expect("uuid");
    assert_eq!(statuses(&t, id).await, ["ready", "ready"]);
    let image = t.image(&token, &id.to_string()).await;
    assert!(image["blurhash"].is_string(), "{image}");
}

#[tokio::test]
async fn an_upload_costs_a_bounded_number_of_statements() {
    let t = TestApp::new().await;
    let token = t.user("counted", "Premium").await;
    let mut costs = Vec::new();
    for i in 0..3 {
        let jpeg = images::jpeg_with_comment(320, 240, format!("counted {i}").as_bytes());
        let before = t.app.queries.get();
        t.upload(&token, "a.jpg", jpeg).await;
        costs.push(t.app.queries.get() - before);
    }
    println!("statements per upload: {costs:?}");
    // The viewer, quota, the dedup lookup, then one transaction (quota
    // again, the image, its pending thumbnails, the job).
    assert!(costs.iter().all(|&c| c <= 9), "{costs:?}");
    assert_eq!(costs[1], costs[2], "{costs:?}");
}

#[tokio::test]
async fn handoff_workers_take_only_what_uploads_hand_over() {
    let t = TestApp::new().await;
    let token = t.user("only", "Basic").await;
    // A job in the table, queued by another process's upload.
    let other = image_vault::app::App::new(t.app.config.clone(), t.clock.clone())
        .await
        .expect("a second app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let served = tokio::spawn(crate::support::serve_app(listener, other));
    let (status, queued) = crate::support::upload_to(
        &t.http,
        &base,
        &token,
        "queued.jpg",
        images::jpeg_with_comment(300, 200, b"queued"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{queued}");
    served.abort();
    let queued: Uuid = queued["data"]["uploadImage"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    // This process: no workers for the table, one for handed jobs.
    let pool = image_vault::jobs::WorkerPool::start(t.app.clone(), 0).with_handoff_workers(1);
    let handed = t
        .upload(
            &token,
            "handed.jpg",
            images::jpeg_with_comment(300, 200, b"handed"),
        )
        .await;
    let handed: Uuid = handed["id"].as_str().expect("id").parse().expect("uuid");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while statuses(&t, handed).await != ["ready"] {
        assert!(tokio::time::Instant::now() < deadline, "never READY");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        statuses(&t, queued).await,
        ["pending"],
        "the table's job is not taken"
    );
    pool.shutdown(std::time::Duration::from_secs(5)).await;
    // The table's job (and the pool's sweep) run inline afterwards.
    assert!(t.run_jobs().await >= 1);
    assert_eq!(statuses(&t, queued).await, ["ready"]);
}
