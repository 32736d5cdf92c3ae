//! Handing a checked upload straight to an idle worker of the same process.
//!
//! A worker with nothing to do offers itself here. An upload that finds one
//! records its thumbnail job as already claimed by that worker (in the
//! upload's transaction, so the durable row stays the record) and, once
//! committed, gives the worker what it would otherwise read back: the image
//! row, the plan's heights and format, and the uploaded file itself. The
//! worker then needs no wake-up, no claim, no lookups and no read of the
//! original from storage. If it dies, the job's lease runs out and any worker
//! takes the job from the table as usual.
//!
//! Only idle workers are offered, so a queue with work waiting is never
//! overtaken: a worker that finds a job in the table is not idle.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use super::thumbnails::Prepared;

/// The idle workers of this process.
#[derive(Default)]
pub struct Handoff {
    idle: Mutex<Vec<Offer>>,
    next: AtomicU64,
    /// Workers of this process (0 for `serve --no-workers`).
    workers: AtomicUsize,
    /// Signalled at each new offer.
    offered: Notify,
}

struct Offer {
    id: u64,
    worker: String,
    tx: oneshot::Sender<Handed>,
}

/// A thumbnail job recorded as claimed by `worker`, with what it needs.
pub struct Handed {
    pub job_id: i64,
    pub request_id: Option<String>,
    pub work: Prepared,
}

/// A worker taken for one upload: it waits for [`Reserved::send`]; dropped
/// unsent (the upload failed), the worker goes back to the queue.
pub struct Reserved {
    worker: String,
    tx: oneshot::Sender<Handed>,
}

impl Reserved {
    /// The name the job is to be claimed under.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    pub fn send(self, handed: Handed) {
        // A worker that stopped meanwhile leaves the job to its lease.
        let _ = self.tx.send(handed);
    }
}

/// A worker's standing offer; see [`Handoff::offer`].
pub struct Offered {
    pub id: u64,
    pub rx: oneshot::Receiver<Handed>,
}

impl Handoff {
    /// Records that this process runs `count` more workers.
    pub fn add_workers(&self, count: usize) {
        self.workers.fetch_add(count, Ordering::Relaxed);
    }

    /// Records that `count` of them are stopping.
    pub fn remove_workers(&self, count: usize) {
        let _ = self
            .workers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(count))
            });
    }

    /// Offers an idle worker named `worker`.
    pub fn offer(&self, worker: &str) -> Offered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().push(Offer {
            id,
            worker: worker.to_owned(),
            tx,
        });
        self.offered.notify_waiters();
        Offered { id, rx }
    }

    /// Takes back an offer; false when an upload has taken it already (the
    /// worker must then wait for what that upload sends).
    pub fn withdraw(&self, id: u64) -> bool {
        let mut idle = self.lock();
        match idle.iter().position(|o| o.id == id) {
            Some(i) => {
                idle.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// An idle worker, if there is one; the most recently idle first.
    pub fn take(&self) -> Option<Reserved> {
        let mut idle = self.lock();
        while let Some(offer) = idle.pop() {
            if !offer.tx.is_closed() {
                return Some(Reserved {
                    worker: offer.worker,
                    tx: offer.tx,
                });
            }
        }
        None
    }

    /// An idle worker, waiting up to `wait` for one to finish what it is
    /// doing when this process has workers and none is idle. Waiting is the
    /// back-pressure that keeps an upload's thumbnails close behind its
    /// answer when uploads come faster than the workers make them; a worker
    /// looks at the queue before it offers itself, so queued jobs (and other
    /// users' turns) still come first, and after `wait` the job is queued.
    pub async fn take_within(&self, wait: Duration) -> Option<Reserved> {
        if self.workers.load(Ordering::Relaxed) == 0 || wait.is_zero() {
            return self.take();
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let offered = self.offered.notified();
            if let Some(reserved) = self.take() {
                return Some(reserved);
            }
            if tokio::time::timeout_at(deadline, offered).await.is_err() {
                return self.take();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Offer>> {
        // The list stays consistent even if a holder panicked.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upload_waits_a_bounded_time_for_a_worker_to_become_idle() {
        let handoff = std::sync::Arc::new(Handoff::default());
        // No workers in this process: no waiting.
        let started = tokio::time::Instant::now();
        assert!(handoff.take_within(Duration::from_secs(5)).await.is_none());
        assert!(started.elapsed() < Duration::from_secs(1));
        handoff.add_workers(1);
        // A worker that becomes idle meanwhile is taken.
        let later = {
            let handoff = handoff.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                handoff.offer("w").rx.await.is_ok()
            })
        };
        let reserved = handoff
            .take_within(Duration::from_secs(5))
            .await
            .expect("the worker that became idle");
        assert_eq!(reserved.worker(), "w");
        drop(reserved);
        assert!(!later.await.expect("task"), "dropped: nothing sent");
        // None becomes idle: given up after the wait.
        let started = tokio::time::Instant::now();
        assert!(
            handoff
                .take_within(Duration::from_millis(100))
                .await
                .is_none()
        );
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn an_offer_is_taken_once_and_withdrawn_only_while_untaken() {
        let handoff = Handoff::default();
        assert!(handoff.take().is_none());
        let first = handoff.offer("w1");
        let second = handoff.offer("w2");
        let taken = handoff.take().expect("an idle worker");
        assert_eq!(taken.worker(), "w2");
        assert!(
            !handoff.withdraw(second.id),
            "taken offers cannot be withdrawn"
        );
        assert!(handoff.withdraw(first.id));
        assert!(handoff.take().is_none());
        drop(taken);
        let mut rx = second.rx;
        assert!(
            rx.try_recv().is_err(),
            "an unsent reservation sends nothing"
        );
    }

    #[test]
    fn offers_of_stopped_workers_are_skipped() {
        let handoff = Handoff::default();
        let gone = handoff.offer("gone");
        let alive = handoff.offer("alive");
        drop(alive);
        drop(gone);
        // Both receivers dropped: nobody to hand to.
        assert!(handoff.take().is_none());
    }
}
