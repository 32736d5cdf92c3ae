//! Live updates over `graphql-transport-ws` at `/graphql/ws`.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::app::App;
use crate::db::models::{Image, Thumbnail, User};
use crate::error::{AppError, AppResult};
use crate::graphql::context::{AuthUser, ContextExt};
use crate::graphql::guards::Role;
use crate::graphql::types::{Grants, ImageObject, parse_id};

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The image now, then again each time one of its thumbnails becomes
    /// READY or FAILED (made by a worker in any process). Ends when the image
    /// is deleted or expires.
    #[graphql(guard = "Role::User")]
    async fn image_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = ImageObject> + use<>, AppError> {
        let auth = ctx.auth()?.clone();
        let app = ctx.app().clone();
        let id = parse_id(&id).map_err(|_| AppError::NotFound)?;
        // Subscribe before the first read so no event falls in between.
        let events = app.events.subscribe();
        let first = load(&app, &auth, id).await?.ok_or(AppError::NotFound)?;
        let state = (app, auth, id, events, Some(first));
        Ok(futures_util::stream::unfold(
            state,
            |(app, auth, id, mut events, pending)| async move {
                if let Some(image) = pending {
                    return Some((image, (app, auth, id, events, None)));
                }
                loop {
                    match events.recv().await {
                        Ok(event) if event == id || event.is_nil() => break,
                        Ok(_) => {}
                        Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return None,
                    }
                }
                match load(&app, &auth, id).await {
                    Ok(Some(image)) => Some((image, (app, auth, id, events, None))),
                    Ok(None) => None,
                    Err(e) => {
                        tracing::warn!(error = ?e, "subscription ended");
                        None
                    }
                }
            },
        ))
    }
}

/// The image with fresh thumbnails, if still visible to its owner, as the
/// owner's current plan shows it (the plan may have changed since the
/// subscription started; a disabled or deleted owner's socket is closed).
async fn load(app: &Arc<App>, auth: &AuthUser, id: Uuid) -> AppResult<Option<ImageObject>> {
    let mut conn = app.db().await?;
    let Some(image) = Image::find_visible(&mut conn, auth.user.id, id, app.clock.now()).await?
    else {
        return Ok(None);
    };
    let Some((_, plan)) = User::find_with_plan(&mut conn, auth.user.id).await? else {
        return Ok(None);
    };
    let thumbnails = Thumbnail::shown_for_images(&mut conn, &[id]).await?;
    Ok(Some(ImageObject {
        image,
        grants: Grants::of(plan.as_ref()),
        thumbnails: Some(thumbnails),
    }))
}
