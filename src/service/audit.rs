//! The audit trail: who changed what, when, with the values before and
//! after. Written in the transaction of the change; never holds a secret.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::app::App;
use crate::db::models::{AuditEntry, Plan, User};
use crate::error::AppResult;
use crate::graphql::cursor::PageRequest;

/// Who makes a change: a logged-in user, or the operator at the command line.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub name: String,
}

impl Actor {
    pub fn user(user: &User) -> Actor {
        Actor {
            id: Some(user.id),
            name: user.username.clone(),
        }
    }

    /// The command line (`image-vault reset-password`, ...): an operator
    /// with access to the server and its database.
    pub fn cli() -> Actor {
        Actor {
            id: None,
            name: "cli".into(),
        }
    }

    pub fn is(&self, user_id: Uuid) -> bool {
        self.id == Some(user_id)
    }
}

/// What changed.
pub struct Change<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<Uuid>,
    pub target_name: Option<&'a str>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

pub async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    now: DateTime<Utc>,
    change: Change<'_>,
) -> diesel::QueryResult<()> {
    AuditEntry {
        id: Uuid::now_v7(),
        created_at: now,
        actor_id: actor.id,
        actor_name: actor.name.chars().take(64).collect(),
        action: change.action.to_owned(),
        target_type: change.target_type.to_owned(),
        target_id: change.target_id,
        target_name: change.target_name.map(|n| n.chars().take(128).collect()),
        before: change.before,
        after: change.after,
    }
    .insert(conn)
    .await
}

/// A user as the audit log shows them (no password hash).
pub fn user_snapshot(user: &User) -> Value {
    json!({
        "username": user.username,
        "isAdmin": user.is_admin,
        "planId": user.plan_id,
        "disabled": user.is_disabled(),
    })
}

pub fn plan_snapshot(plan: &Plan) -> Value {
    json!({
        "name": plan.name,
        "thumbnailHeights": plan.thumbnail_heights,
        "originalLink": plan.original_link,
        "expiringLinks": plan.expiring_links,
        "thumbnailFormat": plan.thumbnail_format,
        "maxImages": plan.max_images,
        "maxStorageBytes": plan.max_storage_bytes,
        "maxUploadsPerHour": plan.max_uploads_per_hour,
    })
}

/// A page of the log, newest first.
pub async fn page(app: &Arc<App>, page: &PageRequest) -> AppResult<Vec<AuditEntry>> {
    let mut conn = app.db().await?;
    Ok(AuditEntry::page(&mut conn, page.keyset(), page.fetch()).await?)
}
