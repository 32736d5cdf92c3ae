//! What a resolver knows about the request: the application and the viewer.

use std::sync::Arc;

use async_graphql::Context;

use crate::app::App;
use crate::db::models::{Plan, User};
use crate::error::{AppError, AppResult};

/// Who is asking. Attached to each request by the HTTP handler.
#[derive(Clone, Debug)]
pub enum Viewer {
    /// No `Authorization` header.
    Anonymous,
    /// A token was sent but is expired, forged or names a deleted user.
    Invalid,
    User(Arc<AuthUser>),
}

/// The client's network address (for login rate limiting).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub std::net::IpAddr);

/// The authenticated user with their plan, loaded in one query.
#[derive(Debug)]
pub struct AuthUser {
    pub user: User,
    pub plan: Option<Plan>,
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
