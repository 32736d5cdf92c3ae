use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Enum, ID, InputType, Object, OutputType, Positioned,
    ServerResult, SimpleObject, Value,
};
use chrono::{DateTime, Utc};

use crate::db::models::thumbnail::{self, Shown};
use crate::db::models::{Image, Plan};
use crate::error::AppResult;
use crate::graphql::by_hand;
use crate::graphql::context::ContextExt;
use crate::graphql::loaders::{ThumbnailLoader, load_one};
use crate::storage::{StorageKey, ext_for_content_type};

/// What the viewer's plan lets them see of an image.
#[derive(Clone, Debug, Default)]
pub struct Grants {
    /// Thumbnail heights, smallest first.
    pub heights: Vec<i32>,
    pub original_link: bool,
}

impl Grants {
    pub fn of(plan: Option<&Plan>) -> Arc<Grants> {
        let mut heights = plan
            .map(|p| p.thumbnail_heights.clone())
            .unwrap_or_default();
        heights.sort_unstable();
        Arc::new(Grants {
            heights,
            original_link: plan.is_some_and(|p| p.original_link),
        })
    }
}

pub struct ImageObject {
    pub image: Image,
    pub grants: Arc<Grants>,
    /// Thumbnail rows loaded with the page; `None`: batch-load on demand.
    pub thumbnails: Option<Vec<Shown>>,
}

impl ImageObject {
    pub fn new(image: Image, grants: Arc<Grants>) -> Self {
        ImageObject {
            image,
            grants,
            thumbnails: None,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum ThumbnailStatus {
    Pending,
    Ready,
    Failed,
}

/// One thumbnail height the plan grants.
#[derive(SimpleObject)]
#[graphql(name = "Thumbnail")]
pub struct ThumbnailObject {
    /// The plan's height; the image is this high unless the original is smaller.
    pub height: i32,
    /// Pixel width, once made.
    pub width: Option<i32>,
    pub status: ThumbnailStatus,
    /// Presigned, expiring URL; present when READY.
    #[graphql(complexity = "crate::graphql::URL_COST")]
    pub url: Option<Arc<str>>,
}

/// `Image` as the schema declares it: descriptions, types and costs. It
/// registers the type, and its resolvers are the reference that
/// [`ImageObject`]'s own resolution is tested against; requests go through
/// `ImageObject` (see [`crate::graphql::by_hand`]).
pub struct ImageFields(pub ImageObject);

#[Object(name = "Image")]
impl ImageFields {
    async fn id(&self) -> ID {
        ID(self.0.image.id.to_string())
    }
    async fn filename(&self) -> &str {
        &self.0.image.filename
    }
    /// The original's type, decided by its bytes (image/jpeg, image/png,
    /// image/webp, image/gif, image/bmp, image/tiff, image/heic or
    /// image/avif); the original is served with it, byte for byte.
    async fn content_type(&self) -> &str {
        &self.0.image.content_type
    }

    /// Whether the original is an animation (GIF, WebP or PNG with more
    /// than one frame). Thumbnails show its first frame.
    async fn animated(&self) -> bool {
        self.0.image.frame_count > 1
    }

    /// Frames of the original: 1 for a still image.
    async fn frame_count(&self) -> i32 {
        self.0.image.frame_count
    }
    async fn width(&self) -> i32 {
        self.0.image.width
    }
    async fn height(&self) -> i32 {
        self.0.image.height
    }
    async fn byte_size(&self) -> i32 {
        self.0.byte_size()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.image.created_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.image.expires_at
    }

    /// A BlurHash (https://blurha.sh) placeholder, once the thumbnails are made.
    async fn blurhash(&self) -> Option<&str> {
        self.0.image.blurhash.as_deref()
    }

    /// Presigned URL of the original; null unless the plan grants originals.
    #[graphql(complexity = "crate::graphql::URL_COST")]
    async fn original_url(&self, ctx: &Context<'_>) -> AppResult<Option<Arc<str>>> {
        self.0.original_url(ctx).await
    }

    /// Exactly the heights of the viewer's current plan.
    #[graphql(complexity = "1 + crate::graphql::THUMBNAILS_COST * child_complexity")]
    async fn thumbnails(&self, ctx: &Context<'_>) -> AppResult<Vec<ThumbnailObject>> {
        self.0.thumbnails(ctx).await
    }
}

impl OutputType for ImageObject {
    fn type_name() -> Cow<'static, str> {
        <ImageFields as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <ImageFields as OutputType>::create_type_info(registry)
    }

    /// [`ImageFields`]' answer, resolved in this one future.
    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let fields = by_hand::fields(ctx, IMAGE)?;
        let mut out = Vec::with_capacity(IMAGE_JSON_BYTES);
        self.write_fields(ctx, &fields, &mut out).await;
        by_hand::parse(&out)
    }
}

/// The GraphQL name of [`ImageObject`].
pub(super) const IMAGE: &str = "Image";

/// About what an image with its three URLs takes as JSON, to size buffers.
pub(super) const IMAGE_JSON_BYTES: usize = 2048;

impl ImageObject {
    /// Writes the answer for `fields`, which `by_hand::fields(ctx, IMAGE)`
    /// gave (a page finds them once for all its images), as JSON.
    pub(super) async fn write_fields(
        &self,
        ctx: &ContextSelectionSet<'_>,
        fields: &[&Positioned<Field>],
        out: &mut Vec<u8>,
    ) {
        const NAME: &str = IMAGE;
        let mut object = by_hand::Object::begin(out, fields);
        for &field in fields {
            let ctx = ctx.with_field(field);
            let image = &self.image;
            match field.node.name.node.as_str() {
                "id" => object.field(out, &ctx, Ok(&image.id)),
                "filename" => object.field(out, &ctx, Ok(&image.filename)),
                "contentType" => object.field(out, &ctx, Ok(&image.content_type)),
                "animated" => object.field(out, &ctx, Ok(&(image.frame_count > 1))),
                "frameCount" => object.field(out, &ctx, Ok(&image.frame_count)),
                "width" => object.field(out, &ctx, Ok(&image.width)),
                "height" => object.field(out, &ctx, Ok(&image.height)),
                "byteSize" => object.field(out, &ctx, Ok(&self.byte_size())),
                "createdAt" => object.field(out, &ctx, Ok(&image.created_at.to_value())),
                "expiresAt" => object.field(out, &ctx, Ok(&image.expires_at.to_value())),
                "blurhash" => object.field(out, &ctx, Ok(&image.blurhash)),
                "originalUrl" => match self.original_url(&ctx).await {
                    Ok(url) => object.field(out, &ctx, Ok(&url.as_deref())),
                    Err(e) => object.error(
                        &ctx,
                        async_graphql::Error::from(e).into_server_error(ctx.item.pos),
                    ),
                },
                "thumbnails" => match self.thumbnails(&ctx).await {
                    Ok(thumbnails) => match thumbnails_fields(&ctx) {
                        Ok((set, fields)) => {
                            let mark = object.key(out, &ctx);
                            write_thumbnails(&set, &fields, &thumbnails, out);
                            object.end(out, &ctx, mark);
                        }
                        Err(e) => object.error(&ctx, e),
                    },
                    Err(e) => object.error(
                        &ctx,
                        async_graphql::Error::from(e).into_server_error(ctx.item.pos),
                    ),
                },
                _ => object.field(out, &ctx, by_hand::other_field(&ctx, NAME)),
            }
        }
        object.finish(out);
    }
}

/// The fields that a `thumbnails` field asks of each `Thumbnail`.
fn thumbnails_fields<'a>(
    ctx: &Context<'a>,
) -> ServerResult<(ContextSelectionSet<'a>, Vec<&'a Positioned<Field>>)> {
    let set = ctx.with_selection_set(&ctx.item.node.selection_set);
    let fields = by_hand::fields(&set, THUMBNAIL)?;
    Ok((set, fields))
}

const THUMBNAIL: &str = "Thumbnail";

/// The `thumbnails` list as [`ThumbnailObject`]'s derived resolver answers it.
fn write_thumbnails(
    set: &ContextSelectionSet<'_>,
    fields: &[&Positioned<Field>],
    thumbnails: &[ThumbnailObject],
    out: &mut Vec<u8>,
) {
    out.push(b'[');
    for (index, thumbnail) in thumbnails.iter().enumerate() {
        by_hand::list_separator(out, index);
        let item = set.with_index(index);
        let mut object = by_hand::Object::begin(out, fields);
        for &field in fields {
            let ctx = item.with_field(field);
            match field.node.name.node.as_str() {
                "height" => object.field(out, &ctx, Ok(&thumbnail.height)),
                "width" => object.field(out, &ctx, Ok(&thumbnail.width)),
                "status" => object.field(out, &ctx, Ok(&thumbnail.status.to_value())),
                "url" => object.field(out, &ctx, Ok(&thumbnail.url.as_deref())),
                _ => object.field(out, &ctx, by_hand::other_field(&ctx, THUMBNAIL)),
            }
        }
        object.finish(out);
    }
    out.push(b']');
}

impl ImageObject {
    fn byte_size(&self) -> i32 {
        i32::try_from(self.image.byte_size).unwrap_or(i32::MAX)
    }

    async fn original_url(&self, ctx: &Context<'_>) -> AppResult<Option<Arc<str>>> {
        if !self.grants.original_link {
            return Ok(None);
        }
        presign(ctx, &StorageKey::original(self.image.source_id))
            .await
            .map(Some)
    }

    async fn thumbnails(&self, ctx: &Context<'_>) -> AppResult<Vec<ThumbnailObject>> {
        if self.grants.heights.is_empty() {
            return Ok(Vec::new());
        }
        // Borrowed when preloaded with the page: no copy per image.
        let loaded;
        let rows: &[Shown] = match &self.thumbnails {
            Some(rows) => rows,
            None => {
                loaded = load_one::<ThumbnailLoader>(ctx, self.image.id, "thumbnails")
                    .await?
                    .unwrap_or_default();
                &loaded
            }
        };
        let mut out = Vec::with_capacity(self.grants.heights.len());
        for &height in &self.grants.heights {
            let row = rows.iter().find(|t| t.height == height);
            let status = match row.map(|t| t.status.as_str()) {
                Some(thumbnail::READY) => ThumbnailStatus::Ready,
                Some(thumbnail::FAILED) => ThumbnailStatus::Failed,
                _ => ThumbnailStatus::Pending,
            };
            let url = match (status, row) {
                (ThumbnailStatus::Ready, Some(t)) => {
                    let ext = t
                        .content_type
                        .as_deref()
                        .and_then(ext_for_content_type)
                        .unwrap_or("jpg");
                    let key = StorageKey::thumbnail(
                        self.image.source_id,
                        u32::try_from(height).unwrap_or_default(),
                        ext,
                    );
                    Some(presign(ctx, &key).await?)
                }
                _ => None,
            };
            out.push(ThumbnailObject {
                height,
                width: row.and_then(|t| t.width),
                status,
                url,
            });
        }
        Ok(out)
    }
}

async fn presign(ctx: &Context<'_>, key: &StorageKey) -> AppResult<Arc<str>> {
    let app = ctx.app();
    let now = SystemTime::from(app.clock.now());
    Ok(app
        .storage
        .presign_shared_at(key, app.config.url_ttl, now)
        .await?)
}
