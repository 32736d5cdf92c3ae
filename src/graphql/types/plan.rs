use async_graphql::{ID, SimpleObject};

use crate::db::models::Plan;

/// A subscription plan: the thumbnail heights its users get, and whether they
/// may see a link to the original and create expiring links.
#[derive(SimpleObject, Clone)]
#[graphql(name = "Plan")]
pub struct PlanObject {
    pub id: ID,
    pub name: String,
    /// Thumbnail heights in pixels, smallest first.
    pub thumbnail_heights: Vec<i32>,
    pub original_link: bool,
    pub expiring_links: bool,
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
        }
    }
}
