//! GraphQL output and input types.

mod audit;
mod image;
mod image_page;
mod link;
mod plan;
mod session;
mod upload;
mod user;

pub use audit::AuditEntryObject;
pub use image::{Grants, ImageFields, ImageObject, ThumbnailObject, ThumbnailStatus};
pub use image_page::ImagePage;
pub use link::LinkObject;
pub use plan::{PlanObject, ThumbnailFormat};
pub use session::{ApiTokenObject, CreatedApiToken, SessionObject};
pub use upload::{UploadHeader, UploadTargetObject};
pub use user::{AuthPayload, UserObject};

use async_graphql::ID;
use uuid::Uuid;

use crate::error::AppError;

/// Parses a GraphQL `ID` that should hold a UUID.
pub fn parse_id(id: &ID) -> Result<Uuid, AppError> {
    Uuid::parse_str(id.as_str())
        .map_err(|_| AppError::BadUserInput(format!("invalid id {:?}", id.as_str())))
}
