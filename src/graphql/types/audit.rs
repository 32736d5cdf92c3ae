use async_graphql::{ID, Json, Object};
use chrono::{DateTime, Utc};

use crate::db::models::AuditEntry;

pub struct AuditEntryObject(pub AuditEntry);

/// One administrative change.
#[Object(name = "AuditEntry")]
impl AuditEntryObject {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Who made it; null when that user is gone or it was the command line.
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(|id| ID(id.to_string()))
    }
    /// The actor's username at the time, or `cli`.
    async fn actor_name(&self) -> &str {
        &self.0.actor_name
    }
    /// `user.update`, `user.disable`, `user.password_reset`, `plan.create`,
    /// `session.revoke`, `api_token.revoke`, ...
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// `user`, `plan`, `session` or `api_token`.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    async fn target_id(&self) -> Option<ID> {
        self.0.target_id.map(|id| ID(id.to_string()))
    }
    async fn target_name(&self) -> Option<&str> {
        self.0.target_name.as_deref()
    }
    /// The values before the change (never a secret).
    async fn before(&self) -> Option<Json<serde_json::Value>> {
        self.0.before.clone().map(Json)
    }
    async fn after(&self) -> Option<Json<serde_json::Value>> {
        self.0.after.clone().map(Json)
    }
}
