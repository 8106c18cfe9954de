//! What `weighted_round_robin` (`balancer/weighted_round_robin.rs`) keeps per subchannel: the weight its
//! backend's latest ORCA load report gives (gRFC A58), and since when reports have been coming. Updated
//! from each call's trailers or from the out-of-band stream (`client/orca_oob.rs`), read by the policy
//! when it recomputes its schedule.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::load_report::OrcaLoadReport;

/// A subchannel's weight.
#[derive(Debug, Default)]
pub(crate) struct EndpointWeight {
    /// How many weighted_round_robin policies read this subchannel's per-call reports (none: calls skip
    /// reading their trailers).
    pub(crate) per_call_watchers: AtomicUsize,
    /// The policy's `error_utilization_penalty`, as `f64` bits.
    penalty: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    weight: f64,
    /// When the first usable report since the weight was last reset came: the blackout period runs from
    /// here.
    non_empty_since: Option<Instant>,
    last_updated: Option<Instant>,
}

impl EndpointWeight {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn watched_per_call(&self) -> bool {
        self.per_call_watchers.load(Ordering::Relaxed) > 0
    }

    pub(crate) fn set_penalty(&self, penalty: f64) {
        self.penalty.store(penalty.to_bits(), Ordering::Relaxed);
    }

    /// Takes in a report: A58's weight is `qps / (utilization + eps / qps * penalty)`, where utilization is
    /// the application's when it reports one, else the CPU's. A report without queries or utilization
    /// says nothing about capacity and is ignored (the weight stays).
    pub(crate) fn update(&self, report: &OrcaLoadReport, now: Instant) {
        let utilization =
            if report.application_utilization > 0.0 { report.application_utilization } else { report.cpu_utilization };
        let qps = report.rps_fractional;
        if !(qps > 0.0 && utilization > 0.0 && qps.is_finite() && utilization.is_finite()) {
            return;
        }
        let penalty = f64::from_bits(self.penalty.load(Ordering::Relaxed));
        let errors = if report.eps.is_finite() && report.eps > 0.0 { report.eps / qps * penalty } else { 0.0 };
        let weight = qps / (utilization + errors);
        if !(weight.is_finite() && weight > 0.0) {
            return;
        }
        let mut state = self.state();
        state.non_empty_since.get_or_insert(now);
        state.last_updated = Some(now);
        state.weight = weight;
    }

    /// The weight to schedule with now: 0 (no weight: the mean is used) while the blackout period since
    /// reports began runs, and once the latest report is older than `expiration` (reports must then start
    /// again, blackout and all).
    pub(crate) fn weight(&self, now: Instant, blackout: Duration, expiration: Duration) -> f64 {
        let mut state = self.state();
        let Some(last) = state.last_updated else { return 0.0 };
        if now.saturating_duration_since(last) >= expiration {
            state.non_empty_since = None;
            return 0.0;
        }
        let since = state.non_empty_since.map(|since| now.saturating_duration_since(since));
        if !blackout.is_zero() && since.is_none_or(|since| since < blackout) {
            return 0.0;
        }
        state.weight
    }

    /// Starts the blackout period again: the backend's connection was lost, and what it reported before
    /// may not hold for the one it comes back with.
    pub(crate) fn reset(&self) {
        self.state().non_empty_since = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(cpu: f64, app: f64, qps: f64, eps: f64) -> OrcaLoadReport {
        OrcaLoadReport {
            cpu_utilization: cpu,
            application_utilization: app,
            rps_fractional: qps,
            eps,
            ..Default::default()
        }
    }

    #[test]
    fn the_weight_follows_a58_and_waits_out_the_blackout_and_expires() {
        let weight = EndpointWeight::default();
        weight.set_penalty(1.0);
        let start = Instant::now();
        let blackout = Duration::from_secs(10);
        let expiry = Duration::from_secs(180);
        assert_eq!(weight.weight(start, Duration::ZERO, expiry), 0.0, "no report yet");
        weight.update(&report(0.5, 0.0, 100.0, 0.0), start);
        assert_eq!(weight.weight(start + Duration::from_secs(1), blackout, expiry), 0.0, "in the blackout");
        assert_eq!(weight.weight(start + Duration::from_secs(10), blackout, expiry), 200.0);
        // The application's utilization wins over the CPU's; errors count as load.
        weight.update(&report(0.5, 0.25, 100.0, 25.0), start + Duration::from_secs(11));
        assert_eq!(weight.weight(start + Duration::from_secs(11), blackout, expiry), 100.0 / (0.25 + 0.25));
        // Reports that say nothing leave the weight as it was.
        weight.update(&report(0.0, 0.0, 100.0, 0.0), start + Duration::from_secs(12));
        weight.update(&report(0.5, 0.0, 0.0, 0.0), start + Duration::from_secs(12));
        weight.update(&report(f64::NAN, 0.0, 1.0, 0.0), start + Duration::from_secs(12));
        assert_eq!(weight.weight(start + Duration::from_secs(12), blackout, expiry), 200.0);
        // Expired: nothing, and the next report starts a new blackout.
        let late = start + Duration::from_secs(11) + expiry;
        assert_eq!(weight.weight(late, blackout, expiry), 0.0);
        weight.update(&report(1.0, 0.0, 10.0, 0.0), late);
        assert_eq!(weight.weight(late + Duration::from_secs(1), blackout, expiry), 0.0);
        assert_eq!(weight.weight(late + blackout, blackout, expiry), 10.0);
        weight.reset();
        assert_eq!(weight.weight(late + blackout, blackout, expiry), 0.0, "a reset starts the blackout again");
        weight.update(&report(1.0, 0.0, 10.0, 0.0), late + blackout);
        assert_eq!(weight.weight(late + blackout, Duration::ZERO, expiry), 10.0, "no blackout");
    }
}
