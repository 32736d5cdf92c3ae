//! Secrets never reach logs or clients, even with debug logging and errors.

use serde_json::json;

use crate::support::process::{Process, ProcessEnv};
use crate::support::s3::start_s3_server;
use crate::support::{PASSWORD, TEST_SECRET, TestApp, images, upload_to};

#[tokio::test]
async fn secrets_appear_in_no_log_line_and_no_response() {
    let mut s3 = start_s3_server().await;
    if !s3.can_stop() {
        eprintln!("skipped: needs a stoppable S3 server");
        return;
    }
    let t = TestApp::builder().s3(&s3).build().await;
    t.create_user("sec", "Premium", false).await;
    let env = ProcessEnv::new(&t.db.url).s3(&s3).var("RUST_LOG", "debug");
    let mut server = Process::serve(&env, "serve", &[]).await;
    let http = reqwest::Client::new();
    let gql = |query: &str, vars: serde_json::Value, token: Option<String>| {
        let mut req = http
            .post(format!("{}/graphql", server.base))
            .json(&json!({ "query": query, "variables": vars }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let login = "mutation($p: String!) { login(username: \"sec\", password: $p) { token } }";
    let mut responses = Vec::new();
    let bad = gql(login, json!({ "p": "a wrong password" }), None)
        .await
        .expect("login");
    responses.push(bad.text().await.expect("body"));
    let ok: serde_json::Value = gql(login, json!({ "p": PASSWORD }), None)
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = ok["data"]["login"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (_, body) = upload_to(
        &http,
        &server.base,
        &token,
        "a.jpg",
        images::jpeg(200, 100),
        None,
    )
    .await;
    responses.push(body.to_string());
    // Errors with storage down: the upload, readiness.
    s3.stop().await;
    let (_, body) = upload_to(
        &http,
        &server.base,
        &token,
        "b.jpg",
        images::jpeg(100, 200),
        None,
    )
    .await;
    responses.push(body.to_string());
    let ready = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .expect("readyz");
    responses.push(ready.text().await.expect("body"));
    server.terminate();
    server.wait_exit(std::time::Duration::from_secs(30)).await;

    let logs = server.logs();
    assert!(
        logs.contains("object storage"),
        "the outage was logged:\n{}",
        server.tail()
    );
    // The S3 access key *id* is not a secret: every presigned URL carries it
    // (and the SDK's debug logs show it). Its secret key must never show.
    for (what, secret) in [
        ("JWT_SECRET", TEST_SECRET),
        ("S3 secret key", s3.secret_access_key.as_str()),
        ("a password", PASSWORD),
        ("a wrong password", "a wrong password"),
    ] {
        assert!(!logs.contains(secret), "{what} in the logs");
        for body in &responses {
            assert!(!body.contains(secret), "{what} in a response: {body}");
        }
    }
}
