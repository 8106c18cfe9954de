//! The out-of-band ORCA service (`xds.service.orca.v3.OpenRcaService`, gRFC A51): each stream gets the
//! [`ServerMetricRecorder`]'s values at once, then every reporting interval, until the client ends it. The
//! client asks for an interval; the server never reports more often than its minimum, so a client asking
//! for a report every microsecond costs it no more than one asking every 30 seconds.

use std::time::Duration;

use super::proto::open_rca_service_server::{OpenRcaService, OpenRcaServiceServer};
use super::proto::OrcaLoadReportRequest;
use super::recorder::ServerMetricRecorder;
use crate::load_report::OrcaLoadReport;
use crate::server::BoxStream;
use crate::{Request, Response, Status};

/// The shortest reporting interval a client gets unless the server allows less: gRFC A51's default.
pub const DEFAULT_MIN_REPORT_INTERVAL: Duration = Duration::from_secs(30);

/// The longest interval a client gets, whatever it asks.
const MAX_REPORT_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The service's implementation, over one recorder.
#[derive(Debug, Clone)]
pub struct OrcaService {
    recorder: ServerMetricRecorder,
    min_interval: Duration,
}

/// The service to register (`ServerBuilder::add_service(orca::service(recorder))`), reporting what
/// `recorder` holds, at most every [`DEFAULT_MIN_REPORT_INTERVAL`].
pub fn service(recorder: ServerMetricRecorder) -> OpenRcaServiceServer<OrcaService> {
    OrcaService::new(recorder).into_server()
}

impl OrcaService {
    /// Reports `recorder`'s values, at most every [`DEFAULT_MIN_REPORT_INTERVAL`].
    pub fn new(recorder: ServerMetricRecorder) -> Self {
        OrcaService { recorder, min_interval: DEFAULT_MIN_REPORT_INTERVAL }
    }

    /// Lets clients ask for reports as often as every `interval` (a client asking for less often gets
    /// what it asks; at least a millisecond).
    pub fn min_report_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The server to register.
    pub fn into_server(self) -> OpenRcaServiceServer<OrcaService> {
        OpenRcaServiceServer::new(self)
    }

    /// The interval a request gets: what it asks, no shorter than the minimum (no ask, or a malformed one:
    /// the minimum).
    fn interval(&self, request: &OrcaLoadReportRequest) -> Duration {
        let asked = request.report_interval.as_ref().and_then(|d| {
            let seconds = u64::try_from(d.seconds).ok()?;
            let nanos = u32::try_from(d.nanos).ok().filter(|n| *n < 1_000_000_000)?;
            Some(Duration::new(seconds, nanos))
        });
        // A longer interval than a day is as good as none, and a far one would overflow the timer's clock.
        asked.unwrap_or(self.min_interval).clamp(self.min_interval, MAX_REPORT_INTERVAL.max(self.min_interval))
    }
}

impl OpenRcaService for OrcaService {
    async fn stream_core_metrics(
        &self,
        request: Request<OrcaLoadReportRequest>,
    ) -> Result<Response<BoxStream<OrcaLoadReport>>, Status> {
        let interval = self.interval(request.get_ref());
        let recorder = self.recorder.clone();
        let mut ticks = tokio::time::interval(interval);
        // A client that stops reading must not make reports pile up: late ticks are skipped.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stream = futures_util::stream::unfold((ticks, recorder), |(mut ticks, recorder)| async move {
            // The first tick is at once: the client learns the load without waiting an interval.
            ticks.tick().await;
            Some((Ok(recorder.snapshot()), (ticks, recorder)))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::well_known::Duration as ProtoDuration;

    #[test]
    fn a_client_gets_the_interval_it_asks_but_never_below_the_minimum() {
        let service = OrcaService::new(ServerMetricRecorder::new()).min_report_interval(Duration::from_secs(1));
        let ask = |seconds, nanos| OrcaLoadReportRequest {
            report_interval: Some(ProtoDuration { seconds, nanos, ..Default::default() }),
            ..Default::default()
        };
        assert_eq!(service.interval(&ask(5, 0)), Duration::from_secs(5));
        assert_eq!(service.interval(&ask(0, 1_000)), Duration::from_secs(1));
        assert_eq!(service.interval(&ask(-5, 0)), Duration::from_secs(1), "negative: the minimum");
        assert_eq!(service.interval(&ask(1, 2_000_000_000)), Duration::from_secs(1), "malformed: the minimum");
        assert_eq!(service.interval(&OrcaLoadReportRequest::default()), Duration::from_secs(1));
        assert_eq!(service.interval(&ask(i64::MAX, 0)), MAX_REPORT_INTERVAL, "a far interval is cut to a day");
        assert_eq!(OrcaService::new(ServerMetricRecorder::new()).min_interval, DEFAULT_MIN_REPORT_INTERVAL);
    }
}
