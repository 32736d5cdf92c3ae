//! Sessions: listed, logged out, revoked; and every kind of revocation
//! refused by a second server process sharing the database.

use serde_json::json;

use super::*;
use crate::support::PASSWORD;
use crate::support::process::{Process, ProcessEnv};

const SESSIONS: &str =
    "{ sessions { id createdAt lastUsedAt expiresAt clientAddress userAgent current } }";
const REVOKE: &str = "mutation($id: ID!) { revokeSession(id: $id) }";

#[tokio::test]
async fn sessions_are_listed_and_logout_or_revoking_one_refuses_its_token_at_once() {
    let t = TestApp::new().await;
    let first = t.user("sam", "Basic").await;
    let second = t.login("sam", PASSWORD).await;
    let data = t.gql_ok(Some(&first), SESSIONS, json!({})).await;
    let sessions = data["sessions"].as_array().expect("sessions").clone();
    assert_eq!(sessions.len(), 2, "{data}");
    // Newest first; the current one is marked; the client is recorded.
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(sessions[1]["current"], true);
    assert_eq!(sessions[1]["clientAddress"], "127.0.0.1");
    assert!(sessions[1]["expiresAt"].is_string());

    // Another user cannot see or revoke sam's sessions.
    let other = t.user("olga", "Basic").await;
    let body = t
        .gql(Some(&other), REVOKE, json!({ "id": sessions[0]["id"] }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND");
    assert!(accepted(&t, &second).await);

    t.gql_ok(Some(&first), REVOKE, json!({ "id": sessions[0]["id"] }))
        .await;
    assert!(!accepted(&t, &second).await);
    assert!(accepted(&t, &first).await);
    let body = t
        .gql(Some(&first), REVOKE, json!({ "id": sessions[0]["id"] }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "revoked twice");

    t.gql_ok(Some(&first), "mutation { logout }", json!({}))
        .await;
    assert!(!accepted(&t, &first).await);
    assert!(accepted(&t, &other).await);
}

#[tokio::test]
async fn an_admin_revokes_anyones_session_and_a_session_expires_on_the_clock() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let user = t.user("stolen", "Basic").await;
    let sid = t
        .app
        .tokens
        .verify(&user, t.clock.now())
        .expect("valid")
        .session_id;
    t.gql_ok(Some(&admin), REVOKE, json!({ "id": sid.to_string() }))
        .await;
    assert!(!accepted(&t, &user).await);
    let user = t.login("stolen", PASSWORD).await;
    t.clock.advance(chrono::Duration::hours(25));
    assert!(!accepted(&t, &user).await);
}

#[tokio::test]
async fn last_use_is_recorded_at_most_once_a_minute() {
    let t = TestApp::new().await;
    let token = t.user("lou", "Basic").await;
    let used = || async {
        t.gql_ok(Some(&token), SESSIONS, json!({})).await["sessions"][0]["lastUsedAt"]
            .as_str()
            .expect("lastUsedAt")
            .to_owned()
    };
    let created = used().await;
    assert_eq!(used().await, created, "no write within the minute");
    t.clock.advance(chrono::Duration::minutes(2));
    assert_ne!(used().await, created);
}

/// Every way a credential ends, checked on a second `image-vault serve`
/// that shares the database: refused on its next request.
#[tokio::test]
async fn each_kind_of_revocation_is_refused_by_a_second_server_at_once() {
    let t = TestApp::new().await;
    let other = Process::serve(&ProcessEnv::new(&t.db.url), "second", &["--no-workers"]).await;
    let admin = t.admin("root").await;
    let me_on = |token: String| {
        let http = t.http.clone();
        let base = other.base.clone();
        async move {
            let body: Value = http
                .post(format!("{base}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": ME }))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            body.get("errors").is_none()
        }
    };

    // logout
    let token = t.user("u1", "Basic").await;
    assert!(me_on(token.clone()).await);
    t.gql_ok(Some(&token), "mutation { logout }", json!({}))
        .await;
    assert!(!me_on(token).await, "after logout");

    // revokeSession by the user
    let token = t.user("u2", "Basic").await;
    let sid = t
        .app
        .tokens
        .verify(&token, t.clock.now())
        .expect("valid")
        .session_id;
    assert!(me_on(token.clone()).await);
    t.gql_ok(Some(&token), REVOKE, json!({ "id": sid.to_string() }))
        .await;
    assert!(!me_on(token).await, "after revokeSession");

    // revokeApiToken
    let session = t.user("u3", "Basic").await;
    let (secret, id) = api_token(&t, &session, "ci").await;
    assert!(me_on(secret.clone()).await);
    t.gql_ok(
        Some(&session),
        "mutation($id: ID!) { revokeApiToken(id: $id) }",
        json!({ "id": id }),
    )
    .await;
    assert!(!me_on(secret).await, "after revokeApiToken");

    // changePassword (another session and a token of the same user)
    let here = t.user("u4", "Basic").await;
    let there = t.login("u4", PASSWORD).await;
    let (secret, _) = api_token(&t, &here, "ci").await;
    assert!(me_on(there.clone()).await && me_on(secret.clone()).await);
    t.gql_ok(
        Some(&here),
        CHANGE,
        json!({ "c": PASSWORD, "n": NEW_PASSWORD }),
    )
    .await;
    assert!(!me_on(there).await, "session after changePassword");
    assert!(!me_on(secret).await, "token after changePassword");
    assert!(me_on(here).await, "the session that changed it stays");

    // resetPassword, disableUser, deleteUser by the administrator
    for (name, query) in [("u5", RESET), ("u6", DISABLE), ("u7", DELETE)] {
        let session = t.user(name, "Basic").await;
        let (secret, _) = api_token(&t, &session, "ci").await;
        let uid = id_of(&t, &session).await;
        assert!(me_on(session.clone()).await && me_on(secret.clone()).await);
        t.gql_ok(Some(&admin), query, json!({ "id": uid, "p": NEW_PASSWORD }))
            .await;
        assert!(!me_on(session).await, "session after {query}");
        assert!(!me_on(secret).await, "token after {query}");
    }
}

/// Revocation costs no extra round trip: the credential, its user and the
/// plan come in the one query the request needed before sessions existed.
#[tokio::test]
async fn an_authenticated_request_costs_one_query_with_a_session_or_an_api_token() {
    let t = TestApp::new().await;
    let session = t.user("cheap", "Premium").await;
    let (secret, _) = api_token(&t, &session, "ci").await;
    // The first use of each writes `last_used_at` (a token's is null).
    assert!(accepted(&t, &secret).await);
    for token in [&session, &secret] {
        let before = t.app.queries.get();
        let body = t.gql(Some(token), "{ me { id } }", json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(t.app.queries.get() - before, 1, "one statement per request");
    }
}

#[tokio::test]
async fn an_admin_lists_a_users_sessions_and_tokens_and_users_see_only_their_own() {
    let t = TestApp::new().await;
    let admin = t.admin("root").await;
    let user = t.user("listed", "Basic").await;
    let (_, token_id) = api_token(&t, &user, "ci").await;
    let uid = id_of(&t, &user).await;
    let query =
        "query($u: ID) { sessions(userId: $u) { id current } apiTokens(userId: $u) { id } }";
    let data = t.gql_ok(Some(&admin), query, json!({ "u": uid })).await;
    let sessions = data["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(data["apiTokens"][0]["id"], token_id.as_str());
    // The admin revokes the listed session: the user's token stops.
    t.gql_ok(Some(&admin), REVOKE, json!({ "id": sessions[0]["id"] }))
        .await;
    assert!(!accepted(&t, &user).await);

    let user = t.login("listed", PASSWORD).await;
    t.gql_ok(Some(&user), query, json!({ "u": uid })).await;
    let admin_id = id_of(&t, &admin).await;
    let body = t.gql(Some(&user), query, json!({ "u": admin_id })).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
}
