//! Rows and the SQL that reads and writes them, one file per table.

mod api_token;
mod audit;
mod image;
mod link;
mod login_throttle;
pub mod plan;
mod session;
pub mod thumbnail;
mod upload_slot;
mod user;

pub use api_token::ApiToken;
pub use audit::AuditEntry;
pub use image::Image;
pub use link::ExpiringLink;
pub use login_throttle::{LoginThrottle, ThrottleRule};
pub use plan::{NewPlan, Plan};
pub use session::Session;
pub use thumbnail::Thumbnail;
pub use upload_slot::UploadSlot;
pub use user::{NewUser, User};

diesel::define_sql_function!(
    /// SQL `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text
);
