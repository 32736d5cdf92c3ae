use async_graphql::{ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::models::{ApiToken, Session};

pub struct SessionObject {
    pub session: Session,
    /// Whether this request came with this session.
    pub current: bool,
}

/// A login: where and when it was made, and when it was last used.
#[Object(name = "Session")]
impl SessionObject {
    async fn id(&self) -> ID {
        ID(self.session.id.to_string())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.session.created_at
    }
    /// Updated at most once a minute.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.session.last_used_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.session.expires_at
    }
    /// The client's address as the server saw it (see `TRUSTED_PROXIES`).
    async fn client_address(&self) -> Option<&str> {
        self.session.client_address.as_deref()
    }
    async fn user_agent(&self) -> Option<&str> {
        self.session.user_agent.as_deref()
    }
    /// True for the session this request was made with.
    async fn current(&self) -> bool {
        self.current
    }
}

pub struct ApiTokenObject(pub ApiToken);

/// A personal access token for scripts; its secret is shown only once.
#[Object(name = "ApiToken")]
impl ApiTokenObject {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The secret's first characters, to tell tokens apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Updated at most once a minute; null: never used.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    /// Null: never expires.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
}

/// The answer to `createApiToken`.
#[derive(SimpleObject)]
pub struct CreatedApiToken {
    /// Send as `Authorization: Bearer <secret>`. Shown only this once.
    pub secret: String,
    pub api_token: ApiTokenObject,
}
