//! `round_robin`: every backend kept connected, calls spread over the ones that are up, in turn.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{none_ready, ready_connecting_others, Pick, PickInfo, Policy};
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

    fn pick(&self, subchannels: &[Arc<Subchannel>], _call: PickInfo<'_>) -> Pick {
        let mut ready = ready_connecting_others(subchannels);
        if ready.is_empty() {
            return none_ready(subchannels);
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let (subchannel, connection) = ready.swap_remove(turn % ready.len());
        Pick::Ready(subchannel.clone(), connection)
    }
}
