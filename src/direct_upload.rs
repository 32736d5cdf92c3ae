//! Direct-to-storage uploads, for files too large to send through GraphQL.
//!
//! `createUploadUrl` records an upload slot (who, what name, how many bytes,
//! which type, until when) and hands out a request that stores exactly that
//! many bytes at `uploads/{slot}`: a presigned S3 PUT, or a signed
//! `PUT /uploads/{slot}` on this server with the fs backend. The bytes never
//! pass through a GraphQL request.
//!
//! `completeUpload` reads the staged object back (S3: streamed to a
//! temporary file; fs: the file itself), checks it exactly as a multipart
//! upload is checked (`upload::check`), and then copies it server-side to
//! `originals/{id}` (S3 CopyObject, fs hard link) instead of uploading it
//! again (`upload::persist`). The image rows, the thumbnail job and the
//! slot's `completed_at` are written in one transaction, so a slot becomes
//! at most one image. Content that is refused closes the slot and deletes
//! the staged object; a passing fault (storage down) leaves the slot open
//! for another try.
//!
//! The sweeper deletes expired slots' staged objects, then their rows
//! ([`sweep_expired_slots`]); the orphan sweep removes staged objects whose
//! slot row is gone.

use std::sync::Arc;
use std::time::SystemTime;

use uuid::Uuid;

use crate::app::App;
use crate::db::models::{Image, Plan, UploadSlot, User};
use crate::error::{AppError, AppResult};
use crate::imaging::ImageKind;
use crate::jobs::JobError;
use crate::service::quota;
use crate::storage::{StorageError, StorageKey};
use crate::upload::{self, IncomingFile, clean_filename};
use diesel_async::AsyncConnection as _;

/// How long an upload URL (and its slot) stays valid.
pub const SLOT_LIFETIME: chrono::Duration = chrono::Duration::minutes(15);
/// Open (unexpired, uncompleted) slots one user may hold, so nobody can
/// reserve unbounded staging space.
pub const MAX_OPEN_SLOTS: i64 = 20;
const SWEEP_BATCH: i64 = 200;

/// A slot and the request that fills it.
#[derive(Debug)]
pub struct UploadTarget {
    pub slot: UploadSlot,
    pub url: String,
    pub method: &'static str,
    pub headers: Vec<(String, String)>,
}

/// Opens a slot for one image of `byte_size` bytes.
#[tracing::instrument(skip_all, fields(user.id = %owner_id, bytes = byte_size))]
pub async fn create_slot(
    app: &Arc<App>,
    owner_id: Uuid,
    plan: Option<&Plan>,
    filename: &str,
    byte_size: i64,
    content_type: &str,
) -> AppResult<UploadTarget> {
    let max = app.config.max_direct_upload_bytes;
    let Ok(size) = u64::try_from(byte_size) else {
        return Err(AppError::BadUserInput("byteSize must be at least 1".into()));
    };
    if size == 0 {
        return Err(AppError::BadUserInput("byteSize must be at least 1".into()));
    }
    if size > max {
        return Err(AppError::PayloadTooLarge(format!(
            "the file exceeds the limit of {max} bytes for direct uploads"
        )));
    }
    let Some(kind) = ImageKind::from_content_type(content_type) else {
        return Err(AppError::UnsupportedMediaType(format!(
            "contentType must be the type of an image ({})",
            crate::imaging::accepted_formats()
        )));
    };
    let now = app.clock.now();
    let slot = UploadSlot {
        id: Uuid::now_v7(),
        owner_id,
        filename: clean_filename(filename),
        byte_size,
        content_type: kind.content_type().to_owned(),
        created_at: now,
        expires_at: now + SLOT_LIFETIME,
        completed_at: None,
    };
    // A user over quota gets no upload URL (completion checks again).
    {
        let mut conn = app.db().await?;
        quota::check_upload(&mut conn, owner_id, plan, 1, size, now, false).await?;
    }
    let lifetime = SLOT_LIFETIME.to_std().map_err(AppError::internal)?;
    let put = app
        .storage
        .presign_put(
            &StorageKey::upload(slot.id),
            size,
            &slot.content_type,
            SystemTime::from(now),
            lifetime,
        )
        .await?;
    // Count and insert under a lock on the user's row: parallel calls
    // cannot together open more slots than the limit.
    let mut conn = app.db().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        User::lock(conn, owner_id).await?;
        if UploadSlot::count_open(conn, owner_id, now).await? >= MAX_OPEN_SLOTS {
            return Err(AppError::TooManyRequests(format!(
                "at most {MAX_OPEN_SLOTS} direct uploads may be open at once; \
                 complete them or wait until they expire"
            )));
        }
        slot.insert(conn).await?;
        Ok(())
    })
    .await?;
    tracing::info!(upload.id = %slot.id, "direct upload opened");
    Ok(UploadTarget {
        slot,
        url: put.url,
        method: put.method,
        headers: put.headers,
    })
}

/// Turns the owner's staged upload into an image (see the module docs).
#[tracing::instrument(skip_all, fields(user.id = %owner_id, upload.id = %slot_id))]
pub async fn complete(
    app: &Arc<App>,
    owner_id: Uuid,
    plan: Option<&Plan>,
    slot_id: Uuid,
    expires_in: Option<i32>,
) -> AppResult<Image> {
    let now = app.clock.now();
    let expires_at = upload::expiry(now, expires_in)?;
    let slot = {
        let mut conn = app.db().await?;
        UploadSlot::find_own(&mut conn, owner_id, slot_id).await?
    }
    .ok_or(AppError::NotFound)?;
    if slot.completed_at.is_some() {
        return Err(upload::already_completed());
    }
    if slot.expires_at <= now {
        return Err(AppError::BadUserInput(
            "this upload has expired; ask for a new upload URL".into(),
        ));
    }
    let key = StorageKey::upload(slot.id);
    let expected = u64::try_from(slot.byte_size).unwrap_or_default();
    let fetched = match app.storage.fetch(&key, expected).await {
        Ok(fetched) => fetched,
        Err(StorageError::NotFound) => {
            return Err(AppError::BadUserInput(
                "no file has been uploaded to this upload URL yet".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if fetched.size != expected {
        let reason = AppError::BadUserInput(format!(
            "the uploaded file has {} bytes, not the {expected} announced",
            fetched.size
        ));
        return Err(refuse(app, &slot, reason).await);
    }
    let incoming = IncomingFile {
        filename: slot.filename.clone(),
        file: fetched.file,
    };
    let checked = match upload::check(app, incoming, app.config.max_direct_upload_bytes).await {
        Ok(checked) => checked.staged(key, fetched.version),
        Err(
            e @ (AppError::BadUserInput(_)
            | AppError::UnsupportedMediaType(_)
            | AppError::PayloadTooLarge(_)),
        ) => return Err(refuse(app, &slot, e).await),
        Err(e) => return Err(e),
    };
    let image = upload::persist(
        app,
        owner_id,
        plan,
        vec![checked],
        expires_at,
        now,
        Some(slot.id),
    )
    .await?
    .pop()
    .ok_or_else(|| AppError::internal(anyhow::anyhow!("no image stored")))?;
    // The original is a copy; the staged object has served its purpose,
    // and its upload URL must not store another (see `close_upload`).
    if let Err(e) = app.storage.close_upload(&key).await {
        tracing::warn!(error = %e, "cannot close a completed upload; the sweeper will");
    }
    tracing::info!(image.id = %image.id, "direct upload completed");
    Ok(image)
}

/// Closes a slot whose file was refused and deletes the file, so nothing of
/// it stays stored; returns `reason` for the client.
async fn refuse(app: &Arc<App>, slot: &UploadSlot, reason: AppError) -> AppError {
    tracing::info!(reason = %reason.message(), "direct upload refused");
    let closed = match app.db().await {
        Ok(mut conn) => UploadSlot::mark_completed(&mut conn, slot.id, app.clock.now())
            .await
            .map_err(AppError::from),
        Err(e) => Err(e),
    };
    // Ok(false): a concurrent call completed it meanwhile; its image owns a
    // copy, so the staged object may go all the same. A database error
    // leaves slot and file for another try.
    if let Err(e) = closed {
        return e;
    }
    if let Err(e) = app.storage.close_upload(&StorageKey::upload(slot.id)).await {
        tracing::warn!(error = %e, "cannot close a refused upload; the sweeper will");
    }
    reason
}

/// Deletes expired slots' staged objects, then the slots; returns how many
/// slots went. Storage down: the rows stay and the next sweep tries again.
pub async fn sweep_expired_slots(
    app: &Arc<App>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, JobError> {
    let mut removed = 0;
    loop {
        let mut conn = app.db.get().await?;
        let expired = UploadSlot::expired(&mut conn, now, SWEEP_BATCH).await?;
        drop(conn);
        if expired.is_empty() {
            break;
        }
        for id in &expired {
            app.storage.delete(&StorageKey::upload(*id)).await?;
        }
        let mut conn = app.db.get().await?;
        removed += UploadSlot::delete_many(&mut conn, &expired).await?;
        if expired.len() < usize::try_from(SWEEP_BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    Ok(removed)
}
