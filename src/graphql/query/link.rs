use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object};

use crate::db::models::ExpiringLink;
use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::cursor::{self, Cursor};
use crate::graphql::guards::Role;
use crate::graphql::types::{LinkObject, parse_id};

#[derive(Default)]
pub struct LinkQuery;

#[Object]
impl LinkQuery {
    /// Your expiring links, newest first, expired ones included; optionally
    /// of one image.
    #[graphql(guard = "Role::User")]
    async fn expiring_links(
        &self,
        ctx: &Context<'_>,
        image_id: Option<ID>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> AppResult<Connection<String, LinkObject>> {
        let auth = ctx.auth()?;
        let app = ctx.app();
        let limit = cursor::page_size(first)?;
        let after = after.as_deref().map(Cursor::decode).transpose()?;
        let image_id = image_id.as_ref().map(parse_id).transpose()?;
        let mut conn = app.db().await?;
        let mut rows = ExpiringLink::page(
            &mut conn,
            auth.user.id,
            image_id,
            app.clock.now(),
            after.map(|c| (c.created_at, c.id)),
            limit + 1,
        )
        .await?;
        let has_next = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let mut connection = Connection::new(after.is_some(), has_next);
        connection
            .edges
            .extend(rows.into_iter().map(|(link, image)| {
                let cursor = Cursor {
                    created_at: link.created_at,
                    id: link.id,
                }
                .encode();
                Edge::new(cursor, LinkObject { link, image })
            }));
        Ok(connection)
    }
}
