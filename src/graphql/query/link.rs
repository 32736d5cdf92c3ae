use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object};

use crate::db::models::ExpiringLink;
use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::cursor::{Cursor, PageRequest};
use crate::graphql::guards::Role;
use crate::graphql::types::{LinkObject, parse_id};

#[derive(Default)]
pub struct LinkQuery;

#[Object]
impl LinkQuery {
    /// Your expiring links, newest first, expired ones included; optionally
    /// of one image.
    #[graphql(
        guard = "Role::User",
        complexity = "crate::graphql::page_cost(first, child_complexity)"
    )]
    async fn expiring_links(
        &self,
        ctx: &Context<'_>,
        image_id: Option<ID>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> AppResult<Connection<String, LinkObject>> {
        let auth = ctx.auth()?;
        let app = ctx.app();
        let page = PageRequest::new(first, after.as_deref())?;
        let image_id = image_id.as_ref().map(parse_id).transpose()?;
        let mut conn = app.db().await?;
        let mut rows = ExpiringLink::page(
            &mut conn,
            auth.user.id,
            image_id,
            app.clock.now(),
            page.keyset(),
            page.fetch(),
        )
        .await?;
        let has_next = page.trim(&mut rows);
        Ok(page.connection(
            rows,
            has_next,
            |(link, _)| Cursor {
                created_at: link.created_at,
                id: link.id,
            },
            |(link, image)| LinkObject { link, image },
        ))
    }
}
