//! Objects resolved by hand: one future per object instead of one per field.
//!
//! async-graphql resolves every field of an object in a boxed future of its
//! own, polled through a `FuturesUnordered` (an `Arc`'d task each), and every
//! list item in another future. A page of 50 images with their thumbnails is
//! about 1,100 such futures, and they were most of the page's server CPU
//! (BENCHMARKS.md, issue 14's read path). The types on that path, `Image` and
//! the `Thumbnail`s in it, implement `OutputType::resolve` themselves with
//! the helpers here: flatten the selection set ([`fields`]: fields, fragment
//! spreads and inline fragments whose type condition applies), resolve each
//! field in order, and merge repeated response keys as async-graphql does
//! ([`Object`]).
//!
//! Nothing else changes: `@skip` and `@include` are removed from the document
//! by async-graphql before execution (and the schema has no custom
//! directives); validation, depth and cost limits run on the registry, where
//! each of these types registers through its derived twin; a field's error is
//! reported with its path and leaves the field out, as async-graphql's own
//! containers do. A test resolves the same queries both ways and compares the
//! answers (`tests/integration/by_hand.rs`).
//!
//! This uses `ContextBase`'s public but `doc(hidden)` fields (the query's
//! fragments, the schema's registry): async-graphql is pinned by Cargo.lock,
//! and the test above is what notices a change in an upgrade.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::{
    Context, ContextSelectionSet, Name, Positioned, ServerError, ServerResult, Value,
};

/// The fields that `ctx`'s selection set asks of an object of `type_name`,
/// fragments expanded, in document order (repeats included).
pub fn fields<'a>(
    ctx: &ContextSelectionSet<'a>,
    type_name: &str,
) -> ServerResult<Vec<&'a Positioned<Field>>> {
    let mut out = Vec::with_capacity(ctx.item.node.items.len());
    collect(ctx, &ctx.item.node, type_name, &mut out)?;
    Ok(out)
}

fn collect<'a>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    type_name: &str,
    out: &mut Vec<&'a Positioned<Field>>,
) -> ServerResult<()> {
    for selection in &set.items {
        let (condition, inner) = match &selection.node {
            Selection::Field(field) => {
                out.push(field);
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let fragment = ctx.query_env.fragments.get(name).ok_or_else(|| {
                    ServerError::new(format!(r#"Unknown fragment "{name}"."#), Some(spread.pos))
                })?;
                (
                    Some(&fragment.node.type_condition),
                    &fragment.node.selection_set,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment.node.type_condition.as_ref(),
                &fragment.node.selection_set,
            ),
        };
        let applies = condition.map(|c| c.node.on.node.as_str()).is_none_or(|on| {
            on == type_name
                || ctx
                    .schema_env
                    .registry
                    .implements
                    .get(type_name)
                    .is_some_and(|interfaces| interfaces.contains(on))
        });
        if applies {
            collect(ctx, &inner.node, type_name, out)?;
        }
    }
    Ok(())
}

/// A field that none of an object's own fields is: `__typename`, answered
/// with `type_name`, or the error async-graphql gives for a field the type
/// does not have (which validation has already refused; kept as an error,
/// not a panic).
pub fn other_field(ctx: &Context<'_>, type_name: &str) -> ServerResult<Value> {
    if ctx.item.node.name.node == "__typename" {
        return Ok(Value::String(type_name.to_owned()));
    }
    Err(ServerError::new(
        format!(
            r#"Cannot query field "{}" on type "{type_name}"."#,
            ctx.item.node.name.node
        ),
        Some(ctx.item.pos),
    ))
}

/// An object's answer being built.
#[derive(Default)]
pub struct Object(IndexMap<Name, Value>);

impl Object {
    pub fn with_capacity(n: usize) -> Self {
        Object(IndexMap::with_capacity(n))
    }

    /// Adds a field's value under its response key; an error is reported
    /// with the field's path and the field left out.
    pub fn field(&mut self, ctx: &Context<'_>, value: ServerResult<Value>) {
        match value {
            Ok(value) => insert(
                &mut self.0,
                ctx.item.node.response_key().node.clone(),
                value,
            ),
            Err(err) => ctx.add_error(ctx.set_error_path(err)),
        }
    }

    /// `null` when no field was added, as async-graphql answers.
    pub fn finish(self) -> Value {
        if self.0.is_empty() {
            Value::Null
        } else {
            Value::Object(self.0)
        }
    }
}

/// A repeated response key merges into the first: objects key by key, lists
/// item by item (async-graphql's `insert_value`).
fn insert(target: &mut IndexMap<Name, Value>, name: Name, value: Value) {
    let Some(previous) = target.get_mut(&name) else {
        target.insert(name, value);
        return;
    };
    match (previous, value) {
        (Value::Object(into), Value::Object(from)) => {
            for (key, value) in from {
                insert(into, key, value);
            }
        }
        (Value::List(into), Value::List(from)) => {
            for (item, value) in into.iter_mut().zip(from) {
                if let (Value::Object(into), Value::Object(from)) = (item, value) {
                    for (key, value) in from {
                        insert(into, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}
