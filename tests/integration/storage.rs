//! The storage backends through the public `Storage` API: behaviour both
//! share, and the S3 backend against a real S3 server (the in-process s3s one,
//! or an external S3 when `TEST_S3_*` are set; see `support::s3`). fs-only
//! details and crate-private arithmetic are unit tests in `src/storage`.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use image_vault::storage::{FsSettings, S3Settings, Storage, StorageError, StorageKey};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::support::s3::{TestS3, start_s3_server};

async fn s3_storage() -> (Storage, TestS3) {
    let server = start_s3_server().await;
    let storage = Storage::s3(server.s3_settings()).await.unwrap();
    (storage, server)
}

fn fs_storage() -> (Storage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::fs(FsSettings {
        dir: dir.path().to_owned(),
        public_url: "http://127.0.0.1:8080".into(),
        signing_key: b"test signing key".to_vec(),
    })
    .unwrap();
    (storage, dir)
}

/// Runs `check` against an S3 and an fs store.
async fn on_both_backends(check: impl AsyncFn(&Storage)) {
    let (s3, _server) = s3_storage().await;
    check(&s3).await;
    let (fs, _dir) = fs_storage();
    check(&fs).await;
}

fn thumbnail() -> StorageKey {
    StorageKey::thumbnail(Uuid::now_v7(), 200, "jpg")
}

fn original() -> StorageKey {
    StorageKey::original(Uuid::now_v7())
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

#[tokio::test]
async fn put_get_delete_round_trip() {
    on_both_backends(async |storage| {
        let backend = storage.backend_name();
        let key = thumbnail();
        let bytes = Bytes::from(pattern(10_000));
        storage
            .put_bytes(&key, bytes.clone(), "image/jpeg")
            .await
            .unwrap();
        assert!(storage.exists(&key).await.unwrap(), "{backend}");
        assert_eq!(storage.get(&key).await.unwrap(), bytes, "{backend}");

        storage.delete(&key).await.unwrap();
        assert!(!storage.exists(&key).await.unwrap(), "{backend}");
        let got = storage.get(&key).await;
        assert!(
            matches!(got, Err(StorageError::NotFound)),
            "{backend}: {got:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn absent_objects_delete_ok_and_get_not_found() {
    on_both_backends(async |storage| {
        let backend = storage.backend_name();
        let key = original();
        storage.delete(&key).await.unwrap();
        assert!(!storage.exists(&key).await.unwrap(), "{backend}");
        let got = storage.get(&key).await;
        assert!(
            matches!(got, Err(StorageError::NotFound)),
            "{backend}: {got:?}"
        );
        storage.check().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn large_put_file_reads_back_identical() {
    let content = pattern(20 * 1024 * 1024 + 123);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &content).unwrap();
    on_both_backends(async |storage| {
        let key = original();
        storage
            .put_file(&key, file.path(), "image/png")
            .await
            .unwrap();
        let got = storage.get(&key).await.unwrap();
        assert!(
            got == content,
            "{} read back other bytes",
            storage.backend_name()
        );
    })
    .await;
}

#[tokio::test]
async fn s3_put_file_above_8_mib_uses_multipart_and_cleans_up_parts() {
    let (storage, server) = s3_storage().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pattern(20 * 1024 * 1024)).unwrap();
    let key = original();
    storage
        .put_file(&key, file.path(), "image/png")
        .await
        .unwrap();

    let head = server
        .client()
        .head_object()
        .bucket(&server.bucket)
        .key(key.as_path())
        .send()
        .await
        .unwrap();
    // A multipart ETag ends in the part count: 8 + 8 + 4 MiB.
    let etag = head.e_tag().unwrap();
    assert!(etag.trim_matches('"').ends_with("-3"), "{etag}");
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.content_length(), Some(20 * 1024 * 1024));
    assert_eq!(server.pending_uploads().await, Vec::<String>::new());
}

#[tokio::test]
async fn s3_small_put_file_is_a_single_put() {
    let (storage, server) = s3_storage().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pattern(1024 * 1024)).unwrap();
    let key = original();
    storage
        .put_file(&key, file.path(), "image/jpeg")
        .await
        .unwrap();
    let head = server
        .client()
        .head_object()
        .bucket(&server.bucket)
        .key(key.as_path())
        .send()
        .await
        .unwrap();
    assert!(!head.e_tag().unwrap().contains('-'));
    assert_eq!(head.content_type(), Some("image/jpeg"));
}

#[tokio::test]
async fn s3_failed_multipart_upload_is_aborted() {
    let server = start_s3_server().await;
    let proxy = FailingPartProxy::start(server.endpoint.clone()).await;
    let mut settings = server.s3_settings();
    settings.endpoint = proxy.endpoint.clone();
    let storage = Storage::s3(settings).await.unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), vec![7u8; 20 * 1024 * 1024]).unwrap();
    let key = original();

    // The second part is refused after the first part was uploaded.
    let result = storage.put_file(&key, file.path(), "image/png").await;
    assert!(matches!(result, Err(StorageError::Other(_))), "{result:?}");
    assert_eq!(server.pending_uploads().await, Vec::<String>::new());
    let head = server
        .client()
        .head_object()
        .bucket(&server.bucket)
        .key(key.as_path())
        .send()
        .await;
    assert!(head.is_err(), "no object may appear");
}

/// An HTTP proxy in front of an S3 server that forwards every request as it
/// is (Host header included, so SigV4 signatures still hold) except
/// UploadPart of part 2, which it refuses with a 400 as S3 refuses a bad
/// request: a multipart upload that fails halfway.
struct FailingPartProxy {
    endpoint: String,
    server: tokio::task::JoinHandle<()>,
}

impl FailingPartProxy {
    async fn start(upstream: String) -> FailingPartProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let http = reqwest::Client::new();
        let router = axum::Router::new().fallback(move |request: Request| {
            let (http, upstream) = (http.clone(), upstream.clone());
            async move { forward_unless_part_2(&http, &upstream, request).await }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FailingPartProxy { endpoint, server }
    }
}

impl Drop for FailingPartProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward_unless_part_2(
    http: &reqwest::Client,
    upstream: &str,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let is_part_2 = parts
        .uri
        .query()
        .is_some_and(|query| query.split('&').any(|param| param == "partNumber=2"));
    if parts.method == Method::PUT && is_part_2 {
        // Read the part first, as S3 does: refusing before the body is read
        // can reset the connection under the client, which then sees a
        // network error (Unavailable) instead of this answer.
        let _ = axum::body::to_bytes(body, usize::MAX).await;
        let error = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
            <Error><Code>InvalidRequest</Code><Message>refused by the test proxy</Message></Error>";
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/xml")],
            error,
        )
            .into_response();
    }
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let upstream_response = http
        .request(parts.method, format!("{upstream}{path_and_query}"))
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let mut response = Response::builder().status(upstream_response.status());
    for (name, value) in upstream_response.headers() {
        if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
            response = response.header(name, value);
        }
    }
    let body = upstream_response.bytes().await.unwrap();
    response.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn presigned_urls_are_stable_within_a_time_bucket() {
    on_both_backends(async |storage| {
        let backend = storage.backend_name();
        let key = thumbnail();
        let lifetime = Duration::from_secs(600);
        // 10 s into a 150 s bucket (a quarter of the lifetime).
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let bucket_start = UNIX_EPOCH + Duration::from_secs(unix - unix % 150);
        let at =
            |secs| storage.presign_get_at(&key, lifetime, bucket_start + Duration::from_secs(secs));

        let first = at(10).await.unwrap();
        assert_eq!(first, at(10).await.unwrap(), "{backend}");
        assert_eq!(first, at(149).await.unwrap(), "{backend}");
        assert_ne!(first, at(150).await.unwrap(), "{backend}");
        let other_key = storage
            .presign_get_at(&thumbnail(), lifetime, bucket_start)
            .await;
        assert_ne!(first, other_key.unwrap(), "{backend}");

        // With the real clock, unless the calls straddle a bucket boundary.
        let a = storage.presign_get(&key, lifetime).await.unwrap();
        let b = storage.presign_get(&key, lifetime).await.unwrap();
        let c = storage.presign_get(&key, lifetime).await.unwrap();
        assert!(a == b || b == c, "{backend}: {a} / {b} / {c}");
    })
    .await;
}

#[tokio::test]
async fn s3_presigned_get_downloads_the_object() {
    let (storage, _server) = s3_storage().await;
    let key = thumbnail();
    let bytes = Bytes::from(pattern(50_000));
    storage
        .put_bytes(&key, bytes.clone(), "image/jpeg")
        .await
        .unwrap();
    let url = storage
        .presign_get(&key, Duration::from_secs(60))
        .await
        .unwrap();

    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn s3_tampered_and_expired_presigned_urls_are_refused() {
    let (storage, _server) = s3_storage().await;
    let key = thumbnail();
    storage
        .put_bytes(&key, Bytes::from_static(b"secret"), "image/jpeg")
        .await
        .unwrap();
    let lifetime = Duration::from_secs(60);
    let url = storage.presign_get(&key, lifetime).await.unwrap();
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);

    let tampered_signature = flip_last_char_of_param(&url, "X-Amz-Signature=");
    let longer_expiry = replace_param(&url, "X-Amz-Expires=", "604800");
    let other_key = url.replace(&key.as_path(), &thumbnail().as_path());
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let expired = storage
        .presign_get_at(&key, lifetime, an_hour_ago)
        .await
        .unwrap();
    for refused in [tampered_signature, longer_expiry, other_key, expired] {
        assert_ne!(refused, url);
        let status = reqwest::get(&refused).await.unwrap().status();
        // AWS, MinIO and s3s answer 403; Garage refuses an expired URL
        // with 400 ("Date is too old"). Either way: refused.
        assert!(matches!(status.as_u16(), 400 | 403), "{status} {refused}");
    }
}

fn param_range(url: &str, name: &str) -> std::ops::Range<usize> {
    let start = url.find(name).unwrap() + name.len();
    let end = url[start..].find('&').map_or(url.len(), |i| start + i);
    start..end
}

fn replace_param(url: &str, name: &str, value: &str) -> String {
    let mut url = url.to_owned();
    url.replace_range(param_range(&url, name), value);
    url
}

fn flip_last_char_of_param(url: &str, name: &str) -> String {
    let range = param_range(url, name);
    let last = &url[range.end - 1..range.end];
    let flipped = if last == "0" { "1" } else { "0" };
    let mut url = url.to_owned();
    url.replace_range(range.end - 1..range.end, flipped);
    url
}

#[tokio::test]
async fn s3_outage_is_reported_quickly_as_unavailable() {
    let (storage, mut server) = s3_storage().await;
    if !server.can_stop() {
        eprintln!("skipped for external S3: it cannot be stopped");
        return;
    }
    let key = thumbnail();
    storage
        .put_bytes(&key, Bytes::from_static(b"before"), "image/jpeg")
        .await
        .unwrap();
    server.stop().await;
    assert!(!server.is_running());

    let started = Instant::now();
    let got = storage.get(&key).await;
    assert!(matches!(got, Err(StorageError::Unavailable(_))), "{got:?}");
    let put = storage
        .put_bytes(&key, Bytes::from_static(b"during"), "image/jpeg")
        .await;
    assert!(matches!(put, Err(StorageError::Unavailable(_))), "{put:?}");
    let deleted = storage.delete(&key).await;
    assert!(
        matches!(deleted, Err(StorageError::Unavailable(_))),
        "{deleted:?}"
    );
    let checked = storage.check().await;
    assert!(
        matches!(checked, Err(StorageError::Unavailable(_))),
        "{checked:?}"
    );
    assert!(checked.unwrap_err().is_transient());
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(8),
        "four calls took {elapsed:?}"
    );

    server.restart().await;
    assert!(server.is_running());
    storage.check().await.unwrap();
    assert_eq!(storage.get(&key).await.unwrap(), &b"before"[..]);
}

/// `CHECK_TIMEOUT` in `src/storage/s3.rs`: how long `check` waits for an
/// answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn s3_check_fails_fast_when_the_store_never_answers() {
    // Accepts connections (the kernel does) but never reads or replies.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let storage = Storage::s3(S3Settings {
        endpoint: endpoint.clone(),
        public_endpoint: endpoint,
        region: "us-east-1".into(),
        bucket: "image-vault-test".into(),
        access_key_id: "test-access-key".into(),
        secret_access_key: "test-secret-key".into(),
    })
    .await
    .unwrap();

    let started = Instant::now();
    let checked = storage.check().await;
    assert!(
        matches!(checked, Err(StorageError::Unavailable(_))),
        "{checked:?}"
    );
    assert!(started.elapsed() < CHECK_TIMEOUT + Duration::from_secs(2));
    drop(listener);
}

#[tokio::test]
async fn s3_missing_bucket_fails_check_and_wrong_keys_are_refused() {
    let server = start_s3_server().await;
    let mut settings = server.s3_settings();
    // Unique, so that it cannot exist on a shared external S3 either.
    settings.bucket = format!("no-such-bucket-{:016x}", rand::random::<u64>());
    let storage = Storage::s3(settings).await.unwrap();
    let checked = storage.check().await;
    assert!(
        matches!(checked, Err(StorageError::Other(_))),
        "{checked:?}"
    );

    let mut settings = server.s3_settings();
    settings.secret_access_key = "wrong".into();
    let storage = Storage::s3(settings).await.unwrap();
    let put = storage
        .put_bytes(&thumbnail(), Bytes::from_static(b"x"), "image/jpeg")
        .await;
    assert!(matches!(put, Err(StorageError::Other(_))), "{put:?}");
    assert_eq!(storage.backend_name(), "s3");
}

#[tokio::test]
async fn s3_presigns_for_the_public_endpoint() {
    let server = start_s3_server().await;
    let mut settings = server.s3_settings();
    settings.public_endpoint = "https://images.example.com/".into();
    let storage = Storage::s3(settings).await.unwrap();
    let key = thumbnail();
    let url = storage
        .presign_get(&key, Duration::from_secs(60))
        .await
        .unwrap();
    let expected = format!(
        "https://images.example.com/{}/{}?",
        server.bucket,
        key.as_path()
    );
    assert!(url.starts_with(&expected), "{url}");
}

#[tokio::test]
async fn invalid_s3_settings_are_refused() {
    let server = start_s3_server().await;
    let mut settings = server.s3_settings();
    settings.endpoint = "minio:9000".into();
    assert!(Storage::s3(settings).await.is_err());
    let mut settings = server.s3_settings();
    settings.bucket = String::new();
    assert!(Storage::s3(settings).await.is_err());
}
