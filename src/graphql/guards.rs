//! Authorization as guard attributes: `#[graphql(guard = "Role::User")]`.

use async_graphql::{Context, Guard};

use super::context::{ContextExt, Credential, Viewer};
use crate::error::AppError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Any logged-in user.
    User,
    /// Administrators only; others get `FORBIDDEN`.
    Admin,
    /// A user logged in with a session, not an API token (`FORBIDDEN`
    /// otherwise): what a stolen API token must not do, such as minting
    /// more tokens that would outlive its revocation.
    Session,
}

impl Guard for Role {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match (ctx.viewer(), self) {
            (Viewer::User(_), Role::User) => Ok(()),
            (Viewer::User(u), Role::Admin) if u.user.is_admin => Ok(()),
            (Viewer::User(_), Role::Admin) => Err(AppError::Forbidden.into()),
            (Viewer::User(u), Role::Session) if matches!(u.credential, Credential::Session(_)) => {
                Ok(())
            }
            (Viewer::User(_), Role::Session) => Err(AppError::Forbidden.into()),
            (Viewer::Anonymous | Viewer::Invalid, _) => Err(AppError::Unauthenticated.into()),
        }
    }
}

/// The viewer asking about themselves (`user_id` absent or their own), or
/// an administrator asking about anyone: `#[graphql(guard =
/// "SelfOrAdmin(user_id.clone())")]`.
pub struct SelfOrAdmin(pub Option<async_graphql::ID>);

impl Guard for SelfOrAdmin {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        match ctx.viewer() {
            Viewer::User(u) if u.user.is_admin => Ok(()),
            Viewer::User(u) => match &self.0 {
                Some(id) if id.as_str() != u.user.id.to_string() => Err(AppError::Forbidden.into()),
                _ => Ok(()),
            },
            Viewer::Anonymous | Viewer::Invalid => Err(AppError::Unauthenticated.into()),
        }
    }
}
