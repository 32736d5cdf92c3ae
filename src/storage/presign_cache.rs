//! Presigned S3 URLs remembered for their time bucket.
//!
//! A presigned URL is a pure function of the object and the
//! [`PresignWindow`](super::PresignWindow): every call in one bucket signs the
//! same inputs. Signing through aws-sdk-s3 costs tens of microseconds (the
//! SDK runs its whole request pipeline for it), and a page of 50 Premium
//! images asks for 150 URLs, so a page read again within the bucket should
//! not pay for them twice. Entries of past buckets are never asked for
//! again and age out of the bounded [`Generations`].

use std::sync::Arc;

use super::{PresignWindow, StorageKey};
use crate::cache::Generations;

/// The object and the window's bounds: `Copy`, and a hit shares the URL,
/// so a hit allocates nothing.
type Key = (StorageKey, u64, u64);

pub(super) struct PresignCache(Generations<Key, Arc<str>>);

impl PresignCache {
    /// At most `2 * capacity` URLs (a URL is about 500 bytes).
    pub(super) fn new(capacity: usize) -> Self {
        PresignCache(Generations::new(capacity))
    }

    pub(super) fn get(&self, object: &StorageKey, window: PresignWindow) -> Option<Arc<str>> {
        self.0.get(&(*object, window.signed_at, window.expires_at))
    }

    pub(super) fn insert(&self, object: StorageKey, window: PresignWindow, url: Arc<str>) {
        self.0
            .insert((object, window.signed_at, window.expires_at), url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u128) -> StorageKey {
        StorageKey::original(uuid::Uuid::from_u128(n))
    }

    fn window(signed_at: u64) -> PresignWindow {
        PresignWindow {
            signed_at,
            expires_at: signed_at + 100,
        }
    }

    #[test]
    fn a_url_is_remembered_for_its_window_only() {
        let cache = PresignCache::new(10);
        cache.insert(key(1), window(0), "url-1".into());
        assert_eq!(cache.get(&key(1), window(0)).as_deref(), Some("url-1"));
        assert_eq!(cache.get(&key(1), window(25)), None);
        assert_eq!(cache.get(&key(2), window(0)), None);
    }
}
