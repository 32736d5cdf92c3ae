//! `GET /graphql/ws`: GraphQL subscriptions over `graphql-transport-ws`
//! (and the legacy `graphql-ws`), authenticated in `connection_init` with
//! `{ "Authorization": "Bearer <token>" }` (or `{ "token": "<token>" }`).

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;

use super::HttpState;
use super::graphql::authenticate_value;
use crate::error::AppError;
use crate::graphql::Viewer;

pub async fn subscriptions(
    State(state): State<HttpState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = state.schema.clone();
    let app = state.app.clone();
    // A message is a GraphQL request: the same bound as a JSON body (axum's
    // default would buffer 64 MiB per message).
    let max_message = app.config.max_json_bytes;
    upgrade
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| async move {
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
                    let viewer = authenticate_value(&app, value.as_deref()).await?;
                    if !matches!(viewer, Viewer::User(_)) {
                        return Err(AppError::Unauthenticated.into());
                    }
                    let mut data = Data::default();
                    data.insert(viewer);
                    Ok(data)
                })
                .serve()
        })
}
