//! Rows and the SQL that reads and writes them, one file per table.

mod image;
mod link;
pub mod plan;
pub mod thumbnail;
mod upload_slot;
mod user;

pub use image::Image;
pub use link::ExpiringLink;
pub use plan::{NewPlan, Plan};
pub use thumbnail::Thumbnail;
pub use upload_slot::UploadSlot;
pub use user::{NewUser, User};

diesel::define_sql_function!(
    /// SQL `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text
);
