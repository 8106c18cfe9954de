//! One call on the server: what generated services get ([`ServerCall`]) and the glue that runs a handler for
//! each of the four call kinds, enforcing the deadline, noticing cancellation and turning a panic into
//! `INTERNAL` instead of taking the connection down.

use std::future::{poll_fn, Future};
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use prost::Message;

use super::{runner, BoxFuture, Peer};
use crate::codec;
use crate::compression::Encoding;
use crate::interceptor::{Interceptors, MethodInfo, MethodKind};
use crate::metadata::MetadataMap;
use crate::observe::server::{Sent, ServerObserve, ServerObserver};
use crate::request::Request;
use crate::response::{Compression, Response};
use crate::status::Status;
use crate::streaming::{send_message_within, Streaming};
use crate::wire;

/// A boxed stream of response messages, what streaming handlers return.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Message size limits and encodings of a call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLimits {
    pub(crate) max_receive: usize,
    pub(crate) max_send: usize,
    /// The request's `grpc-encoding`, for messages flagged compressed.
    pub(crate) request_encoding: Option<Encoding>,
    /// What responses are compressed with by default: one the client accepts, or none.
    pub(crate) response_encoding: Option<Encoding>,
    /// What the client accepts, for a handler's own choice of compression.
    pub(crate) accepted: crate::compression::Accepted,
}

impl CallLimits {
    /// The encoding of a response: the handler's choice if it made one the client accepts, else the default.
    fn encoding_for(&self, choice: Compression) -> Option<Encoding> {
        match choice {
            Compression::ServerDefault => self.response_encoding,
            Compression::Off => None,
            Compression::With(encoding) => self.accepted.filter(Some(encoding)),
        }
    }
}

/// A call routed to a service: the request's stream and metadata, and the handle to answer it.
pub struct ServerCall {
    pub(crate) metadata: MetadataMap,
    pub(crate) body: h2::RecvStream,
    pub(crate) respond: h2::server::SendResponse<Bytes>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) peer: Peer,
    pub(crate) limits: CallLimits,
    /// The full name of the service the call was routed to.
    pub(crate) service: &'static str,
    /// The server's interceptors, if it has any.
    pub(crate) interceptors: Option<Arc<Interceptors>>,
    /// The connection's budget for incomplete request messages.
    pub(crate) budget: Arc<crate::budget::ReceiveBudget>,
    /// Trace propagation and metrics, when the server has either (spans need no setting).
    pub(crate) observe: Option<Arc<ServerObserve>>,
}

impl ServerCall {
    /// Answers with a status and no message (a trailers-only response).
    pub fn reply_status(mut self, status: Status) {
        send_trailers_only(&mut self.respond, &status);
    }

    /// Answers `UNIMPLEMENTED` for a method the service does not have.
    pub fn unimplemented_method(self, service: &str, method: &str) -> BoxFuture {
        // A66: calls to methods the server does not have are recorded under the method "other".
        if let Some(observer) = self.observer(None) {
            observer.finish(Sent::status(crate::status::Code::Unimplemented));
        }
        self.reply_status(Status::unimplemented(format!("unknown method {method} for service {service}")));
        Box::pin(std::future::ready(()))
    }

    /// The call's observer (`method` `None` for one the service does not have), or `None` when nothing
    /// observes.
    pub(super) fn observer(&self, method: Option<&'static str>) -> Option<Arc<ServerObserver>> {
        let traceparent = || self.metadata.get(crate::observe::trace_context::TRACEPARENT).map(str::as_bytes);
        let (peer, socket) = (self.peer.addr, self.peer.channelz.as_ref());
        let observer = ServerObserver::start(self.observe.as_deref(), self.service, method, peer, socket, traceparent)?;
        #[cfg(feature = "otel")]
        observer.started();
        Some(observer)
    }

    /// The chain and method when the server has interceptors of the kind `has` checks for.
    pub(super) fn chain(&self, method: &'static str, kind: MethodKind) -> Option<(Arc<Interceptors>, MethodInfo)> {
        Interceptors::for_call(self.interceptors.as_ref(), MethodInfo::new(self.service, method, kind))
    }

    pub(super) fn into_request_stream<Req: Message + Default>(
        self,
    ) -> (Request<Streaming<Req>>, h2::server::SendResponse<Bytes>, CallLimits, Option<Instant>) {
        let stream = Streaming::server(self.body, self.limits.max_receive, self.limits.request_encoding, self.budget);
        let mut request =
            Request::from_server(stream, self.metadata, self.deadline, self.peer.addr, self.peer.certificates);
        request.set_received_compression(self.limits.request_encoding);
        (request, self.respond, self.limits, self.deadline)
    }
}

/// Runs a unary handler: one request message in, one response message out. `method` is the method's
/// name, for interceptors.
pub fn unary<S, Req, Res, H, Fut>(call: ServerCall, method: &'static str, service: Arc<S>, handler: H) -> BoxFuture
where
    S: ?Sized + Send + Sync + 'static,
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    H: FnOnce(Arc<S>, Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
{
    runner::run::<runner::Unary, Req, Res, S, H, Fut>(call, method, service, handler)
}

/// Runs a server-streaming handler: one request message in, a stream of response messages out.
pub fn server_streaming<S, Req, Res, St, H, Fut>(
    call: ServerCall,
    method: &'static str,
    service: Arc<S>,
    handler: H,
) -> BoxFuture
where
    S: ?Sized + Send + Sync + 'static,
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    St: Stream<Item = Result<Res, Status>> + Send + 'static,
    H: FnOnce(Arc<S>, Request<Req>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<St>, Status>> + Send + 'static,
{
    runner::run::<runner::ServerStreaming<St>, Req, Res, S, H, Fut>(call, method, service, handler)
}

/// Runs a client-streaming handler: a stream of request messages in, one response message out.
pub fn client_streaming<S, Req, Res, H, Fut>(
    call: ServerCall,
    method: &'static str,
    service: Arc<S>,
    handler: H,
) -> BoxFuture
where
    S: ?Sized + Send + Sync + 'static,
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    H: FnOnce(Arc<S>, Request<Streaming<Req>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
{
    runner::run::<runner::ClientStreaming, Req, Res, S, H, Fut>(call, method, service, handler)
}

/// Runs a bidirectional-streaming handler: streams both ways.
pub fn streaming<S, Req, Res, St, H, Fut>(
    call: ServerCall,
    method: &'static str,
    service: Arc<S>,
    handler: H,
) -> BoxFuture
where
    S: ?Sized + Send + Sync + 'static,
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    St: Stream<Item = Result<Res, Status>> + Send + 'static,
    H: FnOnce(Arc<S>, Request<Streaming<Req>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<St>, Status>> + Send + 'static,
{
    runner::run::<runner::Bidi<St>, Req, Res, S, H, Fut>(call, method, service, handler)
}

/// Reads the one request message of a unary or server-streaming call.
pub(super) async fn read_single<Req: Message + Default>(
    mut request: Request<Streaming<Req>>,
) -> Result<Request<Req>, Status> {
    let message =
        request.get_mut().single("the request has no message", "a unary request has more than one message").await?;
    Ok(request.map(move |_| message))
}

/// How a supervised piece of a call ended.
pub(super) enum Outcome<T> {
    Done(T),
    /// The client reset the stream.
    Cancelled,
    DeadlineExceeded,
    /// The handler panicked; the message of the panic.
    Panicked(String),
}

/// Something that reports the client's RST_STREAM: the response handle before and after the headers.
pub(super) trait ResetWatch {
    fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

impl ResetWatch for h2::server::SendResponse<Bytes> {
    fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        h2::server::SendResponse::poll_reset(self, cx).map(|_| ())
    }
}

impl ResetWatch for h2::SendStream<Bytes> {
    fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        h2::SendStream::poll_reset(self, cx).map(|_| ())
    }
}

/// Polls `work` until it ends, the client cancels, the deadline passes, or it panics. Dropping `work` on
/// cancellation or expiry is how a handler learns of them, as with any Rust future.
pub(super) async fn supervise<F: Future>(
    work: F,
    watch: &mut impl ResetWatch,
    deadline: Option<Instant>,
) -> Outcome<F::Output> {
    let mut work = pin!(work);
    let mut sleep = pin!(deadline.map(|d| tokio::time::sleep_until(d.into())));
    poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => return Poll::Ready(Outcome::Done(output)),
            Ok(Poll::Pending) => {}
            Err(panic) => {
                return Poll::Ready(Outcome::Panicked(crate::interceptor::recovery::panic_message(panic.as_ref())))
            }
        }
        if watch.poll_reset(cx).is_ready() {
            return Poll::Ready(Outcome::Cancelled);
        }
        if let Some(sleep) = sleep.as_mut().as_pin_mut() {
            if sleep.poll(cx).is_ready() {
                return Poll::Ready(Outcome::DeadlineExceeded);
            }
        }
        Poll::Pending
    })
    .await
}

/// The status for a call that ended without a result; `None` when the client cancelled (nothing to send).
fn abnormal_status<T>(outcome: Outcome<T>) -> Option<Status> {
    match outcome {
        Outcome::Done(_) | Outcome::Cancelled => None,
        Outcome::DeadlineExceeded => Some(Status::deadline_exceeded("the call's deadline passed")),
        Outcome::Panicked(message) => {
            tracing::error!(panic = %message, "a handler panicked; the call fails with INTERNAL");
            Some(Status::internal("the handler panicked"))
        }
    }
}

/// Ends a call whose handler did not answer; what was sent.
pub(super) fn end_before_headers<T>(respond: &mut h2::server::SendResponse<Bytes>, outcome: Outcome<T>) -> Sent {
    match abnormal_status(outcome) {
        Some(status) => {
            send_trailers_only(respond, &status);
            Sent::status(status.code())
        }
        None => Sent::status(crate::status::Code::Cancelled),
    }
}

fn response_head(metadata: MetadataMap, encoding: Option<Encoding>) -> http::Response<()> {
    let mut head = http::Response::new(());
    *head.headers_mut() = metadata.into_headers();
    let headers = head.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(wire::CONTENT_TYPE));
    headers.insert(wire::GRPC_ACCEPT_ENCODING, http::HeaderValue::from_static(crate::compression::ACCEPT_ENCODING));
    if let Some(encoding) = encoding {
        headers.insert(wire::GRPC_ENCODING, http::HeaderValue::from_static(encoding.name()));
    }
    head
}

/// A trailers-only response: one HEADERS frame with the status, ending the stream.
pub(crate) fn send_trailers_only(respond: &mut h2::server::SendResponse<Bytes>, status: &Status) {
    let mut head = response_head(MetadataMap::new(), None);
    status.write_headers(head.headers_mut());
    // An error here means the client is gone; there is nobody left to tell.
    let _ = respond.send_response(head, true);
}

fn send_trailers(send: &mut h2::SendStream<Bytes>, status: &Status, metadata: MetadataMap) {
    let mut trailers = metadata.into_headers();
    status.write_headers(&mut trailers);
    let _ = send.send_trailers(trailers);
}

/// Headers, the message and the trailers. The message waits for flow control like a stream's (when the
/// window is open, as it nearly always is, all three are queued in one pass and written together): a
/// client that never opens its window must not make h2 hold every response it asked for, past the call's
/// deadline and its end.
pub(super) async fn send_unary<Res: Message>(
    mut respond: h2::server::SendResponse<Bytes>,
    response: Response<Res>,
    limits: CallLimits,
    deadline: Option<Instant>,
) -> Sent {
    let encoding = limits.encoding_for(response.compression());
    let (metadata, message, trailers) = response.into_parts();
    let data = match codec::encode_with(&message, limits.max_send, encoding) {
        Ok(data) => data,
        Err(status) => {
            send_trailers_only(&mut respond, &status);
            return Sent::status(status.code());
        }
    };
    let Ok(mut send) = respond.send_response(response_head(metadata, encoding), false) else {
        return Sent::status(crate::status::Code::Cancelled);
    };
    let len = data.len();
    // A reset by the client while this waits for window ends the wait with an error.
    match send_message_within(&mut send, data, false, deadline).await {
        Ok(()) => {
            send_trailers(&mut send, &Status::ok(), trailers);
            Sent { code: crate::status::Code::Ok, messages: 1, bytes: len }
        }
        Err(status) if status.code() == crate::status::Code::DeadlineExceeded => {
            send_trailers(&mut send, &status, MetadataMap::new());
            Sent::status(status.code())
        }
        Err(_) => Sent::status(crate::status::Code::Cancelled),
    }
}

/// Sends the response headers, then the messages as the stream yields them (those ready together in one
/// write, waiting for flow control), then the status: OK at the end, or the error the stream yielded.
pub(super) async fn stream_responses<Res, St>(
    respond: h2::server::SendResponse<Bytes>,
    response: Response<St>,
    limits: CallLimits,
    deadline: Option<Instant>,
) -> Sent
where
    Res: Message,
    St: Stream<Item = Result<Res, Status>>,
{
    // Cancelled unless a status goes out.
    let mut sent = Sent::status(crate::status::Code::Cancelled);
    send_stream_responses(respond, response, limits, deadline, &mut sent).await;
    sent
}

/// [`stream_responses`], leaving in `sent` what went out.
async fn send_stream_responses<Res, St>(
    mut respond: h2::server::SendResponse<Bytes>,
    response: Response<St>,
    limits: CallLimits,
    deadline: Option<Instant>,
    sent: &mut Sent,
) where
    Res: Message,
    St: Stream<Item = Result<Res, Status>>,
{
    let mut response = response;
    let encoding = limits.encoding_for(response.compression());
    let mut per_message = response.take_per_message();
    let (metadata, stream, mut trailers) = response.into_parts();
    let Ok(mut send) = respond.send_response(response_head(metadata, encoding), false) else {
        return;
    };
    let mut stream = pin!(stream);
    let mut batch = BytesMut::new();
    let mut index = 0usize;
    let mut encoded = 0u64;
    loop {
        // Every message the handler has ready goes into one write, up to BATCH_BYTES: h2's per-write work
        // (locks, capacity, a DATA frame) is then paid per batch, not per small message.
        let gathered = poll_fn(|cx| loop {
            let message = match stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => message,
                Poll::Ready(Some(Err(status))) => return Poll::Ready(Gathered::End(status, true)),
                Poll::Ready(None) => return Poll::Ready(Gathered::End(Status::ok(), true)),
                Poll::Pending if batch.is_empty() => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Gathered::Batch),
            };
            let compressed = encoding.filter(|_| per_message.as_mut().is_none_or(|choose| choose.compress(index)));
            index += 1;
            if let Err(status) = codec::encode_into(&message, limits.max_send, compressed, &mut batch) {
                return Poll::Ready(Gathered::End(status, false));
            }
            encoded += 1;
            if batch.len() >= BATCH_BYTES {
                return Poll::Ready(Gathered::Batch);
            }
        });
        let (end, data) = match supervise(gathered, &mut send, deadline).await {
            Outcome::Done(gathered) => (gathered, batch.split().freeze()),
            outcome => {
                if let Some(status) = abnormal_status(outcome) {
                    // A handler's stream that panicked after yielding messages: those go out first.
                    let data = batch.split().freeze();
                    let len = data.len();
                    if data.is_empty() || send_message_within(&mut send, data, false, deadline).await.is_ok() {
                        sent.bytes += len;
                        sent.messages = encoded;
                        sent.code = status.code();
                        send_trailers(&mut send, &status, MetadataMap::new());
                    }
                }
                return;
            }
        };
        if !data.is_empty() {
            let len = data.len();
            if let Err(status) = send_message_within(&mut send, data, false, deadline).await {
                if status.code() == crate::status::Code::DeadlineExceeded {
                    sent.code = status.code();
                    send_trailers(&mut send, &status, MetadataMap::new());
                }
                return;
            }
            sent.bytes += len;
            sent.messages = encoded;
        }
        match end {
            Gathered::Batch => {}
            // The handler's own trailers go with the status it ended with; a message that could not be
            // encoded ends the call without them.
            Gathered::End(status, handler) => {
                sent.code = status.code();
                let trailers = if handler { std::mem::take(&mut trailers) } else { MetadataMap::new() };
                return send_trailers(&mut send, &status, trailers);
            }
        }
    }
}

/// How many bytes of ready responses a server stream gathers into one write at most.
const BATCH_BYTES: usize = 32 * 1024;

/// What gathering a server stream's ready responses came to.
enum Gathered {
    /// Messages to send; the stream goes on.
    Batch,
    /// The stream ended with this status (after the batch is sent); `true` if the handler ended it, so its
    /// trailers go with it.
    End(Status, bool),
}
