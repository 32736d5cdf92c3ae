//! A page of images, `ImageConnection`, resolved by hand (see
//! [`crate::graphql::by_hand`]): its edges, nodes and page info in the one
//! future of the `images` field, and a cursor encoded only when one is asked
//! for. It registers as async-graphql's `Connection<String, ImageObject>`,
//! whose answer it gives (`tests/integration/by_hand.rs`).

use std::borrow::Cow;

use async_graphql::connection::Connection;
use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{Context, ContextSelectionSet, OutputType, Positioned, ServerResult, Value};

use super::ImageObject;
use super::image::{IMAGE, IMAGE_JSON_BYTES};
use crate::graphql::cursor::Cursor;
use crate::graphql::{by_hand, raw};

/// The type whose schema this page takes.
type Derived = Connection<String, ImageObject>;

pub struct ImagePage {
    pub images: Vec<ImageObject>,
    pub has_previous_page: bool,
    pub has_next_page: bool,
}

impl ImagePage {
    /// The cursor of the image at `index`: its `(created_at, id)` keyset.
    fn cursor(&self, index: usize) -> Option<String> {
        self.images.get(index).map(|i| {
            Cursor {
                created_at: i.image.created_at,
                id: i.image.id,
            }
            .encode()
        })
    }

    fn write_page_info(&self, ctx: &Context<'_>, out: &mut Vec<u8>) -> ServerResult<()> {
        const NAME: &str = "PageInfo";
        let set = ctx.with_selection_set(&ctx.item.node.selection_set);
        let fields = by_hand::fields(&set, NAME)?;
        let mut object = by_hand::Object::begin(out, &fields);
        for field in fields {
            let ctx = set.with_field(field);
            match field.node.name.node.as_str() {
                "hasPreviousPage" => object.field(out, &ctx, Ok(&self.has_previous_page)),
                "hasNextPage" => object.field(out, &ctx, Ok(&self.has_next_page)),
                "startCursor" => object.field(out, &ctx, Ok(&self.cursor(0))),
                "endCursor" => {
                    let last = self.images.len().checked_sub(1);
                    object.field(out, &ctx, Ok(&last.and_then(|last| self.cursor(last))));
                }
                _ => object.field(out, &ctx, by_hand::other_field(&ctx, NAME)),
            }
        }
        object.finish(out);
        Ok(())
    }

    async fn write_edges(&self, ctx: &Context<'_>, out: &mut Vec<u8>) -> ServerResult<()> {
        const NAME: &str = "ImageEdge";
        let set = ctx.with_selection_set(&ctx.item.node.selection_set);
        let fields = by_hand::fields(&set, NAME)?;
        // Each `node` field's image fields, found once for the page.
        let mut node_fields = Vec::new();
        for &field in &fields {
            if field.node.name.node == "node" {
                let node = set.with_field(field);
                let node = node.with_selection_set(&field.node.selection_set);
                node_fields.push(by_hand::fields(&node, IMAGE)?);
            }
        }
        out.push(b'[');
        for (index, image) in self.images.iter().enumerate() {
            by_hand::list_separator(out, index);
            let item = set.with_index(index);
            let mut object = by_hand::Object::begin(out, &fields);
            let mut nodes = node_fields.iter();
            for &field in &fields {
                let ctx = item.with_field(field);
                match field.node.name.node.as_str() {
                    "cursor" => object.field(out, &ctx, Ok(&self.cursor(index))),
                    "node" => {
                        let set = ctx.with_selection_set(&field.node.selection_set);
                        let fields = nodes.next().map_or(&[][..], Vec::as_slice);
                        let mark = object.key(out, &ctx);
                        image.write_fields(&set, fields, out).await;
                        object.end(out, &ctx, mark);
                    }
                    _ => object.field(out, &ctx, by_hand::other_field(&ctx, NAME)),
                }
            }
            object.finish(out);
        }
        out.push(b']');
        Ok(())
    }

    async fn write_nodes(&self, ctx: &Context<'_>, out: &mut Vec<u8>) -> ServerResult<()> {
        let set = ctx.with_selection_set(&ctx.item.node.selection_set);
        let fields = by_hand::fields(&set, IMAGE)?;
        out.push(b'[');
        for (index, image) in self.images.iter().enumerate() {
            by_hand::list_separator(out, index);
            image
                .write_fields(&set.with_index(index), &fields, out)
                .await;
        }
        out.push(b']');
        Ok(())
    }

    /// Writes the page as JSON.
    async fn write(&self, ctx: &ContextSelectionSet<'_>, out: &mut Vec<u8>) -> ServerResult<()> {
        const NAME: &str = "ImageConnection";
        let fields = by_hand::fields(ctx, NAME)?;
        let mut object = by_hand::Object::begin(out, &fields);
        for field in fields {
            let ctx = ctx.with_field(field);
            let mark = object.key(out, &ctx);
            let written = match field.node.name.node.as_str() {
                "pageInfo" => self.write_page_info(&ctx, out),
                "edges" => self.write_edges(&ctx, out).await,
                "nodes" => self.write_nodes(&ctx, out).await,
                _ => by_hand::other_field(&ctx, NAME).map(|name| by_hand::string(out, name)),
            };
            object.end_or_error(out, &ctx, mark, written);
        }
        object.finish(out);
        Ok(())
    }
}

impl OutputType for ImagePage {
    fn type_name() -> Cow<'static, str> {
        <Derived as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Derived as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut out = Vec::with_capacity(256 + self.images.len() * IMAGE_JSON_BYTES);
        self.write(ctx, &mut out).await?;
        if raw::may_splice(ctx, field) {
            Ok(raw::spliced(out))
        } else {
            by_hand::parse(&out)
        }
    }
}
