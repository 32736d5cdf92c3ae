//! The read path costs a constant number of SQL statements per page.

use image_vault::db::models::thumbnail::Made;
use image_vault::db::models::{Image, Thumbnail};
use serde_json::json;
use uuid::Uuid;

use crate::support::{IMAGE_FIELDS, TestApp};

async fn seed_images(t: &TestApp, username: &str, count: usize) {
    let mut conn = t.app.db.get().await.expect("conn");
    let owner = image_vault::db::models::User::find_by_username(&mut conn, username)
        .await
        .expect("query")
        .expect("user");
    let base = t.clock.now();
    for i in 0..count {
        let id = Uuid::now_v7();
        let image = Image {
            id,
            owner_id: owner.id,
            filename: format!("{i}.jpg"),
            content_type: "image/jpeg".into(),
            width: 800,
            height: 600,
            byte_size: 1000,
            created_at: base - chrono::Duration::seconds(i as i64),
            expires_at: None,
            sha256: None,
            source_id: id,
            blurhash: None,
            frame_count: 1,
        };
        image.insert(&mut conn).await.expect("insert");
        Thumbnail::insert_pending(&mut conn, image.id, &[200, 400])
            .await
            .expect("thumbs");
        let made = Made {
            height: 200,
            width: 267,
            pixel_height: 200,
            byte_size: 100,
            content_type: "image/jpeg",
        };
        Thumbnail::mark_made(&mut conn, image.id, image.source_id, &[made], None)
            .await
            .expect("ready");
    }
}

#[tokio::test]
async fn a_page_of_images_costs_at_most_three_queries_whatever_its_size() {
    let t = TestApp::new().await;
    let token = t.user("reader", "Premium").await;
    seed_images(&t, "reader", 60).await;
    let query = format!(
        "query($n: Int!) {{ images(first: $n) {{ edges {{ node {{ {IMAGE_FIELDS} }} }} pageInfo {{ hasNextPage }} }} }}"
    );
    let mut costs = Vec::new();
    for n in [1, 10, 50] {
        let before = t.app.queries.get();
        let data = t.gql_ok(Some(&token), &query, json!({ "n": n })).await;
        costs.push(t.app.queries.get() - before);
        let edges = data["images"]["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), n as usize);
        let node = &edges[0]["node"];
        assert!(node["originalUrl"].is_string());
        assert_eq!(node["thumbnails"][0]["status"], "READY");
        assert!(node["thumbnails"][0]["url"].is_string());
        assert_eq!(node["thumbnails"][1]["status"], "PENDING");
    }
    // The viewer (with plan), the page, its thumbnails.
    assert!(
        costs.iter().all(|&c| c <= 3),
        "queries per request: {costs:?}"
    );
    assert_eq!(costs[0], costs[2], "constant in the page size: {costs:?}");
}

#[tokio::test]
async fn repeated_reads_return_the_same_urls() {
    let t = TestApp::new().await;
    let token = t.user("cache", "Premium").await;
    seed_images(&t, "cache", 3).await;
    let q = "{ images { edges { node { originalUrl thumbnails { url } } } } }";
    let a = t.gql_ok(Some(&token), q, json!({})).await;
    let b = t.gql_ok(Some(&token), q, json!({})).await;
    assert_eq!(a, b);
}
