//! Login throttling, shared by every server through Postgres and decided
//! before the password is hashed.
//!
//! Two counters per attempt: the client's network (every attempt, a fixed
//! window: `LOGIN_ATTEMPTS_PER_IP` per `LOGIN_WINDOW_SECONDS`) and the
//! username (`LOGIN_FAILURES_PER_USER` attempts free, then growing delays:
//! `LOGIN_BASE_DELAY_SECONDS`, twice that, ... up to the window; a
//! successful login or a password reset starts it over). An attempt is
//! counted by `login_reserve` before its hash is computed, under the
//! counter's row lock, so simultaneous guesses queue there and each sees the
//! others. Growing delays, not a lockout: whoever guesses gets one try per
//! delay at most, and the owner is never shut out for longer than the
//! window after the guessing stops.

use std::net::IpAddr;

use diesel_async::AsyncPgConnection;

use super::client::network_key;
use crate::app::App;
use crate::db::models::{LoginThrottle, ThrottleRule};
use crate::error::{AppError, AppResult};

fn duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn clamp(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn user_rule(app: &App) -> ThrottleRule {
    let window = duration(app.config.login_window);
    ThrottleRule {
        window,
        limit: clamp(app.config.login_failures_per_user),
        growing: true,
        base_delay: duration(app.config.login_base_delay).min(window),
        max_delay: window,
    }
}

fn network_rule(app: &App) -> ThrottleRule {
    let window = duration(app.config.login_window);
    ThrottleRule {
        window,
        limit: clamp(app.config.login_attempts_per_ip),
        growing: false,
        base_delay: window,
        max_delay: window,
    }
}

pub fn user_key(username: &str) -> String {
    format!("user:{username}")
}

/// Counts one password attempt for `username` (normalised) from `client`;
/// `TOO_MANY_REQUESTS` (with the wait) when either counter is blocked.
pub async fn reserve(
    app: &App,
    conn: &mut AsyncPgConnection,
    username: &str,
    client: Option<IpAddr>,
) -> AppResult<()> {
    let now = app.clock.now();
    if let Some(ip) = client
        && let Some(until) =
            LoginThrottle::reserve(conn, &network_key(ip), now, network_rule(app)).await?
    {
        tracing::warn!(ip = %ip, "login throttled for the network");
        return Err(too_many(until - now));
    }
    if let Some(until) =
        LoginThrottle::reserve(conn, &user_key(username), now, user_rule(app)).await?
    {
        tracing::warn!(username = %username, ip = ?client, "login throttled for the username");
        return Err(too_many(until - now));
    }
    Ok(())
}

/// After a successful login or a password reset: the username starts over.
pub async fn clear(conn: &mut AsyncPgConnection, username: &str) -> AppResult<()> {
    LoginThrottle::clear(conn, &user_key(username)).await?;
    Ok(())
}

fn too_many(wait: chrono::Duration) -> AppError {
    let seconds = (wait.num_milliseconds() + 999) / 1000;
    AppError::TooManyRequests(format!(
        "too many login attempts; try again in {} seconds",
        seconds.max(1)
    ))
}
