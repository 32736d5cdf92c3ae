//! Content-hash deduplication per user, and blurhash placeholders.

use serde_json::json;

use crate::support::{TestApp, images};

#[tokio::test]
async fn the_same_bytes_twice_store_one_original_and_make_no_new_thumbnails() {
    let t = TestApp::new().await;
    let token = t.user("twice", "Premium").await;
    let bytes = images::jpeg(900, 600);
    let first = t.upload(&token, "a.jpg", bytes.clone()).await;
    assert_eq!(t.run_jobs().await, 1);
    let objects = t.fs_objects();
    assert_eq!(objects.len(), 3);

    let (_, body) = t
        .upload_raw(&token, "again.jpg", bytes.clone(), Some(3600))
        .await;
    let second = body["data"]["uploadImage"].clone();
    assert_ne!(first["id"], second["id"], "its own image id");
    assert!(second["expiresAt"].is_string(), "and its own expiry");
    assert!(first["expiresAt"].is_null());
    t.run_jobs().await;
    assert_eq!(
        t.fs_objects(),
        objects,
        "no new original, no new thumbnails"
    );
    let image = t.image(&token, second["id"].as_str().expect("id")).await;
    for th in image["thumbnails"].as_array().expect("thumbnails") {
        assert_eq!(th["status"], "READY", "{image}");
        let (status, got) = t.download(th["url"].as_str().expect("url")).await;
        assert_eq!(status, 200);
        assert_eq!(
            i64::from(images::dimensions(&got).2),
            th["height"].as_i64().expect("height")
        );
    }
    let (_, original) = t
        .download(image["originalUrl"].as_str().expect("url"))
        .await;
    assert_eq!(original, bytes);
    assert_eq!(
        image["blurhash"],
        t.image(&token, first["id"].as_str().expect("id")).await["blurhash"]
    );

    // Deleting one keeps the shared objects for the other...
    t.gql_ok(
        Some(&token),
        "mutation($id: ID!) { deleteImage(id: $id) }",
        json!({ "id": first["id"] }),
    )
    .await;
    t.run_jobs().await;
    assert_eq!(t.fs_objects(), objects);
    let image = t.image(&token, second["id"].as_str().expect("id")).await;
    let (status, _) = t
        .download(image["originalUrl"].as_str().expect("url"))
        .await;
    assert_eq!(status, 200);
    // ...and deleting the last one removes them.
    t.gql_ok(
        Some(&token),
        "mutation($id: ID!) { deleteImage(id: $id) }",
        json!({ "id": second["id"] }),
    )
    .await;
    t.run_jobs().await;
    assert!(t.fs_objects().is_empty(), "{:?}", t.fs_objects());
}

#[tokio::test]
async fn deduplication_is_per_user() {
    let t = TestApp::new().await;
    let a = t.user("ann", "Basic").await;
    let b = t.user("ben", "Basic").await;
    let bytes = images::png_with_alpha(300, 200);
    t.upload(&a, "a.png", bytes.clone()).await;
    t.upload(&b, "b.png", bytes).await;
    t.run_jobs().await;
    assert_eq!(t.fs_objects().len(), 4, "each user has their own copy");
}

#[tokio::test]
async fn an_expired_duplicate_is_swept_without_taking_the_shared_objects() {
    let t = TestApp::new().await;
    let token = t.user("exp", "Basic").await;
    let bytes = images::jpeg(400, 300);
    let keep = t.upload(&token, "keep.jpg", bytes.clone()).await;
    t.upload_raw(&token, "temp.jpg", bytes, Some(300)).await;
    t.run_jobs().await;
    t.clock.advance(chrono::Duration::seconds(301));
    let report = image_vault::jobs::sweep::sweep(&t.app)
        .await
        .expect("sweep");
    assert_eq!(report.images, 1);
    assert_eq!(t.fs_objects().len(), 2);
    let image = t.image(&token, keep["id"].as_str().expect("id")).await;
    assert_eq!(image["thumbnails"][0]["status"], "READY");
}

#[tokio::test]
async fn thumbnails_come_with_a_blurhash_placeholder() {
    let t = TestApp::new().await;
    let token = t.user("blur", "Basic").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(640, 480)).await;
    assert!(img["blurhash"].is_null() || img.get("blurhash").is_none());
    t.run_jobs().await;
    let data = t
        .gql_ok(
            Some(&token),
            "query($id: ID!) { image(id: $id) { blurhash } }",
            json!({ "id": img["id"] }),
        )
        .await;
    let hash = data["image"]["blurhash"].as_str().expect("blurhash");
    // 4x3 components: 1 + 1 + 4 + 2 * (4 * 3 - 1) = 28 characters.
    assert_eq!(hash.len(), 28, "{hash}");
}
