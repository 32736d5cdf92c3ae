use async_graphql::connection::Connection;
use async_graphql::{Context, Object};

use crate::db::models::User;
use crate::graphql::cursor::{Cursor, PageRequest};

use crate::error::{AppError, AppResult};
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::UserObject;

/// The longest `users(search:)`: no username is longer.
const MAX_SEARCH_BYTES: usize = 64;

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The logged-in user.
    #[graphql(guard = "Role::User")]
    async fn me(&self, ctx: &Context<'_>) -> AppResult<UserObject> {
        let auth = ctx.auth()?;
        Ok(UserObject {
            user: auth.user.clone(),
            plan: auth.plan.clone(),
        })
    }

    /// All users, newest first (administrators only). With `search`, only
    /// those whose username contains it (case-insensitive, taken literally;
    /// empty means all).
    #[graphql(
        guard = "Role::Admin",
        complexity = "crate::graphql::page_cost(first, child_complexity)"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
        search: Option<String>,
    ) -> AppResult<Connection<String, UserObject>> {
        let page = PageRequest::new(first, after.as_deref())?;
        let search = search
            .map(|s| crate::auth::normalize_username(&s))
            .filter(|s| !s.is_empty());
        if search.as_ref().is_some_and(|s| s.len() > MAX_SEARCH_BYTES) {
            return Err(AppError::BadUserInput(format!(
                "search is at most {MAX_SEARCH_BYTES} bytes (a username's length)"
            )));
        }
        let mut conn = ctx.app().db().await?;
        let mut rows =
            User::page(&mut conn, page.keyset(), page.fetch(), search.as_deref()).await?;
        let has_next = page.trim(&mut rows);
        Ok(page.connection(
            rows,
            has_next,
            |user| Cursor {
                created_at: user.created_at,
                id: user.id,
            },
            |user| UserObject { user, plan: None },
        ))
    }
}
