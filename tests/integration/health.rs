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

async fn preflight(t: &TestApp, origin: &str) -> reqwest::Response {
    t.http
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", t.base))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("preflight")
}

#[tokio::test]
async fn cors_is_closed_by_default_and_opens_for_configured_origins() {
    let t = TestApp::new().await;
    let r = preflight(&t, "https://evil.example").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let t = TestApp::builder()
        .var("CORS_ALLOWED_ORIGINS", "https://app.example")
        .build()
        .await;
    let r = preflight(&t, "https://app.example").await;
    assert_eq!(
        r.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example")
    );
    let r = preflight(&t, "https://evil.example").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
