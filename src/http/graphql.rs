//! `POST /graphql` (JSON and multipart) and the GraphiQL playground.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::HttpState;
use super::body::{self, BodyLimits};
use crate::app::App;
use crate::error::AppError;
use crate::graphql::Viewer;
use crate::graphql::context::ClientInfo;
use crate::graphql::raw::{self, Splice};
use crate::telemetry::metrics;

/// The media type of a GraphQL response (GraphQL over HTTP).
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

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
    let drain = body::drain_bound(app.config.max_upload_bytes);
    if let Err(e) = check_csrf(content_type.as_deref(), &headers) {
        // Read (a bounded amount of) what the client is sending, so that it
        // gets to read our answer instead of a reset connection.
        body::drain(body.into_data_stream(), drain).await;
        return error_response(e);
    }
    let limits = BodyLimits {
        json: app.config.max_json_bytes,
        upload: app.config.max_upload_bytes,
        files: app.config.max_files_per_request,
    };
    let multipart = content_type.as_deref().is_some_and(|c| {
        c.trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/")
    });
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = if multipart {
        limits.upload
    } else {
        u64::try_from(limits.json).unwrap_or(u64::MAX)
    };
    if declared.is_some_and(|len| len > limit) {
        body::drain(body.into_data_stream(), drain).await;
        return error_response(body::too_large(limit));
    }
    let viewer = match authenticate(app, &headers).await {
        Ok(viewer) => viewer,
        Err(e) => {
            body::drain(body.into_data_stream(), drain).await;
            return error_response(e);
        }
    };
    let request = match body::receive(content_type.as_deref(), body, limits).await {
        Ok(request) => request,
        Err(e) => return error_response(e),
    };
    // A part mapped to several variables is as many files.
    if request.uploads.len() > limits.files {
        return error_response(body::too_many_files(limits.files));
    }
    let request = request
        .data(viewer)
        .data(client_info(app, peer, &headers))
        .data(Splice);
    let started = std::time::Instant::now();
    let (response, operation) = state.gateway.run(request).await;
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
    respond(&response)
}

/// The response as async-graphql-axum gives it (its media type, the
/// `Cache-Control` of a response without errors, the headers resolvers
/// set), written by [`raw::to_json`], which splices what resolvers wrote as
/// JSON themselves.
fn respond(response: &async_graphql::Response) -> Response {
    let body = match raw::to_json(response) {
        Ok(body) => body,
        Err(e) => return error_response(AppError::internal(e)),
    };
    let mut http = Response::new(Body::from(body));
    let headers = http.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(GRAPHQL_RESPONSE),
    );
    if response.is_ok()
        && let Some(value) = response.cache_control.value()
        && let Ok(value) = HeaderValue::from_str(&value)
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    headers.extend(response.http_headers.clone());
    http
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
    let e = crate::graphql::gateway::coded(err.message(), code);
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
