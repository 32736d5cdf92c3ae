//! The process's decode memory budget: a job reserves what its original may
//! take to decode (estimated from the header) before it decodes, and waits
//! while other jobs hold the budget. A few small files that each decode to
//! hundreds of MiB then run one after another instead of together, and the
//! process stays inside `DECODE_MEMORY_BUDGET`.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

/// Reservations are counted in units of this many bytes.
const UNIT: u64 = 1 << 20;

pub struct MemoryBudget {
    permits: Semaphore,
    units: u32,
    /// Bytes reserved now, and the most ever reserved at once.
    reserved: AtomicU64,
    peak: AtomicU64,
}

/// A reservation; returned to the budget when dropped.
pub struct Reservation<'a> {
    _permit: SemaphorePermit<'a>,
    budget: &'a MemoryBudget,
    bytes: u64,
}

impl MemoryBudget {
    pub fn new(bytes: u64) -> MemoryBudget {
        let units = u32::try_from(bytes.div_ceil(UNIT).max(1)).unwrap_or(u32::MAX >> 3);
        // tokio's semaphore holds at most usize::MAX >> 3 permits.
        let units = units.min(u32::MAX >> 3);
        MemoryBudget {
            permits: Semaphore::new(units as usize),
            units,
            reserved: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    /// Waits until `bytes` (at most the whole budget) can be reserved.
    pub async fn reserve(&self, bytes: u64) -> anyhow::Result<Reservation<'_>> {
        let units = u32::try_from(bytes.div_ceil(UNIT).max(1))
            .unwrap_or(u32::MAX)
            .min(self.units);
        let permit = self.permits.acquire_many(units).await?;
        let bytes = u64::from(units) * UNIT;
        let now = self.reserved.fetch_add(bytes, Ordering::SeqCst) + bytes;
        self.peak.fetch_max(now, Ordering::SeqCst);
        metrics::gauge!(crate::telemetry::metrics::DECODE_RESERVED).set(now as f64);
        Ok(Reservation {
            _permit: permit,
            budget: self,
            bytes,
        })
    }

    /// The most bytes ever reserved at once (tests, benchmarks).
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let now = self.budget.reserved.fetch_sub(self.bytes, Ordering::SeqCst) - self.bytes;
        metrics::gauge!(crate::telemetry::metrics::DECODE_RESERVED).set(now as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_for_the_budget_and_are_returned() {
        let budget = MemoryBudget::new(10 * UNIT);
        let a = budget.reserve(6 * UNIT).await.expect("a");
        // A second 6 MiB reservation must wait for the first.
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            budget.reserve(6 * UNIT),
        )
        .await;
        assert!(waiting.is_err(), "reserved beyond the budget");
        drop(a);
        let b = budget.reserve(6 * UNIT).await.expect("b");
        // More than the whole budget is clamped to it, so it runs alone.
        drop(b);
        let all = budget.reserve(100 * UNIT).await.expect("all");
        drop(all);
        assert_eq!(budget.peak(), 10 * UNIT);
    }
}
