//! `POST /graphql` (JSON and multipart) and the GraphiQL playground.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::http::MultipartOptions;
use async_graphql::{ParseRequestError, ServerError};
use async_graphql_axum::GraphQLResponse;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt as _, TryStreamExt as _};
use tokio_util::compat::TokioAsyncReadCompatExt as _;

use super::HttpState;
use super::parts::PartCounter;
use crate::app::App;
use crate::error::AppError;
use crate::graphql::Viewer;
use crate::graphql::context::ClientInfo;
use crate::telemetry::metrics;

/// Headers that a browser cannot send cross-site without a CORS preflight.
const PREFLIGHT_HEADERS: [&str; 3] = [
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-preflight",
];

pub async fn graphql_handler(
    State(state): State<HttpState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let app = &state.app;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Err(e) = check_csrf(content_type.as_deref(), &headers) {
        // Read (a bounded amount of) what the client is sending, so that it
        // gets to read our answer instead of a reset connection.
        drain(body, REFUSED_BODY_DRAIN).await;
        return error_response(e);
    }
    let limit = app.config.max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return error_response(too_large(limit));
    }
    let viewer = match authenticate(app, &headers).await {
        Ok(viewer) => viewer,
        Err(e) => return error_response(e),
    };

    // Count bytes as they arrive so that a body without (or lying about its)
    // Content-Length is cut off at the limit, not read to the end.
    let exceeded = Arc::new(AtomicBool::new(false));
    let flag = exceeded.clone();
    let mut seen: u64 = 0;
    // Multipart parts are counted the same way: a body with more files than
    // allowed is cut off at the first part too many.
    let max_files = app.config.max_files_per_request;
    let too_many = Arc::new(AtomicBool::new(false));
    let parts_flag = too_many.clone();
    let mut parts = content_type
        .as_deref()
        .and_then(PartCounter::for_content_type);
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > limit {
            flag.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("request body too large"));
        }
        // The files, `operations`, `map`, and the closing delimiter.
        if parts
            .as_mut()
            .is_some_and(|p| p.feed(&chunk) > max_files + 3)
        {
            parts_flag.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("too many multipart parts"));
        }
        Ok(chunk)
    });
    let reader = tokio_util::io::StreamReader::new(stream.into_stream()).compat();
    let options = MultipartOptions::default()
        .max_file_size(usize::try_from(limit).unwrap_or(usize::MAX))
        .max_num_files(app.config.max_files_per_request);
    let request = match async_graphql::http::receive_body(content_type, reader, options).await {
        Ok(request) => request,
        Err(_) if exceeded.load(Ordering::Relaxed) => return error_response(too_large(limit)),
        Err(_) if too_many.load(Ordering::Relaxed) => {
            return error_response(too_many_files(max_files));
        }
        Err(ParseRequestError::PayloadTooLarge) => return error_response(too_large(limit)),
        Err(e) => return error_response(bad_request(e)),
    };
    // A part mapped to several variables is as many files.
    if request.uploads.len() > max_files {
        return error_response(too_many_files(max_files));
    }
    let operation = metrics::operation_label(
        request
            .operation_name
            .as_deref()
            .or_else(|| metrics::operation_name_in(&request.query)),
    );
    let request = request.data(viewer).data(client_info(app, peer, &headers));
    let started = std::time::Instant::now();
    let response = state.schema.execute(request).await;
    let outcome = response
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|ext| ext.get("code"))
        .and_then(|code| match code {
            async_graphql::Value::String(s) => Some(s.to_ascii_lowercase()),
            _ => None,
        })
        .unwrap_or_else(|| {
            if response.errors.is_empty() {
                "ok".into()
            } else {
                "error".into()
            }
        });
    ::metrics::histogram!(metrics::GRAPHQL_SECONDS, "operation" => operation.clone())
        .record(started.elapsed().as_secs_f64());
    ::metrics::counter!(metrics::GRAPHQL_REQUESTS, "operation" => operation, "outcome" => outcome)
        .increment(1);
    GraphQLResponse::from(response).into_response()
}

fn too_large(limit: u64) -> AppError {
    AppError::PayloadTooLarge(format!("request body exceeds the limit of {limit} bytes"))
}

fn too_many_files(max: usize) -> AppError {
    AppError::PayloadTooLarge(format!("too many files: at most {max} files per request"))
}

fn bad_request(e: ParseRequestError) -> AppError {
    let message = match e {
        ParseRequestError::InvalidRequest(e) => format!("invalid request: {e}"),
        ParseRequestError::InvalidFilesMap(e) => format!("invalid multipart map: {e}"),
        ParseRequestError::InvalidMultipart(e) => format!("invalid multipart body: {e}"),
        ParseRequestError::MissingOperatorsPart => "multipart body has no operations part".into(),
        ParseRequestError::MissingMapPart => "multipart body has no map part".into(),
        ParseRequestError::NotUpload => "multipart body is not an upload".into(),
        ParseRequestError::MissingFiles => "multipart map refers to missing files".into(),
        ParseRequestError::UnsupportedBatch => "batched requests are not supported".into(),
        ParseRequestError::PayloadTooLarge => "payload too large".into(),
        ParseRequestError::Io(e) => format!("cannot read request body: {e}"),
        other => format!("invalid request: {other}"),
    };
    AppError::BadUserInput(message)
}

/// How much of a refused request's body is read before answering.
const REFUSED_BODY_DRAIN: usize = 8 << 20;

async fn drain(body: Body, limit: usize) {
    let mut stream = body.into_data_stream();
    let mut seen = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen > limit {
            break;
        }
    }
}

/// Multipart, form and plain-text POSTs are "simple" requests that any web page
/// may send cross-site. They must carry a header that forces a CORS preflight.
fn check_csrf(content_type: Option<&str>, headers: &HeaderMap) -> Result<(), AppError> {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let simple = matches!(
        essence.as_str(),
        "" | "multipart/form-data" | "application/x-www-form-urlencoded" | "text/plain"
    );
    if simple && !PREFLIGHT_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        return Err(AppError::BadUserInput(
            "this request needs a preflight: send `Apollo-Require-Preflight: true` \
             (or a JSON content type)"
                .into(),
        ));
    }
    Ok(())
}

/// A GraphQL-shaped error with its HTTP status.
fn error_response(err: AppError) -> Response {
    let status = err.status();
    let code = err.code();
    let mut e = ServerError::new(err.message(), None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    e.extensions = Some(ext);
    let body = serde_json::json!({ "data": null, "errors": [e] });
    let status = if status == StatusCode::UNAUTHORIZED {
        StatusCode::OK
    } else {
        status
    };
    (status, axum::Json(body)).into_response()
}

/// The client as far as this server may believe it: `X-Forwarded-For` only
/// from `TRUSTED_PROXIES`.
pub fn client_info(app: &App, peer: SocketAddr, headers: &HeaderMap) -> ClientInfo {
    ClientInfo {
        ip: crate::auth::client::client_address(peer.ip(), headers, &app.config.trusted_proxies),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect()),
    }
}

/// Resolves the `Authorization: Bearer` header (a session's JWT or an API
/// token) to a viewer. Any failure makes the viewer `Invalid`; resolvers that
/// need a user then answer `UNAUTHENTICATED`. Only a database failure is an error.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Viewer, AppError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default());
    Ok(Viewer::from_resolved(
        crate::auth::viewer::resolve(app, value).await?,
    ))
}
