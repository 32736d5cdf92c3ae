//! Query root, merged from one object per domain.

mod image;
mod link;
mod plan;
mod user;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Query(
    user::UserQuery,
    image::ImageQuery,
    link::LinkQuery,
    plan::PlanQuery,
);
