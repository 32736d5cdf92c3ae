//! Authentication: password hashes, access tokens and API tokens, the
//! client's address, login throttling, the current user.

pub mod api_token;
pub mod client;
pub mod password;
pub mod throttle;
pub mod token;
pub mod viewer;

pub use password::{hash_password, verify_password};
pub use token::{TokenClaims, TokenError, TokenKeys};

/// Usernames are stored lower-case; this is the one place that says how.
pub fn normalize_username(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Whether a (normalised) username is acceptable; mirrors the database CHECK.
pub fn valid_username(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {}
        _ => return false,
    }
    name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.@-".contains(c))
}
