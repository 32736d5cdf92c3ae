use async_graphql::connection::Connection;
use async_graphql::{Context, Object};

use crate::error::AppResult;
use crate::graphql::context::ContextExt;
use crate::graphql::cursor::{Cursor, PageRequest};
use crate::graphql::guards::Role;
use crate::graphql::types::AuditEntryObject;
use crate::service;

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Every administrative change, newest first (administrators only).
    #[graphql(guard = "Role::Admin")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> AppResult<Connection<String, AuditEntryObject>> {
        let page = PageRequest::new(first, after.as_deref())?;
        let mut rows = service::audit::page(ctx.app(), &page).await?;
        let has_next = page.trim(&mut rows);
        Ok(page.connection(
            rows,
            has_next,
            |e| Cursor {
                created_at: e.created_at,
                id: e.id,
            },
            AuditEntryObject,
        ))
    }
}
