//! Mutation root, merged from one object per domain.

mod account;
mod admin;
mod auth;
mod direct;
mod image;
mod link;
mod operations;
mod users;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    account::AccountMutation,
    image::ImageMutation,
    direct::DirectUploadMutation,
    link::LinkMutation,
    admin::AdminMutation,
    users::UsersMutation,
    operations::OperationsMutation,
);
