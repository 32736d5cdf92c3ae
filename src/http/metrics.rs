//! `GET /metrics`: Prometheus text format.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::service::operations;
use crate::telemetry::metrics as m;

pub async fn metrics(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let Some(handle) = m::handle() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let app = &state.app;
    if let Some(token) = &app.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), token.expose()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need METRICS_TOKEN as a bearer token\n",
            )
                .into_response();
        }
    }
    let status = app.db.status();
    metrics::gauge!(m::DB_POOL_SIZE).set(status.size as f64);
    metrics::gauge!(m::DB_POOL_AVAILABLE).set(status.available as f64);
    metrics::gauge!(m::DB_POOL_WAITING).set(status.waiting as f64);
    metrics::counter!(m::DB_QUERIES).absolute(app.queries.get());
    match operations::queue_status(app).await {
        Ok(queue) => {
            for (status, n) in [
                ("queued", queue.queued),
                ("running", queue.running),
                ("failed", queue.failed),
            ] {
                metrics::gauge!(m::QUEUE_DEPTH, "status" => status).set(n as f64);
            }
            metrics::gauge!(m::QUEUE_OLDEST_SECONDS).set(queue.oldest_queued_seconds);
        }
        Err(e) => tracing::warn!(error = %e.message(), "cannot read queue depth for metrics"),
    }
    handle.run_upkeep();
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Compares without an early exit, so the time taken says nothing of where
/// a guess first differs.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
