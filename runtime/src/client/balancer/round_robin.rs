//! `round_robin`: every backend kept connected, calls spread over the ones that are up, in turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Pick, Policy};
use crate::client::subchannel::Subchannel;

/// Round robin over the subchannels that are up; the others are connected in the background.
#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    /// Where the next pick starts; shared by every call, kept across resolutions.
    next: AtomicUsize,
}

impl Policy for RoundRobin {
    fn name(&self) -> &'static str {
        "round_robin"
    }

    fn eager(&self) -> bool {
        true
    }

    fn pick(&self, subchannels: &[Arc<Subchannel>]) -> Pick {
        let mut ready = Vec::with_capacity(subchannels.len());
        for subchannel in subchannels {
            match subchannel.current() {
                Some(connection) => ready.push((subchannel, connection)),
                None => subchannel.start_connecting(),
            }
        }
        if !ready.is_empty() {
            let turn = self.next.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            let (subchannel, connection) = ready.swap_remove(turn % ready.len());
            return Pick::Ready(subchannel.clone(), connection);
        }
        if subchannels.iter().any(|s| s.is_connecting()) {
            return Pick::Wait;
        }
        match subchannels.iter().find_map(|s| s.backoff()) {
            Some((_, error)) => Pick::Fail(error),
            None => Pick::Wait,
        }
    }
}
