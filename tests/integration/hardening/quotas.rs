//! Per-plan quotas: images, stored bytes, uploads per hour; usage for admins.

use serde_json::json;

use crate::support::{TestApp, error_code, images};

async fn plan(t: &TestApp, admin: &str, input: serde_json::Value) {
    t.gql_ok(
        Some(admin),
        "mutation($i: PlanInput!) { createPlan(input: $i) { id maxImages maxStorageMib maxUploadsPerHour } }",
        json!({ "i": input }),
    )
    .await;
}

async fn delete(t: &TestApp, token: &str, id: &str) {
    t.gql_ok(
        Some(token),
        "mutation($id: ID!) { deleteImage(id: $id) }",
        json!({ "id": id }),
    )
    .await;
}

#[tokio::test]
async fn the_plans_quotas_are_enforced_with_quota_exceeded() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    plan(
        &t,
        &admin,
        json!({ "name": "Tiny", "thumbnailHeights": [100], "maxImages": 2, "maxUploadsPerHour": 3, "maxStorageMib": 1 }),
    )
    .await;
    let token = t.user("tiny", "Tiny").await;
    let a = t.upload(&token, "a.jpg", images::jpeg(40, 30)).await;
    t.upload(&token, "b.jpg", images::jpeg(41, 30)).await;

    // A third image: over maxImages, refused before anything is stored.
    let objects = t.fs_objects();
    let (_, body) = t
        .upload_raw(&token, "c.jpg", images::jpeg(42, 30), None)
        .await;
    assert_eq!(error_code(&body), "QUOTA_EXCEEDED", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("allows 2 images"), "{message}");
    assert_eq!(t.count("images").await, 2);
    assert_eq!(t.fs_objects(), objects, "nothing stored");

    // Room again after a delete; the upload counts as the hour's third.
    delete(&t, &token, a["id"].as_str().expect("id")).await;
    let c = t.upload(&token, "c.jpg", images::jpeg(42, 30)).await;
    delete(&t, &token, c["id"].as_str().expect("id")).await;
    // A fourth upload this hour: refused although there is room.
    let (_, body) = t
        .upload_raw(&token, "d.jpg", images::jpeg(43, 30), None)
        .await;
    assert_eq!(error_code(&body), "QUOTA_EXCEEDED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("3 uploads per hour"),
        "{body}"
    );
    // The next hour it works.
    t.clock.advance(chrono::Duration::hours(1));
    t.upload(&token, "d.jpg", images::jpeg(43, 30)).await;

    // Over the storage quota: a file of more than 1 MiB.
    let big = images::noise_png(800, 800);
    assert!(big.len() > 1 << 20, "{}", big.len());
    let (_, body) = t.upload_raw(&token, "big.jpg", big, None).await;
    assert_eq!(error_code(&body), "QUOTA_EXCEEDED", "{body}");
}

#[tokio::test]
async fn parallel_uploads_cannot_pass_the_image_quota_together() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    plan(
        &t,
        &admin,
        json!({ "name": "Three", "thumbnailHeights": [100], "maxImages": 3 }),
    )
    .await;
    let token = t.user("racer", "Three").await;
    let mut uploads = Vec::new();
    for i in 0..10 {
        uploads.push(t.upload_raw(&token, "r.jpg", images::jpeg(30 + i, 30), None));
    }
    let results = futures_util::future::join_all(uploads).await;
    let ok = results
        .iter()
        .filter(|(_, body)| body.get("errors").is_none())
        .count();
    let refused = results
        .iter()
        .filter(|(_, body)| error_code(body) == "QUOTA_EXCEEDED")
        .count();
    assert_eq!((ok, refused), (3, 7), "{results:?}");
    assert_eq!(t.count("images").await, 3);
}

#[tokio::test]
async fn admins_see_every_users_usage_and_users_their_own() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let token = t.user("holder", "Basic").await;
    let jpeg = images::jpeg(50, 40);
    let size = jpeg.len();
    t.upload(&token, "a.jpg", jpeg).await;

    let me = t
        .gql_ok(
            Some(&token),
            "{ me { usage { images storedBytes uploadsThisHour } plan { maxImages maxStorageMib maxUploadsPerHour } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me["me"]["usage"],
        json!({ "images": 1, "storedBytes": size as f64, "uploadsThisHour": 1 })
    );
    assert_eq!(
        me["me"]["plan"],
        json!({ "maxImages": null, "maxStorageMib": null, "maxUploadsPerHour": null })
    );
    let users = t
        .gql_ok(
            Some(&admin),
            "{ users(first: 10) { edges { node { username usage { images } } } } }",
            json!({}),
        )
        .await;
    let holder = users["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["username"] == "holder")
        .cloned()
        .expect("holder listed");
    assert_eq!(holder["node"]["usage"]["images"], 1);
    // Quotas must be positive.
    let body = t
        .gql(
            Some(&admin),
            "mutation { createPlan(input: { name: \"Zero\", thumbnailHeights: [100], maxImages: 0 }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}
