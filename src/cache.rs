//! A bounded cache without a dependency: two generations of at most
//! `capacity` entries each. Hits in the old generation move to the new one;
//! when the new one is full, it becomes the old one and the old one is
//! dropped. What is read keeps its place, what is not falls out within two
//! generations. Used for presigned URLs (`storage::presign_cache`) and
//! parsed GraphQL documents (`graphql::gateway`).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use foldhash::quality::RandomState;

/// Hashed with foldhash, seeded per map (SipHash was a tenth of a page's
/// presigning).
type Map<K, V> = HashMap<K, V, RandomState>;

pub struct Generations<K, V> {
    capacity: usize,
    maps: Mutex<Maps<K, V>>,
}

struct Maps<K, V> {
    current: Map<K, V>,
    previous: Map<K, V>,
}

impl<K: Hash + Eq, V: Clone> Generations<K, V> {
    /// At most `2 * capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Generations {
            capacity: capacity.max(1),
            maps: Mutex::new(Maps {
                current: Map::default(),
                previous: Map::default(),
            }),
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut maps = self.lock();
        if let Some(value) = maps.current.get(key) {
            return Some(value.clone());
        }
        let (key, value) = maps.previous.remove_entry(key)?;
        self.put(&mut maps, key, value.clone());
        Some(value)
    }

    pub fn insert(&self, key: K, value: V) {
        let mut maps = self.lock();
        self.put(&mut maps, key, value);
    }

    fn put(&self, maps: &mut Maps<K, V>, key: K, value: V) {
        if maps.current.len() >= self.capacity {
            maps.previous = std::mem::take(&mut maps.current);
        }
        maps.current.insert(key, value);
    }

    fn lock(&self) -> MutexGuard<'_, Maps<K, V>> {
        // The maps stay consistent whatever panicked while one was held.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_stays_bounded_and_keeps_what_is_read() {
        let cache = Generations::new(4);
        cache.insert("hot".to_owned(), 0);
        for i in 1..=100 {
            cache.insert(format!("key-{i}"), i);
            // Read on every round, the hot entry survives every rotation.
            assert_eq!(cache.get("hot"), Some(0));
            let maps = cache.lock();
            assert!(maps.current.len() + maps.previous.len() <= 8);
        }
        assert_eq!(cache.get("key-1"), None);
        assert_eq!(cache.get("key-100"), Some(100));
    }
}
