//! ORCA backend metrics (gRFC A51), the server's side: a backend tells its clients how loaded it is, so a
//! client's `weighted_round_robin` policy sends it a share of calls that fits.
//!
//! - Per call: add [`call_metrics`] to the server as an interceptor; each handler finds a
//!   [`CallMetricRecorder`] in its request ([`CallMetricRecorder::of`]) and what it records goes back in
//!   the call's `endpoint-load-metrics-bin` trailer, with the server-wide values of a
//!   [`ServerMetricRecorder`] where the call recorded none.
//! - Out of band: register [`service`] (`xds.service.orca.v3.OpenRcaService`); clients open a stream and
//!   get the [`ServerMetricRecorder`]'s values every reporting interval.
//!
//! The client reads per-call reports with [`load_report`].

mod call_metrics;
mod recorder;
mod service;

/// The generated `xds.service.orca.v3` package: the request and the `OpenRcaService` trait and server.
pub mod proto {
    include!("xds.service.orca.v3.rs");
}

pub use call_metrics::{call_metrics, CallMetrics};
pub use proto::open_rca_service_server::{OpenRcaService, OpenRcaServiceServer};
pub use proto::OrcaLoadReportRequest;
pub use recorder::{CallMetricRecorder, ServerMetricRecorder};
pub use service::{service, OrcaService, DEFAULT_MIN_REPORT_INTERVAL};

pub use crate::load_report::{from_trailers as load_report, OrcaLoadReport, TRAILER};
