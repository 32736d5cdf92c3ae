//! Login rate limiting: failed attempts per username and all attempts per
//! client address, in fixed windows on the application clock. Limits are per
//! process; with several servers an attacker gets that many times the budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub failures_per_user: u32,
    pub attempts_per_ip: u32,
    pub window: Duration,
}

#[derive(Clone, Copy, Debug)]
struct Window {
    start: DateTime<Utc>,
    count: u32,
}

/// Keeps the tables from growing without bound under a spray of names.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
pub struct LoginLimiter {
    limits: Limits,
    users: Mutex<HashMap<String, Window>>,
    ips: Mutex<HashMap<IpAddr, Window>>,
}

impl LoginLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            users: Mutex::new(HashMap::new()),
            ips: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt from `ip` and checks both limits. `Err(seconds)`
    /// says when to try again.
    pub fn check(&self, ip: Option<IpAddr>, username: &str, now: DateTime<Utc>) -> Result<(), i64> {
        let window = self.limits.window;
        if let Some(ip) = ip {
            let mut ips = self.ips.lock().unwrap_or_else(|e| e.into_inner());
            prune(&mut ips, now, window);
            let w = ips.entry(ip).or_insert(Window {
                start: now,
                count: 0,
            });
            roll(w, now, window);
            w.count += 1;
            if w.count > self.limits.attempts_per_ip {
                return Err(retry_after(w, now, window));
            }
        }
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = users.get(username)
            && now - w.start < window
            && w.count >= self.limits.failures_per_user
        {
            return Err(retry_after(w, now, window));
        }
        Ok(())
    }

    pub fn record_failure(&self, username: &str, now: DateTime<Utc>) {
        let window = self.limits.window;
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut users, now, window);
        let w = users.entry(username.to_owned()).or_insert(Window {
            start: now,
            count: 0,
        });
        roll(w, now, window);
        w.count += 1;
    }

    pub fn record_success(&self, username: &str) {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.remove(username);
    }
}

fn roll(w: &mut Window, now: DateTime<Utc>, window: Duration) {
    if now - w.start >= window {
        *w = Window {
            start: now,
            count: 0,
        };
    }
}

fn retry_after(w: &Window, now: DateTime<Utc>, window: Duration) -> i64 {
    (w.start + window - now).num_seconds().max(1)
}

fn prune<K>(map: &mut HashMap<K, Window>, now: DateTime<Utc>, window: Duration) {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, w| now - w.start < window);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(Limits {
            failures_per_user: 3,
            attempts_per_ip: 5,
            window: Duration::minutes(15),
        })
    }

    #[test]
    fn failures_lock_a_username_until_the_window_passes() {
        let l = limiter();
        let now = Utc::now();
        for _ in 0..3 {
            assert!(l.check(None, "alice", now).is_ok());
            l.record_failure("alice", now);
        }
        assert!(l.check(None, "alice", now).is_err());
        assert!(l.check(None, "bob", now).is_ok());
        assert!(l.check(None, "alice", now + Duration::minutes(16)).is_ok());
    }

    #[test]
    fn success_resets_and_ips_are_limited_separately() {
        let l = limiter();
        let now = Utc::now();
        l.record_failure("carol", now);
        l.record_success("carol");
        let ip: IpAddr = [10, 0, 0, 1].into();
        for i in 0..5 {
            assert!(l.check(Some(ip), &format!("u{i}"), now).is_ok());
        }
        let wait = l.check(Some(ip), "u9", now).expect_err("limited");
        assert!(wait > 0 && wait <= 900);
        assert!(l.check(Some([10, 0, 0, 2].into()), "u9", now).is_ok());
    }
}
