use std::sync::Arc;
use std::time::SystemTime;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::models::{Image, Plan, Thumbnail, thumbnail};
use crate::error::AppResult;
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
    pub thumbnails: Option<Vec<Thumbnail>>,
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
    pub url: Option<String>,
}

#[Object(name = "Image")]
impl ImageObject {
    async fn id(&self) -> ID {
        ID(self.image.id.to_string())
    }
    async fn filename(&self) -> &str {
        &self.image.filename
    }
    /// The original's type, decided by its bytes (image/jpeg, image/png,
    /// image/webp, image/gif, image/bmp, image/tiff, image/heic or
    /// image/avif); the original is served with it, byte for byte.
    async fn content_type(&self) -> &str {
        &self.image.content_type
    }

    /// Whether the original is an animation (GIF, WebP or PNG with more
    /// than one frame). Thumbnails show its first frame.
    async fn animated(&self) -> bool {
        self.image.frame_count > 1
    }

    /// Frames of the original: 1 for a still image.
    async fn frame_count(&self) -> i32 {
        self.image.frame_count
    }
    async fn width(&self) -> i32 {
        self.image.width
    }
    async fn height(&self) -> i32 {
        self.image.height
    }
    async fn byte_size(&self) -> i32 {
        i32::try_from(self.image.byte_size).unwrap_or(i32::MAX)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.image.created_at
    }
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.image.expires_at
    }

    /// A BlurHash (https://blurha.sh) placeholder, once the thumbnails are made.
    async fn blurhash(&self) -> Option<&str> {
        self.image.blurhash.as_deref()
    }

    /// Presigned URL of the original; null unless the plan grants originals.
    #[graphql(complexity = "crate::graphql::URL_COST")]
    async fn original_url(&self, ctx: &Context<'_>) -> AppResult<Option<String>> {
        if !self.grants.original_link {
            return Ok(None);
        }
        presign(ctx, &StorageKey::original(self.image.source_id))
            .await
            .map(Some)
    }

    /// Exactly the heights of the viewer's current plan.
    #[graphql(complexity = "1 + crate::graphql::THUMBNAILS_COST * child_complexity")]
    async fn thumbnails(&self, ctx: &Context<'_>) -> AppResult<Vec<ThumbnailObject>> {
        if self.grants.heights.is_empty() {
            return Ok(Vec::new());
        }
        // Borrowed when preloaded with the page: no copy per image.
        let loaded;
        let rows: &[Thumbnail] = match &self.thumbnails {
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

async fn presign(ctx: &Context<'_>, key: &StorageKey) -> AppResult<String> {
    let app = ctx.app();
    let now = SystemTime::from(app.clock.now());
    Ok(app
        .storage
        .presign_get_at(key, app.config.url_ttl, now)
        .await?)
}
