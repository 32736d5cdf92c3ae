use crate::support::TestApp;

#[tokio::test]
async fn health_and_readiness_answer() {
    let t = TestApp::new().await;
    let r = t
        .http
        .get(format!("{}/healthz", t.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    let r = t
        .http
        .get(format!("{}/readyz", t.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["storage"], "ok");
}

#[tokio::test]
async fn the_playground_is_served_on_get() {
    let t = TestApp::new().await;
    let r = t
        .http
        .get(format!("{}/graphql", t.base))
        .send()
        .await
        .expect("playground");
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("text");
    assert!(html.contains("graphiql"), "{html}");
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let t = TestApp::new().await;
    let r = t
        .http
        .post(format!("{}/graphql", t.base))
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(crate::support::error_code(&body), "BAD_USER_INPUT");
}

#[tokio::test]
async fn simple_cross_site_posts_need_a_preflight_header() {
    let t = TestApp::new().await;
    let r = t
        .http
        .post(format!("{}/graphql", t.base))
        .header("content-type", "text/plain")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let r = t
        .http
        .post(format!("{}/graphql", t.base))
        .header("content-type", "text/plain")
        .header("apollo-require-preflight", "true")
        .body(r#"{"query":"{ __typename }"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}
