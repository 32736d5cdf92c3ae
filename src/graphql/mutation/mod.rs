//! Mutation root, merged from one object per domain.

mod auth;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Mutation(auth::AuthMutation);
