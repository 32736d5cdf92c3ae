//! API tokens: created once, used by a script, listed with their last use,
//! revoked and refused; never stored in clear.

use serde_json::json;

use super::*;
use crate::support::{images, upload_to};

const TOKENS: &str = "{ apiTokens { id name prefix createdAt lastUsedAt expiresAt } }";

#[tokio::test]
async fn an_api_token_uploads_is_listed_with_its_last_use_and_is_refused_once_revoked() {
    let t = TestApp::new().await;
    let session = t.user("ci", "Premium").await;
    let data = t
        .gql_ok(
            Some(&session),
            CREATE_TOKEN,
            json!({ "n": " deploy bot ", "e": 3600 }),
        )
        .await;
    let created = &data["createApiToken"];
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("ivt_") && secret.len() == 47, "{secret}");
    let token = &created["apiToken"];
    assert_eq!(token["name"], "deploy bot");
    assert!(secret.starts_with(token["prefix"].as_str().expect("prefix")));
    assert_eq!(token["lastUsedAt"], json!(null));
    assert!(token["expiresAt"].is_string());

    // A script uploads with it, with the user's own authority.
    let (status, body) = upload_to(
        &t.http,
        &t.base,
        &secret,
        "ci.jpg",
        images::jpeg(320, 240),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let me = t.gql_ok(Some(&secret), ME, json!({})).await;
    assert_eq!(me["me"]["username"], "ci");
    assert_eq!(me["me"]["isAdmin"], false);
    let body = t.gql(Some(&secret), "{ plans { id } }", json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN", "never more than the user");
    // A token cannot mint tokens that would outlive it.
    let body = t
        .gql(Some(&secret), CREATE_TOKEN, json!({ "n": "more" }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");

    let list = t.gql_ok(Some(&session), TOKENS, json!({})).await;
    let listed = list["apiTokens"].as_array().expect("tokens");
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["lastUsedAt"].is_string(), "{list}");
    assert!(
        !list.to_string().contains(&secret),
        "the secret is shown only once"
    );
    // Only its hash is stored (and its first 12 characters).
    let hashed = t
        .count(&format!(
            "api_tokens WHERE token_hash = sha256('{secret}'::bytea) AND length(prefix) = 12"
        ))
        .await;
    assert_eq!(hashed, 1);

    t.gql_ok(
        Some(&session),
        "mutation($id: ID!) { revokeApiToken(id: $id) }",
        json!({ "id": token["id"] }),
    )
    .await;
    let (_, body) = upload_to(
        &t.http,
        &t.base,
        &secret,
        "late.jpg",
        images::jpeg(32, 32),
        None,
    )
    .await;
    assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
    let list = t.gql_ok(Some(&session), TOKENS, json!({})).await;
    assert_eq!(list["apiTokens"], json!([]));
    assert_eq!(t.count("images").await, 1);
}

#[tokio::test]
async fn api_tokens_expire_and_bad_names_or_lifetimes_are_refused() {
    let t = TestApp::new().await;
    let session = t.user("exp", "Basic").await;
    let data = t
        .gql_ok(
            Some(&session),
            CREATE_TOKEN,
            json!({ "n": "short", "e": 60 }),
        )
        .await;
    let short = data["createApiToken"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let (forever, _) = api_token(&t, &session, "forever").await;
    assert!(accepted(&t, &short).await);
    t.clock.advance(chrono::Duration::minutes(2));
    assert!(!accepted(&t, &short).await);
    assert!(accepted(&t, &forever).await);
    for (name, expires) in [
        ("", json!(null)),
        ("x".repeat(65).as_str(), json!(null)),
        ("ok", json!(59)),
    ] {
        let body = t
            .gql(
                Some(&session),
                CREATE_TOKEN,
                json!({ "n": name, "e": expires }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{name} {expires}: {body}");
    }
    // Another user's token answers like one that does not exist.
    let (_, id) = api_token(&t, &session, "mine").await;
    let other = t.user("other", "Basic").await;
    let body = t
        .gql(
            Some(&other),
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND");
    // Forged tokens with the prefix are refused.
    assert!(!accepted(&t, "ivt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await);
}
