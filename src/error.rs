//! One error type for HTTP and GraphQL, with one mapping to status codes and
//! to `extensions.code`. Internal details are logged, never sent.

use async_graphql::ErrorExtensions as _;
use axum::http::StatusCode;

use crate::storage::StorageError;

/// What went wrong, from the client's point of view.
///
/// It deliberately has no `Display`, so that `?` in a resolver goes through
/// our `From` impl (with its code) and not async-graphql's blanket one.
#[derive(Debug, Clone)]
pub enum AppError {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput(String),
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    TooManyRequests(String),
    /// A quota of the user's plan would be exceeded.
    QuotaExceeded(String),
    /// Object storage is unreachable; the client may retry later.
    StorageUnavailable,
    Internal(std::sync::Arc<anyhow::Error>),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "UNAUTHENTICATED",
            AppError::Forbidden => "FORBIDDEN",
            AppError::NotFound => "NOT_FOUND",
            AppError::BadUserInput(_) => "BAD_USER_INPUT",
            AppError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            AppError::UnsupportedMediaType(_) => "UNSUPPORTED_MEDIA_TYPE",
            AppError::TooManyRequests(_) => "TOO_MANY_REQUESTS",
            AppError::QuotaExceeded(_) => "QUOTA_EXCEEDED",
            AppError::StorageUnavailable => "STORAGE_UNAVAILABLE",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadUserInput(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::QuotaExceeded(_) => StatusCode::FORBIDDEN,
            AppError::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message clients see.
    pub fn message(&self) -> String {
        match self {
            AppError::Unauthenticated => "authentication required".into(),
            AppError::Forbidden => "not allowed".into(),
            AppError::NotFound => "not found".into(),
            AppError::BadUserInput(m)
            | AppError::PayloadTooLarge(m)
            | AppError::UnsupportedMediaType(m)
            | AppError::TooManyRequests(m)
            | AppError::QuotaExceeded(m) => m.clone(),
            AppError::StorageUnavailable => "object storage is unavailable; try again later".into(),
            AppError::Internal(_) => "internal error".into(),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(std::sync::Arc::new(e.into()))
    }

    fn log(&self) {
        if let AppError::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        err.log();
        let code = err.code();
        async_graphql::Error::new(err.message()).extend_with(|_, ext| ext.set("code", code))
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        AppError::internal(anyhow::Error::new(e).context("database query"))
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::internal(anyhow::Error::new(e).context("database connection"))
    }
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable(_) => {
                tracing::warn!(error = %e, "object storage unavailable");
                AppError::StorageUnavailable
            }
            StorageError::NotFound => AppError::NotFound,
            other => AppError::internal(anyhow::Error::new(other).context("object storage")),
        }
    }
}

impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        self.log();
        let body =
            serde_json::json!({ "error": { "code": self.code(), "message": self.message() } });
        (self.status(), axum::Json(body)).into_response()
    }
}
