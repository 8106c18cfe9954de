//! The wait before trying etcd again after a failure: doubling from 100 ms up to a cap, with jitter so that
//! the clients of a restarted etcd do not all come back in the same instant.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

const INITIAL: Duration = Duration::from_millis(100);

/// Consecutive failures and how long to wait after the next one.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Waits of at most `max`.
    pub(crate) fn new(max: Duration) -> Self {
        Backoff { next: INITIAL.min(max), max }
    }

    /// The wait after one more failure: between half and all of the current step.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        // A random fraction from std's per-process random hasher keys: no rand dependency for jitter.
        let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let fraction = 0.5 + (random % 1000) as f64 / 2000.0;
        step.mul_f64(fraction)
    }

    /// Back to the first step, after a success.
    pub(crate) fn reset(&mut self) {
        self.next = INITIAL.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_secs(1));
        let delays: Vec<Duration> = (0..6).map(|_| backoff.next_delay()).collect();
        let steps = [100, 200, 400, 800, 1000, 1000].map(Duration::from_millis);
        for (delay, step) in delays.iter().zip(steps) {
            assert!(*delay >= step / 2 && *delay <= step, "{delay:?} outside [{:?}, {step:?}]", step / 2);
        }
        backoff.reset();
        assert!(backoff.next_delay() <= INITIAL);
    }
}
