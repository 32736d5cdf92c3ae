use async_graphql::{Context, Object};

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
}
