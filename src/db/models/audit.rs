use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::audit_log;

/// One administrative change: who, what, when, and the values before and
/// after (never a secret).
#[derive(Clone, Debug, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    pub target_name: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

impl AuditEntry {
    pub async fn insert(&self, conn: &mut AsyncPgConnection) -> QueryResult<()> {
        diesel::insert_into(audit_log::table)
            .values(self)
            .execute(conn)
            .await
            .map(|_| ())
    }

    /// A page, newest first, after the keyset cursor `(created_at, id)`.
    pub async fn page(
        conn: &mut AsyncPgConnection,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> QueryResult<Vec<AuditEntry>> {
        let mut query = audit_log::table
            .select(AuditEntry::as_select())
            .order((audit_log::created_at.desc(), audit_log::id.desc()))
            .limit(limit)
            .into_boxed();
        if let Some((created_at, id)) = after {
            query = query.filter(audit_log::created_at.le(created_at)).filter(
                audit_log::created_at
                    .lt(created_at)
                    .or(audit_log::created_at
                        .eq(created_at)
                        .and(audit_log::id.lt(id))),
            );
        }
        query.load(conn).await
    }
}
