//! What operators do: retry a failed job.

use async_graphql::{Context, ID, Object};

use crate::error::{AppError, AppResult};
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::service::audit::Actor;
use crate::service::operations;

#[derive(Default)]
pub struct OperationsMutation;

#[Object]
impl OperationsMutation {
    /// Queues a failed job again with fresh attempts (a thumbnail job's
    /// FAILED thumbnails become PENDING); administrators only, audited.
    #[graphql(guard = "Role::Admin")]
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
        let actor = Actor::user(&ctx.auth()?.user);
        operations::retry_job(ctx.app(), &actor, id).await?;
        Ok(true)
    }
}
