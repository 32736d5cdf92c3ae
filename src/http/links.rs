//! `GET /links/{token}`: checks the link and redirects to a presigned URL of
//! the original that lives at most 60 seconds. No login needed.

use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use crate::db::models::ExpiringLink;
use crate::storage::StorageKey;

/// Presigned URLs live between this and 1.25 times this (see `presign_get`):
/// 48 s keeps them within the promised 60 s.
const REDIRECT_LIFETIME: Duration = Duration::from_secs(48);

pub async fn follow(State(state): State<HttpState>, Path(token): Path<String>) -> Response {
    let app = &state.app;
    if token.len() > 64 {
        return StatusCode::NOT_FOUND.into_response();
    }
    let found = async {
        let mut conn = app.db.get().await.map_err(anyhow::Error::new)?;
        ExpiringLink::find_by_token(&mut conn, &token)
            .await
            .map_err(anyhow::Error::new)
    }
    .await;
    let (link, image) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot look up link");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let now = app.clock.now();
    let image_expired = image.expires_at.is_some_and(|at| at <= now);
    if link.revoked_at.is_some() || link.expires_at <= now || image_expired {
        return StatusCode::GONE.into_response();
    }
    let url = match app
        .storage
        .presign_get_at(
            &StorageKey::original(image.source_id),
            REDIRECT_LIFETIME,
            SystemTime::from(now),
        )
        .await
    {
        Ok(url) => url,
        Err(e) => {
            tracing::error!(error = %e, "cannot presign link target");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(&url) {
        Ok(v) => headers.insert(header::LOCATION, v),
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    // The redirect may be reused while both the link and its target are
    // valid: the shorter of the two lifetimes.
    let target_lifetime = i64::try_from(REDIRECT_LIFETIME.as_secs()).unwrap_or(0);
    let max_age = (link.expires_at - now)
        .num_seconds()
        .clamp(0, target_lifetime);
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={max_age}")) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}-{}\"", link.id, max_age)) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
