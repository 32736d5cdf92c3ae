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
//! They write their answer as JSON, into one buffer for a whole page, not
//! as async-graphql's tree of `Value`s (an `IndexMap` per object, hashed
//! keys, a `String` per scalar, all dropped after serialising). The page's
//! JSON goes into the HTTP response as it is ([`crate::graphql::raw`]);
//! where a `Value` is needed it is read back ([`parse`]).
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
use serde::Serialize;

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
pub fn other_field<'t>(ctx: &Context<'_>, type_name: &'t str) -> ServerResult<&'t str> {
    if ctx.item.node.name.node == "__typename" {
        return Ok(type_name);
    }
    Err(ServerError::new(
        format!(
            r#"Cannot query field "{}" on type "{type_name}"."#,
            ctx.item.node.name.node
        ),
        Some(ctx.item.pos),
    ))
}

/// Writes `value` as JSON. Into a `Vec` this cannot fail: serde_json fails
/// only on its writer's I/O error or on a map key that is not a string,
/// and these are strings, numbers and async-graphql scalars.
pub fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let written = serde_json::to_writer(out, value);
    debug_assert!(written.is_ok(), "JSON into a Vec: {written:?}");
}

/// Writes `s` as a JSON string, byte for byte as serde_json writes it:
/// copied as it is when nothing in it is escaped (a URL, an id, a date:
/// most of a page), else through serde_json, which scans a byte at a time.
pub fn string(out: &mut Vec<u8>, s: &str) {
    if is_plain(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        json(out, s);
    }
}

/// Whether no byte of `bytes` is one that JSON escapes (`"`, `\` and the
/// controls below U+0020). Without an early exit inside a chunk, so that the
/// compiler vectorises it.
fn is_plain(bytes: &[u8]) -> bool {
    bytes.chunks(32).all(|chunk| {
        chunk.iter().fold(true, |plain, &b| {
            plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
        })
    })
}

/// A value that a by-hand resolver writes as JSON.
pub trait Json {
    fn write(&self, out: &mut Vec<u8>);
}

impl Json for str {
    fn write(&self, out: &mut Vec<u8>) {
        string(out, self);
    }
}

impl Json for String {
    fn write(&self, out: &mut Vec<u8>) {
        string(out, self);
    }
}

impl Json for i32 {
    fn write(&self, out: &mut Vec<u8>) {
        json(out, self);
    }
}

impl Json for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

/// An id as `ID` answers it: hyphenated, lower case.
impl Json for uuid::Uuid {
    fn write(&self, out: &mut Vec<u8>) {
        string(
            out,
            self.hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer()),
        );
    }
}

/// A scalar as async-graphql gives it (`to_value`: dates, enums).
impl Json for Value {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::String(s) => string(out, s),
            Value::Enum(name) => string(out, name),
            other => json(out, other),
        }
    }
}

impl<T: Json + ?Sized> Json for &T {
    fn write(&self, out: &mut Vec<u8>) {
        (**self).write(out);
    }
}

impl<T: Json> Json for Option<T> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// The answer written so far, read back as a `Value`: for a caller that
/// needs the tree (a WebSocket, a merge of repeated keys).
pub fn parse(out: &[u8]) -> ServerResult<Value> {
    serde_json::from_slice(out)
        .map_err(|e| ServerError::new(format!("internal error: answer is not JSON: {e}"), None))
}

/// An object's answer being written as JSON into a buffer that it shares
/// with its fields (see the module's documentation).
///
/// Each field is written as `"key":value` after its value is known to be
/// there (a field whose value failed is reported with its path and left
/// out, as async-graphql's own containers do); an object without fields is
/// `null`. When the selection repeats a response key, the fields' values
/// are read back and merged key by key, as async-graphql merges them
/// ([`insert`]), and the merged object is written at the end: the rare
/// case pays for the common one being written straight through.
pub struct Object {
    /// Where the object starts in the buffer.
    start: usize,
    written: usize,
    merged: Option<IndexMap<Name, Value>>,
}

/// Where a field's key was written, for [`Object::end`].
pub struct Mark {
    key: usize,
    value: usize,
}

impl Object {
    /// Starts an object whose fields are `fields` (as [`fields`] gave them).
    pub fn begin(out: &mut Vec<u8>, fields: &[&Positioned<Field>]) -> Self {
        let start = out.len();
        let repeats = fields.iter().enumerate().any(|(i, field)| {
            let key = &field.node.response_key().node;
            fields[..i]
                .iter()
                .any(|earlier| &earlier.node.response_key().node == key)
        });
        let merged = repeats.then(|| IndexMap::with_capacity(fields.len()));
        if merged.is_none() {
            out.push(b'{');
        }
        Object {
            start,
            written: 0,
            merged,
        }
    }

    /// Writes the field's key; its value follows, then [`Object::end`].
    pub fn key(&mut self, out: &mut Vec<u8>, ctx: &Context<'_>) -> Mark {
        let key = out.len();
        if self.merged.is_none() {
            if self.written > 0 {
                out.push(b',');
            }
            string(out, &ctx.item.node.response_key().node);
            out.push(b':');
        }
        Mark {
            key,
            value: out.len(),
        }
    }

    /// The field whose key is at `mark` has its value written.
    pub fn end(&mut self, out: &mut Vec<u8>, ctx: &Context<'_>, mark: Mark) {
        match &mut self.merged {
            None => self.written += 1,
            Some(merged) => {
                let value = parse(&out[mark.value..]);
                out.truncate(mark.key);
                match value {
                    Ok(value) => {
                        insert(merged, ctx.item.node.response_key().node.clone(), value);
                    }
                    Err(err) => ctx.add_error(ctx.set_error_path(err)),
                }
            }
        }
    }

    /// [`Object::end`] when the value was written; otherwise what was
    /// written of it is taken back and the field reported and left out.
    pub fn end_or_error(
        &mut self,
        out: &mut Vec<u8>,
        ctx: &Context<'_>,
        mark: Mark,
        written: ServerResult<()>,
    ) {
        match written {
            Ok(()) => self.end(out, ctx, mark),
            Err(err) => {
                out.truncate(mark.key);
                self.error(ctx, err);
            }
        }
    }

    /// A field whose value is at hand: written, or, when it failed,
    /// reported with the field's path and left out.
    pub fn field<T: Json + ?Sized>(
        &mut self,
        out: &mut Vec<u8>,
        ctx: &Context<'_>,
        value: ServerResult<&T>,
    ) {
        match value {
            Ok(value) => {
                let mark = self.key(out, ctx);
                value.write(out);
                self.end(out, ctx, mark);
            }
            Err(err) => self.error(ctx, err),
        }
    }

    /// A field that failed: reported with its path and left out.
    pub fn error(&mut self, ctx: &Context<'_>, err: ServerError) {
        ctx.add_error(ctx.set_error_path(err));
    }

    /// Closes the object: `null` when no field was written, as async-graphql
    /// answers.
    pub fn finish(self, out: &mut Vec<u8>) {
        match self.merged {
            Some(merged) if !merged.is_empty() => json(out, &Value::Object(merged)),
            Some(_) => out.extend_from_slice(b"null"),
            None if self.written == 0 => {
                out.truncate(self.start);
                out.extend_from_slice(b"null");
            }
            None => out.push(b'}'),
        }
    }
}

/// Before a list's item at `index`: the comma after the one before.
pub fn list_separator(out: &mut Vec<u8>, index: usize) {
    if index > 0 {
        out.push(b',');
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn written(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        string(&mut out, s);
        out
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let long_plain = "https://s3.example/b/k?X-Amz-Signature=0a1b&x=é".repeat(9);
        let mut late_quote = "a".repeat(70);
        late_quote.push('"');
        for s in [
            "",
            "plain",
            "say \"hi\"",
            "back\\slash",
            "tab\tnew\nline\u{1f}\u{7f}",
            "photo «é» 😀",
            &long_plain,
            &late_quote,
        ] {
            assert_eq!(written(s), serde_json::to_vec(s).expect("JSON"), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in any::<String>()) {
            prop_assert_eq!(written(&s), serde_json::to_vec(&s).expect("JSON"));
        }
    }
}
