//! The server's observer of one call: its span (a child of the client's span when `traceparent`
//! propagation is on), its message counts and sizes, and A66's server metrics when it ends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tracing::field::Empty;

use super::channelz::SocketNode;
use super::trace_context::{TraceContext, TRACEPARENT};
use crate::status::Code;

/// What a server's calls are observed with, as its builder set it (`None` in the router when neither is
/// on, so that calls carry nothing).
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerObserve {
    /// Take a request's `traceparent` as the remote parent of the call's span.
    pub(crate) propagate: bool,
    #[cfg(feature = "otel")]
    pub(crate) metrics: Option<Arc<super::metrics::ServerMetrics>>,
}

impl ServerObserve {
    /// Whether calls need it at all.
    pub(crate) fn is_on(&self) -> bool {
        #[cfg(feature = "otel")]
        if self.metrics.is_some() {
            return true;
        }
        self.propagate
    }
}

/// How a server call ended: the status sent and what its responses came to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sent {
    pub(crate) code: Code,
    pub(crate) messages: u64,
    /// The framed bytes of the response messages sent.
    pub(crate) bytes: usize,
}

impl Sent {
    /// Nothing was sent but, maybe, a status.
    pub(crate) fn status(code: Code) -> Sent {
        Sent { code, messages: 0, bytes: 0 }
    }
}

/// One observed call on the server.
pub(crate) struct ServerObserver {
    span: tracing::Span,
    start: Instant,
    #[cfg(feature = "otel")]
    method: opentelemetry::Value,
    #[cfg(feature = "otel")]
    metrics: Option<Arc<super::metrics::ServerMetrics>>,
    trace: Option<TraceContext>,
    received_messages: AtomicU64,
    received_bytes: AtomicU64,
    /// The connection's channelz entry, when channelz is on.
    socket: Option<Arc<SocketNode>>,
    finished: AtomicBool,
}

impl ServerObserver {
    /// The observer of a call to `service`/`method` (a registered one, or `None` for a method the server
    /// does not have: A66 records those as `other`), or `None` when nothing observes.
    /// `traceparent` reads the request's header, only when propagation is on (a header lookup per call
    /// is not free).
    pub(crate) fn start<'a>(
        observe: Option<&ServerObserve>,
        service: &str,
        method: Option<&'static str>,
        peer: Option<std::net::SocketAddr>,
        socket: Option<&Arc<SocketNode>>,
        traceparent: impl FnOnce() -> Option<&'a [u8]>,
    ) -> Option<Arc<ServerObserver>> {
        let span = tracing::info_span!(
            target: "rsgrpc::server",
            "grpc.server",
            otel.name = Empty,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method.unwrap_or("other"),
            network.peer.address = Empty,
            network.peer.port = Empty,
            rpc.grpc.status_code = Empty,
            grpc.status = Empty,
            rpc.messages_sent = Empty,
            rpc.messages_received = Empty,
            grpc.duration_ms = Empty,
            trace_id = Empty,
            span_id = Empty,
            parent_span_id = Empty,
        );
        #[cfg(feature = "otel")]
        let metrics = observe.and_then(|o| o.metrics.clone());
        #[cfg(feature = "otel")]
        let measured = metrics.is_some();
        #[cfg(not(feature = "otel"))]
        let measured = false;
        let propagate = observe.is_some_and(|o| o.propagate);
        if span.is_disabled() && !measured && !propagate && socket.is_none() {
            return None;
        }
        if let Some(socket) = socket {
            socket.stream_started();
        }
        let trace = propagate.then(|| TraceContext::for_server_call(traceparent()));
        if !span.is_disabled() {
            if let Some(method) = method {
                span.record("otel.name", format_args!("{service}/{method}"));
            }
            if let Some(peer) = peer {
                span.record("network.peer.address", format_args!("{}", peer.ip()));
                span.record("network.peer.port", peer.port());
            }
            if let Some(trace) = &trace {
                span.record("trace_id", format_args!("{:032x}", trace.trace_id));
                span.record("span_id", format_args!("{:016x}", trace.span_id));
                if let Some(parent) = trace.parent_span_id {
                    span.record("parent_span_id", format_args!("{parent:016x}"));
                }
            }
        }
        Some(Arc::new(ServerObserver {
            span,
            start: Instant::now(),
            #[cfg(feature = "otel")]
            method: match method {
                Some(method) => opentelemetry::Value::from(format!("{service}/{method}")),
                None => opentelemetry::Value::from("other"),
            },
            #[cfg(feature = "otel")]
            metrics,
            trace,
            received_messages: AtomicU64::new(0),
            received_bytes: AtomicU64::new(0),
            socket: socket.cloned(),
            finished: AtomicBool::new(false),
        }))
    }

    /// The call's span, which its handler runs in.
    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The trace context handlers see as current (so their own calls continue the trace).
    pub(crate) fn trace(&self) -> Option<TraceContext> {
        self.trace
    }

    pub(crate) fn received_message(&self) {
        self.received_messages.fetch_add(1, Ordering::Relaxed);
        if let Some(socket) = &self.socket {
            socket.messages_received(1);
        }
    }

    pub(crate) fn received_bytes(&self, bytes: u64) {
        self.received_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The call ended: records the span's fields and the metrics.
    pub(crate) fn finish(&self, sent: Sent) {
        self.finished.store(true, Ordering::Relaxed);
        if let Some(socket) = &self.socket {
            socket.messages_sent(sent.messages);
            // A cancelled call is one the client reset (or gave up on): no end-of-stream went out.
            socket.stream_ended(sent.code != Code::Cancelled, sent.code == Code::Ok);
        }
        let elapsed = self.start.elapsed();
        let received = self.received_messages.load(Ordering::Relaxed);
        if !self.span.is_disabled() {
            let span = &self.span;
            span.record("rpc.grpc.status_code", sent.code as i64);
            span.record("grpc.status", sent.code.as_str());
            span.record("rpc.messages_sent", sent.messages);
            span.record("rpc.messages_received", received);
            span.record("grpc.duration_ms", elapsed.as_secs_f64() * 1e3);
        }
        #[cfg(feature = "otel")]
        if let Some(metrics) = &self.metrics {
            let sent_bytes = super::payload(sent.bytes, sent.messages);
            let received_bytes = self.received_bytes.load(Ordering::Relaxed);
            metrics.call_ended(&self.method, sent.code, elapsed, sent_bytes, received_bytes);
        }
    }
}

impl Drop for ServerObserver {
    fn drop(&mut self) {
        // A call dropped before it ended (its connection went away): a stream reset for channelz.
        if let (Some(socket), false) = (&self.socket, self.finished.load(Ordering::Relaxed)) {
            socket.stream_ended(false, false);
        }
    }
}

#[cfg(feature = "otel")]
impl ServerObserver {
    /// `grpc.server.call.started`, counted as the call is routed.
    pub(crate) fn started(&self) {
        if let Some(metrics) = &self.metrics {
            metrics.call_started(&self.method);
        }
    }
}

/// A call to a service the server does not have: observed (as method `other`) and ended with
/// `UNIMPLEMENTED` at once.
pub(crate) fn unknown_service(
    observe: Option<&ServerObserve>,
    service: &str,
    peer: Option<std::net::SocketAddr>,
    socket: Option<&Arc<SocketNode>>,
    headers: &http::HeaderMap,
) {
    let traceparent = || headers.get(TRACEPARENT).map(|value| value.as_bytes());
    if let Some(observer) = ServerObserver::start(observe, service, None, peer, socket, traceparent) {
        #[cfg(feature = "otel")]
        observer.started();
        observer.finish(Sent::status(Code::Unimplemented));
    }
}
