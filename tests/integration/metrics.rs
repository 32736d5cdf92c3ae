//! `/metrics` in Prometheus text format.

use serde_json::json;

use crate::support::{TestApp, images};

#[tokio::test]
async fn metrics_cover_requests_uploads_jobs_storage_and_the_pool() {
    let t = TestApp::new().await;
    let token = t.user("ops", "Basic").await;
    t.gql_ok(Some(&token), "query WhoAmI { me { id } }", json!({}))
        .await;
    let body = t.gql(None, "query WhoAmI { me { id } }", json!({})).await;
    assert!(body.get("errors").is_some());
    t.upload(&token, "a.jpg", images::jpeg(300, 200)).await;
    t.run_jobs().await;

    let resp = t
        .http
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .expect("scrape");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    let text = resp.text().await.expect("text");
    for needle in [
        r#"image_vault_graphql_requests_total{operation="me",outcome="ok"}"#,
        r#"image_vault_graphql_requests_total{operation="me",outcome="unauthenticated"}"#,
        "image_vault_graphql_request_duration_seconds_bucket",
        "image_vault_upload_bytes_total",
        r#"image_vault_jobs_enqueued_total{kind="make_thumbnails"}"#,
        r#"image_vault_jobs_finished_total{kind="make_thumbnails"}"#,
        "image_vault_job_duration_seconds_bucket",
        r#"image_vault_thumbnail_render_duration_seconds_bucket{source="lt_1mp""#,
        r#"image_vault_storage_request_duration_seconds_bucket{op="put",backend="fs""#,
        r#"image_vault_queue_depth{status="queued"}"#,
        "image_vault_queue_oldest_job_age_seconds",
        "image_vault_db_pool_connections",
        "image_vault_db_queries_total",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[tokio::test]
async fn the_request_id_is_returned_and_carried_into_the_jobs_it_enqueued() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use image_vault::db::schema::jobs;

    let t = TestApp::new().await;
    let token = t.user("tracer", "Basic").await;
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            r#"{"query":"mutation($f: Upload!) { uploadImage(file: $f) { id } }","variables":{"f":null}}"#,
        )
        .text("map", r#"{"0": ["variables.f"]}"#)
        .part(
            "0",
            reqwest::multipart::Part::bytes(images::jpeg(64, 64)).file_name("a.jpg"),
        );
    let resp = t
        .http
        .post(format!("{}/graphql", t.base))
        .bearer_auth(&token)
        .header("apollo-require-preflight", "true")
        .header("x-request-id", "trace-me-42")
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.headers()["x-request-id"], "trace-me-42");
    let mut conn = t.app.db.get().await.expect("conn");
    let ids: Vec<Option<String>> = jobs::table
        .select(jobs::request_id)
        .load(&mut conn)
        .await
        .expect("jobs");
    assert_eq!(ids, vec![Some("trace-me-42".to_owned())]);

    // Without a header the server makes one up and returns it.
    let resp = t
        .http
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.headers()["x-request-id"].len(), 36);
}
