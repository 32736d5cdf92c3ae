use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object};

use crate::db::models::User;
use crate::graphql::cursor::{self, Cursor};

use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::UserObject;

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

    /// All users, newest first (administrators only).
    #[graphql(guard = "Role::Admin")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> AppResult<Connection<String, UserObject>> {
        let limit = cursor::page_size(first)?;
        let after = after.as_deref().map(Cursor::decode).transpose()?;
        let mut conn = ctx.app().db().await?;
        let mut rows =
            User::page(&mut conn, after.map(|c| (c.created_at, c.id)), limit + 1).await?;
        let has_next = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(rows.into_iter().map(|user| {
            let cursor = Cursor {
                created_at: user.created_at,
                id: user.id,
            }
            .encode();
            Edge::new(cursor, UserObject { user, plan: None })
        }));
        Ok(connection)
    }
}
