use async_graphql::{Context, ID, InputObject, Object};

use crate::admin::{self, PlanSpec, UserSpec};
use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::{PlanObject, ThumbnailFormat, UserObject, parse_id};
use crate::service::Actor;

/// A plan's definition.
#[derive(InputObject)]
pub struct PlanInput {
    /// Unique regardless of case, 1 to 64 characters.
    pub name: String,
    /// Distinct heights in 16..=4096, at most 10.
    pub thumbnail_heights: Vec<i32>,
    #[graphql(default)]
    pub original_link: bool,
    #[graphql(default)]
    pub expiring_links: bool,
    #[graphql(default)]
    pub thumbnail_format: ThumbnailFormat,
    /// Most unexpired images a user may have; null or absent: no limit.
    pub max_images: Option<i32>,
    /// Most MiB of originals a user may store; null or absent: no limit.
    pub max_storage_mib: Option<i32>,
    /// Most images a user may upload per clock hour; null or absent: no limit.
    pub max_uploads_per_hour: Option<i32>,
}

impl From<PlanInput> for PlanSpec {
    fn from(i: PlanInput) -> Self {
        PlanSpec {
            name: i.name,
            thumbnail_heights: i.thumbnail_heights,
            original_link: i.original_link,
            expiring_links: i.expiring_links,
            thumbnail_format: i.thumbnail_format.as_str().to_owned(),
            max_images: i.max_images,
            max_storage_bytes: i.max_storage_mib.map(|mib| i64::from(mib) << 20),
            max_uploads_per_hour: i.max_uploads_per_hour,
        }
    }
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub username: String,
    /// At least 8 characters.
    #[graphql(secret)]
    pub password: String,
    #[graphql(default)]
    pub is_admin: bool,
    /// Defaults to the Basic plan.
    pub plan_id: Option<ID>,
}

fn actor(ctx: &Context<'_>) -> AppResult<Actor> {
    Ok(Actor::user(&ctx.auth()?.user))
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    #[graphql(guard = "Role::Admin")]
    async fn create_plan(&self, ctx: &Context<'_>, input: PlanInput) -> AppResult<PlanObject> {
        let plan = admin::create_plan(ctx.app(), &actor(ctx)?, input.into()).await?;
        Ok((&plan).into())
    }

    /// Changing the heights makes the new ones for every holder's images.
    #[graphql(guard = "Role::Admin")]
    async fn update_plan(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: PlanInput,
    ) -> AppResult<PlanObject> {
        let plan =
            admin::update_plan(ctx.app(), &actor(ctx)?, parse_id(&id)?, input.into()).await?;
        Ok((&plan).into())
    }

    /// Refused while users hold the plan.
    #[graphql(guard = "Role::Admin")]
    async fn delete_plan(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        admin::delete_plan(ctx.app(), &actor(ctx)?, parse_id(&id)?).await?;
        Ok(true)
    }

    #[graphql(guard = "Role::Admin")]
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> AppResult<UserObject> {
        let plan_id = input.plan_id.as_ref().map(parse_id).transpose()?;
        let user = admin::create_user(
            ctx.app(),
            &actor(ctx)?,
            UserSpec {
                username: input.username,
                password: input.password,
                is_admin: input.is_admin,
                plan_id,
            },
        )
        .await?;
        Ok(UserObject { user, plan: None })
    }

    /// Assigns a plan (null: none). The thumbnails it grants are made for the
    /// user's existing images in the background.
    #[graphql(guard = "Role::Admin")]
    async fn set_user_plan(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        plan_id: Option<ID>,
    ) -> AppResult<UserObject> {
        let plan_id = plan_id.as_ref().map(parse_id).transpose()?;
        let user =
            admin::set_user_plan(ctx.app(), &actor(ctx)?, parse_id(&user_id)?, plan_id).await?;
        Ok(UserObject { user, plan: None })
    }
}
