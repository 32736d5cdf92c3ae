//! `PUT /uploads/{id}`: the fs backend's stand-in for a presigned S3 PUT in
//! direct uploads. The URL's HMAC covers the key, the expiry and the size;
//! the body must be exactly that size (Content-Length, no chunking), of the
//! slot's content type, and is streamed to disk, never held in memory.
//!
//! Refusals: 403 bad or expired signature, 411 no Content-Length, 413 more
//! than the signed size, 400 less (or a body that ends early), 415 another
//! content type, 404 no such slot, 409 slot already completed or another
//! PUT to it in progress.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt as _;
use serde::Deserialize;

use super::HttpState;
use crate::db::models::UploadSlot;
use crate::imaging::ImageKind;
use crate::storage::{PutStreamError, StorageError, StorageKey};

#[derive(Deserialize)]
pub struct PutSignature {
    expires: Option<i64>,
    size: Option<u64>,
    sig: Option<String>,
}

#[tracing::instrument(name = "direct_upload.put", skip_all, fields(upload.id = %id))]
pub async fn put_upload(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(q): Query<PutSignature>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let app = &state.app;
    let Some(fs) = app.storage.as_fs() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (Some(expires), Some(size), Some(sig)) = (q.expires, q.size, q.sig) else {
        return refuse(StatusCode::FORBIDDEN, "missing signature");
    };
    let now = app.clock.now().timestamp();
    let Some(key @ StorageKey::Upload(slot_id)) =
        fs.authorize_put(&format!("uploads/{id}"), expires, size, &sig, now)
    else {
        return refuse(StatusCode::FORBIDDEN, "invalid or expired signature");
    };
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return refuse(
            StatusCode::LENGTH_REQUIRED,
            "send the file with a Content-Length, not chunked",
        );
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        None => return refuse(StatusCode::LENGTH_REQUIRED, "Content-Length is required"),
        Some(n) if n > size => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is larger than the announced size",
            );
        }
        Some(n) if n < size => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the body is smaller than the announced size",
            );
        }
        Some(_) => {}
    }
    let slot = match app.db().await {
        Ok(mut conn) => UploadSlot::find(&mut conn, slot_id).await,
        Err(e) => return e.into_response(),
    };
    let slot = match slot {
        Ok(Some(slot)) => slot,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "no such upload"),
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    if slot.completed_at.is_some() {
        return refuse(
            StatusCode::CONFLICT,
            "this upload has been completed already",
        );
    }
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(ImageKind::from_content_type);
    if sent_type.is_none() || sent_type != ImageKind::from_content_type(&slot.content_type) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be the one the upload was created with",
        );
    }
    let reader =
        tokio_util::io::StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    match fs.put_stream(&key, &slot.content_type, size, reader).await {
        Ok(()) => {
            tracing::info!(bytes = size, "direct upload received");
            StatusCode::OK.into_response()
        }
        Err(PutStreamError::Short { .. } | PutStreamError::Body(_)) => {
            refuse(StatusCode::BAD_REQUEST, "the body ended early")
        }
        Err(PutStreamError::Busy) => refuse(
            StatusCode::CONFLICT,
            "another request is uploading to this URL; wait for it to finish",
        ),
        Err(PutStreamError::Storage(e @ StorageError::Unavailable(_))) => {
            tracing::warn!(error = %e, "cannot store a direct upload");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(PutStreamError::Storage(e)) => {
            tracing::error!(error = %e, "cannot store a direct upload");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}
