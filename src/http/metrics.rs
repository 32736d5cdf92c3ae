//! `GET /metrics`: Prometheus text format.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::jobs::queue;
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
    let now = app.clock.now();
    let depth = async {
        let mut conn = app.db.get().await.map_err(anyhow::Error::new)?;
        queue::depth(&mut conn, now)
            .await
            .map_err(anyhow::Error::new)
    }
    .await;
    match depth {
        Ok((by_status, oldest)) => {
            for status in ["queued", "running", "failed"] {
                let n = by_status
                    .iter()
                    .find(|(s, _)| s == status)
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!(m::QUEUE_DEPTH, "status" => status).set(n as f64);
            }
            let age = oldest.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0);
            metrics::gauge!(m::QUEUE_OLDEST_SECONDS).set(age);
        }
        Err(e) => tracing::warn!(error = %e, "cannot read queue depth for metrics"),
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
