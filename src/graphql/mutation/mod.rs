//! Mutation root, merged from one object per domain.

mod admin;
mod auth;
mod direct;
mod image;
mod link;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    image::ImageMutation,
    direct::DirectUploadMutation,
    link::LinkMutation,
    admin::AdminMutation,
);
