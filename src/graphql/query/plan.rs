use async_graphql::{Context, Object};

use crate::db::models::Plan;
use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::PlanObject;

#[derive(Default)]
pub struct PlanQuery;

#[Object]
impl PlanQuery {
    /// Every plan (administrators only; users see theirs as `me.plan`).
    #[graphql(guard = "Role::Admin")]
    async fn plans(&self, ctx: &Context<'_>) -> AppResult<Vec<PlanObject>> {
        let mut conn = ctx.app().db().await?;
        let plans = Plan::all(&mut conn).await?;
        Ok(plans.iter().map(PlanObject::from).collect())
    }
}
