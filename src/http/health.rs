//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use diesel_async::RunQueryDsl;
use serde_json::json;
use tokio::time::Instant;

use super::HttpState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The last readiness answer and when it was made.
#[derive(Default)]
pub struct ReadyCache(tokio::sync::Mutex<Option<(Instant, StatusCode, serde_json::Value)>>);

/// The database and the object storage are reachable.
///
/// `/readyz` is public and each check queries the database and writes to
/// storage, so an answer is reused for `READY_CACHE_MS`; callers arriving
/// while a check runs wait for it instead of starting their own.
pub async fn readyz(State(state): State<HttpState>) -> (StatusCode, Json<serde_json::Value>) {
    let mut cached = state.ready.0.lock().await;
    if let Some((at, code, body)) = cached.as_ref()
        && at.elapsed() < state.app.config.ready_cache
    {
        return (*code, Json(body.clone()));
    }
    let (code, body) = check(&state).await;
    *cached = Some((Instant::now(), code, body.clone()));
    (code, Json(body))
}

async fn check(state: &HttpState) -> (StatusCode, serde_json::Value) {
    let timeout = std::time::Duration::from_secs(3);
    let database = tokio::time::timeout(timeout, async {
        let mut conn = state.app.db.get().await.map_err(|e| e.to_string())?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| "timed out".to_owned())
    .and_then(|r| r);
    let storage = tokio::time::timeout(timeout, state.app.storage.check())
        .await
        .map_err(|_| "timed out".to_owned())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let status = |r: &Result<_, String>| match r {
        Ok(_) => json!("ok"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            json!("unavailable")
        }
    };
    let ready = database.is_ok() && storage.is_ok();
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "database": status(&database),
        "storage": status(&storage),
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, body)
}
