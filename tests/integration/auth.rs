use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, error_code};

const LOGIN: &str = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token expiresAt user { username isAdmin plan { name } } } }";
const ME: &str =
    "{ me { id username isAdmin plan { name thumbnailHeights originalLink expiringLinks } } }";

#[tokio::test]
async fn login_returns_a_token_that_me_accepts() {
    let t = TestApp::new().await;
    t.create_user("alice", "Premium", false).await;
    let data = t
        .gql_ok(None, LOGIN, json!({ "u": "Alice", "p": PASSWORD }))
        .await;
    assert_eq!(data["login"]["user"]["username"], "alice");
    assert_eq!(data["login"]["user"]["plan"]["name"], "Premium");
    let token = data["login"]["token"].as_str().expect("token");
    let me = t.gql_ok(Some(token), ME, json!({})).await;
    assert_eq!(me["me"]["username"], "alice");
    assert_eq!(me["me"]["isAdmin"], false);
    assert_eq!(me["me"]["plan"]["thumbnailHeights"], json!([200, 400]));
    assert_eq!(me["me"]["plan"]["originalLink"], true);
    assert_eq!(me["me"]["plan"]["expiringLinks"], false);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_error() {
    let t = TestApp::new().await;
    t.create_user("bob", "Basic", false).await;
    let wrong = t
        .gql(None, LOGIN, json!({ "u": "bob", "p": "not the password" }))
        .await;
    let unknown = t
        .gql(
            None,
            LOGIN,
            json!({ "u": "nobody", "p": "not the password" }),
        )
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");
    assert!(wrong["data"].is_null());
}

#[tokio::test]
async fn me_without_a_token_is_unauthenticated() {
    let t = TestApp::new().await;
    let body = t.gql(None, ME, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn expired_tampered_foreign_and_unsigned_tokens_are_refused() {
    let t = TestApp::new().await;
    let token = t.user("carol", "Basic").await;
    let user_id = t.gql_ok(Some(&token), ME, json!({})).await["me"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");

    let now = t.clock.now();
    let sid = t.app.tokens.verify(&token, now).expect("valid").session_id;
    let expired = t
        .app
        .tokens
        .issue(
            user_id,
            sid,
            now - Duration::hours(2),
            now - Duration::hours(1),
        )
        .expect("issue");

    let parts: Vec<&str> = token.split('.').collect();
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"sub":"{user_id}","sid":"{sid}","exp":{},"iat":0,"iss":"image-vault"}}"#,
        now.timestamp() + 999_999
    ));
    let tampered = format!("{}.{}.{}", parts[0], claims, parts[2]);
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        claims
    );
    let foreign = image_vault::auth::TokenKeys::new(b"some-other-secret-some-other-secret")
        .issue(user_id, sid, now, now + Duration::hours(1))
        .expect("issue");

    for (what, bad) in [
        ("expired", expired.as_str()),
        ("tampered", tampered.as_str()),
        ("alg none", none.as_str()),
        ("foreign key", foreign.as_str()),
        ("garbage", "not.a.token"),
    ] {
        let body = t.gql(Some(bad), ME, json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{what}: {body}");
    }
    // The genuine token still works.
    t.gql_ok(Some(&token), ME, json!({})).await;
}

#[tokio::test]
async fn tokens_expire_on_the_application_clock() {
    let t = TestApp::new().await;
    let token = t.user("dave", "Basic").await;
    t.gql_ok(Some(&token), ME, json!({})).await;
    t.clock.advance(Duration::hours(25));
    let body = t.gql(Some(&token), ME, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn a_deleted_users_token_is_refused() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use image_vault::db::schema::users;

    let t = TestApp::new().await;
    let token = t.user("erin", "Basic").await;
    let mut conn = t.app.db.get().await.expect("conn");
    diesel::delete(users::table.filter(users::username.eq("erin")))
        .execute(&mut conn)
        .await
        .expect("delete");
    let body = t.gql(Some(&token), ME, json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn default_plans_are_seeded_and_only_admins_list_them() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let data = t
        .gql_ok(
            Some(&admin),
            "{ plans { name thumbnailHeights originalLink expiringLinks } }",
            json!({}),
        )
        .await;
    let plans = data["plans"].as_array().expect("plans");
    let find = |name: &str| {
        plans
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("plan {name} missing: {data}"))
            .clone()
    };
    assert_eq!(
        find("Basic"),
        json!({ "name": "Basic", "thumbnailHeights": [200], "originalLink": false, "expiringLinks": false })
    );
    assert_eq!(
        find("Premium"),
        json!({ "name": "Premium", "thumbnailHeights": [200, 400], "originalLink": true, "expiringLinks": false })
    );
    assert_eq!(
        find("Enterprise"),
        json!({ "name": "Enterprise", "thumbnailHeights": [200, 400], "originalLink": true, "expiringLinks": true })
    );

    let user = t.user("frank", "Basic").await;
    let body = t.gql(Some(&user), "{ plans { name } }", json!({})).await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let body = t.gql(None, "{ plans { name } }", json!({})).await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_per_username_and_per_address() {
    let t = TestApp::builder()
        .var("LOGIN_FAILURES_PER_USER", "3")
        .var("LOGIN_ATTEMPTS_PER_IP", "8")
        .var("LOGIN_WINDOW_SECONDS", "900")
        .build()
        .await;
    t.create_user("gina", "Basic", false).await;
    for _ in 0..3 {
        let body = t
            .gql(None, LOGIN, json!({ "u": "gina", "p": "wrong password" }))
            .await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    // Locked, even with the right password, with a clear answer.
    let body = t
        .gql(None, LOGIN, json!({ "u": "gina", "p": PASSWORD }))
        .await;
    assert_eq!(error_code(&body), "TOO_MANY_REQUESTS", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("try again")
    );
    // Another user is not affected by gina's lock...
    t.create_user("hank", "Basic", false).await;
    let body = t
        .gql(None, LOGIN, json!({ "u": "hank", "p": PASSWORD }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    // ...until this address has used up its attempts (8 so far would be the 6th..).
    let mut limited = false;
    for _ in 0..5 {
        let body = t
            .gql(None, LOGIN, json!({ "u": "hank", "p": PASSWORD }))
            .await;
        limited |= error_code(&body) == "TOO_MANY_REQUESTS";
    }
    assert!(limited, "the per-address limit applies");
    // After the window both limits reset.
    t.clock.advance(Duration::minutes(16));
    let body = t
        .gql(None, LOGIN, json!({ "u": "gina", "p": PASSWORD }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}
