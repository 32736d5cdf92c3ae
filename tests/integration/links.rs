//! Expiring links and image expiry.

use chrono::Duration;
use serde_json::json;

use crate::support::{TestApp, error_code, images};

const CREATE_LINK: &str = "mutation($id: ID!, $s: Int!) { createExpiringLink(imageId: $id, expiresIn: $s) { id url expiresAt createdAt image { id } } }";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn links_respect_their_bounds_work_without_login_and_expire() {
    let t = TestApp::new().await;
    let token = t.user("ent", "Enterprise").await;
    let original = images::jpeg(320, 240);
    let img = t.upload(&token, "a.jpg", original.clone()).await;
    let id = img["id"].as_str().expect("id");

    for bad in [299, 30001, 0, -5] {
        let body = t
            .gql(Some(&token), CREATE_LINK, json!({ "id": id, "s": bad }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("300 and 30000"),
            "{body}"
        );
    }
    let link = t
        .gql_ok(Some(&token), CREATE_LINK, json!({ "id": id, "s": 300 }))
        .await["createExpiringLink"]
        .clone();
    t.gql_ok(Some(&token), CREATE_LINK, json!({ "id": id, "s": 30000 }))
        .await;
    let url = link["url"].as_str().expect("url");
    assert!(url.starts_with(&format!("{}/links/", t.base)));

    // No login: a redirect to a short-lived URL of the original.
    let http = no_redirects();
    let resp = http.get(url).send().await.expect("follow");
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let (status, bytes) = t.download(&location).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, original);
    let expires: i64 = location
        .split("expires=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .and_then(|s| s.parse().ok())
        .expect("expires in the fs URL");
    assert!(
        expires - t.clock.now().timestamp() <= 60,
        "redirect target lives at most 60 s"
    );

    // Listed with its expiry, newest first.
    let list = t
        .gql_ok(
            Some(&token),
            "query($id: ID) { expiringLinks(imageId: $id) { edges { node { id url expiresAt expired } } } }",
            json!({ "id": id }),
        )
        .await;
    let edges = list["expiringLinks"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[1]["node"]["id"], link["id"]);

    // After expiry: 410 Gone, still listed as expired.
    t.clock.advance(Duration::seconds(301));
    let resp = http.get(url).send().await.expect("follow");
    assert_eq!(resp.status(), 410);
    let list = t
        .gql_ok(
            Some(&token),
            "{ expiringLinks { edges { node { id expired } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["expiringLinks"]["edges"][1]["node"]["expired"], true);
    assert_eq!(list["expiringLinks"]["edges"][0]["node"]["expired"], false);

    // Unknown tokens: 404.
    let resp = http
        .get(format!("{}/links/AAAAAAAAAAAAAAAAAAAAAA", t.base))
        .send()
        .await
        .expect("follow");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_deleted_link_stops_working_at_once() {
    let t = TestApp::new().await;
    let token = t.user("ent", "Enterprise").await;
    let img = t
        .upload(&token, "a.png", images::png_with_alpha(50, 50))
        .await;
    let link = t
        .gql_ok(
            Some(&token),
            CREATE_LINK,
            json!({ "id": img["id"], "s": 3600 }),
        )
        .await["createExpiringLink"]
        .clone();
    let http = no_redirects();
    let url = link["url"].as_str().expect("url");
    assert_eq!(http.get(url).send().await.expect("get").status(), 302);
    let data = t
        .gql_ok(
            Some(&token),
            "mutation($id: ID!) { deleteExpiringLink(id: $id) }",
            json!({ "id": link["id"] }),
        )
        .await;
    assert_eq!(data["deleteExpiringLink"], true);
    assert_eq!(http.get(url).send().await.expect("get").status(), 410);
}

#[tokio::test]
async fn links_need_a_plan_that_grants_them_and_your_own_image() {
    let t = TestApp::new().await;
    let premium = t.user("prem", "Premium").await;
    let ent = t.user("ent", "Enterprise").await;
    let other = t.user("other", "Enterprise").await;
    let mine = t.upload(&premium, "a.jpg", images::jpeg(40, 40)).await;
    let body = t
        .gql(
            Some(&premium),
            CREATE_LINK,
            json!({ "id": mine["id"], "s": 600 }),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");

    let theirs = t.upload(&ent, "b.jpg", images::jpeg(40, 40)).await;
    let body = t
        .gql(
            Some(&other),
            CREATE_LINK,
            json!({ "id": theirs["id"], "s": 600 }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let body = t
        .gql(
            Some(&other),
            CREATE_LINK,
            json!({ "id": "not-a-uuid", "s": 600 }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    // Another user's link can be neither listed nor deleted.
    let link = t
        .gql_ok(
            Some(&ent),
            CREATE_LINK,
            json!({ "id": theirs["id"], "s": 600 }),
        )
        .await["createExpiringLink"]
        .clone();
    let body = t
        .gql(
            Some(&other),
            "mutation($id: ID!) { deleteExpiringLink(id: $id) }",
            json!({ "id": link["id"] }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let list = t
        .gql_ok(
            Some(&other),
            "query($id: ID) { expiringLinks(imageId: $id) { edges { node { id } } } }",
            json!({ "id": theirs["id"] }),
        )
        .await;
    assert_eq!(list["expiringLinks"]["edges"], json!([]));
    let resp = no_redirects()
        .get(link["url"].as_str().expect("url"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 302, "the owner's link still works");
}

#[tokio::test]
async fn an_expiring_image_vanishes_on_time_and_the_sweeper_removes_it() {
    let t = TestApp::new().await;
    let token = t.user("ent", "Enterprise").await;
    for bad in [299, 31_536_001] {
        let (_, body) = t
            .upload_raw(&token, "a.jpg", images::jpeg(100, 80), Some(bad))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}");
    }
    let (_, body) = t
        .upload_raw(&token, "a.jpg", images::jpeg(300, 200), Some(600))
        .await;
    let img = body["data"]["uploadImage"].clone();
    let id = img["id"].as_str().expect("id").to_owned();
    assert!(img["expiresAt"].is_string());
    let keep = t.upload(&token, "keep.jpg", images::jpeg(301, 200)).await;
    t.run_jobs().await;
    let link = t
        .gql_ok(Some(&token), CREATE_LINK, json!({ "id": id, "s": 3600 }))
        .await["createExpiringLink"]
        .clone();
    assert!(!t.image(&token, &id).await.is_null());
    let objects_with_both = t.fs_objects().len();
    assert_eq!(objects_with_both, 6);

    t.clock.advance(Duration::seconds(601));
    assert!(t.image(&token, &id).await.is_null());
    let list = t
        .gql_ok(
            Some(&token),
            "{ images { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["images"]["edges"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["images"]["edges"][0]["node"]["id"], keep["id"]);
    let resp = no_redirects()
        .get(link["url"].as_str().expect("url"))
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), 410);
    let body = t
        .gql(Some(&token), CREATE_LINK, json!({ "id": id, "s": 600 }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");

    let report = image_vault::jobs::sweep::sweep(&t.app)
        .await
        .expect("sweep");
    assert_eq!(report.images, 1);
    assert_eq!(t.fs_objects().len(), 3, "{:?}", t.fs_objects());
    assert_eq!(t.count("images").await, 1);
    assert_eq!(t.count("expiring_links").await, 0);
    let again = image_vault::jobs::sweep::sweep(&t.app)
        .await
        .expect("sweep");
    assert_eq!(again, image_vault::jobs::sweep::SweepReport::default());
}

#[tokio::test]
async fn the_sweep_is_a_scheduled_job_queued_once() {
    use image_vault::jobs::queue;
    use image_vault::jobs::sweep::Sweep;
    let t = TestApp::new().await;
    let mut conn = t.app.db.get().await.expect("conn");
    let now = t.clock.now();
    assert!(
        queue::enqueue(&mut conn, &Sweep::default(), now)
            .await
            .expect("enqueue")
    );
    assert!(
        !queue::enqueue(&mut conn, &Sweep::default(), now)
            .await
            .expect("enqueue")
    );
    drop(conn);
    assert_eq!(t.run_jobs().await, 1);
}

#[tokio::test]
async fn link_redirects_are_cacheable_only_while_link_and_target_are_valid() {
    let t = TestApp::new().await;
    let token = t.user("ent", "Enterprise").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(40, 40)).await;
    let link = t
        .gql_ok(
            Some(&token),
            CREATE_LINK,
            json!({ "id": img["id"], "s": 300 }),
        )
        .await["createExpiringLink"]
        .clone();
    let url = link["url"].as_str().expect("url");
    let resp = no_redirects().get(url).send().await.expect("get");
    assert_eq!(resp.headers()["cache-control"], "private, max-age=48");
    assert!(resp.headers().contains_key("etag"));
    t.clock.advance(Duration::seconds(290));
    let resp = no_redirects().get(url).send().await.expect("get");
    let cache = resp.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let max_age: i64 = cache
        .strip_prefix("private, max-age=")
        .and_then(|s| s.parse().ok())
        .expect("max-age");
    assert!(max_age <= 10, "{cache}");
}
