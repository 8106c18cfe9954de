//! `weighted_round_robin` (gRFC A58): every backend kept connected, as round_robin does, and calls spread
//! in proportion to weights learnt from the backends' ORCA load reports (gRFC A51), per call from the
//! trailers or out of band from a stream per backend ([`crate::client::orca_oob`]). A backend's weight is
//! its queries per second over its utilization (`client/endpoint_weight.rs`), so a backend that serves
//! more for the same load gets more calls.
//!
//! Every `weight_update_period` a timer turns the weights into a schedule: the cumulative weights of the
//! subchannels, backends without a weight yet (in their blackout period, or whose reports stopped)
//! counted at the mean of the others, and every weight kept within ten times the mean either way, so one
//! backend reporting a near-zero utilization cannot draw every call. With fewer than two weights there
//! is nothing to weigh and calls go round robin. A pick is lock-free: the n-th call takes the point
//! `frac(n * golden ratio)` of the total weight, a sequence that covers the range evenly, so over any run of
//! calls each backend gets close to its exact share, not only on average.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::round_robin::RoundRobin;
use super::{Pick, PickInfo, Policy};
use crate::client::service_config::lb::WeightedRoundRobinConfig;
use crate::client::subchannel::Subchannel;

/// How far from the mean a weight may be, as a factor.
const MAX_RATIO: f64 = 10.0;

/// The policy: the schedule's picker, with round robin for when there is nothing to weigh.
#[derive(Debug)]
pub(crate) struct WeightedRoundRobin {
    weights: Arc<Weights>,
    round_robin: RoundRobin,
}

/// What the pickers of one policy instance share: its subchannels, their schedule and its timer.
#[derive(Debug)]
struct Weights {
    config: WeightedRoundRobinConfig,
    subchannels: Mutex<Arc<[Arc<Subchannel>]>>,
    schedule: Mutex<Arc<Schedule>>,
    /// The calls picked so far: the sequence the schedule's points come from.
    next: AtomicUsize,
    started: AtomicBool,
}

/// The subchannels' cumulative weights (in the order of the policy's list), integers so a pick is a
/// binary search; empty while there is nothing to weigh.
#[derive(Debug, Default)]
struct Schedule {
    cumulative: Vec<u64>,
    /// The list this schedule is for (a new resolution makes a new one).
    len: usize,
}

impl WeightedRoundRobin {
    pub(crate) fn new(config: &WeightedRoundRobinConfig) -> Self {
        let weights = Weights {
            config: *config,
            subchannels: Mutex::new(Arc::from([])),
            schedule: Mutex::new(Arc::default()),
            next: AtomicUsize::new(0),
            started: AtomicBool::new(false),
        };
        WeightedRoundRobin { weights: Arc::new(weights), round_robin: RoundRobin::default() }
    }
}

impl Policy for WeightedRoundRobin {
    fn name(&self) -> &'static str {
        "weighted_round_robin"
    }

    fn eager(&self) -> bool {
        true
    }

    fn oob_reporting(&self) -> Option<std::time::Duration> {
        let config = &self.weights.config;
        config.enable_oob_load_report.then_some(config.oob_reporting_period)
    }

    fn pick(&self, subchannels: &[Arc<Subchannel>], call: PickInfo<'_>) -> Pick {
        self.weights.start();
        let schedule = self.weights.schedule.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let (Some(&total), true) = (schedule.cumulative.last(), schedule.len == subchannels.len()) {
            let n = self.weights.next.fetch_add(1, Ordering::Relaxed) as u64;
            // The 64-bit fraction of n times the golden ratio, scaled to the total weight.
            let point = ((u128::from(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)) * u128::from(total)) >> 64) as u64;
            let index = schedule.cumulative.partition_point(|&end| end <= point);
            if let Some(connection) = subchannels.get(index).and_then(|s| s.current()) {
                return Pick::Ready(subchannels[index].clone(), connection);
            }
            // Down since the schedule was made: the next schedule leaves it out; meanwhile, round robin.
        }
        self.round_robin.pick(subchannels, call)
    }

    fn for_subchannels(&self, subchannels: &[Arc<Subchannel>]) -> Option<Arc<dyn Policy>> {
        self.weights.watch(subchannels);
        None
    }
}

impl Weights {
    /// Reads `subchannels`' reports from now on, and no longer those gone from the list.
    fn watch(&self, subchannels: &[Arc<Subchannel>]) {
        let per_call = !self.config.enable_oob_load_report;
        {
            let mut watched = self.subchannels.lock().unwrap_or_else(|e| e.into_inner());
            for old in watched.iter().filter(|old| !subchannels.iter().any(|s| Arc::ptr_eq(s, old))) {
                forget(old, per_call);
            }
            for new in subchannels.iter().filter(|new| !watched.iter().any(|s| Arc::ptr_eq(s, new))) {
                let weight = &new.outcomes().weight;
                weight.set_penalty(self.config.error_utilization_penalty);
                if per_call {
                    weight.per_call_watchers.fetch_add(1, Ordering::Relaxed);
                }
            }
            *watched = Arc::from(subchannels);
        }
        self.update(Instant::now());
    }

    /// Starts the timer on the first pick (a channel may be built outside a runtime); it ends once the
    /// policy is gone.
    fn start(self: &Arc<Self>) {
        if self.started.load(Ordering::Relaxed) || self.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.started.store(false, Ordering::Release);
            return;
        };
        let weights = Arc::downgrade(self);
        let period = self.config.weight_update_period;
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                ticks.tick().await;
                let Some(weights) = weights.upgrade() else { return };
                weights.update(Instant::now());
            }
        });
    }

    /// Makes the schedule from the weights now.
    fn update(&self, now: Instant) {
        let subchannels = self.subchannels.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let config = &self.config;
        let weights: Vec<f64> = subchannels
            .iter()
            .map(|subchannel| {
                let weight = &subchannel.outcomes().weight;
                if subchannel.current().is_none() {
                    // Not up: left out, and when it is back its reports start over (A58).
                    weight.reset();
                    return -1.0;
                }
                weight.weight(now, config.blackout_period, config.weight_expiration_period)
            })
            .collect();
        let schedule = Arc::new(schedule(&weights));
        *self.schedule.lock().unwrap_or_else(|e| e.into_inner()) = schedule;
    }
}

/// The schedule for `weights` (0: no weight yet, below 0: not up).
fn schedule(weights: &[f64]) -> Schedule {
    let known: Vec<f64> = weights.iter().copied().filter(|w| *w > 0.0).collect();
    if known.len() < 2 {
        return Schedule { cumulative: Vec::new(), len: weights.len() };
    }
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    let (low, high) = (mean / MAX_RATIO, mean * MAX_RATIO);
    // The integer scale: the largest weight possible (MAX_RATIO times the mean) is a million, enough
    // precision for any share, and the sum of even thousands of them stays far from overflowing.
    let scale = 1_000_000.0 / high;
    let mut total = 0u64;
    let cumulative = weights
        .iter()
        .map(|&weight| {
            let weight = if weight < 0.0 {
                0.0
            } else if weight == 0.0 {
                mean
            } else {
                weight.clamp(low, high)
            };
            total += (weight * scale).round() as u64;
            total
        })
        .collect();
    Schedule { cumulative, len: weights.len() }
}

/// Stops reading a subchannel's reports for a policy.
fn forget(subchannel: &Subchannel, per_call: bool) {
    if per_call {
        subchannel.outcomes().weight.per_call_watchers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Weights {
    fn drop(&mut self) {
        let per_call = !self.config.enable_oob_load_report;
        let subchannels = self.subchannels.get_mut().unwrap_or_else(|e| e.into_inner()).clone();
        for subchannel in subchannels.iter() {
            forget(subchannel, per_call);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How often each index comes up in `picks` points of `schedule`.
    fn spread(schedule: &Schedule, picks: u64) -> Vec<u64> {
        let total = *schedule.cumulative.last().unwrap();
        let mut counts = vec![0; schedule.len];
        for n in 0..picks {
            let point = ((u128::from(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)) * u128::from(total)) >> 64) as u64;
            counts[schedule.cumulative.partition_point(|&end| end <= point)] += 1;
        }
        counts
    }

    #[test]
    fn calls_follow_the_weights_closely_even_over_a_short_run() {
        let schedule = schedule(&[400.0, 200.0, 100.0]);
        let counts = spread(&schedule, 700);
        for (count, expected) in counts.iter().zip([400, 200, 100]) {
            assert!(count.abs_diff(expected) <= 3, "{counts:?}");
        }
    }

    #[test]
    fn backends_without_a_weight_get_the_mean_down_ones_none_and_outliers_are_capped() {
        let mixed = schedule(&[300.0, 0.0, 100.0, -1.0]);
        let counts = spread(&mixed, 6000);
        assert_eq!(counts[3], 0, "a backend that is down gets nothing");
        assert!(counts[1].abs_diff(2000) <= 10, "the mean, 200: {counts:?}");
        assert!(counts[0].abs_diff(3000) <= 10, "{counts:?}");

        let capped = schedule(&[1.0, 1000.0, 1000.0, 1000.0]);
        let counts = spread(&capped, 100_000);
        // The mean of the weights is 750.25: the small one is raised to a tenth of it.
        assert!(counts[0] > 2000, "the tiny weight is raised to a tenth of the mean: {counts:?}");

        assert!(schedule(&[5.0, 0.0, 0.0]).cumulative.is_empty(), "one weight: round robin");
        assert!(schedule(&[]).cumulative.is_empty());
    }
}
