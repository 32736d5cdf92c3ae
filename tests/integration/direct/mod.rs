//! Direct-to-storage uploads (`createUploadUrl`, a PUT straight to storage,
//! `completeUpload`), on both storage backends: the S3 server's presigned
//! PUT and the fs backend's signed `PUT /uploads/{id}`.

use chrono::Duration;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::images;
use crate::support::{Backend, IMAGE_FIELDS, TestApp, error_code, objects, setup};

mod limits;
mod staging;

pub(crate) const CREATE: &str = "mutation($f: String!, $n: Int!, $t: String!) { \
    createUploadUrl(filename: $f, byteSize: $n, contentType: $t) { \
    id url method headers { name value } expiresAt } }";

fn complete_query() -> String {
    format!(
        "mutation($id: ID!, $exp: Int) {{ completeUpload(id: $id, expiresIn: $exp) {{ {IMAGE_FIELDS} }} }}"
    )
}

async fn create_raw(
    t: &TestApp,
    token: &str,
    name: &str,
    size: usize,
    content_type: &str,
) -> Value {
    t.gql(
        Some(token),
        CREATE,
        json!({ "f": name, "n": size, "t": content_type }),
    )
    .await
}

/// Opens a direct upload for `bytes` and returns the target.
async fn create(t: &TestApp, token: &str, name: &str, bytes: &[u8], content_type: &str) -> Value {
    let body = create_raw(t, token, name, bytes.len(), content_type).await;
    assert!(body.get("errors").is_none(), "createUploadUrl: {body:#}");
    body["data"]["createUploadUrl"].clone()
}

/// Sends `body` as the target says; returns the status.
async fn put(t: &TestApp, target: &Value, body: Vec<u8>) -> StatusCode {
    assert_eq!(target["method"], "PUT");
    let mut req = t.http.put(target["url"].as_str().expect("url")).body(body);
    for h in target["headers"].as_array().expect("headers") {
        req = req.header(
            h["name"].as_str().expect("name"),
            h["value"].as_str().expect("value"),
        );
    }
    req.send().await.expect("PUT").status()
}

/// Every object but the empty tombstones that closed S3 uploads leave at
/// their key until the slot is swept (see `Storage::close_upload`).
async fn stored(t: &TestApp, s3: &Option<crate::support::s3::TestS3>) -> Vec<String> {
    let mut keys = objects(t, s3).await;
    if let Some(s3) = s3 {
        let mut kept = Vec::new();
        for key in keys {
            let head = s3
                .client()
                .head_object()
                .bucket(&s3.bucket)
                .key(&key)
                .send()
                .await
                .expect("head");
            if !(key.starts_with("uploads/") && head.content_length() == Some(0)) {
                kept.push(key);
            }
        }
        keys = kept;
    }
    keys
}

async fn complete(t: &TestApp, token: &str, id: &Value) -> Value {
    t.gql(Some(token), &complete_query(), json!({ "id": id }))
        .await
}

async fn complete_ok(t: &TestApp, token: &str, id: &Value) -> Value {
    let body = complete(t, token, id).await;
    assert!(body.get("errors").is_none(), "completeUpload: {body:#}");
    body["data"]["completeUpload"].clone()
}

// ---------------------------------------------------------------------------
// The whole flow

async fn direct_upload_becomes_an_image_with_ready_thumbnails(backend: Backend) {
    // Far over the multipart limit: direct uploads have their own.
    let (t, s3) = setup(backend, &[("MAX_UPLOAD_BYTES", "4096")]).await;
    let token = t.user("dora", "Premium").await;
    let jpeg = images::jpeg(1600, 1200);
    assert!(jpeg.len() > 4096);

    let target = create(&t, &token, "../big photo.jpg", &jpeg, "image/jpeg").await;
    let headers = target["headers"].as_array().expect("headers");
    let mut expected = vec![json!({ "name": "content-type", "value": "image/jpeg" })];
    if backend == Backend::S3 {
        // One successful PUT per URL (see `Storage::close_upload`).
        expected.push(json!({ "name": "if-none-match", "value": "*" }));
    }
    assert_eq!(
        headers, &expected,
        "only what a client must set; Content-Length comes from the body"
    );
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(target["expiresAt"].as_str().expect("expiresAt"))
            .expect("expiresAt is a date");
    let valid_for = expires_at.with_timezone(&chrono::Utc) - t.clock.now();
    assert!(
        valid_for > Duration::minutes(14) && valid_for <= Duration::minutes(15),
        "{valid_for}"
    );
    assert_eq!(put(&t, &target, jpeg.clone()).await, StatusCode::OK);
    let staged = objects(&t, &s3).await;
    assert_eq!(
        staged,
        vec![format!("uploads/{}", target["id"].as_str().expect("id"))]
    );

    let image = complete_ok(&t, &token, &target["id"]).await;
    assert_eq!(image["filename"], "big photo.jpg");
    assert_eq!(image["contentType"], "image/jpeg");
    assert_eq!(image["width"], 1600);
    assert_eq!(image["height"], 1200);
    assert_eq!(image["byteSize"], jpeg.len());
    for th in image["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(th["status"], "PENDING");
    }

    assert_eq!(t.run_jobs().await, 1);
    let image = t.image(&token, image["id"].as_str().expect("id")).await;
    for th in image["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(th["status"], "READY", "{image}");
        let (status, bytes) = t.download(th["url"].as_str().expect("url")).await;
        assert_eq!(status, 200);
        assert_eq!(
            i64::from(images::dimensions(&bytes).2),
            th["height"].as_i64().expect("height")
        );
    }
    let (status, original) = t
        .download(image["originalUrl"].as_str().expect("originalUrl"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(original, jpeg, "the original comes back byte for byte");

    // The staged object is gone: the original and two thumbnails remain.
    let kept = stored(&t, &s3).await;
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.iter().all(|k| !k.starts_with("uploads/")), "{kept:?}");
}

#[tokio::test]
async fn direct_upload_becomes_an_image_with_ready_thumbnails_fs() {
    direct_upload_becomes_an_image_with_ready_thumbnails(Backend::Fs).await;
}

#[tokio::test]
async fn direct_upload_becomes_an_image_with_ready_thumbnails_s3() {
    direct_upload_becomes_an_image_with_ready_thumbnails(Backend::S3).await;
}

// ---------------------------------------------------------------------------
// Size and type are bound to the URL

async fn a_body_of_another_size_or_type_is_refused(backend: Backend) {
    let (t, s3) = setup(backend, &[]).await;
    let token = t.user("sid", "Basic").await;
    let png = images::png_with_alpha(300, 200);
    let target = create(&t, &token, "a.png", &png, "image/png").await;

    let longer = [png.clone(), vec![0]].concat();
    let shorter = png[..png.len() - 1].to_vec();
    for body in [longer, shorter] {
        let status = put(&t, &target, body).await;
        assert!(status.is_client_error(), "{status}");
    }
    let mut wrong_type = target.clone();
    wrong_type["headers"] = json!([{ "name": "content-type", "value": "image/jpeg" }]);
    let status = put(&t, &wrong_type, png.clone()).await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(objects(&t, &s3).await, Vec::<String>::new());

    // Nothing arrived, so nothing to complete; the upload stays open.
    let body = complete(&t, &token, &target["id"]).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(put(&t, &target, png.clone()).await, StatusCode::OK);
    let image = complete_ok(&t, &token, &target["id"]).await;
    assert_eq!(image["byteSize"], png.len());
}

#[tokio::test]
async fn a_body_of_another_size_or_type_is_refused_fs() {
    a_body_of_another_size_or_type_is_refused(Backend::Fs).await;
}

#[tokio::test]
async fn a_body_of_another_size_or_type_is_refused_s3() {
    a_body_of_another_size_or_type_is_refused(Backend::S3).await;
}

#[tokio::test]
async fn the_fs_upload_url_refuses_bad_requests_with_the_right_status() {
    let t = TestApp::new().await;
    let token = t.user("fiona", "Basic").await;
    let jpeg = images::jpeg(320, 240);
    let target = create(&t, &token, "a.jpg", &jpeg, "image/jpeg").await;
    let url = target["url"].as_str().expect("url");
    let send = |url: String, len: Option<usize>, body: Vec<u8>| {
        let http = t.http.clone();
        async move {
            let mut req = http.put(url).header("content-type", "image/jpeg");
            req = match len {
                Some(_) => req.body(body),
                // A stream: chunked, without Content-Length.
                None => req.body(reqwest::Body::wrap_stream(futures_util::stream::iter([
                    Ok::<_, std::io::Error>(body),
                ]))),
            };
            req.send().await.expect("PUT").status()
        }
    };
    let n = jpeg.len();
    assert_eq!(send(url.into(), None, jpeg.clone()).await, 411);
    assert_eq!(
        send(url.into(), Some(n + 1), [jpeg.clone(), vec![0]].concat()).await,
        413
    );
    assert_eq!(
        send(url.into(), Some(n - 1), jpeg[..n - 1].to_vec()).await,
        400
    );

    // The size, the expiry and the key are all signed.
    let tampered = [
        url.replace(&format!("size={n}"), &format!("size={}", n + 1)),
        url.replace("expires=", "expires=1"),
        url.replace("sig=", "sig=A"),
        url.split("&sig=").next().expect("url").to_owned(),
    ];
    for url in tampered {
        assert_eq!(send(url.clone(), Some(n), jpeg.clone()).await, 403, "{url}");
    }
    // Another slot's signature does not open this one.
    let other = create(&t, &token, "b.jpg", &jpeg, "image/jpeg").await;
    let other_url = other["url"].as_str().expect("url");
    let (_, other_query) = other_url.split_once('?').expect("query");
    let (this_path, _) = url.split_once('?').expect("query");
    assert_eq!(
        send(format!("{this_path}?{other_query}"), Some(n), jpeg.clone()).await,
        403
    );
    // Nor does a signature on the path of a /files URL.
    let files_like = url.replace("/uploads/", "/files/uploads/");
    assert_ne!(send(files_like, Some(n), jpeg.clone()).await, 200);
    assert_eq!(t.fs_objects(), Vec::<String>::new());

    assert_eq!(send(url.into(), Some(n), jpeg.clone()).await, 200);
    complete_ok(&t, &token, &target["id"]).await;
    // A completed upload takes no more bytes.
    assert_eq!(send(url.into(), Some(n), jpeg.clone()).await, 409);
    // And an expired URL none at all.
    t.clock.advance(Duration::minutes(16));
    let other_url = other["url"].as_str().expect("url");
    assert_eq!(send(other_url.into(), Some(n), jpeg).await, 403);
}

// ---------------------------------------------------------------------------
// Content is checked at completion

async fn refused_content_leaves_nothing_behind(backend: Backend) {
    let (t, s3) = setup(backend, &[("MAX_IMAGE_PIXELS", "1000000")]).await;
    let token = t.user("rita", "Premium").await;
    let jpeg = images::jpeg(400, 300);
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "text",
            b"just some text, not an image at all".to_vec(),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "truncated",
            jpeg[..jpeg.len() / 2].to_vec(),
            "BAD_USER_INPUT",
        ),
        (
            "too many pixels",
            images::jpeg_bomb(2000, 2000),
            "BAD_USER_INPUT",
        ),
    ];
    for (what, bytes, code) in cases {
        let target = create(&t, &token, "x.jpg", &bytes, "image/jpeg").await;
        assert_eq!(
            put(&t, &target, bytes.clone()).await,
            StatusCode::OK,
            "{what}"
        );
        let body = complete(&t, &token, &target["id"]).await;
        assert_eq!(error_code(&body), code, "{what}: {body}");

        assert_eq!(stored(&t, &s3).await, Vec::<String>::new(), "{what}");
        assert_eq!(t.count("images").await, 0, "{what}");
        assert_eq!(t.count("thumbnails").await, 0, "{what}");
        assert_eq!(t.count("jobs").await, 0, "{what}");
        // The upload is closed: neither completing nor sending works again.
        let again = complete(&t, &token, &target["id"]).await;
        assert_eq!(error_code(&again), "BAD_USER_INPUT", "{what}: {again}");
        if s3.is_none() {
            assert_eq!(put(&t, &target, bytes).await, StatusCode::CONFLICT);
        }
    }
}

#[tokio::test]
async fn refused_content_leaves_nothing_behind_fs() {
    refused_content_leaves_nothing_behind(Backend::Fs).await;
}

#[tokio::test]
async fn refused_content_leaves_nothing_behind_s3() {
    refused_content_leaves_nothing_behind(Backend::S3).await;
}

// ---------------------------------------------------------------------------
// Ownership, repetition, expiry

#[tokio::test]
async fn another_users_upload_is_not_found() {
    let t = TestApp::new().await;
    let alice = t.user("alice", "Basic").await;
    let mallory = t.user("mallory", "Basic").await;
    let jpeg = images::jpeg(200, 100);
    let target = create(&t, &alice, "a.jpg", &jpeg, "image/jpeg").await;
    assert_eq!(put(&t, &target, jpeg).await, StatusCode::OK);

    for id in [
        target["id"].clone(),
        json!(uuid::Uuid::now_v7().to_string()),
        json!("not-an-id"),
    ] {
        let body = complete(&t, &mallory, &id).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{id}: {body}");
    }
    let body = t
        .gql(None, &complete_query(), json!({ "id": target["id"] }))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    // Still Alice's to complete.
    complete_ok(&t, &alice, &target["id"]).await;
    assert_eq!(t.count("images").await, 1);
}

#[tokio::test]
async fn completing_twice_makes_one_image() {
    let t = TestApp::new().await;
    let token = t.user("tom", "Basic").await;
    let jpeg = images::jpeg(300, 300);
    let target = create(&t, &token, "a.jpg", &jpeg, "image/jpeg").await;
    assert_eq!(put(&t, &target, jpeg.clone()).await, StatusCode::OK);
    complete_ok(&t, &token, &target["id"]).await;
    let again = complete(&t, &token, &target["id"]).await;
    assert_eq!(error_code(&again), "BAD_USER_INPUT", "{again}");
    assert_eq!(t.count("images").await, 1);

    // At the same time: both check and copy the file, then meet at the
    // slot's row, which the test holds until both wait for it. One wins,
    // the other is told so and removes its copy.
    let png = images::png_with_alpha(120, 80);
    let target = create(&t, &token, "b.png", &png, "image/png").await;
    assert_eq!(put(&t, &target, png).await, StatusCode::OK);
    let id = target["id"].as_str().expect("id");
    let mut holder = AsyncPgConnection::establish(&t.db.url)
        .await
        .expect("connect");
    let mut probe = AsyncPgConnection::establish(&t.db.url)
        .await
        .expect("connect");
    diesel::sql_query("BEGIN")
        .execute(&mut holder)
        .await
        .expect("begin");
    diesel::sql_query(format!(
        "SELECT 1 FROM upload_slots WHERE id = '{id}' FOR UPDATE"
    ))
    .execute(&mut holder)
    .await
    .expect("lock the slot");
    let waiting = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
         AND wait_event_type = 'Lock' AND query LIKE 'UPDATE \"upload_slots\"%'",
        t.db.name
    );
    let ((a, b), ()) = tokio::join!(
        async {
            tokio::join!(
                complete(&t, &token, &target["id"]),
                complete(&t, &token, &target["id"])
            )
        },
        async {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let n: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&waiting)
                    .get_result(&mut probe)
                    .await
                    .expect("count waiters");
                if n == 2 {
                    break;
                }
                assert!(
                    std::time::Instant::now() < until,
                    "both completions never met"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            diesel::sql_query("COMMIT")
                .execute(&mut holder)
                .await
                .expect("release");
        }
    );
    let ok = [&a, &b]
        .iter()
        .filter(|r| r.get("errors").is_none())
        .count();
    assert_eq!(ok, 1, "{a}\n{b}");
    assert_eq!(t.count("images").await, 2);
    // Two originals, no leftovers (staged objects or copies of the loser).
    let stored = t.fs_objects();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(
        stored.iter().all(|k| k.starts_with("originals/")),
        "{stored:?}"
    );
}

async fn expired_uploads_are_swept_with_their_objects(backend: Backend) {
    let (t, s3) = setup(backend, &[]).await;
    let token = t.user("eve", "Basic").await;
    let jpeg = images::jpeg(200, 150);
    let sent = create(&t, &token, "a.jpg", &jpeg, "image/jpeg").await;
    assert_eq!(put(&t, &sent, jpeg.clone()).await, StatusCode::OK);
    let _abandoned = create(&t, &token, "b.jpg", &jpeg, "image/jpeg").await;
    let done = create(
        &t,
        &token,
        "c.png",
        &images::png_with_alpha(10, 10),
        "image/png",
    )
    .await;
    assert_eq!(
        put(&t, &done, images::png_with_alpha(10, 10)).await,
        StatusCode::OK
    );
    complete_ok(&t, &token, &done["id"]).await;
    assert_eq!(t.count("upload_slots").await, 3);

    // Before expiry the sweeper leaves them alone.
    let report = image_vault::jobs::sweep::sweep(&t.app)
        .await
        .expect("sweep");
    assert_eq!(report.uploads, 0);
    assert_eq!(stored(&t, &s3).await.len(), 2);

    t.clock.advance(Duration::minutes(16));
    let body = complete(&t, &token, &sent["id"]).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired")),
        "{body}"
    );

    let report = image_vault::jobs::sweep::sweep(&t.app)
        .await
        .expect("sweep");
    assert_eq!(report.uploads, 3);
    assert_eq!(t.count("upload_slots").await, 0);
    let stored = objects(&t, &s3).await;
    assert_eq!(
        stored.len(),
        1,
        "only the completed image's original: {stored:?}"
    );
    assert!(stored[0].starts_with("originals/"));
    let again = image_vault::jobs::sweep::sweep(&t.app)
        .await
        .expect("sweep");
    assert_eq!(again, image_vault::jobs::sweep::SweepReport::default());
}

#[tokio::test]
async fn expired_uploads_are_swept_with_their_objects_fs() {
    expired_uploads_are_swept_with_their_objects(Backend::Fs).await;
}

#[tokio::test]
async fn expired_uploads_are_swept_with_their_objects_s3() {
    expired_uploads_are_swept_with_their_objects(Backend::S3).await;
}

#[tokio::test]
async fn the_same_bytes_sent_directly_reuse_the_stored_original() {
    let t = TestApp::new().await;
    let token = t.user("dedo", "Basic").await;
    let jpeg = images::jpeg(500, 400);
    let first = t.upload(&token, "a.jpg", jpeg.clone()).await;
    t.run_jobs().await;
    let before = t.fs_objects();

    let target = create(&t, &token, "again.jpg", &jpeg, "image/jpeg").await;
    assert_eq!(put(&t, &target, jpeg).await, StatusCode::OK);
    let second = complete_ok(&t, &token, &target["id"]).await;
    assert_ne!(first["id"], second["id"]);
    t.run_jobs().await;
    assert_eq!(
        t.fs_objects(),
        before,
        "no new original, no staged leftover"
    );
    let image = t.image(&token, second["id"].as_str().expect("id")).await;
    assert_eq!(image["thumbnails"][0]["status"], "READY", "{image}");
}

// ---------------------------------------------------------------------------
// createUploadUrl's own checks

#[tokio::test]
async fn create_upload_url_checks_its_arguments() {
    let t = TestApp::builder()
        .var("MAX_DIRECT_UPLOAD_BYTES", "100000")
        .build()
        .await;
    let token = t.user("carl", "Basic").await;
    for (size, content_type, code) in [
        (0, "image/jpeg", "BAD_USER_INPUT"),
        (100_001, "image/jpeg", "PAYLOAD_TOO_LARGE"),
        (1000, "image/svg+xml", "UNSUPPORTED_MEDIA_TYPE"),
        (1000, "text/plain", "UNSUPPORTED_MEDIA_TYPE"),
    ] {
        let body = create_raw(&t, &token, "a", size, content_type).await;
        assert_eq!(error_code(&body), code, "{size} {content_type}: {body}");
    }
    let body = t
        .gql(None, CREATE, json!({ "f": "a", "n": 10, "t": "image/png" }))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(t.count("upload_slots").await, 0);

    // Common aliases are accepted and the URL is bound to the real type.
    let body = create_raw(&t, &token, "a.jpg", 100_000, "image/JPG").await;
    let headers = &body["data"]["createUploadUrl"]["headers"];
    assert_eq!(headers[0]["value"], "image/jpeg", "{body}");

    // A user holds a bounded number of open uploads.
    for _ in 1..image_vault::direct_upload::MAX_OPEN_SLOTS {
        create_raw(&t, &token, "a.jpg", 10, "image/jpeg").await;
    }
    let body = create_raw(&t, &token, "a.jpg", 10, "image/jpeg").await;
    assert_eq!(error_code(&body), "TOO_MANY_REQUESTS", "{body}");
}
