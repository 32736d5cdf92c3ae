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

/// Parsed documents are kept by their text (`graphql::gateway`): the same
/// text sent again answers for its own variables and operation, and a
/// document that does not parse is refused every time.
#[tokio::test]
async fn a_document_sent_again_answers_for_its_own_variables_and_operation() {
    let t = TestApp::new().await;
    let token = t.user("again", "Premium").await;
    seed_images(&t, "again", 3).await;
    let document = "query Page($n: Int!) { images(first: $n) { edges { node { id } } } } \
                    query Me { me { username } }";
    let post = |body: serde_json::Value| {
        let request = t
            .http
            .post(format!("{}/graphql", t.base))
            .bearer_auth(&token)
            .json(&body);
        async move {
            let response = request.send().await.expect("send");
            response.json::<serde_json::Value>().await.expect("JSON")
        }
    };
    for n in [1, 3, 2] {
        let body = post(json!({
            "query": document, "operationName": "Page", "variables": { "n": n }
        }))
        .await;
        let edges = body["data"]["images"]["edges"].as_array().map(Vec::len);
        assert_eq!(edges, Some(n), "{body}");
    }
    // (async-graphql validates every operation of the document with the
    // request's variables, so `Page`'s `$n` is given here too.)
    let body = post(json!({
        "query": document, "operationName": "Me", "variables": { "n": 1 }
    }))
    .await;
    assert_eq!(
        body["data"],
        json!({ "me": { "username": "again" } }),
        "{body}"
    );
    for _ in 0..2 {
        let body = post(json!({ "query": "{ images(first: 1) {" })).await;
        assert!(body["data"].is_null(), "{body}");
        assert!(body["errors"][0]["message"].is_string(), "{body}");
    }
}
