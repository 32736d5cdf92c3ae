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
use super::image::IMAGE;
use crate::graphql::by_hand;
use crate::graphql::cursor::Cursor;

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

    fn page_info(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        const NAME: &str = "PageInfo";
        let set = ctx.with_selection_set(&ctx.item.node.selection_set);
        let fields = by_hand::fields(&set, NAME)?;
        let mut object = by_hand::Object::with_capacity(fields.len());
        for field in fields {
            let ctx = set.with_field(field);
            let value = match field.node.name.node.as_str() {
                "hasPreviousPage" => Ok(Value::Boolean(self.has_previous_page)),
                "hasNextPage" => Ok(Value::Boolean(self.has_next_page)),
                "startCursor" => Ok(self.cursor(0).map_or(Value::Null, Value::String)),
                "endCursor" => Ok(self
                    .images
                    .len()
                    .checked_sub(1)
                    .and_then(|last| self.cursor(last))
                    .map_or(Value::Null, Value::String)),
                _ => by_hand::other_field(&ctx, NAME),
            };
            object.field(&ctx, value);
        }
        Ok(object.finish())
    }

    async fn edges(&self, ctx: &Context<'_>) -> ServerResult<Value> {
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
        let mut list = Vec::with_capacity(self.images.len());
        for (index, image) in self.images.iter().enumerate() {
            let item = set.with_index(index);
            let mut object = by_hand::Object::with_capacity(fields.len());
            let mut nodes = node_fields.iter();
            for &field in &fields {
                let ctx = item.with_field(field);
                let value = match field.node.name.node.as_str() {
                    "cursor" => Ok(self.cursor(index).map_or(Value::Null, Value::String)),
                    "node" => {
                        let set = ctx.with_selection_set(&field.node.selection_set);
                        let fields = nodes.next().map_or(&[][..], Vec::as_slice);
                        Ok(image.resolve_fields(&set, fields).await)
                    }
                    _ => by_hand::other_field(&ctx, NAME),
                };
                object.field(&ctx, value);
            }
            list.push(object.finish());
        }
        Ok(Value::List(list))
    }

    async fn nodes(&self, ctx: &Context<'_>) -> ServerResult<Value> {
        let set = ctx.with_selection_set(&ctx.item.node.selection_set);
        let fields = by_hand::fields(&set, IMAGE)?;
        let mut list = Vec::with_capacity(self.images.len());
        for (index, image) in self.images.iter().enumerate() {
            list.push(image.resolve_fields(&set.with_index(index), &fields).await);
        }
        Ok(Value::List(list))
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
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        const NAME: &str = "ImageConnection";
        let fields = by_hand::fields(ctx, NAME)?;
        let mut object = by_hand::Object::with_capacity(fields.len());
        for field in fields {
            let ctx = ctx.with_field(field);
            let value = match field.node.name.node.as_str() {
                "pageInfo" => self.page_info(&ctx),
                "edges" => self.edges(&ctx).await,
                "nodes" => self.nodes(&ctx).await,
                _ => by_hand::other_field(&ctx, NAME),
            };
            object.field(&ctx, value);
        }
        Ok(object.finish())
    }
}
