//! JWT access tokens: HS256, signed with `JWT_SECRET`, carrying `sub`, `sid`
//! (the session, see `db::models::Session`) and `exp`.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const ISSUER: &str = "image-vault";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// The session; a token without one (from before sessions) is refused.
    sid: String,
    exp: i64,
    iat: i64,
    iss: String,
}

/// Why a token was refused. Clients only ever see `UNAUTHENTICATED`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is malformed or its signature is invalid")]
    Invalid,
    #[error("token has expired")]
    Expired,
}

/// What a valid token says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub user_id: Uuid,
    pub session_id: Uuid,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Issues a token for `user_id`'s session valid until `expires_at`.
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            iss: ISSUER.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verifies signature, algorithm (HS256 only: `none` and others are refused),
    /// issuer and expiry against the application clock.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<TokenClaims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        // Expiry is checked below against the application clock, which tests control.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.exp <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(TokenClaims {
            user_id: Uuid::parse_str(&data.claims.sub).map_err(|_| TokenError::Invalid)?,
            session_id: Uuid::parse_str(&data.claims.sid).map_err(|_| TokenError::Invalid)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::Duration;

    fn keys() -> TokenKeys {
        TokenKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let now = Utc::now();
        let id = Uuid::now_v7();
        let sid = Uuid::now_v7();
        let token = keys()
            .issue(id, sid, now, now + Duration::hours(1))
            .expect("issue");
        assert_eq!(
            keys().verify(&token, now),
            Ok(TokenClaims {
                user_id: id,
                session_id: sid
            })
        );
        assert_eq!(
            keys().verify(&token, now + Duration::hours(2)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn foreign_tampered_and_unsigned_tokens_are_refused() {
        let now = Utc::now();
        let id = Uuid::now_v7();
        let token = keys()
            .issue(id, Uuid::now_v7(), now, now + Duration::hours(1))
            .expect("issue");
        let other = TokenKeys::new(b"another-secret-another-secret-xx");
        assert_eq!(other.verify(&token, now), Err(TokenError::Invalid));

        let parts: Vec<&str> = token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"{}","sid":"{}","exp":{},"iat":0,"iss":"image-vault"}}"#,
            Uuid::now_v7(),
            Uuid::now_v7(),
            now.timestamp() + 3600
        ));
        let tampered = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(keys().verify(&tampered, now), Err(TokenError::Invalid));

        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{forged_claims}.");
        assert_eq!(keys().verify(&unsigned, now), Err(TokenError::Invalid));
        assert_eq!(keys().verify("garbage", now), Err(TokenError::Invalid));
    }
}
