//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use super::HttpState;
use crate::service::operations::{self, Readiness};

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database and the object storage are reachable (the answer is reused
/// for `READY_CACHE_MS`; see `service::operations::readiness`).
pub async fn readyz(State(state): State<HttpState>) -> (StatusCode, Json<serde_json::Value>) {
    let answer = operations::readiness(&state.app).await;
    let body = json!({
        "status": if answer.ready() { "ok" } else { "unavailable" },
        "database": Readiness::word(&answer.database),
        "storage": Readiness::word(&answer.storage),
    });
    let code = if answer.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}
