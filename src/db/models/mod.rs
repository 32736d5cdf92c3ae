//! Rows and the SQL that reads and writes them, one file per table.

mod plan;
mod user;

pub use plan::{NewPlan, Plan};
pub use user::{NewUser, User};

diesel::define_sql_function!(
    /// SQL `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text
);
