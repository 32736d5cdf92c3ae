use async_graphql::{Enum, ID, SimpleObject};

use crate::db::models::Plan;
use crate::db::models::plan::{FORMAT_ORIGINAL, FORMAT_WEBP};

/// The format of a plan's thumbnails.
#[derive(Enum, Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum ThumbnailFormat {
    /// The original's: JPEG in, JPEG out; PNG in, PNG out.
    #[default]
    Original,
    /// Lossy WebP (alpha kept), usually smaller.
    Webp,
}

impl ThumbnailFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ThumbnailFormat::Original => FORMAT_ORIGINAL,
            ThumbnailFormat::Webp => FORMAT_WEBP,
        }
    }
}

/// A subscription plan: the thumbnail heights its users get, and whether they
/// may see a link to the original and create expiring links.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Plan", complex)]
pub struct PlanObject {
    pub id: ID,
    pub name: String,
    /// Thumbnail heights in pixels, smallest first.
    pub thumbnail_heights: Vec<i32>,
    pub original_link: bool,
    pub expiring_links: bool,
    /// Applies to thumbnails made from then on.
    pub thumbnail_format: ThumbnailFormat,
    /// Quotas; null: no limit.
    pub max_images: Option<i32>,
    pub max_storage_mib: Option<i32>,
    pub max_uploads_per_hour: Option<i32>,
}

impl From<&Plan> for PlanObject {
    fn from(p: &Plan) -> Self {
        let mut heights = p.thumbnail_heights.clone();
        heights.sort_unstable();
        PlanObject {
            id: ID(p.id.to_string()),
            name: p.name.clone(),
            thumbnail_heights: heights,
            original_link: p.original_link,
            expiring_links: p.expiring_links,
            thumbnail_format: if p.thumbnail_format == FORMAT_WEBP {
                ThumbnailFormat::Webp
            } else {
                ThumbnailFormat::Original
            },
            max_images: p.max_images,
            max_storage_mib: p
                .max_storage_bytes
                .map(|b| i32::try_from(b >> 20).unwrap_or(i32::MAX)),
            max_uploads_per_hour: p.max_uploads_per_hour,
        }
    }
}

#[async_graphql::ComplexObject]
impl PlanObject {
    /// How many users hold the plan (administrators only).
    #[graphql(guard = "crate::graphql::guards::Role::Admin")]
    async fn user_count(&self, ctx: &async_graphql::Context<'_>) -> crate::error::AppResult<i32> {
        let id = super::parse_id(&self.id)?;
        // Batched: a list of plans costs one grouped query, not one per plan.
        let n = crate::graphql::loaders::load_one::<crate::graphql::loaders::PlanHoldersLoader>(
            ctx,
            id,
            "plan holders",
        )
        .await?
        .unwrap_or(0);
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}
