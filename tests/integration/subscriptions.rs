//! `imageUpdated` over graphql-transport-ws, with the thumbnail made by
//! another "process" (a second App on the same database).

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use image_vault::app::App;
use image_vault::clock::Clock;
use image_vault::config::Config;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{TEST_SECRET, TestApp, Ws, images, ws_connect};

async fn connect(t: &TestApp, init: Value) -> Ws {
    ws_connect(&t.base, init).await
}

/// The next JSON message, or None when the socket closes.
async fn next(ws: &mut Ws) -> Option<Value> {
    let deadline = Duration::from_secs(20);
    loop {
        let msg = tokio::time::timeout(deadline, ws.next())
            .await
            .expect("a message in time")?;
        match msg.ok()? {
            Message::Text(text) => return serde_json::from_str(&text).ok(),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

#[tokio::test]
async fn image_updated_streams_until_thumbnails_made_elsewhere_are_ready() {
    let t = TestApp::new().await;
    let token = t.user("sub", "Premium").await;
    let img = t.upload(&token, "a.jpg", images::jpeg(600, 400)).await;
    let id = img["id"].as_str().expect("id").to_owned();

    let mut ws = connect(&t, json!({ "Authorization": format!("Bearer {token}") })).await;
    assert_eq!(next(&mut ws).await.expect("ack")["type"], "connection_ack");
    ws.send(Message::text(
        json!({
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { imageUpdated(id: $id) { id thumbnails { height status url } } }",
                "variables": { "id": id },
            }
        })
        .to_string(),
    ))
    .await
    .expect("subscribe");
    let first = next(&mut ws).await.expect("first event");
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(
        first["payload"]["data"]["imageUpdated"]["thumbnails"][0]["status"],
        "PENDING"
    );

    // Another process (own pool, own event hub) makes the thumbnails; the
    // event reaches this server through Postgres NOTIFY.
    let config = Config::from_map(
        &[
            ("DATABASE_URL", t.db.url.clone()),
            ("JWT_SECRET", TEST_SECRET.to_owned()),
            ("STORAGE_DIR", t.storage_dir.path().display().to_string()),
        ]
        .into_iter()
        .collect(),
    )
    .expect("config");
    let worker = App::new(config, Clock::default())
        .await
        .expect("worker app");
    image_vault::jobs::run_until_idle(&worker)
        .await
        .expect("jobs");

    loop {
        let event = next(&mut ws).await.expect("an update");
        assert_eq!(event["type"], "next", "{event}");
        let thumbs = &event["payload"]["data"]["imageUpdated"]["thumbnails"];
        if thumbs
            .as_array()
            .expect("thumbnails")
            .iter()
            .all(|t| t["status"] == "READY")
        {
            assert!(thumbs[0]["url"].is_string());
            break;
        }
    }
}

#[tokio::test]
async fn subscriptions_need_a_valid_token_in_connection_init_and_your_own_image() {
    let t = TestApp::new().await;
    let owner = t.user("own", "Basic").await;
    let other = t.user("oth", "Basic").await;
    let img = t.upload(&owner, "a.jpg", images::jpeg(60, 40)).await;

    let mut ws = connect(&t, json!({ "Authorization": "Bearer forged.token.here" })).await;
    assert!(
        next(&mut ws)
            .await
            .is_none_or(|m| m["type"] != "connection_ack"),
        "a forged token is not acknowledged"
    );

    let mut ws = connect(&t, json!({ "token": other })).await;
    assert_eq!(next(&mut ws).await.expect("ack")["type"], "connection_ack");
    ws.send(Message::text(
        json!({
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription($id: ID!) { imageUpdated(id: $id) { id } }",
                "variables": { "id": img["id"] },
            }
        })
        .to_string(),
    ))
    .await
    .expect("subscribe");
    let answer = next(&mut ws).await.expect("answer");
    // Answered as if the image did not exist.
    assert_eq!(answer["type"], "next", "{answer}");
    assert!(answer["payload"]["data"].is_null());
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"],
        "NOT_FOUND"
    );
}
