use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::{Grants, ImageObject};
use crate::db::models::{ExpiringLink, Image};
use crate::graphql::context::ContextExt;

pub struct LinkObject {
    pub link: ExpiringLink,
    pub image: Image,
}

#[Object(name = "ExpiringLink")]
impl LinkObject {
    async fn id(&self) -> ID {
        ID(self.link.id.to_string())
    }

    async fn image(&self, ctx: &Context<'_>) -> ImageObject {
        let plan = ctx.auth().ok().and_then(|a| a.plan.as_ref());
        ImageObject::new(self.image.clone(), Grants::of(plan))
    }

    /// Share this: it works without logging in until `expiresAt`.
    async fn url(&self, ctx: &Context<'_>) -> String {
        crate::links::url(ctx.app(), &self.link.token)
    }

    async fn expires_at(&self) -> DateTime<Utc> {
        self.link.expires_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.link.created_at
    }

    /// Whether the link has expired (it is listed until it is cleaned up).
    async fn expired(&self, ctx: &Context<'_>) -> bool {
        self.link.expires_at <= ctx.app().clock.now()
    }
}
