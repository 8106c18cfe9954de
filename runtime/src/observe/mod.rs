//! Observing calls: one `tracing` span per call on both sides, gRFC A66 metrics through OpenTelemetry
//! (feature `otel`), and W3C `traceparent` propagation, all opt-in.
//!
//! Off (no subscriber listening for rsgrpc's spans, no meter provider installed, no propagation), a call
//! carries no observer at all: `None` in its setup, no clock read, no allocation. On, a call gets one
//! [`client::ClientCall`] or [`server::ServerObserver`], shared by its sending and receiving halves, that
//! counts messages and bytes and records the span's fields and the metrics once, when the call ends.

pub(crate) mod channelz;
pub(crate) mod client;
#[cfg(feature = "otel")]
pub(crate) mod metrics;
pub(crate) mod server;
pub(crate) mod trace_context;

use std::sync::Arc;

use crate::status::Code;

/// The gRPC framing of a message (flag and length) is not part of A66's message sizes.
const PREFIX: u64 = crate::wire::PREFIX_LEN as u64;

/// What a response or request [`Streaming`](crate::Streaming) reports to: its client attempt, or its
/// server call.
pub(crate) enum TapSink {
    Client(Arc<client::ClientAttempt>),
    Server(Arc<server::ServerObserver>),
}

/// Counts a stream's received messages and bytes for its observer, and on the client reports how the
/// attempt ended (the status the stream ended with, else cancelled when it is dropped before its end).
pub(crate) struct StreamTap {
    sink: TapSink,
    bytes: u64,
    messages: u64,
    /// The status the stream ended with, once known (with its message when not OK).
    code: Option<Code>,
    message: Option<String>,
    reported: bool,
}

impl StreamTap {
    pub(crate) fn new(sink: TapSink) -> Box<StreamTap> {
        Box::new(StreamTap { sink, bytes: 0, messages: 0, code: None, message: None, reported: false })
    }

    /// A DATA chunk arrived.
    pub(crate) fn chunk(&mut self, len: usize) {
        self.bytes += len as u64;
    }

    /// A message was decoded.
    pub(crate) fn message(&mut self) {
        self.messages += 1;
        if let TapSink::Server(observer) = &self.sink {
            observer.received_message();
        }
    }

    /// The stream's status is known (it is yielded to the reader next).
    pub(crate) fn ended(&mut self, status: &crate::status::Status) {
        if self.code.is_none() {
            self.code = Some(status.code());
            if status.code() != Code::Ok {
                self.message = Some(status.message().to_owned());
            }
        }
    }

    /// The stream ended OK.
    pub(crate) fn ended_ok(&mut self) {
        self.code.get_or_insert(Code::Ok);
    }

    /// The reader saw the end: report it now rather than when the stream is dropped.
    pub(crate) fn report(&mut self) {
        if self.reported {
            return;
        }
        self.reported = true;
        let payload = self.bytes.saturating_sub(PREFIX * self.messages);
        match &self.sink {
            TapSink::Client(attempt) => attempt.received(payload, self.messages, self.code, self.message.as_deref()),
            TapSink::Server(observer) => observer.received_bytes(payload),
        }
    }
}

impl Drop for StreamTap {
    fn drop(&mut self) {
        self.report();
    }
}

/// Message sizes without their framing: `bytes` of `messages` framed messages.
pub(crate) fn payload(bytes: usize, messages: u64) -> u64 {
    (bytes as u64).saturating_sub(PREFIX * messages)
}

/// `/package.Service/Method` as service and method.
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    path.strip_prefix('/').and_then(|p| p.split_once('/')).unwrap_or(("", path))
}
