//! `least_request_experimental` (gRFC A48): every backend kept connected, as round_robin does; each call
//! draws `choice_count` of the backends that are up at random and goes to the one with the fewest calls
//! open on its connection. Two draws already steer most calls away from a slow or overloaded backend
//! ("the power of two choices") without every pick scanning every backend.

use std::sync::Arc;

use super::{none_ready, random_below, ready_connecting_others, Pick, PickInfo, Policy};
use crate::client::service_config::lb::{LeastRequestConfig, MAX_CHOICE_COUNT};
use crate::client::subchannel::Subchannel;

/// The fewest open calls among a few backends drawn at random.
#[derive(Debug)]
pub(crate) struct LeastRequest {
    choice_count: u32,
}

impl LeastRequest {
    pub(crate) fn new(config: &LeastRequestConfig) -> Self {
        LeastRequest { choice_count: config.choice_count.clamp(2, MAX_CHOICE_COUNT) }
    }
}

impl Policy for LeastRequest {
    fn name(&self) -> &'static str {
        "least_request_experimental"
    }

    fn eager(&self) -> bool {
        true
    }

    fn pick(&self, subchannels: &[Arc<Subchannel>], _call: PickInfo<'_>) -> Pick {
        let mut ready = ready_connecting_others(subchannels);
        if ready.is_empty() {
            return none_ready(subchannels);
        }
        // Drawn with replacement, as A48 specifies: the same backend may come up twice.
        let mut best = random_below(ready.len());
        let mut fewest = ready[best].1.calls.open();
        for _ in 1..self.choice_count {
            let drawn = random_below(ready.len());
            let open = ready[drawn].1.calls.open();
            if open < fewest {
                (best, fewest) = (drawn, open);
            }
        }
        let (subchannel, connection) = ready.swap_remove(best);
        Pick::Ready(subchannel.clone(), connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_count_is_kept_within_what_a48_allows() {
        assert_eq!(LeastRequest::new(&LeastRequestConfig { choice_count: 0 }).choice_count, 2);
        assert_eq!(LeastRequest::new(&LeastRequestConfig { choice_count: 7 }).choice_count, 7);
        assert_eq!(LeastRequest::new(&LeastRequestConfig { choice_count: 1000 }).choice_count, 10);
    }
}
