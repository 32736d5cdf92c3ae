//! Schema extensions that shape what clients see of refused requests.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Response, ServerError, ServerResult, Variables};

/// Gives every error an `extensions.code`. Our resolvers always set one;
/// the errors async-graphql makes itself (syntax, validation, the depth and
/// complexity limits, variable coercion) have none, and all of them are the
/// client's fault.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", "BAD_USER_INPUT");
            }
        }
        response
    }
}

/// Refuses introspection queries with an error. `disable_introspection`
/// alone answers them with a silent `null`, which looks like a server bug.
pub struct NoIntrospection;

impl ExtensionFactory for NoIntrospection {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NoIntrospection)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for NoIntrospection {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let introspects = document
            .operations
            .iter()
            .map(|(_, op)| &op.node.selection_set.node)
            .chain(
                document
                    .fragments
                    .values()
                    .map(|f| &f.node.selection_set.node),
            )
            .any(introspects);
        if introspects {
            let mut error = ServerError::new("introspection is disabled on this server", None);
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", "FORBIDDEN");
            error.extensions = Some(extensions);
            return Err(error);
        }
        Ok(document)
    }
}

/// Whether a selection set (or one nested in it) asks for `__schema` or
/// `__type`; `__typename` stays allowed.
fn introspects(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => {
            matches!(field.node.name.node.as_str(), "__schema" | "__type")
                || introspects(&field.node.selection_set.node)
        }
        Selection::InlineFragment(fragment) => introspects(&fragment.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

/// The `Authorization` value a WebSocket was opened with (its
/// `connection_init`), kept in the socket's session data.
pub struct SocketCredential(pub String);

/// Resolves the viewer afresh for every operation on a WebSocket, so each
/// runs with the user's current plan and flags (a demoted administrator is
/// refused, a downgraded plan shows), and a revoked credential is refused
/// even before the socket is closed. HTTP requests carry their viewer already.
pub struct SocketViewer;

impl ExtensionFactory for SocketViewer {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SocketViewer)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for SocketViewer {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        let mut request = request;
        if let (Some(credential), Some(app)) = (
            ctx.data_opt::<SocketCredential>(),
            ctx.data_opt::<Arc<crate::app::App>>(),
        ) {
            let resolved = crate::auth::viewer::resolve(app, Some(&credential.0))
                .await
                .map_err(|e| async_graphql::Error::from(e).into_server_error(Default::default()))?;
            request = request.data(crate::graphql::Viewer::from_resolved(resolved));
        }
        next.run(ctx, request).await
    }
}
