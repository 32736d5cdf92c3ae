//! The axum router: `/graphql`, the playground, `/files`, `/uploads` (direct
//! uploads to the fs backend), health.

mod body;
mod console;
mod direct;
mod files;
mod graphql;
mod health;
mod links;
mod metrics;
mod playground;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Request, header};
use axum::routing::{get, put};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::graphql::gateway::Gateway;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler gets.
#[derive(Clone)]
pub struct HttpState {
    pub app: Arc<App>,
    pub gateway: Gateway,
}

/// CORS is closed unless `CORS_ALLOWED_ORIGINS` lists origins.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600))
}

pub fn router(app: Arc<App>) -> Router {
    // Install the metrics recorder before anything records.
    let _ = crate::telemetry::metrics::handle();
    let state_origins = app.config.cors_origins.clone();
    let state = HttpState {
        gateway: Gateway::new(app.clone()),
        app,
    };
    let mut router = Router::new();
    // With METRICS_BIND, /metrics is only on that address (`serve_metrics`).
    if app_metrics_public(&state) {
        router = router.route("/metrics", get(metrics::metrics));
    }
    router
        .route(
            "/graphql",
            get(playground::page).post(graphql::graphql_handler),
        )
        .route("/graphql/assets/{file}", get(playground::asset))
        .route("/files/{*key}", get(files::get_file))
        .route("/uploads/{id}", put(direct::put_upload))
        .route("/graphql/ws", get(ws::subscriptions))
        .route("/links/{token}", get(links::follow))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(console::routes())
        .with_state(state)
        .layer(axum::middleware::from_fn(scope_request_id))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let request_id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "http",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request_id = %request_id,
                )
            }),
        )
        .layer(cors(&state_origins))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

fn app_metrics_public(state: &HttpState) -> bool {
    state.app.config.metrics_bind.is_none()
}

/// Serves `/metrics` alone on `METRICS_BIND`, when it is set (for `serve`
/// and `worker` alike). The task ends with the returned guard.
pub async fn serve_metrics(app: &Arc<App>) -> std::io::Result<Option<AbortOnDrop>> {
    let Some(bind) = app.config.metrics_bind else {
        return Ok(None);
    };
    let _ = crate::telemetry::metrics::handle();
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {bind} (METRICS_BIND): {e}"),
        )
    })?;
    let state = HttpState {
        gateway: Gateway::new(app.clone()),
        app: app.clone(),
    };
    let router = Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(state);
    tracing::info!(address = %bind, "serving /metrics");
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok(Some(AbortOnDrop(task)))
}

/// Aborts a background task when dropped.
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Makes the request id available to code the handler calls (jobs record it).
async fn scope_request_id(
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .chars()
        .take(128)
        .collect();
    crate::telemetry::with_request_id(id, next.run(req)).await
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish for up to `grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut rx2 = rx.clone();
    tokio::select! {
        res = server => res,
        _ = async move {
            let _ = rx2.wait_for(|&stop| stop).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("in-flight requests did not finish within {grace:?}; closing");
            Ok(())
        }
    }
}
