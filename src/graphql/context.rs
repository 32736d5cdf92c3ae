//! What a resolver knows about the request: the application and the viewer.

use std::sync::Arc;

use async_graphql::Context;

use crate::app::App;
pub use crate::auth::client::ClientInfo;
pub use crate::auth::viewer::{AuthUser, Credential};
use crate::error::{AppError, AppResult};

/// Who is asking. Attached to each request by the HTTP handler, and to each
/// operation on a WebSocket by `gateway::Gateway`.
#[derive(Clone, Debug)]
pub enum Viewer {
    /// No `Authorization` header.
    Anonymous,
    /// A credential was sent but is expired, forged, revoked, or its user is
    /// disabled or deleted.
    Invalid,
    User(Arc<AuthUser>),
}

impl Viewer {
    pub fn from_resolved(resolved: crate::auth::viewer::Resolved) -> Viewer {
        match resolved {
            crate::auth::viewer::Resolved::Anonymous => Viewer::Anonymous,
            crate::auth::viewer::Resolved::User(user) => Viewer::User(Arc::from(user)),
            crate::auth::viewer::Resolved::Refused(_) => Viewer::Invalid,
        }
    }
}

pub trait ContextExt {
    fn app(&self) -> &Arc<App>;
    fn viewer(&self) -> &Viewer;
    /// The authenticated user, or `UNAUTHENTICATED`.
    fn auth(&self) -> AppResult<&Arc<AuthUser>> {
        match self.viewer() {
            Viewer::User(u) => Ok(u),
            Viewer::Anonymous | Viewer::Invalid => Err(AppError::Unauthenticated),
        }
    }
}

impl ContextExt for Context<'_> {
    fn app(&self) -> &Arc<App> {
        // The schema is always built with the App (see `build_schema`).
        self.data_unchecked::<Arc<App>>()
    }

    fn viewer(&self) -> &Viewer {
        self.data_opt::<Viewer>().unwrap_or(&Viewer::Anonymous)
    }
}
