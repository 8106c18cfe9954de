//! What the balancer learns from a subchannel's calls: for outlier detection (`balancer/outlier_detection.rs`)
//! their outcomes since the last judgement and the subchannel's ejection; for weighted round robin the
//! weight their load reports give ([`EndpointWeight`]). A file of its own because both the subchannel
//! (which counts and reads it) and the balancer (which judges it) use it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::endpoint_weight::EndpointWeight;
use crate::metadata::MetadataMap;
use crate::status::Status;

/// What outlier detection keeps per subchannel: the outcomes of the calls since the last judgement and
/// the subchannel's ejection.
#[derive(Debug, Default)]
pub(crate) struct CallOutcomes {
    pub(crate) successes: AtomicU64,
    pub(crate) failures: AtomicU64,
    /// How many outlier-detection policies count this subchannel's calls (none: calls skip counting).
    pub(crate) watchers: AtomicUsize,
    /// The policy that ejected it (its id), 0 while it is not ejected.
    pub(crate) ejected_by: AtomicU64,
    pub(crate) ejection: Mutex<Ejection>,
    /// The weight weighted_round_robin gives the subchannel.
    pub(crate) weight: EndpointWeight,
}

#[derive(Debug, Default)]
pub(crate) struct Ejection {
    pub(crate) since: Option<Instant>,
    /// A50's ejection multiplier: ejections in a row, less one per interval spent un-ejected.
    pub(crate) multiplier: u32,
}

impl CallOutcomes {
    /// Counts one call's end: `ok` when its status was OK.
    pub(crate) fn record(&self, ok: bool) {
        let counter = if ok { &self.successes } else { &self.failures };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether calls on the subchannel need counting, or their trailers reading.
    pub(crate) fn watched(&self) -> bool {
        self.watchers.load(Ordering::Relaxed) > 0 || self.weight.watched_per_call()
    }

    pub(crate) fn is_ejected(&self) -> bool {
        self.ejected_by.load(Ordering::Acquire) != 0
    }

    /// Why an ejected subchannel takes no calls.
    pub(crate) fn ejected_status(address: &impl std::fmt::Display) -> Status {
        Status::unavailable(format!("{address} is ejected by outlier detection (its calls failed too often)"))
    }

    pub(crate) fn take_counts(&self) -> (u64, u64) {
        (self.successes.swap(0, Ordering::Relaxed), self.failures.swap(0, Ordering::Relaxed))
    }

    pub(crate) fn ejection(&self) -> std::sync::MutexGuard<'_, Ejection> {
        self.ejection.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl crate::streaming::OutcomeSink for CallOutcomes {
    fn record(&self, ok: bool, trailers: Option<&MetadataMap>) {
        if self.watchers.load(Ordering::Relaxed) > 0 {
            CallOutcomes::record(self, ok);
        }
        if self.weight.watched_per_call() {
            if let Some(report) = trailers.and_then(crate::load_report::from_trailers) {
                self.weight.update(&report, Instant::now());
            }
        }
    }
}
