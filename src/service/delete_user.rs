//! Deleting a user: their rows go in one transaction (images, thumbnails,
//! links, upload slots, sessions and tokens by `ON DELETE CASCADE`), and a
//! job enqueued in it deletes their objects, as `deleteImage` does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use uuid::Uuid;

use super::Actor;
use super::audit::{self, Change, user_snapshot};
use super::update_user::LAST_ADMIN;
use crate::app::App;
use crate::db::models::{Image, Thumbnail, UploadSlot, User};
use crate::error::{AppError, AppResult};
use crate::events::publish_account;
use crate::jobs::delete_objects::DeleteObjects;
use crate::jobs::delete_user_objects::DeleteUserObjects;
use crate::jobs::queue;

/// Refused for oneself and for the last enabled administrator.
pub async fn delete_user(app: &Arc<App>, actor: &Actor, id: Uuid) -> AppResult<()> {
    if actor.is(id) {
        return Err(AppError::BadUserInput("you cannot delete yourself".into()));
    }
    let now = app.clock.now();
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        User::lock_admins(conn).await?;
        let user = User::find_for_update(conn, id)
            .await?
            .ok_or(AppError::NotFound)?;
        if user.is_admin
            && !user.is_disabled()
            && User::count_other_enabled_admins(conn, id).await? == 0
        {
            return Err(AppError::BadUserInput(LAST_ADMIN.into()));
        }
        let images = Image::all_of_owner(conn, id).await?;
        let ids: Vec<Uuid> = images.iter().map(|i| i.id).collect();
        let thumbs = if ids.is_empty() {
            Vec::new()
        } else {
            Thumbnail::for_images(conn, &ids).await?
        };
        // Objects are keyed by source; deduplication is per user, so every
        // source of this user's images goes with them.
        let mut sources: BTreeMap<Uuid, BTreeSet<(u32, String)>> = BTreeMap::new();
        for image in &images {
            let mine: Vec<Thumbnail> = thumbs
                .iter()
                .filter(|t| t.image_id == image.id)
                .cloned()
                .collect();
            let objects = DeleteObjects::of(image, &mine);
            sources
                .entry(objects.image_id)
                .or_default()
                .extend(objects.thumbnails);
        }
        let uploads = UploadSlot::ids_of_owner(conn, id).await?;
        if !sources.is_empty() || !uploads.is_empty() {
            let job = DeleteUserObjects {
                user_id: id,
                sources: sources
                    .into_iter()
                    .map(|(image_id, thumbnails)| DeleteObjects {
                        image_id,
                        thumbnails: thumbnails.into_iter().collect(),
                    })
                    .collect(),
                uploads,
            };
            queue::enqueue(conn, &job, now).await?;
        }
        User::delete(conn, id).await?;
        audit::record(
            conn,
            actor,
            now,
            Change {
                action: "user.delete",
                target_type: "user",
                target_id: Some(id),
                target_name: Some(&user.username),
                before: Some(user_snapshot(&user)),
                after: None,
            },
        )
        .await?;
        publish_account(conn, id).await?;
        Ok(())
    })
    .await?;
    tracing::info!(user.id = %id, "user deleted");
    Ok(())
}
