//! Out-of-band ORCA load reports (gRFC A51), the client's side: when the policy in force asks for them
//! (weighted_round_robin with `enableOobLoadReport`), each new connection opens one
//! `xds.service.orca.v3.OpenRcaService/StreamCoreMetrics` stream and every report on it updates the
//! subchannel's weight. A server without the service (UNIMPLEMENTED) is left alone for the connection's
//! life, with a log line; other failures open the stream again after a backoff.
//!
//! Like the health watch, the stream is a task of its own holding a clone of the connection's sender; it
//! ends with the connection, or when the last [`Connection`](super::subchannel::Connection) clone holding
//! its [`OobReporting`] is dropped, so it never keeps a connection open by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::ChannelConfig;
use super::health_check::stream_head;
use super::outcomes::CallOutcomes;
use super::resolver::Address;
use crate::keepalive::CallCount;
use crate::load_report::{OrcaLoadReport, MAX_REPORT};
use crate::status::{Code, Status};
use crate::streaming::Streaming;
use crate::wire;

const STREAM_PATH: &str = "/xds.service.orca.v3.OpenRcaService/StreamCoreMetrics";

/// A connection's out-of-band reporting stream, as its connection holds it.
#[derive(Debug)]
pub(crate) struct OobReporting {
    /// Dropped with the last connection clone: the stream's task ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Starts asking `address` for a report every `period`; reports go to `outcomes`' weight.
pub(crate) fn start(
    send: h2::client::SendRequest<Bytes>,
    period: Duration,
    address: Address,
    config: Arc<ChannelConfig>,
    outcomes: Arc<CallOutcomes>,
    alive: Arc<AtomicBool>,
) -> Arc<OobReporting> {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let stream = Stream { send, period, address, config, outcomes, alive };
    tokio::spawn(async move {
        tokio::select! {
            () = stream.run() => {}
            _ = stopped => {}
        }
    });
    Arc::new(OobReporting { _stop: stop })
}

struct Stream {
    send: h2::client::SendRequest<Bytes>,
    period: Duration,
    address: Address,
    config: Arc<ChannelConfig>,
    outcomes: Arc<CallOutcomes>,
    alive: Arc<AtomicBool>,
}

impl Stream {
    async fn run(self) {
        let mut failures = 0;
        while self.alive.load(Ordering::Acquire) {
            let outcome = self.stream().await;
            if !self.alive.load(Ordering::Acquire) {
                return;
            }
            match outcome {
                Err(status) if status.code() == Code::Unimplemented => {
                    tracing::info!(
                        address = %self.address,
                        "the server has no xds.service.orca.v3.OpenRcaService; no out-of-band load reports"
                    );
                    return;
                }
                Err(status) => tracing::debug!(address = %self.address, %status, "the ORCA stream failed"),
                Ok(()) => tracing::debug!(address = %self.address, "the server ended the ORCA stream"),
            }
            failures += 1;
            tokio::time::sleep(self.config.backoff.delay(failures)).await;
        }
    }

    /// One stream, its reports taken in as they come.
    async fn stream(&self) -> Result<(), Status> {
        let mut send = self.send.clone().ready().await.map_err(Status::from)?;
        let head = stream_head(&self.address, &self.config, STREAM_PATH)?;
        let (response, mut body) = send.send_request(head, false).map_err(Status::from)?;
        let request = ReportRequest { interval: self.period };
        body.send_data(crate::codec::encode(&request, wire::DEFAULT_MAX_SEND_MESSAGE_SIZE)?, true)
            .map_err(Status::from)?;
        let count = CallCount::default();
        let mut reports = Streaming::<OrcaLoadReport>::client(response, count.enter(), MAX_REPORT, None);
        while let Some(report) = reports.message().await? {
            self.outcomes.weight.update(&report, Instant::now());
        }
        Ok(())
    }
}

/// `xds.service.orca.v3.OrcaLoadReportRequest` as the client sends it: only `report_interval` (field 1, a
/// `google.protobuf.Duration`). Written here rather than taken from `crate::orca`, whose generated server
/// depends on the server, which depends on the client (an import cycle); the ORCA tests run it against
/// the real service, and against grpc-js's.
#[derive(Debug, Default)]
struct ReportRequest {
    interval: Duration,
}

impl ReportRequest {
    fn duration(&self) -> crate::well_known::Duration {
        crate::well_known::Duration {
            seconds: i64::try_from(self.interval.as_secs()).unwrap_or(i64::MAX),
            nanos: self.interval.subsec_nanos() as i32,
            ..Default::default()
        }
    }
}

impl prost::Message for ReportRequest {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        crate::codegen::message::encode(1, &self.duration(), buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: crate::codegen::WireType,
        buf: &mut impl bytes::Buf,
        ctx: crate::codegen::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        // Only ever encoded.
        crate::codegen::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        crate::codegen::message::encoded_len(1, &self.duration())
    }

    fn clear(&mut self) {
        self.interval = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_what_the_generated_message_reads() {
        let request = ReportRequest { interval: Duration::from_millis(2500) };
        let bytes = prost::Message::encode_to_vec(&request);
        let decoded: crate::orca::OrcaLoadReportRequest = prost::Message::decode(bytes.as_slice()).unwrap();
        let interval = decoded.report_interval.unwrap();
        assert_eq!((interval.seconds, interval.nanos), (2, 500_000_000));
    }
}
