//! The latency people see: from an upload's answer to the `imageUpdated`
//! event that shows its last thumbnail READY, over one
//! `graphql-transport-ws` socket carrying a subscription per image.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::infra::{self, Ws};

/// Follows images to READY; see [`Watcher::follow`].
pub struct Watcher {
    tx: mpsc::UnboundedSender<(String, Instant)>,
    done: oneshot::Receiver<anyhow::Result<Vec<Duration>>>,
}

impl Watcher {
    /// Opens the socket as the user with `token` on the server at `base`.
    pub async fn connect(base: &str, token: &str, expect: usize) -> anyhow::Result<Watcher> {
        let mut ws = infra::ws_open(base, token).await?;
        loop {
            let msg = ws.next().await.context("socket closed before the ack")??;
            if let Message::Text(text) = msg {
                let msg: Value = serde_json::from_str(&text)?;
                if msg["type"] == "connection_ack" {
                    break;
                }
                bail!("unexpected message before the ack: {msg}");
            }
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done) = oneshot::channel();
        tokio::spawn(async move {
            let _ = done_tx.send(run(ws, rx, expect).await);
        });
        Ok(Watcher { tx, done })
    }

    /// Follows the image `id`, whose upload was answered at `answered`.
    pub fn follow(&self, id: String, answered: Instant) {
        let _ = self.tx.send((id, answered));
    }

    /// The latencies of all `expect` images, once every one is READY.
    pub async fn finish(self) -> anyhow::Result<Vec<Duration>> {
        drop(self.tx);
        tokio::time::timeout(Duration::from_secs(900), self.done)
            .await
            .context("images never READY")?
            .context("watcher stopped")?
    }
}

async fn run(
    mut ws: Ws,
    mut follow: mpsc::UnboundedReceiver<(String, Instant)>,
    expect: usize,
) -> anyhow::Result<Vec<Duration>> {
    // Subscription id -> when its upload was answered.
    let mut open: HashMap<String, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(expect);
    let mut next = 0usize;
    let mut following = true;
    while latencies.len() < expect {
        tokio::select! {
            item = follow.recv(), if following => {
                let Some((id, answered)) = item else {
                    following = false;
                    continue;
                };
                next += 1;
                let sub = next.to_string();
                open.insert(sub.clone(), answered);
                ws.send(Message::text(
                    json!({
                        "id": sub,
                        "type": "subscribe",
                        "payload": {
                            "query": "subscription($id: ID!) { imageUpdated(id: $id) { thumbnails { status } } }",
                            "variables": { "id": id },
                        },
                    })
                    .to_string(),
                ))
                .await?;
            }
            msg = ws.next() => {
                let now = Instant::now();
                let text = match msg.context("socket closed")?? {
                    Message::Text(text) => text,
                    Message::Close(frame) => bail!("socket closed: {frame:?}"),
                    _ => continue,
                };
                let msg: Value = serde_json::from_str(&text)?;
                match msg["type"].as_str() {
                    Some("ping") => {
                        ws.send(Message::text(json!({ "type": "pong" }).to_string())).await?;
                    }
                    Some("next") => {
                        let thumbs = &msg["payload"]["data"]["imageUpdated"]["thumbnails"];
                        let thumbs = thumbs.as_array().context("an event without thumbnails")?;
                        if thumbs.iter().any(|t| t["status"] == "FAILED") {
                            bail!("a thumbnail FAILED: {msg}");
                        }
                        let ready = !thumbs.is_empty() && thumbs.iter().all(|t| t["status"] == "READY");
                        let sub = msg["id"].as_str().unwrap_or_default().to_owned();
                        if ready && let Some(answered) = open.remove(&sub) {
                            latencies.push(now.saturating_duration_since(answered));
                            ws.send(Message::text(
                                json!({ "id": sub, "type": "complete" }).to_string(),
                            ))
                            .await?;
                        }
                    }
                    Some("complete") => {}
                    _ => bail!("unexpected message {msg}"),
                }
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(latencies)
}

/// p50, p99 and max of some latencies, in milliseconds.
pub fn summary(latencies: &mut [Duration]) -> String {
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies
            .get(i)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    format!(
        "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} images)",
        at(0.5),
        at(0.99),
        at(1.0),
        latencies.len()
    )
}
