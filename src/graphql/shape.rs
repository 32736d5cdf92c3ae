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

/// Where [`OperationLabels`] leaves the metrics label of a request: the
/// first root field of the operation that runs, when the schema has it,
/// else `other`. The label set is the schema's root fields: a client can
/// invent operation names, not series.
#[derive(Debug, Default)]
pub struct OperationLabel(std::sync::Mutex<Option<String>>);

impl OperationLabel {
    pub const OTHER: &'static str = "other";

    pub fn get(&self) -> String {
        self.0
            .lock()
            .ok()
            .and_then(|l| l.clone())
            .unwrap_or_else(|| Self::OTHER.to_owned())
    }

    fn set(&self, label: String) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(label);
        }
    }
}

/// Fills the request's [`OperationLabel`] (if it has one) once the query is parsed.
pub struct OperationLabels;

impl ExtensionFactory for OperationLabels {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationLabels)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationLabels {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(slot) = ctx.data_opt::<Arc<OperationLabel>>() {
            let label = root_field_label(ctx, &document);
            slot.set(label.unwrap_or_else(|| OperationLabel::OTHER.to_owned()));
        }
        Ok(document)
    }
}

/// The first root field of the document's operation (the only one, or the
/// one named by `operationName`), if the schema's root type has it.
fn root_field_label(ctx: &ExtensionContext<'_>, document: &ExecutableDocument) -> Option<String> {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let operation = match &document.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(ops) => {
            match ctx.data_opt::<OperationName>().and_then(|n| n.0.as_deref()) {
                Some(name) => ops.get(name)?,
                // One named operation runs without `operationName`.
                None if ops.len() == 1 => ops.values().next()?,
                None => return None,
            }
        }
    };
    let root = match operation.node.ty {
        OperationType::Query => &ctx.schema_env.registry.query_type,
        OperationType::Mutation => ctx.schema_env.registry.mutation_type.as_ref()?,
        OperationType::Subscription => ctx.schema_env.registry.subscription_type.as_ref()?,
    };
    let fields = match ctx.schema_env.registry.types.get(root)? {
        async_graphql::registry::MetaType::Object { fields, .. } => fields,
        _ => return None,
    };
    operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.as_str()),
            _ => None,
        })
        .and_then(|name| {
            if name.starts_with("__") {
                Some("introspection".to_owned())
            } else {
                fields.get(name).map(|f| f.name.clone())
            }
        })
}

/// The request's `operationName`, for [`OperationLabels`].
#[derive(Debug, Default)]
pub struct OperationName(pub Option<String>);

/// Refuses, before async-graphql walks the document, an operation with
/// more than [`MAX_ROOT_FIELDS`] root fields (aliases included, fragments
/// followed), a document whose fragments expand to more than
/// [`MAX_EXPANDED_FIELDS`] fields, and fragment cycles.
///
/// Each root field is a resolver of its own (usually a database query),
/// however little it selects. The expansion bound matters because
/// async-graphql's own checks (recursion depth, complexity) follow every
/// fragment spread anew: a 3 KB document of fragments that each spread the
/// previous one four times took minutes of CPU before it was refused. Here
/// each fragment is measured once.
///
/// [`MAX_ROOT_FIELDS`]: crate::graphql::MAX_ROOT_FIELDS
/// [`MAX_EXPANDED_FIELDS`]: crate::graphql::MAX_EXPANDED_FIELDS
pub struct QueryShape;

impl ExtensionFactory for QueryShape {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryShape)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for QueryShape {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        // Parsed once here; async-graphql reuses the document.
        check_shape(request.parsed_query()?).map_err(|message| {
            let mut error = ServerError::new(message, None);
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", "BAD_USER_INPUT");
            error.extensions = Some(extensions);
            error
        })?;
        next.run(ctx, request).await
    }
}

fn check_shape(document: &ExecutableDocument) -> Result<(), String> {
    let max_root = crate::graphql::MAX_ROOT_FIELDS;
    let max_expanded = crate::graphql::MAX_EXPANDED_FIELDS;
    let mut shape = Shape {
        document,
        sizes: std::collections::HashMap::new(),
        open: std::collections::HashSet::new(),
    };
    for (_, op) in document.operations.iter() {
        let set = &op.node.selection_set.node;
        let root = shape.size(set, false)?;
        if root > max_root {
            return Err(format!(
                "the query is too complex: {root} root fields, at most {max_root}"
            ));
        }
        let expanded = shape.size(set, true)?;
        if expanded > max_expanded {
            return Err(format!(
                "the query is too complex: its fragments expand to {expanded} fields, \
                 at most {max_expanded}"
            ));
        }
    }
    Ok(())
}

/// Field counts of selection sets with fragments expanded, each fragment
/// measured once (per kind of count).
struct Shape<'a> {
    document: &'a ExecutableDocument,
    sizes: std::collections::HashMap<(&'a str, bool), usize>,
    /// Fragments being measured: meeting one again is a cycle.
    open: std::collections::HashSet<&'a str>,
}

impl<'a> Shape<'a> {
    /// Fields in `set`; with `deep`, nested fields too.
    fn size(&mut self, set: &'a SelectionSet, deep: bool) -> Result<usize, String> {
        let mut total: usize = 0;
        for item in &set.items {
            let n = match &item.node {
                Selection::Field(field) => {
                    if deep {
                        1 + self.size(&field.node.selection_set.node, deep)?
                    } else {
                        1
                    }
                }
                Selection::InlineFragment(f) => self.size(&f.node.selection_set.node, deep)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(&n) = self.sizes.get(&(name, deep)) {
                        n
                    } else {
                        let Some(fragment) =
                            self.document.fragments.get(&spread.node.fragment_name.node)
                        else {
                            // Unknown fragments are validation's to report.
                            continue;
                        };
                        if !self.open.insert(name) {
                            return Err(format!("fragment {name} spreads itself"));
                        }
                        let n = self.size(&fragment.node.selection_set.node, deep)?;
                        self.open.remove(name);
                        self.sizes.insert((name, deep), n);
                        n
                    }
                }
            };
            total = total.saturating_add(n);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment_bomb(levels: usize, nested: bool) -> String {
        let mut query = if nested {
            format!("{{ me {{ ...F{levels} }} }}\nfragment F0 on User {{ id }}\n")
        } else {
            format!("{{ ...F{levels} }}\nfragment F0 on Query {{ me {{ id }} }}\n")
        };
        let on = if nested { "User" } else { "Query" };
        for i in 1..=levels {
            let p = i - 1;
            query.push_str(&format!(
                "fragment F{i} on {on} {{ ...F{p} ...F{p} ...F{p} ...F{p} }}\n"
            ));
        }
        query
    }

    #[test]
    fn fragment_bombs_and_cycles_are_refused_before_async_graphql_walks_them() {
        let schema = crate::graphql::schema_builder()
            .extension(QueryShape)
            .finish();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for (query, expect) in [
            (fragment_bomb(14, false), "268435456 root fields"),
            (fragment_bomb(14, true), "expand to 268435457 fields"),
            (
                "{ me { ...A } }\nfragment A on User { id ...B ...B }\nfragment B on User { ...A ...A }"
                    .to_owned(),
                "spreads itself",
            ),
        ] {
            let response = rt.block_on(schema.execute(query.as_str()));
            let message = response
                .errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            assert!(message.contains(expect), "{message}");
        }
        // An ordinary fragment is fine.
        let shape = async_graphql::parser::parse_query(
            "{ me { ...U } }\nfragment U on User { id username }",
        )
        .expect("parses");
        assert_eq!(check_shape(&shape), Ok(()));
    }
}
