//! The GraphQL schema: queries and mutations split by domain, output types,
//! guards and data loaders.

pub mod context;
pub mod cursor;
pub mod extensions;
pub mod guards;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::Schema;
use async_graphql::dataloader::DataLoader;

use crate::app::App;
pub use context::{ContextExt, Viewer};
use mutation::Mutation;
use query::Query;
use subscription::SubscriptionRoot;

pub type AppSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// Query depth and complexity limits: a deeply nested or heavily aliased
/// query is refused before it runs. Every field counts 1, so the largest
/// query a client needs (a page of images with every field, plus `me` and a
/// page of links) costs about 60; 500 leaves room and still refuses 250
/// aliases of `me { id }`.
pub const MAX_DEPTH: usize = 15;
pub const MAX_COMPLEXITY: usize = 500;

/// The schema without runtime data (for `print-schema`).
pub fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, SubscriptionRoot> {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

pub fn build_schema(app: Arc<App>) -> AppSchema {
    let mut builder = schema_builder()
        .extension(extensions::ErrorCodes)
        .extension(extensions::SocketViewer);
    if !app.config.introspection {
        builder = builder
            .disable_introspection()
            .extension(extensions::NoIntrospection);
    }
    builder
        .data(DataLoader::new(
            loaders::PlanLoader::new(app.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            loaders::ThumbnailLoader::new(app.clone()),
            tokio::spawn,
        ))
        .data(app)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}
