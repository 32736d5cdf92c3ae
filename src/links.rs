//! Expiring links: app URLs `/links/{token}` that redirect to a short-lived
//! presigned URL of the original, usable without logging in.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::app::App;
use crate::db::models::{ExpiringLink, Image, Plan};
use crate::error::{AppError, AppResult};

/// Bounds of `expiresIn` for links, in seconds.
pub const LINK_EXPIRY_RANGE: std::ops::RangeInclusive<i32> = 300..=30_000;

/// 128 random bits, URL-safe.
pub fn new_token() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn url(app: &App, token: &str) -> String {
    format!("{}/links/{token}", app.config.public_url)
}

pub async fn create(
    app: &Arc<App>,
    owner_id: Uuid,
    plan: Option<&Plan>,
    image_id: Uuid,
    expires_in: i32,
) -> AppResult<(ExpiringLink, Image)> {
    if !plan.is_some_and(|p| p.expiring_links) {
        return Err(AppError::Forbidden);
    }
    if !LINK_EXPIRY_RANGE.contains(&expires_in) {
        return Err(AppError::BadUserInput(format!(
            "expiresIn must be between {} and {} seconds",
            LINK_EXPIRY_RANGE.start(),
            LINK_EXPIRY_RANGE.end()
        )));
    }
    let now = app.clock.now();
    let mut conn = app.db().await?;
    let image = Image::find_visible(&mut conn, owner_id, image_id, now)
        .await?
        .ok_or(AppError::NotFound)?;
    let link = ExpiringLink {
        id: Uuid::now_v7(),
        image_id,
        owner_id,
        token: new_token(),
        created_at: now,
        expires_at: now + chrono::Duration::seconds(i64::from(expires_in)),
        revoked_at: None,
    };
    link.insert(&mut conn).await?;
    tracing::info!(link.id = %link.id, image.id = %image_id, "expiring link created");
    Ok((link, image))
}
