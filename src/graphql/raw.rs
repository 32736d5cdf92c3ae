//! Answers spliced into the response as the JSON they were written as.
//!
//! A page of images is written as JSON by its by-hand resolvers
//! ([`crate::graphql::by_hand`]). async-graphql's answer is a tree of
//! `Value`s (an `IndexMap` per object, a `String` per scalar) that is built,
//! serialised and dropped; for a page of 50 images that tree was most of the
//! page's allocations. So when the HTTP handler writes the response itself
//! ([`to_json`]) and says so ([`Splice`] in the request's data), the page
//! hands its JSON over as a `Value::Binary`, and [`to_json`]'s formatter
//! writes a `Binary` as the bytes it holds instead of as an array of numbers.
//!
//! Nothing else in the schema answers `Binary`, and only a request carrying
//! [`Splice`] gets one: a WebSocket's operations, or a test executing the
//! schema directly, get the page's JSON read back into a `Value` instead.
//! A root field whose response key appears more than once is merged by
//! async-graphql, which needs the tree, so it is read back too.

use std::io;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::{ContextSelectionSet, Positioned, Response, Value};
use serde::Serialize as _;

/// In a request's data: its response is written by [`to_json`], so a
/// resolver may answer JSON it wrote itself ([`spliced`]).
pub struct Splice;

/// Whether the answer of `field`, resolved in `ctx`, may be [`spliced`]:
/// the request's response is written by [`to_json`], and the field is a
/// root field whose response key nothing else in the operation answers.
pub(crate) fn may_splice(ctx: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> bool {
    if ctx.data_opt::<Splice>().is_none() {
        return false;
    }
    let at_root = ctx.path_node.as_ref().is_some_and(|p| p.parent.is_none());
    let key = field.node.response_key().node.as_str();
    let mut seen = 0;
    at_root && {
        count_keys(
            ctx,
            &ctx.query_env.operation.node.selection_set.node,
            key,
            &mut seen,
        );
        seen == 1
    }
}

/// Counts the fields answering `key` in `set`, in every fragment whatever
/// its type condition (counting too many only means reading back). Fragment
/// cycles are refused by validation before execution.
fn count_keys(ctx: &ContextSelectionSet<'_>, set: &SelectionSet, key: &str, seen: &mut usize) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                if field.node.response_key().node == key {
                    *seen += 1;
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                {
                    count_keys(ctx, &fragment.node.selection_set.node, key, seen);
                }
            }
            Selection::InlineFragment(fragment) => {
                count_keys(ctx, &fragment.node.selection_set.node, key, seen);
            }
        }
    }
}

/// A field's answer given as the JSON it was written as; only where
/// [`may_splice`] allows.
pub(crate) fn spliced(json: Vec<u8>) -> Value {
    Value::Binary(json.into())
}

/// The response as JSON, with [`spliced`] answers written as they are.
pub fn to_json(response: &Response) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256 + spliced_bytes(&response.data));
    response.serialize(&mut serde_json::Serializer::with_formatter(
        &mut out,
        SpliceFormatter,
    ))?;
    Ok(out)
}

/// The bytes of the spliced answers among the root fields, to size the
/// response's buffer.
fn spliced_bytes(data: &Value) -> usize {
    match data {
        Value::Object(fields) => fields
            .values()
            .map(|value| match value {
                Value::Binary(json) => json.len(),
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

/// serde_json's compact output, but a byte string (async-graphql's
/// `Value::Binary`) is written as the JSON it holds.
struct SpliceFormatter;

impl serde_json::ser::Formatter for SpliceFormatter {
    fn write_byte_array<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        writer.write_all(value)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::indexmap::IndexMap;
    use async_graphql::{Name, ServerError};

    use super::*;

    #[test]
    fn a_spliced_answer_is_written_as_it_is_and_the_rest_as_serde_json_writes_it() {
        let mut data = IndexMap::new();
        data.insert(
            Name::new("page"),
            spliced(br#"{"a":[1,"\u00e9"]}"#.to_vec()),
        );
        data.insert(Name::new("text"), Value::String("say \"hi\"\n".into()));
        let mut response = Response::new(Value::Object(data));
        response.errors.push(ServerError::new("boom", None));
        let written = to_json(&response).expect("written");
        let parsed: serde_json::Value = serde_json::from_slice(&written).expect("JSON");
        assert_eq!(
            parsed,
            serde_json::json!({
                "data": { "page": { "a": [1, "é"] }, "text": "say \"hi\"\n" },
                "errors": [{ "message": "boom" }],
            })
        );
        // Without a spliced answer, byte for byte what async-graphql-axum writes.
        let mut plain = Response::new(Value::from(7));
        plain.errors.push(ServerError::new("boom", None));
        assert_eq!(
            to_json(&plain).expect("written"),
            serde_json::to_vec(&plain).expect("serde_json")
        );
    }
}
