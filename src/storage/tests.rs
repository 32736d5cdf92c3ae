//! Behaviour both backends share, and the S3 backend against a real S3 server
//! (s3s over HTTP). fs-only details live in `fs.rs`.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use uuid::Uuid;

use super::test_server::{TestS3, start_s3_server};
use super::{FsSettings, Storage, StorageError, StorageKey};

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
    assert_eq!(leftover_parts(server.root.path()), Vec::<String>::new());
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

/// Part files s3s-fs keeps for unfinished multipart uploads.
pub(super) fn leftover_parts(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".upload_id-"))
        .collect()
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
        assert_eq!(status, 403, "{refused}");
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

#[tokio::test]
async fn s3_missing_bucket_fails_check_and_wrong_keys_are_refused() {
    let server = start_s3_server().await;
    let mut settings = server.s3_settings();
    settings.bucket = "no-such-bucket".into();
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
