//! The client's observer: a call ([`ClientCall`]) and its attempts ([`ClientAttempt`], one per retry or
//! hedge). An attempt records A66's per-attempt metrics when it ends; the call records its span's fields
//! and `grpc.client.call.duration` when it ends, once, whichever way it ends.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tracing::field::Empty;

use super::channelz::{ChannelNode, SocketNode};
use super::trace_context::TraceContext;
use crate::status::Code;

/// What a channel's calls are observed with, as its builder set it.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClientObserve {
    /// Send `traceparent` with every call.
    pub(crate) propagate: bool,
    #[cfg(feature = "otel")]
    pub(crate) metrics: Option<Arc<super::metrics::ClientMetrics>>,
    /// The channel's channelz entry, when channelz is on.
    pub(crate) channelz: Option<Arc<ChannelNode>>,
}

/// One observed call on the client.
pub(crate) struct ClientCall {
    /// Taken (and so closed) when the call ends, not when the last handle on the call is dropped.
    span: std::sync::Mutex<tracing::Span>,
    start: Instant,
    #[cfg(feature = "otel")]
    path: &'static str,
    deadline: Option<Instant>,
    /// The W3C context sent as `traceparent` (with propagation on).
    pub(crate) trace: Option<TraceContext>,
    #[cfg(feature = "otel")]
    metrics: Option<Arc<super::metrics::ClientMetrics>>,
    attempts: AtomicU32,
    /// The counts of the attempt the call ended with (the last to end).
    messages_sent: AtomicU64,
    messages_received: AtomicU64,
    finished: AtomicBool,
    channelz: Option<Arc<ChannelNode>>,
}

impl ClientCall {
    /// The observer of a call to `path`, or `None` when nothing observes (no subscriber wants the span, no
    /// metrics, no propagation): then the call pays nothing more.
    pub(crate) fn start(
        observe: &ClientObserve,
        authority: &http::uri::Authority,
        path: &'static str,
        deadline: Option<Instant>,
    ) -> Option<Arc<ClientCall>> {
        let (service, method) = super::split_path(path);
        let span = tracing::info_span!(
            target: "rsgrpc::client",
            "grpc.client",
            otel.name = path.trim_start_matches('/'),
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            server.address = %authority,
            rpc.grpc.status_code = Empty,
            grpc.status = Empty,
            grpc.message = Empty,
            grpc.attempts = Empty,
            rpc.messages_sent = Empty,
            rpc.messages_received = Empty,
            grpc.duration_ms = Empty,
            trace_id = Empty,
            span_id = Empty,
            parent_span_id = Empty,
        );
        #[cfg(feature = "otel")]
        let metrics = observe.metrics.clone();
        #[cfg(feature = "otel")]
        let measured = metrics.is_some();
        #[cfg(not(feature = "otel"))]
        let measured = false;
        if span.is_disabled() && !measured && !observe.propagate && observe.channelz.is_none() {
            return None;
        }
        if let Some(channelz) = &observe.channelz {
            channelz.calls.started();
        }
        let trace = observe.propagate.then(TraceContext::for_client_call);
        if let (Some(trace), false) = (&trace, span.is_disabled()) {
            span.record("trace_id", format_args!("{:032x}", trace.trace_id));
            span.record("span_id", format_args!("{:016x}", trace.span_id));
            if let Some(parent) = trace.parent_span_id {
                span.record("parent_span_id", format_args!("{parent:016x}"));
            }
        }
        Some(Arc::new(ClientCall {
            span: std::sync::Mutex::new(span),
            start: Instant::now(),
            #[cfg(feature = "otel")]
            path,
            deadline,
            trace,
            #[cfg(feature = "otel")]
            metrics,
            attempts: AtomicU32::new(0),
            messages_sent: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            channelz: observe.channelz.clone(),
        }))
    }

    /// A new attempt starts (`grpc.client.attempt.started`).
    pub(crate) fn attempt(self: &Arc<Self>) -> Arc<ClientAttempt> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "otel")]
        if let Some(metrics) = &self.metrics {
            metrics.attempt_started(self.path);
        }
        Arc::new(ClientAttempt {
            call: self.clone(),
            #[cfg(feature = "otel")]
            start: Instant::now(),
            sent_bytes: AtomicU64::new(0),
            sent_messages: AtomicU64::new(0),
            ends_call: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            socket: OnceLock::new(),
        })
    }

    /// The call ended with `code` (and `message`, for the span): records it, the first time only.
    pub(crate) fn finish(&self, code: Code, message: &str) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(channelz) = &self.channelz {
            channelz.calls.ended(code == Code::Ok);
        }
        let elapsed = self.start.elapsed();
        let span = std::mem::replace(&mut *self.span.lock().unwrap_or_else(|e| e.into_inner()), tracing::Span::none());
        if !span.is_disabled() {
            span.record("rpc.grpc.status_code", code as i64);
            span.record("grpc.status", code.as_str());
            if code != Code::Ok {
                span.record("grpc.message", message);
            }
            span.record("grpc.attempts", self.attempts.load(Ordering::Relaxed));
            span.record("rpc.messages_sent", self.messages_sent.load(Ordering::Relaxed));
            span.record("rpc.messages_received", self.messages_received.load(Ordering::Relaxed));
            span.record("grpc.duration_ms", elapsed.as_secs_f64() * 1e3);
        }
        #[cfg(feature = "otel")]
        if let Some(metrics) = &self.metrics {
            metrics.call_ended(self.path, code, elapsed);
        }
    }

    /// How a call ends that nobody saw end: past its deadline, or dropped by its caller.
    fn unseen_end(&self) -> Code {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Code::DeadlineExceeded,
            _ => Code::Cancelled,
        }
    }
}

impl Drop for ClientCall {
    fn drop(&mut self) {
        if !self.finished.load(Ordering::Acquire) {
            let code = self.unseen_end();
            self.finish(code, "the call was dropped before it ended");
        }
    }
}

/// One attempt of an observed call.
pub(crate) struct ClientAttempt {
    call: Arc<ClientCall>,
    #[cfg(feature = "otel")]
    start: Instant,
    sent_bytes: AtomicU64,
    sent_messages: AtomicU64,
    /// The caller reads this attempt's responses: their end is the call's.
    ends_call: AtomicBool,
    finished: AtomicBool,
    /// The channelz entry of the connection the attempt's stream went out on.
    socket: OnceLock<Arc<SocketNode>>,
}

impl ClientAttempt {
    /// A framed message of `len` bytes was handed to the stream.
    pub(crate) fn sent(&self, len: usize) {
        self.sent_bytes.fetch_add(super::payload(len, 1), Ordering::Relaxed);
        self.sent_messages.fetch_add(1, Ordering::Relaxed);
        if let Some(socket) = self.socket.get() {
            socket.messages_sent(1);
        }
    }

    /// The attempt's stream was opened on the connection with this channelz entry.
    pub(crate) fn on_socket(&self, socket: Option<&Arc<SocketNode>>) {
        if let Some(socket) = socket {
            socket.stream_started();
            let _ = self.socket.set(socket.clone());
        }
    }

    /// The caller holds this attempt's response stream now: when the stream ends, the call does.
    pub(crate) fn ends_call(&self) {
        self.ends_call.store(true, Ordering::Release);
    }

    /// The response stream ended (or was dropped): `code` is how, if it ended with a status.
    pub(crate) fn received(&self, bytes: u64, messages: u64, code: Option<Code>, message: Option<&str>) {
        if self.finished.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(socket) = self.socket.get() {
            socket.messages_received(messages);
            // As grpc-go counts: a stream succeeded that ended with a status, its call with OK.
            socket.stream_ended(code.is_some(), code == Some(Code::Ok));
        }
        let code = code.unwrap_or_else(|| self.call.unseen_end());
        let sent_messages = self.sent_messages.load(Ordering::Relaxed);
        self.call.messages_sent.store(sent_messages, Ordering::Relaxed);
        self.call.messages_received.store(messages, Ordering::Relaxed);
        #[cfg(feature = "otel")]
        if let Some(metrics) = &self.call.metrics {
            let sent = self.sent_bytes.load(Ordering::Relaxed);
            metrics.attempt_ended(self.call.path, code, self.start.elapsed(), sent, bytes);
        }
        #[cfg(not(feature = "otel"))]
        let _ = bytes;
        if self.ends_call.load(Ordering::Acquire) {
            self.call.finish(code, message.unwrap_or(""));
        }
    }

    /// The attempt failed before it had a response stream (no connection could be picked).
    pub(crate) fn failed(&self, code: Code) {
        self.received(0, 0, Some(code), None);
    }
}

impl Drop for ClientAttempt {
    fn drop(&mut self) {
        self.received(0, 0, None, None);
    }
}
