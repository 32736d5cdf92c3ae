//! What administrators watch and do from the console: the queue, failed
//! jobs and their retry, readiness, any user's images, plan holders.

use serde_json::json;

use crate::support::{TestApp, error_code, images};

const QUEUE: &str = "{ queue { queued running failed oldestQueuedSeconds failedJobs { id kind attempts lastError } } readiness { database storage } }";

fn corrupt_png() -> Vec<u8> {
    // A valid header and trailer around garbage pixel data: passes the
    // upload checks, fails to decode.
    let mut png = images::png_with_alpha(64, 64);
    let len = png.len();
    for b in &mut png[60..len - 20] {
        *b = 0x5a;
    }
    png
}

#[tokio::test]
async fn admins_see_the_queue_and_retry_a_failed_job() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let token = t.user("carol", "Basic").await;
    let image = t.upload(&token, "broken.png", corrupt_png()).await;
    let id = image["id"].as_str().expect("id");

    let data = t.gql_ok(Some(&admin), QUEUE, json!({})).await;
    assert_eq!(data["queue"]["queued"], 1, "{data}");
    assert_eq!(
        data["readiness"],
        json!({ "database": "ok", "storage": "ok" })
    );
    t.run_jobs().await;
    let data = t.gql_ok(Some(&admin), QUEUE, json!({})).await;
    assert_eq!(data["queue"]["queued"], 0, "{data}");
    assert_eq!(data["queue"]["failed"], 1, "{data}");
    let job = &data["queue"]["failedJobs"][0];
    assert_eq!(job["kind"], "make_thumbnails");
    assert!(
        job["lastError"].as_str().is_some_and(|e| !e.is_empty()),
        "{job}"
    );

    // Users may not look or retry.
    let body = t.gql(Some(&token), QUEUE, json!({})).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let retry = "mutation($id: ID!) { retryJob(id: $id) }";
    let body = t.gql(Some(&token), retry, json!({ "id": job["id"] })).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");

    // The retry queues it again and the thumbnails wait for it.
    t.gql_ok(Some(&admin), retry, json!({ "id": job["id"] }))
        .await;
    let image = t.image(&token, id).await;
    assert_eq!(image["thumbnails"][0]["status"], "PENDING", "{image}");
    let data = t.gql_ok(Some(&admin), QUEUE, json!({})).await;
    assert_eq!(
        (&data["queue"]["queued"], &data["queue"]["failed"]),
        (&json!(1), &json!(0))
    );
    // A job that is not failed (or does not exist) is not found.
    let body = t.gql(Some(&admin), retry, json!({ "id": job["id"] })).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let body = t.gql(Some(&admin), retry, json!({ "id": "x" })).await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    // It fails again the same way, and the retry was audited.
    t.run_jobs().await;
    let image = t.image(&token, id).await;
    assert_eq!(image["thumbnails"][0]["status"], "FAILED", "{image}");
    let audit = t
        .gql_ok(
            Some(&admin),
            "{ auditLog(first: 5) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert!(audit.to_string().contains("job.retry"), "{audit}");
}

#[tokio::test]
async fn admins_see_and_delete_any_users_images_as_their_plan_shows_them() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let token = t.user("carol", "Premium").await;
    let me = t.gql_ok(Some(&token), "{ me { id } }", json!({})).await;
    let carol = me["me"]["id"].clone();
    let image = t.upload(&token, "a.jpg", images::jpeg(300, 200)).await;
    t.run_jobs().await;

    let query = "query($u: ID!) { userImages(userId: $u) { edges { node { id originalUrl thumbnails { height status } } } } }";
    let data = t.gql_ok(Some(&admin), query, json!({ "u": carol })).await;
    let node = &data["userImages"]["edges"][0]["node"];
    assert_eq!(node["id"], image["id"]);
    let heights: Vec<_> = node["thumbnails"]
        .as_array()
        .expect("thumbnails")
        .iter()
        .map(|t| t["height"].clone())
        .collect();
    assert_eq!(
        heights,
        vec![json!(200), json!(400)],
        "carol's Premium heights"
    );
    assert!(node["originalUrl"].is_string());
    let body = t.gql(Some(&token), query, json!({ "u": carol })).await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    let body = t
        .gql(
            Some(&admin),
            query,
            json!({ "u": "01900000-0000-7000-8000-00000000dead" }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    // The plans say how many hold them (batched into one grouped query);
    // a plan nobody holds says 0.
    t.create_user("dave", "Premium", false).await;
    let plans = t
        .gql_ok(Some(&admin), "{ plans { name userCount } }", json!({}))
        .await;
    let mut counts: Vec<(String, i64)> = plans["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name").to_owned(),
                p["userCount"].as_i64().expect("userCount"),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![
            ("Basic".to_owned(), 0),
            ("Enterprise".to_owned(), 1),
            ("Premium".to_owned(), 2),
        ]
    );

    // An administrator deletes it; it is audited.
    t.gql_ok(
        Some(&admin),
        "mutation($id: ID!) { deleteImage(id: $id) }",
        json!({ "id": image["id"] }),
    )
    .await;
    assert_eq!(t.count("images").await, 0);
    let audit = t
        .gql_ok(
            Some(&admin),
            "{ auditLog(first: 5) { edges { node { action targetName } } } }",
            json!({}),
        )
        .await;
    assert!(audit.to_string().contains("image.delete"), "{audit}");
}
