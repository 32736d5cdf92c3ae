//! Behind the signed URL: the checks that hold even when the URL is not
//! the only way in (an object of another size, one replaced while it is
//! checked), and the orphan sweep of staged objects.

use chrono::Duration;
use diesel_async::RunQueryDsl as _;
use reqwest::StatusCode;

use super::{complete, create, put, setup};
use crate::support::{Backend, TestApp, error_code, images};

#[tokio::test]
async fn staged_objects_without_a_slot_are_orphans() {
    let t = TestApp::new().await;
    let token = t.user("otto", "Basic").await;
    let jpeg = images::jpeg(100, 100);
    let kept = create(&t, &token, "a.jpg", &jpeg, "image/jpeg").await;
    let lost = create(&t, &token, "b.jpg", &jpeg, "image/jpeg").await;
    assert_eq!(put(&t, &kept, jpeg.clone()).await, StatusCode::OK);
    assert_eq!(put(&t, &lost, jpeg).await, StatusCode::OK);
    {
        let mut conn = t.app.db.get().await.expect("conn");
        diesel::sql_query("DELETE FROM upload_slots WHERE id = $1::uuid")
            .bind::<diesel::sql_types::Text, _>(lost["id"].as_str().expect("id"))
            .execute(&mut conn)
            .await
            .expect("delete slot row");
    }
    t.clock.advance(Duration::hours(2));
    let removed = image_vault::jobs::orphans::sweep_orphans(&t.app)
        .await
        .expect("orphan sweep");
    assert_eq!(removed, 1);
    assert_eq!(
        t.fs_objects(),
        vec![format!("uploads/{}", kept["id"].as_str().expect("id"))]
    );
}

async fn an_object_of_another_size_is_refused_at_completion(backend: Backend) {
    let (t, s3) = setup(backend, &[]).await;
    let token = t.user("zed", "Basic").await;
    let jpeg = images::jpeg(300, 200);
    let target = create(&t, &token, "a.jpg", &jpeg, "image/jpeg").await;
    // Written behind the URL's back, one byte longer than announced.
    let key = image_vault::storage::StorageKey::upload(
        target["id"].as_str().expect("id").parse().expect("uuid"),
    );
    t.app
        .storage
        .put_bytes(&key, [jpeg.clone(), vec![0]].concat().into(), "image/jpeg")
        .await
        .expect("put");
    let body = complete(&t, &token, &target["id"]).await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(super::stored(&t, &s3).await, Vec::<String>::new());
    assert_eq!(t.count("images").await, 0);
    let again = complete(&t, &token, &target["id"]).await;
    assert_eq!(error_code(&again), "BAD_USER_INPUT", "closed: {again}");
}

#[tokio::test]
async fn an_object_of_another_size_is_refused_at_completion_fs() {
    an_object_of_another_size_is_refused_at_completion(Backend::Fs).await;
}

#[tokio::test]
async fn an_object_of_another_size_is_refused_at_completion_s3() {
    an_object_of_another_size_is_refused_at_completion(Backend::S3).await;
}

/// What is checked is what becomes the original: a copy of a staged object
/// replaced after it was read does not happen.
async fn a_staged_object_replaced_after_reading_is_not_copied(backend: Backend) {
    use image_vault::storage::StorageKey;
    let (t, _s3) = setup(backend, &[]).await;
    let storage = &t.app.storage;
    let staged = StorageKey::upload(uuid::Uuid::now_v7());
    let original = StorageKey::original(uuid::Uuid::now_v7());
    storage
        .put_bytes(&staged, b"checked bytes".to_vec().into(), "image/png")
        .await
        .expect("put");
    let fetched = storage.fetch(&staged, 1000).await.expect("fetch");
    assert_eq!(fetched.size, 13);
    storage
        .put_bytes(&staged, b"replaced bytes".to_vec().into(), "image/png")
        .await
        .expect("put again");
    let copied = storage
        .copy_if_unchanged(&staged, &fetched.version, &original, "image/png")
        .await
        .expect("copy");
    assert!(!copied);
    assert!(!storage.exists(&original).await.expect("exists"));

    let fetched = storage.fetch(&staged, 1000).await.expect("fetch");
    let copied = storage
        .copy_if_unchanged(&staged, &fetched.version, &original, "image/jpeg")
        .await
        .expect("copy");
    assert!(copied);
    storage.delete(&staged).await.expect("delete");
    assert_eq!(
        storage.get(&original).await.expect("get"),
        &b"replaced bytes"[..],
        "the copy outlives the staged object"
    );
    // A fetch stops reading past its limit.
    storage
        .put_bytes(&staged, vec![7u8; 100_000].into(), "image/png")
        .await
        .expect("put");
    let fetched = storage.fetch(&staged, 10).await.expect("fetch");
    assert!(fetched.size > 10);
}

#[tokio::test]
async fn a_staged_object_replaced_after_reading_is_not_copied_fs() {
    a_staged_object_replaced_after_reading_is_not_copied(Backend::Fs).await;
}

#[tokio::test]
async fn a_staged_object_replaced_after_reading_is_not_copied_s3() {
    a_staged_object_replaced_after_reading_is_not_copied(Backend::S3).await;
}
