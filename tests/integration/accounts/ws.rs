//! What an open WebSocket sees: every operation runs with the user's current
//! plan and flags, and the socket closes (4401, 4403) when its credential
//! ends, whichever server ended it.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::support::process::{Process, ProcessEnv};
use crate::support::{PASSWORD, Ws, ws_connect};

/// How long the server may take to close a socket after a revocation
/// (the safety re-check runs every 30 s: this proves the event path).
const CLOSE_DEADLINE: Duration = Duration::from_secs(20);
/// How long an answer may take on a loaded machine.
const REPLY_DEADLINE: Duration = Duration::from_secs(30);

/// A socket, initialised and acknowledged, with `token`.
async fn open(t: &TestApp, token: &str) -> Ws {
    let mut ws = ws_connect(
        &t.base,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await;
    match next(&mut ws).await {
        Event::Json(ack) => assert_eq!(ack["type"], "connection_ack", "{ack}"),
        other => panic!("no ack: {other:?}"),
    }
    ws
}

#[derive(Debug)]
enum Event {
    Json(Value),
    Closed(Option<u16>),
}

async fn next(ws: &mut Ws) -> Event {
    next_within(ws, REPLY_DEADLINE).await
}

async fn next_within(ws: &mut Ws, deadline: Duration) -> Event {
    loop {
        let msg = tokio::time::timeout(deadline, ws.next())
            .await
            .expect("a message in time");
        match msg {
            Some(Ok(Message::Text(text))) => {
                return Event::Json(serde_json::from_str(&text).expect("json"));
            }
            Some(Ok(Message::Close(frame))) => {
                return Event::Closed(frame.map(|f| u16::from(f.code)));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Event::Closed(None),
        }
    }
}

/// Runs one query or mutation over the socket; returns its payload.
async fn run(ws: &mut Ws, id: &str, query: &str, variables: Value) -> Value {
    let msg = json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } });
    ws.send(Message::text(msg.to_string())).await.expect("send");
    loop {
        match next(ws).await {
            // The `complete` that follows an earlier operation's result.
            Event::Json(reply) if reply["type"] == "complete" => {}
            Event::Json(reply) => {
                assert_eq!(reply["id"], id, "{reply}");
                assert_eq!(reply["type"], "next", "{reply}");
                return reply["payload"].clone();
            }
            other => panic!("socket closed: {other:?}"),
        }
    }
}

/// Waits for the socket to be closed; returns the code.
async fn closed(ws: &mut Ws) -> Option<u16> {
    loop {
        if let Event::Closed(code) = next_within(ws, CLOSE_DEADLINE).await {
            return code;
        }
    }
}

const PLAN: &str = "{ me { isAdmin plan { name expiringLinks } } }";
const CREATE_PLAN: &str =
    "mutation($n: String!) { createPlan(input: { name: $n, thumbnailHeights: [100] }) { id } }";

#[tokio::test]
async fn a_downgrade_and_a_demotion_show_on_an_open_socket() {
    let t = TestApp::new().await;
    let root = t.admin("root").await;
    let user = t.user("ent", "Enterprise").await;
    let uid = id_of(&t, &user).await;
    let mut ws = open(&t, &user).await;
    let before = run(&mut ws, "1", PLAN, json!({})).await;
    assert_eq!(
        before["data"]["me"]["plan"],
        json!({ "name": "Enterprise", "expiringLinks": true })
    );
    let basic = t
        .gql_ok(Some(&root), "{ plans { id name } }", json!({}))
        .await["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["name"] == "Basic")
        .expect("basic")["id"]
        .clone();
    t.gql_ok(
        Some(&root),
        "mutation($u: ID!, $p: ID) { setUserPlan(userId: $u, planId: $p) { id } }",
        json!({ "u": uid, "p": basic }),
    )
    .await;
    let after = run(&mut ws, "2", PLAN, json!({})).await;
    assert_eq!(
        after["data"]["me"]["plan"],
        json!({ "name": "Basic", "expiringLinks": false })
    );

    // A demoted administrator's open socket loses admin rights at once.
    let ops = t.admin("ops").await;
    let ops_id = id_of(&t, &ops).await;
    let mut admin_ws = open(&t, &ops).await;
    let ok = run(&mut admin_ws, "1", CREATE_PLAN, json!({ "n": "Before" })).await;
    assert!(ok.get("errors").is_none(), "{ok}");
    t.gql_ok(
        Some(&root),
        UPDATE_USER,
        json!({ "id": ops_id, "input": { "isAdmin": false } }),
    )
    .await;
    let refused = run(&mut admin_ws, "2", CREATE_PLAN, json!({ "n": "After" })).await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
    // The session itself is still good: the socket stays open.
    let me = run(&mut admin_ws, "3", PLAN, json!({})).await;
    assert_eq!(me["data"]["me"]["isAdmin"], false);
}

#[tokio::test]
async fn a_revoked_session_or_token_closes_its_socket_with_4401() {
    let t = TestApp::new().await;
    let session = t.user("rev", "Basic").await;
    let (secret, token_id) = api_token(&t, &session, "ws").await;
    let spare = t.login("rev", PASSWORD).await;
    let mut by_session = open(&t, &session).await;
    let mut by_token = open(&t, &secret).await;
    let mut by_spare = open(&t, &spare).await;

    // Revoked through a second server process: the event crosses over NOTIFY.
    let other = Process::serve(&ProcessEnv::new(&t.db.url), "revoker", &["--no-workers"]).await;
    let revoke = |query: &'static str, id: String| {
        let http = t.http.clone();
        let base = other.base.clone();
        let spare = spare.clone();
        async move {
            let body: Value = http
                .post(format!("{base}/graphql"))
                .bearer_auth(spare)
                .json(&json!({ "query": query, "variables": { "id": id } }))
                .send()
                .await
                .expect("send")
                .json()
                .await
                .expect("json");
            assert!(body.get("errors").is_none(), "{body}");
        }
    };
    let sid = t
        .app
        .tokens
        .verify(&session, t.clock.now())
        .expect("valid")
        .session_id;
    revoke(
        "mutation($id: ID!) { revokeSession(id: $id) }",
        sid.to_string(),
    )
    .await;
    assert_eq!(closed(&mut by_session).await, Some(4401));
    revoke("mutation($id: ID!) { revokeApiToken(id: $id) }", token_id).await;
    assert_eq!(closed(&mut by_token).await, Some(4401));
    // The spare session's socket still works.
    let me = run(&mut by_spare, "1", ME, json!({})).await;
    assert!(me.get("errors").is_none(), "{me}");

    // And when the session simply expires.
    t.clock.advance(chrono::Duration::hours(25));
    assert_eq!(closed(&mut by_spare).await, Some(4401));
    drop(other);
}

#[tokio::test]
async fn disabling_or_deleting_the_user_closes_their_sockets_with_4403() {
    let t = TestApp::new().await;
    let root = t.admin("root").await;
    for query in [DISABLE, DELETE] {
        let name = if query == DISABLE { "off" } else { "gone" };
        let user = t.user(name, "Basic").await;
        let uid = id_of(&t, &user).await;
        let mut ws = open(&t, &user).await;
        let (secret, _) = api_token(&t, &user, "ws").await;
        let mut by_token = open(&t, &secret).await;
        t.gql_ok(Some(&root), query, json!({ "id": uid })).await;
        assert_eq!(closed(&mut ws).await, Some(4403), "{query}");
        assert_eq!(closed(&mut by_token).await, Some(4403), "{query}");
    }
}

#[tokio::test]
async fn a_logout_over_the_socket_closes_it_and_logins_over_it_are_throttled() {
    let t = TestApp::builder()
        .var("LOGIN_FAILURES_PER_USER", "2")
        .build()
        .await;
    t.create_user("victim", "Basic", false).await;
    let attacker = t.user("mallory", "Basic").await;
    let mut ws = open(&t, &attacker).await;
    let login =
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }";
    let mut codes = Vec::new();
    for i in 0..4 {
        let reply = run(
            &mut ws,
            &i.to_string(),
            login,
            json!({ "u": "victim", "p": "guess" }),
        )
        .await;
        codes.push(code(&reply).to_owned());
    }
    assert_eq!(
        codes,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "TOO_MANY_REQUESTS",
            "TOO_MANY_REQUESTS"
        ]
    );
    run(&mut ws, "9", "mutation { logout }", json!({})).await;
    assert_eq!(closed(&mut ws).await, Some(4401));
}
