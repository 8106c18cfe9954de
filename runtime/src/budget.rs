//! The receive budget of one server connection: how many bytes of request messages that have begun to
//! arrive but are not complete its calls may buffer together.
//!
//! HTTP/2 flow control bounds what a peer sends ahead of what we read, but we read (and reopen the
//! window) as each chunk arrives, so a message is buffered until its last byte. Without a budget, 1000
//! streams each holding a partial 4 MiB message would hold 4 GiB on one connection. A message whose
//! prefix announces more than the budget has left fails its call with `RESOURCE_EXHAUSTED` before any of
//! its body is buffered; failing (rather than withholding window) cannot deadlock the connection, since
//! withheld window on some streams would starve the others of the shared connection window.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The default budget per connection: 64 MiB, sixteen messages of the default 4 MiB limit in flight at once.
pub const DEFAULT_CONNECTION_RECEIVE_BUDGET: usize = 64 * 1024 * 1024;

/// One connection's budget, shared by its calls.
#[derive(Debug)]
pub(crate) struct ReceiveBudget {
    limit: usize,
    reserved: AtomicUsize,
}

impl ReceiveBudget {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(ReceiveBudget { limit, reserved: AtomicUsize::new(0) })
    }

    /// Reserves `bytes` if the budget has them left.
    pub(crate) fn try_reserve(&self, bytes: usize) -> bool {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |reserved| {
                reserved.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Gives back what a completed or abandoned message reserved.
    pub(crate) fn release(&self, bytes: usize) {
        self.reserved.fetch_sub(bytes, Ordering::AcqRel);
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_stop_at_the_limit_and_come_back() {
        let budget = ReceiveBudget::new(10);
        assert!(budget.try_reserve(6));
        assert!(!budget.try_reserve(5));
        assert!(budget.try_reserve(4));
        assert!(!budget.try_reserve(1));
        budget.release(6);
        assert!(budget.try_reserve(5));
        assert_eq!(budget.reserved(), 9);
        assert!(!budget.try_reserve(usize::MAX), "an overflowing request is refused, not wrapped");
    }
}
