//! `GET /graphql/ws`: GraphQL over `graphql-transport-ws` (and the legacy
//! `graphql-ws`), authenticated in `connection_init` with
//! `{ "Authorization": "Bearer <token>" }` (or `{ "token": "<token>" }`).
//!
//! The socket is bound to the credential it was opened with. Every
//! operation resolves the viewer afresh (`gateway::Gateway`), and
//! the socket is closed when the credential ends: `4401` when the session or
//! token expires or is revoked, `4403` when the user is disabled or
//! deleted. The check runs when an account event for the user arrives
//! (Postgres NOTIFY from any server, see `events`), at the credential's
//! expiry, and every `RECHECK` as a safety net.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as GqlWebSocket, WebSocketProtocols, WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use chrono::{DateTime, Utc};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::HttpState;
use super::graphql::client_info;
use crate::app::App;
use crate::auth::viewer::{Refusal, Resolved, resolve};
use crate::db::models::User;
use crate::error::AppError;
use crate::graphql::context::ClientInfo;
use crate::graphql::gateway::SocketCredential;

/// Token or session expired or revoked.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// User disabled or deleted.
pub const CLOSE_FORBIDDEN: u16 = 4403;
/// A full re-check this often, in case an account event was missed.
const RECHECK: Duration = Duration::from_secs(30);
/// How often expiry is compared with the application clock (no query).
const TICK: Duration = Duration::from_secs(1);
/// Before a close, the answers of queries and mutations still running are
/// delivered, for at most this long (the answer to a `logout` sent over the
/// socket races the event that its own commit raises). Nothing else is
/// forwarded in that window: subscription events are dropped, so a client
/// learns of the end from the close code, not from a refused event.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// What the socket was opened with.
#[derive(Clone, Debug)]
struct Binding {
    authorization: String,
    user_id: Uuid,
    expires_at: Option<DateTime<Utc>>,
}

pub async fn subscriptions(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|protocols| {
            protocols
                .split(',')
                .find_map(|p| p.trim().parse::<WebSocketProtocols>().ok())
        });
    let Some(protocol) = protocol else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let client = client_info(&state.app, peer, &headers);
    // A message is a GraphQL request: the same bound as a JSON body (axum's
    // default would buffer 64 MiB per message).
    let max_message = state.app.config.max_json_bytes;
    upgrade
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(state, protocol, client, socket))
}

async fn serve(
    state: HttpState,
    protocol: WebSocketProtocols,
    client: ClientInfo,
    socket: WebSocket,
) {
    let app = state.app.clone();
    let (mut sink, stream) = socket.split();
    let running = Running::default();
    let started = running.clone();
    let input = stream
        .take_while(|r| futures_util::future::ready(r.is_ok()))
        .filter_map(|r| {
            futures_util::future::ready(match r {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => Some(m.into_data()),
                _ => None,
            })
        })
        .inspect(move |data| started.start(data));
    let (bound_tx, bound_rx) = tokio::sync::watch::channel::<Option<Binding>>(None);
    let init_app = app.clone();
    let gql = GqlWebSocket::new(state.gateway.clone(), input, protocol).on_connection_init(
        move |payload| async move {
            let value = ["Authorization", "authorization"]
                .iter()
                .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
                .map(str::to_owned)
                .or_else(|| {
                    payload
                        .get("token")
                        .and_then(|v| v.as_str())
                        .map(|t| format!("Bearer {t}"))
                });
            let Some(value) = value else {
                return Err(AppError::Unauthenticated.into());
            };
            let Resolved::User(auth) = resolve(&init_app, Some(&value)).await? else {
                return Err(AppError::Unauthenticated.into());
            };
            let _ = bound_tx.send(Some(Binding {
                authorization: value.clone(),
                user_id: auth.user.id,
                expires_at: auth.expires_at,
            }));
            let mut data = Data::default();
            data.insert(SocketCredential(value));
            data.insert(client);
            Ok(data)
        },
    );
    let mut gql = std::pin::pin!(gql);
    let mut accounts = app.events.subscribe_accounts();
    let mut accounts_open = true;
    let mut tick = tokio::time::interval(TICK);
    let mut last_check = tokio::time::Instant::now();
    loop {
        let mut check = false;
        tokio::select! {
            msg = gql.next() => match msg {
                Some(WsMessage::Text(text)) => {
                    running.finish(&text);
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let _ = sink.send(close(code, &reason)).await;
                    break;
                }
                None => break,
            },
            event = accounts.recv(), if accounts_open => match event {
                Ok(user_id) => {
                    check = user_id.is_nil()
                        || bound_rx.borrow().as_ref().is_some_and(|b| b.user_id == user_id);
                }
                Err(RecvError::Lagged(_)) => check = true,
                Err(RecvError::Closed) => accounts_open = false,
            },
            _ = tick.tick() => {
                let expired = bound_rx
                    .borrow()
                    .as_ref()
                    .and_then(|b| b.expires_at)
                    .is_some_and(|e| e <= app.clock.now());
                check = expired || last_check.elapsed() >= RECHECK;
            }
        }
        if !check {
            continue;
        }
        let binding = bound_rx.borrow().clone();
        let Some(binding) = binding else {
            continue;
        };
        last_check = tokio::time::Instant::now();
        if let Some((code, reason)) = still_allowed(&app, &binding).await {
            tracing::info!(user.id = %binding.user_id, code, reason, "closing WebSocket");
            let grace = tokio::time::Instant::now() + CLOSE_GRACE;
            while !running.is_empty() {
                let Ok(Some(WsMessage::Text(text))) =
                    tokio::time::timeout_at(grace, gql.next()).await
                else {
                    break;
                };
                if running.finish(&text) && sink.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            let _ = sink.send(close(code, reason)).await;
            break;
        }
    }
}

/// The ids of the queries and mutations a client started and has not had
/// the end of (`complete` or `error`); subscriptions are not counted.
#[derive(Clone, Default)]
struct Running(Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl Running {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a `subscribe` (or legacy `start`) of a query or mutation.
    fn start(&self, data: &[u8]) {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(data) else {
            return;
        };
        let kind = message["type"].as_str().unwrap_or_default();
        let Some(id) = message["id"].as_str() else {
            return;
        };
        let query = message["payload"]["query"].as_str().unwrap_or_default();
        if matches!(kind, "subscribe" | "start") && !is_subscription(query) {
            self.lock().insert(id.to_owned());
        }
    }

    /// Whether this outgoing message belongs to a running query or
    /// mutation; its end removes it.
    fn finish(&self, text: &str) -> bool {
        let mut running = self.lock();
        if running.is_empty() {
            return false;
        }
        let Ok(message) = serde_json::from_str::<serde_json::Value>(text) else {
            return false;
        };
        let Some(id) = message["id"].as_str() else {
            return false;
        };
        if !running.contains(id) {
            return false;
        }
        if matches!(message["type"].as_str(), Some("complete" | "error")) {
            running.remove(id);
        }
        true
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// Whether a document's first operation is a subscription (comments and
/// whitespace skipped; a document that starts otherwise is not).
fn is_subscription(query: &str) -> bool {
    let mut rest = query;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',' || c == '\u{feff}');
        match rest.strip_prefix('#') {
            Some(comment) => rest = comment.split_once('\n').map_or("", |(_, r)| r),
            None => break,
        }
    }
    rest.starts_with("subscription")
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.to_owned().into(),
    }))
}

/// `None` while the socket's credential and user are still good; else the
/// close code and reason.
async fn still_allowed(app: &Arc<App>, binding: &Binding) -> Option<(u16, &'static str)> {
    let resolved = match resolve(app, Some(&binding.authorization)).await {
        Ok(resolved) => resolved,
        Err(e) => {
            // The database is away: keep the socket; its operations fail
            // until it is back, and the next check decides.
            tracing::warn!(error = ?e, "cannot re-check a WebSocket's credential");
            return None;
        }
    };
    match resolved {
        Resolved::User(_) => None,
        Resolved::Anonymous => Some((CLOSE_UNAUTHORIZED, "unauthenticated")),
        Resolved::Refused(Refusal::Disabled) => Some((CLOSE_FORBIDDEN, "user disabled")),
        Resolved::Refused(Refusal::Expired) => Some((CLOSE_UNAUTHORIZED, "credential expired")),
        Resolved::Refused(Refusal::Revoked) => Some((CLOSE_UNAUTHORIZED, "credential revoked")),
        Resolved::Refused(Refusal::Invalid) => {
            // The session or token row is gone: with its user, or alone.
            let gone = match app.db().await {
                Ok(mut conn) => matches!(User::find(&mut conn, binding.user_id).await, Ok(None)),
                Err(_) => false,
            };
            if gone {
                Some((CLOSE_FORBIDDEN, "user deleted"))
            } else {
                Some((CLOSE_UNAUTHORIZED, "credential revoked"))
            }
        }
    }
}
