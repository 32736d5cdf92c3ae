use async_graphql::{Context, ID, Object, Upload};
use diesel_async::AsyncConnection as _;

use crate::db::models::{Image, Thumbnail};
use crate::error::{AppError, AppResult};
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::{Grants, ImageObject, parse_id};
use crate::jobs::delete_objects::DeleteObjects;
use crate::jobs::queue;
use crate::service::audit::{self, Actor, Change};
use crate::upload::{IncomingFile, store_images};

#[derive(Default)]
pub struct ImageMutation;

fn incoming(ctx: &Context<'_>, file: &Upload) -> AppResult<IncomingFile> {
    let value = file
        .value(ctx)
        .map_err(|e| AppError::BadUserInput(format!("cannot read the uploaded file: {e}")))?;
    Ok(IncomingFile {
        filename: value.filename,
        file: value.content,
    })
}

#[Object]
impl ImageMutation {
    /// Uploads one image (GraphQL multipart request): JPEG, PNG, WebP, GIF,
    /// BMP or TIFF, and HEIC or AVIF on servers built with `heif`, decided
    /// by its bytes. `expiresIn`
    /// (seconds, 300 to 31536000) makes the image vanish after that time.
    #[graphql(guard = "Role::User")]
    async fn upload_image(
        &self,
        ctx: &Context<'_>,
        file: Upload,
        expires_in: Option<i32>,
    ) -> AppResult<ImageObject> {
        let auth = ctx.auth()?;
        let files = vec![incoming(ctx, &file)?];
        let mut images = store_images(
            ctx.app(),
            auth.user.id,
            auth.plan.as_ref(),
            files,
            expires_in,
        )
        .await?;
        let image = images
            .pop()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no image stored")))?;
        Ok(ImageObject::new(image, Grants::of(auth.plan.as_ref())))
    }

    /// Uploads several images at once: all are stored, or none.
    #[graphql(guard = "Role::User")]
    async fn upload_images(
        &self,
        ctx: &Context<'_>,
        files: Vec<Upload>,
        expires_in: Option<i32>,
    ) -> AppResult<Vec<ImageObject>> {
        let auth = ctx.auth()?;
        if files.is_empty() {
            return Err(AppError::BadUserInput("no files given".into()));
        }
        let files = files
            .iter()
            .map(|f| incoming(ctx, f))
            .collect::<AppResult<Vec<_>>>()?;
        let images = store_images(
            ctx.app(),
            auth.user.id,
            auth.plan.as_ref(),
            files,
            expires_in,
        )
        .await?;
        let grants = Grants::of(auth.plan.as_ref());
        Ok(images
            .into_iter()
            .map(|image| ImageObject::new(image, grants.clone()))
            .collect())
    }

    /// Deletes one of your images (administrators: anyone's, audited). Its
    /// objects are removed by a background job, so an object-storage outage
    /// does not fail this call.
    #[graphql(guard = "Role::User")]
    async fn delete_image(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let auth = ctx.auth()?;
        let app = ctx.app();
        let id = parse_id(&id).map_err(|_| AppError::NotFound)?;
        let now = app.clock.now();
        let mut conn = app.db().await?;
        let mut owner = auth.user.id;
        if auth.user.is_admin
            && let Some(image) = Image::find(&mut conn, id).await?
            && image.owner_id != owner
        {
            owner = image.owner_id;
            audit::record(
                &mut conn,
                &Actor::user(&auth.user),
                now,
                Change {
                    action: "image.delete",
                    target_type: "image",
                    target_id: Some(image.id),
                    target_name: Some(&image.filename),
                    before: Some(serde_json::json!({ "ownerId": image.owner_id })),
                    after: None,
                },
            )
            .await?;
        }
        let deleted = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let thumbs = Thumbnail::for_images(conn, &[id]).await?;
                let Some(image) = Image::delete_visible(conn, owner, id, now).await? else {
                    return Ok(false);
                };
                // The objects go only with the last image that uses them.
                if !Image::claim_source(conn, image.source_id).await? {
                    queue::enqueue(conn, &DeleteObjects::of(&image, &thumbs), now).await?;
                }
                Ok(true)
            })
            .await?;
        if !deleted {
            return Err(AppError::NotFound);
        }
        tracing::info!(image.id = %id, "image deleted");
        Ok(true)
    }
}
