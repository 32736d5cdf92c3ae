//! Password hashing with argon2id.
//!
//! Each hash needs 19 MiB of working memory. Allocated and freed per hash,
//! those buffers fragmented the allocator's heap under a mix of logins and
//! uploads: a server's RSS stepped up by 19 MiB again and again (60 MiB
//! without logins, 307 MiB after 80 logins beside uploads; RELIABILITY.md).
//! So the hashes run on [`Hasher`], which keeps one buffer per permitted
//! concurrent hash and reuses it: at most `cores` x 19 MiB, allocated once.

use std::sync::{LazyLock, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// OWASP's recommended argon2id setting: 19 MiB, 2 passes, 1 lane.
fn params() -> Params {
    // The parameters are constants that argon2 accepts; the fallback is never taken.
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn hash_error(e: impl std::fmt::Display) -> HashError {
    HashError(e.to_string())
}

pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 1024;

/// The working memory of one hash with our parameters.
pub struct Memory(Box<[Block]>);

impl Memory {
    pub fn new() -> Memory {
        Memory(vec![Block::new(); params().block_count()].into_boxed_slice())
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

/// Hashes a new password (a random 16-byte salt) in `memory`.
pub fn hash_password_in(password: &str, memory: &mut Memory) -> Result<String, HashError> {
    let params = params();
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut *memory.0)
        .map_err(hash_error)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(hash_error)?,
        salt: Some(Salt::new(&salt).map_err(hash_error)?),
        hash: Some(Output::new(&out).map_err(hash_error)?),
    };
    Ok(hash.to_string())
}

/// Hashes a new password with memory of its own (tools and tests).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    hash_password_in(password, &mut Memory::new())
}

/// A real hash of a random password: verifying against it when the user does
/// not exist costs the same time as a wrong password for one that does.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let random: [u8; 16] = rand::random();
    let password = format!("{random:?}");
    hash_password(&password).unwrap_or_default()
});

/// Checks a password against a stored hash in `memory` (the comparison is
/// constant-time). `None` as the hash verifies against a dummy so that
/// unknown users take as long as known ones. A hash made with more memory
/// than ours (other parameters) is checked with memory of its own.
pub fn verify_password_in(password: &str, stored: Option<&str>, memory: &mut Memory) -> bool {
    let hash = stored.unwrap_or(DUMMY_HASH.as_str());
    let ok = verify(password, hash, memory).unwrap_or(false);
    ok && stored.is_some()
}

fn verify(password: &str, hash: &str, memory: &mut Memory) -> Option<bool> {
    let parsed = PasswordHash::new(hash).ok()?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Some(false);
    };
    let params = Params::try_from(&parsed).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let result = match memory.0.get_mut(..blocks) {
        Some(blocks) => argon.hash_password_into_with_memory(
            password.as_bytes(),
            salt.as_ref(),
            &mut out,
            blocks,
        ),
        None => argon.hash_password_into(password.as_bytes(), salt.as_ref(), &mut out),
    };
    result.ok()?;
    // `Output`'s equality is constant-time.
    Some(Output::new(&out).ok()? == *expected)
}

/// Checks a password with memory of its own (tools and tests).
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    verify_password_in(password, stored, &mut Memory::new())
}

/// Makes sure the dummy hash is computed before the first login request.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// Runs hashes on tokio's blocking threads, at most `permits` at once, each
/// in a working memory that is kept for the next one.
pub struct Hasher {
    permits: tokio::sync::Semaphore,
    memory: Mutex<Vec<Memory>>,
}

impl Hasher {
    pub fn new(permits: usize) -> Hasher {
        Hasher {
            permits: tokio::sync::Semaphore::new(permits.max(1)),
            memory: Mutex::new(Vec::new()),
        }
    }

    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        self.run(move |memory| verify_password_in(&password, stored.as_deref(), memory))
            .await
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.run(move |memory| hash_password_in(&password, memory))
            .await?
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self.permits.acquire().await.map_err(hash_error)?;
        let mut memory = self.pool().pop().unwrap_or_default();
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let result = f(&mut memory);
            (result, memory)
        })
        .await
        .map_err(hash_error)?;
        self.pool().push(memory);
        Ok(result)
    }

    /// How many working memories exist (at most the permits).
    pub fn memories(&self) -> usize {
        self.pool().len()
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Vec<Memory>> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    #[test]
    fn hashes_verify_and_are_argon2id() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse", Some(&hash)));
        assert!(!verify_password("wrong horse", Some(&hash)));
        assert!(!verify_password("correct horse", None));
        assert!(!verify_password("x", Some("not a hash")));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_phc_strings() {
        // Ours verify there, and theirs (older hashes) here.
        let ours = hash_password("correct horse").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        let theirs = argon2()
            .hash_password(b"battery staple")
            .expect("hash")
            .to_string();
        let mut memory = Memory::new();
        assert!(verify_password_in(
            "battery staple",
            Some(&theirs),
            &mut memory
        ));
        assert!(!verify_password_in(
            "battery stable",
            Some(&theirs),
            &mut memory
        ));
        // More memory than ours: checked with memory of its own.
        let bigger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(32 * 1024, 1, 1, None).expect("params"),
        )
        .hash_password(b"staple")
        .expect("hash")
        .to_string();
        assert!(verify_password_in("staple", Some(&bigger), &mut memory));
        // A hash without its output or salt never verifies.
        assert!(!verify_password_in(
            "x",
            Some("$argon2id$v=19$m=19456,t=2,p=1"),
            &mut memory
        ));
    }

    #[tokio::test]
    async fn the_hasher_keeps_at_most_one_memory_per_permit() {
        let hasher = std::sync::Arc::new(Hasher::new(2));
        let hash = hasher.hash("correct horse".into()).await.expect("hash");
        let checks: Vec<_> = (0..6)
            .map(|i| {
                let hasher = hasher.clone();
                let hash = hash.clone();
                tokio::spawn(async move {
                    let guess = if i % 2 == 0 { "correct horse" } else { "wrong" };
                    hasher.verify(guess.into(), Some(hash)).await
                })
            })
            .collect();
        let mut right = 0;
        for check in checks {
            if check.await.expect("task").expect("verify") {
                right += 1;
            }
        }
        assert_eq!(right, 3);
        assert!(hasher.memories() <= 2, "{} memories", hasher.memories());
    }
}
