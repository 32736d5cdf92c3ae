//! From an `Authorization` value to the current user: one indexed query
//! (the session or API token joined with its user and plan), so that a
//! revoked session or token, or a disabled user, is refused on the next
//! request on every server.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::api_token;
use crate::app::App;
use crate::db::models::{ApiToken, Plan, Session, User};
use crate::error::AppResult;

/// Uses are written back at most this often per session or token.
pub const TOUCH_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// What authenticated a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A login session (the JWT's `sid`).
    Session(Uuid),
    ApiToken(Uuid),
}

/// The authenticated user with their plan, loaded in one query.
#[derive(Debug)]
pub struct AuthUser {
    pub user: User,
    pub plan: Option<Plan>,
    pub credential: Credential,
    /// When the credential stops working by itself.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why a credential was refused. Clients only ever see `UNAUTHENTICATED`;
/// the WebSocket tells them apart by its close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed, forged, or naming no session or token (any more).
    Invalid,
    Expired,
    Revoked,
    Disabled,
}

#[derive(Debug)]
pub enum Resolved {
    Anonymous,
    User(Box<AuthUser>),
    Refused(Refusal),
}

/// Resolves an `Authorization` header value. Only a database failure is an error.
pub async fn resolve(app: &App, authorization: Option<&str>) -> AppResult<Resolved> {
    let Some(value) = authorization else {
        return Ok(Resolved::Anonymous);
    };
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
    else {
        return Ok(Resolved::Refused(Refusal::Invalid));
    };
    let now = app.clock.now();
    if api_token::is_api_token(token) {
        return by_api_token(app, token, now).await;
    }
    let claims = match app.tokens.verify(token, now) {
        Ok(claims) => claims,
        Err(super::TokenError::Expired) => return Ok(Resolved::Refused(Refusal::Expired)),
        Err(e) => {
            tracing::debug!(error = %e, "token refused");
            return Ok(Resolved::Refused(Refusal::Invalid));
        }
    };
    let mut conn = app.db().await?;
    let Some((session, user, plan)) = Session::find_with_user(&mut conn, claims.session_id).await?
    else {
        return Ok(Resolved::Refused(Refusal::Invalid));
    };
    if session.user_id != claims.user_id {
        return Ok(Resolved::Refused(Refusal::Invalid));
    }
    if let Some(refusal) = refusal(
        session.revoked_at.is_some(),
        session.expires_at <= now,
        &user,
    ) {
        return Ok(Resolved::Refused(refusal));
    }
    if session.last_used_at < now - TOUCH_EVERY {
        Session::touch(&mut conn, session.id, now, now - TOUCH_EVERY).await?;
    }
    Ok(Resolved::User(Box::new(AuthUser {
        user,
        plan,
        credential: Credential::Session(session.id),
        expires_at: Some(session.expires_at),
    })))
}

async fn by_api_token(app: &App, secret: &str, now: DateTime<Utc>) -> AppResult<Resolved> {
    let hash = api_token::hash(secret);
    let mut conn = app.db().await?;
    let Some((token, user, plan)) = ApiToken::find_with_user(&mut conn, &hash).await? else {
        return Ok(Resolved::Refused(Refusal::Invalid));
    };
    if let Some(refusal) = refusal(
        token.revoked_at.is_some(),
        token.expires_at.is_some_and(|e| e <= now),
        &user,
    ) {
        return Ok(Resolved::Refused(refusal));
    }
    if token.last_used_at.is_none_or(|t| t < now - TOUCH_EVERY) {
        ApiToken::touch(&mut conn, token.id, now, now - TOUCH_EVERY).await?;
    }
    Ok(Resolved::User(Box::new(AuthUser {
        user,
        plan,
        credential: Credential::ApiToken(token.id),
        expires_at: token.expires_at,
    })))
}

fn refusal(revoked: bool, expired: bool, user: &User) -> Option<Refusal> {
    if user.is_disabled() {
        Some(Refusal::Disabled)
    } else if revoked {
        Some(Refusal::Revoked)
    } else if expired {
        Some(Refusal::Expired)
    } else {
        None
    }
}
