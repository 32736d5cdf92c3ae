//! Image events across processes: a worker anywhere says "this image's
//! thumbnails changed" with Postgres NOTIFY; every server LISTENs and fans
//! the event out to its subscribers. Account changes (a session or token
//! revoked, a user disabled, deleted, demoted or moved to another plan) go
//! the same way on their own channel, so that open WebSockets of that user
//! on every server re-check their credential at once.

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt as _;
use tokio::sync::broadcast;
use uuid::Uuid;

pub const CHANNEL: &str = "image_vault_events";
pub const ACCOUNTS_CHANNEL: &str = "image_vault_accounts";

/// Publishes that an image changed (delivered when the surrounding
/// transaction, if any, commits).
pub async fn publish(conn: &mut AsyncPgConnection, image_id: Uuid) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANNEL)
        .bind::<Text, _>(image_id.to_string())
        .execute(conn)
        .await
        .map(|_| ())
}

/// Publishes that a user's account changed (delivered at commit).
pub async fn publish_account(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(ACCOUNTS_CHANNEL)
        .bind::<Text, _>(user_id.to_string())
        .execute(conn)
        .await
        .map(|_| ())
}

/// Receives every process's image and account events and hands them to
/// local subscribers.
#[derive(Clone)]
pub struct EventHub {
    tx: broadcast::Sender<Uuid>,
    accounts: broadcast::Sender<Uuid>,
}

impl EventHub {
    /// A hub; `listen` must run for events from the database to arrive.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        let (accounts, _) = broadcast::channel(1024);
        Self { tx, accounts }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.tx.subscribe()
    }

    /// Ids of users whose account changed (`Uuid::nil()`: maybe anyone's).
    pub fn subscribe_accounts(&self) -> broadcast::Receiver<Uuid> {
        self.accounts.subscribe()
    }

    /// LISTENs until the task is dropped, reconnecting with backoff. After a
    /// reconnect it cannot know what it missed, so subscribers are told to
    /// re-read (with `Uuid::nil()`).
    pub async fn listen(self, database_url: String) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let session = async {
                let mut conn = AsyncPgConnection::establish(&database_url).await?;
                diesel::sql_query(format!("LISTEN {CHANNEL}"))
                    .execute(&mut conn)
                    .await?;
                diesel::sql_query(format!("LISTEN {ACCOUNTS_CHANNEL}"))
                    .execute(&mut conn)
                    .await?;
                let _ = self.tx.send(Uuid::nil());
                let _ = self.accounts.send(Uuid::nil());
                let mut stream = std::pin::pin!(conn.notifications_stream());
                while let Some(note) = stream.next().await {
                    let note = note?;
                    if let Ok(id) = Uuid::parse_str(&note.payload) {
                        let tx = if note.channel == ACCOUNTS_CHANNEL {
                            &self.accounts
                        } else {
                            &self.tx
                        };
                        let _ = tx.send(id);
                    }
                }
                anyhow::Ok(())
            };
            if let Err(e) = session.await {
                tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts the listener task of an app's hub.
pub fn spawn_listener(hub: &EventHub, database_url: &str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(hub.clone().listen(database_url.to_owned()))
}
