//! `GET /files/{*key}`: objects of the local-files backend, behind an
//! HMAC-signed expiry that the server checks (expired or altered: 403).

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::HttpState;
use crate::storage::StorageError;

#[derive(Deserialize)]
pub struct Signature {
    expires: Option<i64>,
    sig: Option<String>,
}

pub async fn get_file(
    State(state): State<HttpState>,
    Path(key): Path<String>,
    Query(q): Query<Signature>,
    request_headers: HeaderMap,
) -> Response {
    let Some(fs) = state.app.storage.as_fs() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = state.app.clock.now().timestamp();
    let (Some(expires), Some(sig)) = (q.expires, q.sig) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let Some(key) = fs.authorize(&key, expires, &sig, now) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let object = match fs.open(&key).await {
        Ok(o) => o,
        Err(StorageError::NotFound) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot open stored file");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let max_age = (expires - now).max(0);
    // Objects never change in place (a new version gets a new key), so size
    // and modification time identify the bytes.
    let modified = object
        .file
        .metadata()
        .await
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("\"{:x}-{modified:x}\"", object.size);
    let cache_control = format!("private, max-age={max_age}");
    let not_modified = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if not_modified {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&cache_control) {
            headers.insert(header::CACHE_CONTROL, v);
        }
        return response;
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(object.file));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&object.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(object.size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if let Ok(v) = HeaderValue::from_str(&cache_control) {
        headers.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    response
}
