//! Presigned S3 URLs remembered for their time bucket.
//!
//! A presigned URL is a pure function of the object and the
//! [`PresignWindow`](super::PresignWindow): every call in one bucket signs the
//! same inputs. Signing through aws-sdk-s3 costs tens of microseconds (the
//! SDK runs its whole request pipeline for it), and a page of 50 Premium
//! images asks for 150 URLs, so a page read again within the bucket should
//! not pay for them twice. Entries of past buckets are never asked for
//! again and age out.
//!
//! Bounded without a dependency: two generations of at most `capacity`
//! entries each. Hits in the old generation move to the new one; when the
//! new one is full, it becomes the old one and the old one is dropped. What
//! is read keeps its place, what is not falls out within two generations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use foldhash::quality::RandomState;

use super::{PresignWindow, StorageKey};

/// The object and the window's bounds: `Copy`, and a hit shares the URL,
/// so a hit allocates nothing. Hashed with foldhash, seeded per map: the
/// keys are ours (object ids and times), and SipHash was a tenth of a
/// page's presigning.
type Key = (StorageKey, u64, u64);

type Map = HashMap<Key, Arc<str>, RandomState>;

pub(super) struct PresignCache {
    capacity: usize,
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: Map,
    previous: Map,
}

impl PresignCache {
    /// At most `2 * capacity` URLs (a URL is about 500 bytes).
    pub(super) fn new(capacity: usize) -> Self {
        PresignCache {
            capacity: capacity.max(1),
            generations: Mutex::new(Generations::default()),
        }
    }

    pub(super) fn get(&self, object: &StorageKey, window: PresignWindow) -> Option<Arc<str>> {
        let key = (*object, window.signed_at, window.expires_at);
        let mut g = self.lock();
        if let Some(url) = g.current.get(&key) {
            return Some(url.clone());
        }
        let url = g.previous.remove(&key)?;
        self.put(&mut g, key, url.clone());
        Some(url)
    }

    pub(super) fn insert(&self, object: StorageKey, window: PresignWindow, url: Arc<str>) {
        let mut g = self.lock();
        self.put(&mut g, (object, window.signed_at, window.expires_at), url);
    }

    fn put(&self, g: &mut Generations, key: Key, url: Arc<str>) {
        if g.current.len() >= self.capacity {
            g.previous = std::mem::take(&mut g.current);
        }
        g.current.insert(key, url);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // The maps stay consistent whatever panicked while one was held.
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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

    #[test]
    fn the_cache_stays_bounded_and_keeps_what_is_read() {
        let cache = PresignCache::new(4);
        cache.insert(key(0), window(0), "hot-url".into());
        for i in 1..=100 {
            cache.insert(key(i), window(0), format!("url-{i}").into());
            // Read on every round, the hot entry survives every rotation.
            assert_eq!(cache.get(&key(0), window(0)).as_deref(), Some("hot-url"));
            let g = cache.lock();
            assert!(g.current.len() + g.previous.len() <= 8);
        }
        assert_eq!(cache.get(&key(1), window(0)), None);
        assert_eq!(cache.get(&key(100), window(0)).as_deref(), Some("url-100"));
    }
}
