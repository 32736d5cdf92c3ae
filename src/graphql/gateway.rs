//! What runs around the schema for every request, over HTTP and over a
//! WebSocket: the checks that refuse a document before it runs (its shape;
//! introspection, when it is off), the metrics label, the viewer of a
//! socket's operation, and an `extensions.code` on the errors that
//! async-graphql makes itself.
//!
//! Why not schema extensions: with any extension at all, async-graphql puts
//! every resolved field and list item through its extension chain (a
//! registry lookup and boxed futures each), whichever hooks the extensions
//! implement. These checks need the document once per request, so they run
//! here, before `execute`: a page of 50 images took 34 % less server CPU
//! (BENCHMARKS.md, "Issue 14: the sitting of 2026-12-07").
//!
//! Parsed documents are kept by their text ([`DOCUMENTS`] of at most
//! [`DOCUMENT_CACHE_MAX_BYTES`] each): an application sends the same few
//! queries over and over, and async-graphql's parser (pest) was about 4 %
//! of a page's server CPU, where a copy of the parsed document costs a
//! fraction of that. Validation still runs on every request.

use std::any::TypeId;
use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::futures_util::stream::{self, BoxStream, StreamExt as _};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::{MetaType, Registry};
use async_graphql::{
    Data, ErrorExtensionValues, Executor, OutputType, Request, Response, ServerError,
    SubscriptionType,
};

use super::AppSchema;
use super::mutation::Mutation;
use super::query::Query;
use super::shape::check_shape;
use super::subscription::SubscriptionRoot;
use crate::app::App;
use crate::cache::Generations;

/// The metrics label of a request that names no root field we have.
pub const OTHER: &str = "other";

/// The `Authorization` value a WebSocket was opened with (its
/// `connection_init`), kept in the socket's session data.
pub struct SocketCredential(pub String);

/// The schema with what runs around it; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    schema: AppSchema,
    app: Arc<App>,
    introspection: bool,
    roots: RootFields,
    documents: Generations<Box<str>, ExecutableDocument>,
}

/// Parsed documents kept per generation (see [`Generations`]).
const DOCUMENTS: usize = 128;

/// Longer documents are parsed every time: what an attacker can make the
/// cache hold stays small (at most `2 * DOCUMENTS` of these and their trees).
const DOCUMENT_CACHE_MAX_BYTES: usize = 2048;

impl Gateway {
    pub fn new(app: Arc<App>) -> Self {
        Gateway {
            inner: Arc::new(Inner {
                schema: super::build_schema(app.clone()),
                introspection: app.config.introspection,
                roots: RootFields::of_schema(),
                documents: Generations::new(DOCUMENTS),
                app,
            }),
        }
    }

    /// Runs one request; also gives its metrics label: the first root field
    /// of the operation that runs when the schema has it, `introspection`
    /// for `__schema`/`__type`/`__typename`, else [`OTHER`]. The label set is
    /// the schema's root fields: a client can invent operation names, not
    /// series.
    pub async fn run(&self, request: Request) -> (Response, String) {
        let (prepared, label) = self.prepare(request, None).await;
        let response = match prepared {
            Ok(request) => self.inner.schema.execute(request).await,
            Err(error) => Response::from_errors(vec![error]),
        };
        (with_codes(response), label)
    }

    /// The checks before `execute`, in order of cost: the document parses
    /// (once: async-graphql reuses it), has an acceptable shape, does not
    /// introspect when that is off; then a socket's operation gets its
    /// viewer. Also the metrics label (once the document has parsed).
    async fn prepare(
        &self,
        mut request: Request,
        session: Option<&Data>,
    ) -> (Result<Request, ServerError>, String) {
        let operation_name = request.operation_name.clone();
        let cacheable = request.query.len() <= DOCUMENT_CACHE_MAX_BYTES;
        let cached = cacheable
            .then(|| self.inner.documents.get(request.query.as_str()))
            .flatten();
        // The key to keep the document under once it has parsed.
        let miss: Option<Box<str>> =
            (cacheable && cached.is_none()).then(|| request.query.as_str().into());
        if let Some(document) = cached {
            request.set_parsed_query(document);
        }
        let document = match request.parsed_query() {
            Ok(document) => document,
            Err(error) => return (Err(error), OTHER.to_owned()),
        };
        if let Some(key) = miss {
            self.inner.documents.insert(key, document.clone());
        }
        let label = self.inner.roots.label(document, operation_name.as_deref());
        if let Err(message) = check_shape(document) {
            return (Err(coded(message, "BAD_USER_INPUT")), label);
        }
        if !self.inner.introspection && introspects_document(document) {
            let error = coded("introspection is disabled on this server", "FORBIDDEN");
            return (Err(error), label);
        }
        let credential = session
            .and_then(|data| data.get(&TypeId::of::<SocketCredential>()))
            .and_then(|value| value.downcast_ref::<SocketCredential>());
        if let Some(credential) = credential {
            // Resolved afresh for every operation on a socket, so each runs
            // with the user's current plan and flags (a demoted administrator
            // is refused, a downgraded plan shows), and a revoked credential
            // is refused even before the socket is closed. HTTP requests
            // carry their viewer already.
            match crate::auth::viewer::resolve(&self.inner.app, Some(&credential.0)).await {
                Ok(resolved) => {
                    request = request.data(super::Viewer::from_resolved(resolved));
                }
                Err(e) => {
                    let error = async_graphql::Error::from(e).into_server_error(Default::default());
                    return (Err(error), label);
                }
            }
        }
        (Ok(request), label)
    }
}

impl Executor for Gateway {
    async fn execute(&self, request: Request) -> Response {
        self.run(request).await.0
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let gateway = self.clone();
        stream::once(async move {
            let session = session_data.unwrap_or_default();
            match gateway.prepare(request, Some(session.as_ref())).await.0 {
                Ok(request) => gateway
                    .inner
                    .schema
                    .execute_stream_with_session_data(request, session),
                Err(error) => stream::iter([Response::from_errors(vec![error])]).boxed(),
            }
        })
        .flatten()
        .map(with_codes)
        .boxed()
    }
}

/// Gives every error an `extensions.code`. Our resolvers always set one;
/// the errors async-graphql makes itself (syntax, validation, the depth and
/// complexity limits, variable coercion) have none, and all of them are the
/// client's fault.
fn with_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
    }
    response
}

/// An error that no resolver made, with its `extensions.code`.
pub(crate) fn coded(message: impl Into<String>, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// The names of the schema's root fields, per operation type.
struct RootFields {
    query: HashSet<String>,
    mutation: HashSet<String>,
    subscription: HashSet<String>,
}

impl RootFields {
    fn of_schema() -> Self {
        let mut registry = Registry::default();
        // `create_type_info` answers with the non-null name ("Query!").
        <Query as OutputType>::create_type_info(&mut registry);
        <Mutation as OutputType>::create_type_info(&mut registry);
        <SubscriptionRoot as SubscriptionType>::create_type_info(&mut registry);
        let query = <Query as OutputType>::type_name();
        let mutation = <Mutation as OutputType>::type_name();
        let subscription = <SubscriptionRoot as SubscriptionType>::type_name();
        let names = |name: &str| match registry.types.get(name) {
            Some(MetaType::Object { fields, .. }) => fields.keys().cloned().collect(),
            _ => HashSet::new(),
        };
        RootFields {
            query: names(&query),
            mutation: names(&mutation),
            subscription: names(&subscription),
        }
    }

    /// The first root field of the document's operation (the only one, or
    /// the one named by `operationName`), if the schema's root type has it.
    fn label(&self, document: &ExecutableDocument, operation_name: Option<&str>) -> String {
        let operation = match &document.operations {
            DocumentOperations::Single(op) => Some(op),
            DocumentOperations::Multiple(ops) => match operation_name {
                Some(name) => ops.get(name),
                // One named operation runs without `operationName`.
                None if ops.len() == 1 => ops.values().next(),
                None => None,
            },
        };
        operation
            .and_then(|op| {
                let first = op
                    .node
                    .selection_set
                    .node
                    .items
                    .iter()
                    .find_map(|item| match &item.node {
                        Selection::Field(field) => Some(field.node.name.node.as_str()),
                        _ => None,
                    })?;
                if first.starts_with("__") {
                    Some("introspection".to_owned())
                } else {
                    let names = match op.node.ty {
                        OperationType::Query => &self.query,
                        OperationType::Mutation => &self.mutation,
                        OperationType::Subscription => &self.subscription,
                    };
                    names.get(first).cloned()
                }
            })
            .unwrap_or_else(|| OTHER.to_owned())
    }
}

/// Whether an operation or fragment of the document asks for `__schema` or
/// `__type`; `__typename` stays allowed. `disable_introspection` alone would
/// answer them with a silent `null`, which looks like a server bug.
fn introspects_document(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|f| &f.node.selection_set.node),
        )
        .any(introspects)
}

/// Whether a selection set (or one nested in it) asks for `__schema` or
/// `__type`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labels_are_the_schemas_root_fields() {
        let roots = RootFields::of_schema();
        let label = |query: &str, name: Option<&str>| {
            let document = async_graphql::parser::parse_query(query).expect("parses");
            roots.label(&document, name)
        };
        assert_eq!(label("{ me { id } }", None), "me");
        assert_eq!(
            label("query Invented { images { edges { cursor } } }", None),
            "images"
        );
        assert_eq!(
            label(
                "mutation { login(username: \"a\", password: \"b\") { token } }",
                None
            ),
            "login"
        );
        assert_eq!(
            label("subscription { imageUpdated(id: \"x\") { id } }", None),
            "imageUpdated"
        );
        assert_eq!(label("{ __typename }", None), "introspection");
        assert_eq!(label("{ nothing }", None), OTHER);
        // A mutation's field asked for as a query is no label.
        assert_eq!(label("{ login }", None), OTHER);
        let two = "query A { me { id } } query B { plans { id } }";
        assert_eq!(label(two, Some("B")), "plans");
        assert_eq!(label(two, None), OTHER);
        assert_eq!(label(two, Some("C")), OTHER);
    }
}
