//! Data loaders: one batched query per kind, never one query per row.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};
use uuid::Uuid;

use crate::app::App;
use crate::db::models::thumbnail::Shown;
use crate::db::models::{Plan, Thumbnail};
use crate::error::{AppError, AppResult};

/// `key`'s value from the request's batched loader `L`; a failed batch is an
/// internal error naming `what` was being loaded.
pub async fn load_one<L>(ctx: &Context<'_>, key: Uuid, what: &str) -> AppResult<Option<L::Value>>
where
    L: Loader<Uuid, Error = Arc<anyhow::Error>>,
{
    ctx.data_unchecked::<DataLoader<L>>()
        .load_one(key)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("loading {what}: {e}")))
}

/// A loader's error: shared by every key of the failed batch.
fn failed(e: impl std::error::Error + Send + Sync + 'static) -> Arc<anyhow::Error> {
    Arc::new(anyhow::Error::new(e))
}

async fn connection(app: &App) -> Result<crate::db::DbConn, Arc<anyhow::Error>> {
    app.db.get().await.map_err(failed)
}

pub struct PlanLoader {
    app: Arc<App>,
}

impl PlanLoader {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

impl Loader<Uuid> for PlanLoader {
    type Value = Plan;
    type Error = Arc<anyhow::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Plan>, Self::Error> {
        let mut conn = connection(&self.app).await?;
        let plans = Plan::find_many(&mut conn, keys).await.map_err(failed)?;
        Ok(plans.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// How many users hold each plan of a `plans` list, in one grouped query.
pub struct PlanHoldersLoader {
    app: Arc<App>,
}

impl PlanHoldersLoader {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

impl Loader<Uuid> for PlanHoldersLoader {
    type Value = i64;
    type Error = Arc<anyhow::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, i64>, Self::Error> {
        let mut conn = connection(&self.app).await?;
        let counts = Plan::holders_of(&mut conn, keys).await.map_err(failed)?;
        Ok(counts.into_iter().collect())
    }
}

/// All thumbnail rows of the images on a page, in one query.
pub struct ThumbnailLoader {
    app: Arc<App>,
}

impl ThumbnailLoader {
    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

impl Loader<Uuid> for ThumbnailLoader {
    type Value = Vec<Shown>;
    type Error = Arc<anyhow::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Shown>>, Self::Error> {
        let mut conn = connection(&self.app).await?;
        let rows = Thumbnail::shown_for_images(&mut conn, keys)
            .await
            .map_err(failed)?;
        let mut map: HashMap<Uuid, Vec<Shown>> = HashMap::new();
        for row in rows {
            map.entry(row.image_id).or_default().push(row);
        }
        Ok(map)
    }
}
