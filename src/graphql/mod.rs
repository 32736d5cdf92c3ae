//! The GraphQL schema: queries and mutations split by domain, output types,
//! guards and data loaders.

pub mod by_hand;
pub mod context;
pub mod cursor;
pub mod gateway;
pub mod guards;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod raw;
mod shape;
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

/// Query depth and cost limits: a deeply nested, heavily aliased or
/// over-wide query is refused before it runs.
///
/// Cost: every field counts 1, a presigned URL [`URL_COST`], a page of a
/// connection its `first` times its selection ([`page_cost`]), a thumbnail
/// list [`THUMBNAILS_COST`] times (the most heights a plan may have). The
/// largest page a client may ask for, `images(first: 100)` with every field
/// of every node, costs about 10,000; `MAX_COMPLEXITY` leaves room for `me`
/// and a full page of links beside it (the console's heaviest screen), and
/// refuses a handful of such pages in one request: at most about 400 images
/// with their URLs, where aliases of pages used to reach 25,000 URLs. Aliases are bounded on their own by [`MAX_ROOT_FIELDS`].
pub const MAX_DEPTH: usize = 15;
pub const MAX_COMPLEXITY: usize = 25_000;
pub const MAX_ROOT_FIELDS: usize = 20;
/// Fields a document may have once its fragments are expanded.
pub const MAX_EXPANDED_FIELDS: usize = 10_000;
pub const URL_COST: usize = 5;
pub const THUMBNAILS_COST: usize = 10;

/// The cost of a connection page: each of the `first` items costs its
/// selection.
pub fn page_cost(first: i32, child_complexity: usize) -> usize {
    let items = usize::try_from(first.clamp(0, cursor::MAX_PAGE_SIZE)).unwrap_or(0);
    1 + items.saturating_mul(child_complexity)
}

/// The schema without runtime data (for `print-schema`).
pub fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, SubscriptionRoot> {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// The schema with its data; [`gateway::Gateway`] runs it with the checks
/// around it (no schema extensions: see there).
fn build_schema(app: Arc<App>) -> AppSchema {
    let mut builder = schema_builder();
    if !app.config.introspection {
        builder = builder.disable_introspection();
    }
    builder
        .data(DataLoader::new(
            loaders::PlanLoader::new(app.clone()),
            tokio::spawn,
        ))
        .data(DataLoader::new(
            loaders::PlanHoldersLoader::new(app.clone()),
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
