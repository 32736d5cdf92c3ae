//! Use cases that GraphQL, the CLI and jobs share, one file per use case.
//! Resolvers and CLI commands parse, call one of these, and map the result.
//!
//! Every administrative change writes its audit entry and, when it changes
//! what a user may do, an account event (`events::publish_account`) in the
//! same transaction as the change itself.

pub mod api_tokens;
pub mod audit;
pub mod delete_user;
pub mod login;
pub mod operations;
pub mod passwords;
pub mod quota;
pub mod sessions;
pub mod update_user;
pub mod user_status;

pub use audit::Actor;
