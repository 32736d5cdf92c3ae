use async_graphql::{Context, ID, Object};

use crate::error::{AppError, AppResult};
use crate::graphql::context::ContextExt;
use crate::graphql::guards::Role;
use crate::graphql::types::{Grants, ImageObject, UploadTargetObject, parse_id};

#[derive(Default)]
pub struct DirectUploadMutation;

#[Object]
impl DirectUploadMutation {
    /// Starts a direct upload: for files too large for `uploadImage` (up to
    /// MAX_DIRECT_UPLOAD_BYTES), the client sends the file straight to
    /// storage. `contentType` is the image's type (image/jpeg, image/png, image/webp, image/gif,
    /// image/bmp, image/tiff, image/heic, image/avif); the returned
    /// request accepts exactly `byteSize` bytes of it, for 15 minutes.
    #[graphql(guard = "Role::User")]
    async fn create_upload_url(
        &self,
        ctx: &Context<'_>,
        filename: String,
        byte_size: i32,
        content_type: String,
    ) -> AppResult<UploadTargetObject> {
        let auth = ctx.auth()?;
        let target = crate::direct_upload::create_slot(
            ctx.app(),
            auth.user.id,
            auth.plan.as_ref(),
            &filename,
            i64::from(byte_size),
            &content_type,
        )
        .await?;
        Ok(target.into())
    }

    /// Turns the file sent for `createUploadUrl` into an image, with the
    /// checks of `uploadImage` (an image of a supported format by its bytes, within the
    /// limits); thumbnails are made in the background. Works once per
    /// upload; a refused file is deleted and the upload closed.
    /// `expiresIn` as for `uploadImage`.
    #[graphql(guard = "Role::User")]
    async fn complete_upload(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expires_in: Option<i32>,
    ) -> AppResult<ImageObject> {
        let auth = ctx.auth()?;
        let id = parse_id(&id).map_err(|_| AppError::NotFound)?;
        let image = crate::direct_upload::complete(
            ctx.app(),
            auth.user.id,
            auth.plan.as_ref(),
            id,
            expires_in,
        )
        .await?;
        Ok(ImageObject::new(image, Grants::of(auth.plan.as_ref())))
    }
}
