//! API token secrets: `ivt_` and 256 random bits in base64url. The prefix
//! makes a leaked token recognisable (secret scanners, logs); only the
//! SHA-256 of the secret is stored, so the table cannot be replayed. A
//! fast hash is enough: the secret has 256 bits of entropy, nothing to guess.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

pub const PREFIX: &str = "ivt_";
/// How many characters of the secret are kept to tell tokens apart.
pub const SHOWN_CHARS: usize = 12;

pub struct NewSecret {
    /// Shown once, to the user who made it.
    pub secret: String,
    pub hash: Vec<u8>,
    /// The first `SHOWN_CHARS` characters, stored and listed.
    pub prefix: String,
}

pub fn generate() -> NewSecret {
    let random: [u8; 32] = rand::random();
    let secret = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(random));
    NewSecret {
        hash: hash(&secret),
        prefix: secret.chars().take(SHOWN_CHARS).collect(),
        secret,
    }
}

pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether a bearer value is an API token (else it should be a JWT).
pub fn is_api_token(value: &str) -> bool {
    value.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_stored_only_as_hashes() {
        let a = generate();
        let b = generate();
        assert!(a.secret.starts_with("ivt_"));
        assert_eq!(a.secret.len(), 4 + 43);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash(&a.secret));
        assert_eq!(a.hash.len(), 32);
        assert!(a.secret.starts_with(&a.prefix));
        assert_eq!(a.prefix.len(), SHOWN_CHARS);
        assert!(is_api_token(&a.secret));
        assert!(!is_api_token("eyJhbGciOiJIUzI1NiJ9.x.y"));
    }
}
