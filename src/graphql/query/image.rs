use async_graphql::{Context, ID, Object};

use std::collections::HashMap;

use uuid::Uuid;

use crate::db::models::thumbnail::Shown;
use crate::db::models::{Image, Plan, Thumbnail, User};
use crate::error::{AppError, AppResult};
use crate::graphql::context::ContextExt;
use crate::graphql::cursor::PageRequest;
use crate::graphql::guards::Role;
use crate::graphql::types::{Grants, ImageObject, ImagePage, parse_id};

#[derive(Default)]
pub struct ImageQuery;

#[Object]
impl ImageQuery {
    /// Your images, newest first, without expired ones.
    #[graphql(
        guard = "Role::User",
        complexity = "crate::graphql::page_cost(first, child_complexity)"
    )]
    async fn images(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> AppResult<ImagePage> {
        let auth = ctx.auth()?;
        image_page(ctx, auth.user.id, auth.plan.as_ref(), first, after).await
    }

    /// Any user's images, newest first, without expired ones, as their plan
    /// shows them (administrators only).
    #[graphql(
        guard = "Role::Admin",
        complexity = "crate::graphql::page_cost(first, child_complexity)"
    )]
    async fn user_images(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> AppResult<ImagePage> {
        let user_id = parse_id(&user_id).map_err(|_| AppError::NotFound)?;
        let plan = {
            let mut conn = ctx.app().db().await?;
            let (_, plan) = User::find_with_plan(&mut conn, user_id)
                .await?
                .ok_or(AppError::NotFound)?;
            plan
        };
        image_page(ctx, user_id, plan.as_ref(), first, after).await
    }

    /// One of your images; null when it does not exist, is not yours or has expired.
    #[graphql(guard = "Role::User")]
    async fn image(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<ImageObject>> {
        let auth = ctx.auth()?;
        let app = ctx.app();
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        let mut conn = app.db().await?;
        let image = Image::find_visible(&mut conn, auth.user.id, id, app.clock.now()).await?;
        Ok(image.map(|image| ImageObject::new(image, Grants::of(auth.plan.as_ref()))))
    }
}

/// A page of one owner's images with the thumbnails `plan` grants, in three
/// statements whatever the page size.
async fn image_page(
    ctx: &Context<'_>,
    owner_id: Uuid,
    plan: Option<&Plan>,
    first: i32,
    after: Option<String>,
) -> AppResult<ImagePage> {
    let app = ctx.app();
    let page = PageRequest::new(first, after.as_deref())?;
    let mut conn = app.db().await?;
    let mut rows = Image::page(
        &mut conn,
        owner_id,
        app.clock.now(),
        page.keyset(),
        page.fetch(),
    )
    .await?;
    let has_next = page.trim(&mut rows);
    let grants = Grants::of(plan);
    // The page's thumbnails in one query, when the plan shows any.
    let mut thumbs: HashMap<Uuid, Vec<Shown>> = HashMap::new();
    if !grants.heights.is_empty() && !rows.is_empty() {
        let ids: Vec<Uuid> = rows.iter().map(|i| i.id).collect();
        for t in Thumbnail::shown_for_images(&mut conn, &ids).await? {
            thumbs.entry(t.image_id).or_default().push(t);
        }
    }
    drop(conn);
    let images = rows
        .into_iter()
        .map(|image| ImageObject {
            thumbnails: Some(thumbs.remove(&image.id).unwrap_or_default()),
            image,
            grants: grants.clone(),
        })
        .collect();
    Ok(ImagePage {
        images,
        has_previous_page: page.after.is_some(),
        has_next_page: has_next,
    })
}
