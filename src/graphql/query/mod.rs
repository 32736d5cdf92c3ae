//! Query root, merged from one object per domain.

mod account;
mod audit;
mod image;
mod link;
mod operations;
mod plan;
mod user;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    account::AccountQuery,
    image::ImageQuery,
    link::LinkQuery,
    plan::PlanQuery,
    audit::AuditQuery,
    operations::OperationsQuery,
);
