//! `GET /metrics`: Prometheus text format.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::jobs::queue;
use crate::telemetry::metrics as m;

pub async fn metrics(State(state): State<HttpState>) -> Response {
    let Some(handle) = m::handle() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let app = &state.app;
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
