//! Where a backend's metrics are recorded: server-wide ([`ServerMetricRecorder`]) and per call
//! ([`CallMetricRecorder`]), both checked as gRFC A51 says (a value out of range is ignored, with a log
//! line: a bad measurement must not fail a call or mislead a balancer) and both turned into an
//! [`OrcaLoadReport`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::load_report::OrcaLoadReport;
use crate::request::Request;

/// The values a recorder holds; `None` is "not recorded" (not sent), which a report tells from 0 only by
/// its absence, so the merge of call over server values needs the difference.
#[derive(Debug, Default, Clone)]
struct Metrics {
    cpu_utilization: Option<f64>,
    memory_utilization: Option<f64>,
    application_utilization: Option<f64>,
    qps: Option<f64>,
    eps: Option<f64>,
    utilization: BTreeMap<String, f64>,
    request_cost: BTreeMap<String, f64>,
    named_metrics: BTreeMap<String, f64>,
}

/// Whether `value` may be recorded as `what`: a number, at least 0, and at most 1 for shares that cannot
/// pass the whole (memory, named utilizations).
fn valid(what: &str, value: f64, at_most_one: bool) -> bool {
    let ok = value.is_finite() && value >= 0.0 && (!at_most_one || value <= 1.0);
    if !ok {
        let range = if at_most_one { "0 to 1" } else { "0 or more" };
        tracing::warn!(what, value, "an ORCA metric out of range ({range}) is ignored");
    }
    ok
}

impl Metrics {
    fn is_empty(&self) -> bool {
        self.cpu_utilization.is_none()
            && self.memory_utilization.is_none()
            && self.application_utilization.is_none()
            && self.qps.is_none()
            && self.eps.is_none()
            && self.utilization.is_empty()
            && self.request_cost.is_empty()
            && self.named_metrics.is_empty()
    }

    /// These values, with `under`'s where these have none.
    fn over(&self, under: &Metrics) -> Metrics {
        let mut merged = self.clone();
        merged.cpu_utilization = merged.cpu_utilization.or(under.cpu_utilization);
        merged.memory_utilization = merged.memory_utilization.or(under.memory_utilization);
        merged.application_utilization = merged.application_utilization.or(under.application_utilization);
        merged.qps = merged.qps.or(under.qps);
        merged.eps = merged.eps.or(under.eps);
        for (name, value) in &under.utilization {
            merged.utilization.entry(name.clone()).or_insert(*value);
        }
        for (name, value) in &under.named_metrics {
            merged.named_metrics.entry(name.clone()).or_insert(*value);
        }
        merged
    }

    fn report(&self) -> OrcaLoadReport {
        OrcaLoadReport {
            cpu_utilization: self.cpu_utilization.unwrap_or(0.0),
            mem_utilization: self.memory_utilization.unwrap_or(0.0),
            application_utilization: self.application_utilization.unwrap_or(0.0),
            rps_fractional: self.qps.unwrap_or(0.0),
            eps: self.eps.unwrap_or(0.0),
            utilization: self.utilization.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            request_cost: self.request_cost.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            named_metrics: self.named_metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            ..Default::default()
        }
    }
}

/// The backend's load as a whole (CPU, memory, queries and errors per second, named utilizations), set
/// by the application as it measures it; the out-of-band [`service`](super::service) reports it, and
/// [`call_metrics`](super::call_metrics) adds it to per-call reports. Cheap to clone: clones share the
/// values.
#[derive(Debug, Default, Clone)]
pub struct ServerMetricRecorder {
    metrics: Arc<Mutex<Metrics>>,
}

macro_rules! setter {
    ($(#[$doc:meta])* $set:ident, $clear:ident, $field:ident, $at_most_one:expr) => {
        $(#[$doc])*
        pub fn $set(&self, value: f64) {
            if valid(stringify!($field), value, $at_most_one) {
                self.lock().$field = Some(value);
            }
        }

        #[doc = concat!("Stops reporting what [`Self::", stringify!($set), "`] set.")]
        pub fn $clear(&self) {
            self.lock().$field = None;
        }
    };
}

impl ServerMetricRecorder {
    /// A recorder with nothing recorded.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Metrics> {
        self.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    setter!(
        /// The share of the CPU in use (1.0 is all of it; more when over a soft limit).
        set_cpu_utilization, clear_cpu_utilization, cpu_utilization, false
    );
    setter!(
        /// The share of the memory in use, 0 to 1.
        set_memory_utilization, clear_memory_utilization, memory_utilization, true
    );
    setter!(
        /// The application's own measure of how busy it is; weighted round robin prefers it to the CPU's.
        set_application_utilization, clear_application_utilization, application_utilization, false
    );
    setter!(
        /// Queries per second the backend serves.
        set_qps, clear_qps, qps, false
    );
    setter!(
        /// Errors per second the backend answers.
        set_eps, clear_eps, eps, false
    );

    /// The share of a named resource in use, 0 to 1.
    pub fn set_named_utilization(&self, name: &str, value: f64) {
        if valid(name, value, true) {
            self.lock().utilization.insert(name.to_owned(), value);
        }
    }

    /// Stops reporting a named utilization.
    pub fn clear_named_utilization(&self, name: &str) {
        self.lock().utilization.remove(name);
    }

    /// The report of what is recorded now.
    pub fn snapshot(&self) -> OrcaLoadReport {
        self.lock().report()
    }

    fn metrics(&self) -> Metrics {
        self.lock().clone()
    }
}

/// One call's load, recorded by its handler: what this call cost and the backend's load as the handler
/// sees it. It goes back to the client in the call's trailers when the server runs
/// [`call_metrics`](super::call_metrics); the request carries it ([`CallMetricRecorder::of`]).
#[derive(Debug, Default, Clone)]
pub struct CallMetricRecorder {
    metrics: Arc<Mutex<Metrics>>,
}

macro_rules! recorder {
    ($(#[$doc:meta])* $record:ident, $field:ident, $at_most_one:expr) => {
        $(#[$doc])*
        pub fn $record(&self, value: f64) -> &Self {
            if valid(stringify!($field), value, $at_most_one) {
                self.lock().$field = Some(value);
            }
            self
        }
    };
}

impl CallMetricRecorder {
    /// The recorder of the call `request` belongs to, when the server runs
    /// [`call_metrics`](super::call_metrics).
    pub fn of<T>(request: &Request<T>) -> Option<&CallMetricRecorder> {
        request.extensions().get::<CallMetricRecorder>()
    }

    fn lock(&self) -> MutexGuard<'_, Metrics> {
        self.metrics.lock().unwrap_or_else(|e| e.into_inner())
    }

    recorder!(
        /// The share of the CPU in use (1.0 is all of it; more when over a soft limit).
        record_cpu_utilization, cpu_utilization, false
    );
    recorder!(
        /// The share of the memory in use, 0 to 1.
        record_memory_utilization, memory_utilization, true
    );
    recorder!(
        /// The application's own measure of how busy the backend is.
        record_application_utilization, application_utilization, false
    );
    recorder!(
        /// Queries per second the backend serves.
        record_qps, qps, false
    );
    recorder!(
        /// Errors per second the backend answers.
        record_eps, eps, false
    );

    /// The share of a named resource in use, 0 to 1.
    pub fn record_utilization(&self, name: &str, value: f64) -> &Self {
        if valid(name, value, true) {
            self.lock().utilization.insert(name.to_owned(), value);
        }
        self
    }

    /// What this call cost in some unit of the application's (bytes written, rows read).
    pub fn record_request_cost(&self, name: &str, value: f64) -> &Self {
        if value.is_finite() {
            self.lock().request_cost.insert(name.to_owned(), value);
        }
        self
    }

    /// Any other number the application reports, by name.
    pub fn record_named_metric(&self, name: &str, value: f64) -> &Self {
        if value.is_finite() {
            self.lock().named_metrics.insert(name.to_owned(), value);
        }
        self
    }

    /// The call's report: what it recorded over `server`'s values; `None` when neither holds anything
    /// (no trailer is sent then).
    pub(crate) fn report(&self, server: Option<&ServerMetricRecorder>) -> Option<OrcaLoadReport> {
        let call = self.lock().clone();
        let merged = match server {
            Some(server) => call.over(&server.metrics()),
            None => call,
        };
        (!merged.is_empty()).then(|| merged.report())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_ignored_and_the_call_wins_over_the_server() {
        let server = ServerMetricRecorder::new();
        server.set_cpu_utilization(0.5);
        server.set_memory_utilization(1.5);
        server.set_qps(-1.0);
        server.set_eps(f64::NAN);
        server.set_named_utilization("disk", 0.25);
        server.set_named_utilization("bad", 2.0);
        let snapshot = server.snapshot();
        assert_eq!(snapshot.cpu_utilization, 0.5);
        assert_eq!((snapshot.mem_utilization, snapshot.rps_fractional, snapshot.eps), (0.0, 0.0, 0.0));
        assert_eq!(snapshot.utilization.len(), 1);

        let call = CallMetricRecorder::default();
        assert_eq!(call.report(None), None, "nothing recorded, nothing sent");
        call.record_cpu_utilization(0.9).record_request_cost("rows", 12.0).record_utilization("disk", 0.75);
        let report = call.report(Some(&server)).unwrap();
        assert_eq!(report.cpu_utilization, 0.9, "the call's value over the server's");
        assert_eq!(report.utilization.get("disk"), Some(&0.75));
        assert_eq!(report.request_cost.get("rows"), Some(&12.0));
        server.clear_cpu_utilization();
        server.set_qps(40.0);
        let only_server = CallMetricRecorder::default().report(Some(&server)).unwrap();
        assert_eq!((only_server.cpu_utilization, only_server.rps_fractional), (0.0, 40.0));
    }
}
