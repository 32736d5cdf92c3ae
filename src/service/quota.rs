//! Per-plan quotas: images, stored bytes and uploads per hour.
//!
//! An upload is checked twice: cheaply before its originals are stored (so
//! a user over quota costs no storage writes), and for good in the
//! transaction that records it, under a lock on the user's row, so that
//! parallel uploads cannot together pass a limit that each passes alone.
//! Uploads per hour are counted in `upload_counts` in that transaction: a
//! rolled-back upload is not counted, a deleted image still is.

use chrono::{DateTime, DurationRound as _, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::models::{Plan, User};
use crate::error::{AppError, AppResult};

/// What a user holds now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, QueryableByName)]
pub struct Usage {
    /// Unexpired images.
    #[diesel(sql_type = BigInt)]
    pub images: i64,
    /// Bytes of their originals (a deduplicated original counts per image).
    #[diesel(sql_type = BigInt)]
    pub stored_bytes: i64,
    /// Images uploaded in the current clock hour, deleted ones included.
    #[diesel(sql_type = BigInt)]
    pub uploads_this_hour: i64,
}

/// The start of the clock hour that `now` is in.
fn hour_of(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(chrono::Duration::hours(1))
        .unwrap_or(now)
}

impl Usage {
    pub async fn of(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> QueryResult<Usage> {
        diesel::sql_query(
            "SELECT count(*) AS images, COALESCE(sum(byte_size), 0)::int8 AS stored_bytes,
                    COALESCE((SELECT uploads FROM upload_counts
                               WHERE user_id = $1 AND window_start = $3), 0)::int8
                        AS uploads_this_hour
               FROM images
              WHERE owner_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind::<SqlUuid, _>(user_id)
        .bind::<Timestamptz, _>(now)
        .bind::<Timestamptz, _>(hour_of(now))
        .get_result(conn)
        .await
    }
}

/// Refuses an upload of `images` files of `bytes` in all that would take
/// the user over a quota of their plan. Inside the recording transaction
/// (`final_check`), it locks the user's row first and counts the uploads
/// into the hour.
pub async fn check_upload(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    plan: Option<&Plan>,
    images: usize,
    bytes: u64,
    now: DateTime<Utc>,
    final_check: bool,
) -> AppResult<()> {
    let Some(plan) = plan.filter(|p| p.has_quotas()) else {
        if final_check {
            count_uploads(conn, user_id, images, now).await?;
        }
        return Ok(());
    };
    if final_check {
        User::lock(conn, user_id).await?;
    }
    let usage = Usage::of(conn, user_id, now).await?;
    let new = i64::try_from(images).unwrap_or(i64::MAX);
    let new_bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    if let Some(max) = plan.max_images
        && usage.images.saturating_add(new) > i64::from(max)
    {
        return Err(exceeded(format!(
            "the {} plan allows {max} images; you have {}",
            plan.name, usage.images
        )));
    }
    if let Some(max) = plan.max_storage_bytes
        && usage.stored_bytes.saturating_add(new_bytes) > max
    {
        return Err(exceeded(format!(
            "the {} plan allows {} MiB of images; you use {} MiB and this upload needs {} MiB more",
            plan.name,
            max >> 20,
            usage.stored_bytes >> 20,
            new_bytes.unsigned_abs().div_ceil(1 << 20)
        )));
    }
    let uploads = if final_check {
        count_uploads(conn, user_id, images, now).await?
    } else {
        usage.uploads_this_hour.saturating_add(new)
    };
    if let Some(max) = plan.max_uploads_per_hour
        && uploads > i64::from(max)
    {
        let next = hour_of(now) + chrono::Duration::hours(1);
        return Err(exceeded(format!(
            "the {} plan allows {max} uploads per hour; try again after {}",
            plan.name,
            next.format("%H:%M UTC")
        )));
    }
    Ok(())
}

/// Adds `images` to the user's uploads of this hour; returns the new count.
async fn count_uploads(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    images: usize,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = Integer)]
        uploads: i32,
    }
    let n = i32::try_from(images).unwrap_or(i32::MAX);
    let count: Count = diesel::sql_query(
        "INSERT INTO upload_counts (user_id, window_start, uploads) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, window_start)
         DO UPDATE SET uploads = upload_counts.uploads + EXCLUDED.uploads
         RETURNING uploads",
    )
    .bind::<SqlUuid, _>(user_id)
    .bind::<Timestamptz, _>(hour_of(now))
    .bind::<Integer, _>(n)
    .get_result(conn)
    .await?;
    Ok(i64::from(count.uploads))
}

fn exceeded(message: String) -> AppError {
    AppError::QuotaExceeded(message)
}
