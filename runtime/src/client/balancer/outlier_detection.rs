//! `outlier_detection_experimental` (gRFC A50): a policy wrapping another. Every call's outcome on a
//! subchannel is counted ([`CallOutcomes`]); every `interval` the counts are judged, and a backend whose
//! success rate is far below the others' (success-rate ejection) or whose failures pass a threshold
//! (failure-percentage ejection) is ejected: it looks failed to the child policy, which then sends it no
//! calls, for `base_ejection_time` times the number of times it was ejected (capped by
//! `max_ejection_time`). Its connection stays up, so it takes calls at once when it comes back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{policy_for, random_below, Pick, PickInfo, Policy};
use crate::client::service_config::lb::{FailurePercentageEjection, OutlierDetectionConfig, SuccessRateEjection};
use crate::client::subchannel::Subchannel;

/// The wrapping policy: the child picks, the judge ejects.
#[derive(Debug)]
pub(crate) struct OutlierDetection {
    child: Arc<dyn Policy>,
    judge: Arc<Judge>,
}

/// The state shared by the pickers of one policy instance: the subchannels it watches, and its timer.
#[derive(Debug)]
struct Judge {
    /// Tells this instance's ejections from another's (a config change makes a new instance while the old
    /// one may still be around).
    id: u64,
    config: OutlierDetectionConfig,
    subchannels: Mutex<Arc<[Arc<Subchannel>]>>,
    /// Whether the timer task runs.
    started: AtomicBool,
}

impl OutlierDetection {
    pub(crate) fn new(config: &OutlierDetectionConfig) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let judge = Judge {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            config: config.clone(),
            subchannels: Mutex::new(Arc::from([])),
            started: AtomicBool::new(false),
        };
        OutlierDetection { child: policy_for(&config.child_policy), judge: Arc::new(judge) }
    }
}

impl Policy for OutlierDetection {
    fn name(&self) -> &'static str {
        "outlier_detection_experimental"
    }

    fn eager(&self) -> bool {
        self.child.eager()
    }

    fn oob_reporting(&self) -> Option<std::time::Duration> {
        self.child.oob_reporting()
    }

    fn pick(&self, subchannels: &[Arc<Subchannel>], call: PickInfo<'_>) -> Pick {
        self.judge.start();
        self.child.pick(subchannels, call)
    }

    fn for_subchannels(&self, subchannels: &[Arc<Subchannel>]) -> Option<Arc<dyn Policy>> {
        self.judge.watch(subchannels);
        let child = self.child.for_subchannels(subchannels)?;
        Some(Arc::new(OutlierDetection { child, judge: self.judge.clone() }))
    }
}

impl Judge {
    /// Watches `subchannels` from now on, and no longer the ones gone from the list.
    fn watch(&self, subchannels: &[Arc<Subchannel>]) {
        let mut watched = self.subchannels.lock().unwrap_or_else(|e| e.into_inner());
        for old in watched.iter().filter(|old| !subchannels.iter().any(|s| Arc::ptr_eq(s, old))) {
            self.forget(old);
        }
        for new in subchannels.iter().filter(|new| !watched.iter().any(|s| Arc::ptr_eq(s, new))) {
            new.outcomes().take_counts();
            new.outcomes().watchers.fetch_add(1, Ordering::Relaxed);
        }
        *watched = Arc::from(subchannels);
    }

    fn forget(&self, subchannel: &Subchannel) {
        let outcomes = subchannel.outcomes();
        outcomes.watchers.fetch_sub(1, Ordering::Relaxed);
        if outcomes.ejected_by.compare_exchange(self.id, 0, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            subchannel.notify();
        }
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
        let judge = Arc::downgrade(self);
        let interval = self.config.interval;
        runtime.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            loop {
                ticks.tick().await;
                let Some(judge) = judge.upgrade() else { return };
                judge.judge(Instant::now());
            }
        });
    }

    /// One interval's judgement (A50's algorithm).
    fn judge(&self, now: Instant) {
        let subchannels = self.subchannels.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if subchannels.is_empty() {
            return;
        }
        let counts: Vec<(u64, u64)> = subchannels.iter().map(|s| s.outcomes().take_counts()).collect();
        let mut ejected = subchannels.iter().filter(|s| s.outcomes().is_ejected()).count();
        let mut outliers = Vec::new();
        if let Some(rule) = &self.config.success_rate_ejection {
            outliers.extend(success_rate_outliers(rule, &counts).into_iter().map(|i| (i, rule.enforcement_percentage)));
        }
        if let Some(rule) = &self.config.failure_percentage_ejection {
            outliers.extend(
                failure_percentage_outliers(rule, &counts).into_iter().map(|i| (i, rule.enforcement_percentage)),
            );
        }
        for (index, enforcement) in outliers {
            let outcomes = subchannels[index].outcomes();
            if outcomes.is_ejected() {
                continue;
            }
            // The cap: no ejection once this share of the backends is out.
            if ejected * 100 >= self.config.max_ejection_percent as usize * subchannels.len() {
                break;
            }
            if random_below(100) >= enforcement as usize {
                continue;
            }
            if outcomes.ejected_by.compare_exchange(0, self.id, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                let mut ejection = outcomes.ejection();
                ejection.since = Some(now);
                ejection.multiplier += 1;
                ejected += 1;
                tracing::info!(address = %subchannels[index].address(), "outlier detection ejected a backend");
                subchannels[index].notify();
            }
        }
        for subchannel in subchannels.iter() {
            self.maybe_return(subchannel, now);
        }
    }

    /// Un-ejects a backend whose time is up; lowers the multiplier of one that stayed in.
    fn maybe_return(&self, subchannel: &Subchannel, now: Instant) {
        let outcomes = subchannel.outcomes();
        let mut ejection = outcomes.ejection();
        if outcomes.ejected_by.load(Ordering::Acquire) != self.id {
            ejection.multiplier = ejection.multiplier.saturating_sub(1);
            return;
        }
        let base = self.config.base_ejection_time;
        let longest = self.config.max_ejection_time.max(base);
        let lasts = base.saturating_mul(ejection.multiplier).min(longest);
        if ejection.since.is_some_and(|since| now.saturating_duration_since(since) >= lasts) {
            ejection.since = None;
            drop(ejection);
            if outcomes.ejected_by.compare_exchange(self.id, 0, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                tracing::info!(address = %subchannel.address(), "outlier detection let a backend back in");
                subchannel.notify();
            }
        }
    }
}

impl Drop for Judge {
    fn drop(&mut self) {
        let subchannels = self.subchannels.get_mut().unwrap_or_else(|e| e.into_inner()).clone();
        for subchannel in subchannels.iter() {
            self.forget(subchannel);
        }
    }
}

/// A50's success-rate rule: among the backends with enough calls (if there are enough of them), those
/// whose success rate is below the mean by more than `stdev_factor / 1000` standard deviations.
fn success_rate_outliers(rule: &SuccessRateEjection, counts: &[(u64, u64)]) -> Vec<usize> {
    let candidates: Vec<(usize, f64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, (ok, failed))| ok + failed >= u64::from(rule.request_volume) && ok + failed > 0)
        .map(|(i, (ok, failed))| (i, *ok as f64 / (ok + failed) as f64))
        .collect();
    if candidates.is_empty() || candidates.len() < rule.minimum_hosts as usize {
        return Vec::new();
    }
    let n = candidates.len() as f64;
    let mean = candidates.iter().map(|(_, rate)| rate).sum::<f64>() / n;
    let variance = candidates.iter().map(|(_, rate)| (rate - mean).powi(2)).sum::<f64>() / n;
    let threshold = mean - variance.sqrt() * (f64::from(rule.stdev_factor) / 1000.0);
    candidates.into_iter().filter(|(_, rate)| *rate < threshold).map(|(i, _)| i).collect()
}

/// A50's failure-percentage rule: among the backends with enough calls (if there are enough of them),
/// those with more than `threshold` percent of their calls failed.
fn failure_percentage_outliers(rule: &FailurePercentageEjection, counts: &[(u64, u64)]) -> Vec<usize> {
    let candidates: Vec<(usize, u64, u64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, (ok, failed))| ok + failed >= u64::from(rule.request_volume) && ok + failed > 0)
        .map(|(i, (ok, failed))| (i, *ok, *failed))
        .collect();
    if candidates.len() < rule.minimum_hosts as usize {
        return Vec::new();
    }
    candidates
        .into_iter()
        .filter(|(_, ok, failed)| failed * 100 > u64::from(rule.threshold) * (ok + failed))
        .map(|(i, _, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS_RATE: SuccessRateEjection =
        SuccessRateEjection { stdev_factor: 1900, enforcement_percentage: 100, minimum_hosts: 5, request_volume: 10 };
    const FAILURE_PERCENTAGE: FailurePercentageEjection =
        FailurePercentageEjection { threshold: 50, enforcement_percentage: 100, minimum_hosts: 3, request_volume: 10 };

    #[test]
    fn success_rate_ejection_finds_the_backend_far_below_the_mean_when_enough_are_judged() {
        let counts = [(100, 0), (98, 2), (100, 0), (99, 1), (10, 90)];
        assert_eq!(success_rate_outliers(&SUCCESS_RATE, &counts), [4]);
        // Four judged backends are fewer than minimum_hosts.
        assert!(success_rate_outliers(&SUCCESS_RATE, &counts[1..]).is_empty());
        // Too few calls on the failing one: it is not judged.
        let quiet = [(100, 0), (98, 2), (100, 0), (99, 1), (100, 0), (0, 9)];
        assert!(success_rate_outliers(&SUCCESS_RATE, &quiet).is_empty());
        // Everyone equally bad: nobody stands out.
        assert!(success_rate_outliers(&SUCCESS_RATE, &[(50, 50); 6]).is_empty());
    }

    #[test]
    fn failure_percentage_ejection_takes_those_above_the_threshold_with_enough_calls() {
        let counts = [(10, 0), (4, 6), (5, 5), (0, 9)];
        // 60% failed is above 50; exactly 50% is not; 9 calls is below the volume.
        assert_eq!(failure_percentage_outliers(&FAILURE_PERCENTAGE, &counts), [1]);
        assert!(failure_percentage_outliers(&FAILURE_PERCENTAGE, &counts[..2]).is_empty(), "too few hosts");
    }
}
