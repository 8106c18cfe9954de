//! Messages over one HTTP/2 stream: [`Streaming`] decodes what arrives (on the client it also reads the
//! response headers and the trailing status), [`send_message`] writes with flow control.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use prost::Message;
use tokio::time::Sleep;

use crate::codec::{self, Decoder};
use crate::compression::Encoding;
use crate::metadata::MetadataMap;
use crate::status::{Code, Status};
use crate::wire;

/// A stream of received messages: the request stream of a server handler, or the response stream of a
/// client call. On the client it ends with the call's status: `Err(status)` unless it was OK.
pub struct Streaming<T> {
    state: State,
    decoder: Decoder,
    headers: Option<MetadataMap>,
    trailers: Option<MetadataMap>,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Set when interceptors run: the messages come through their wrapping of the stream instead.
    boxed: Option<Boxed<T>>,
    /// Client: counts the call as open on its connection while the stream lives (for keepalive).
    _active: Option<crate::keepalive::ActiveCall>,
    /// Client: response headers arrived (not a trailers-only response), which commits a retried call.
    got_headers: bool,
    /// The call's observer's view of this stream, when the call is observed.
    tap: Option<Box<crate::observe::StreamTap>>,
    /// Client: where the call's outcome is counted for outlier detection, until it is.
    outcome: Option<std::sync::Arc<dyn OutcomeSink>>,
    _message: PhantomData<fn() -> T>,
}

/// The messages of a call with interceptors, and where the real stream leaves its trailers when it ends.
struct Boxed<T> {
    stream: Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>,
    trailers: Option<TrailerSlot>,
}

/// Where a stream wrapped by interceptors leaves its trailers for the stream the caller holds.
pub(crate) type TrailerSlot = std::sync::Arc<std::sync::Mutex<Option<MetadataMap>>>;

enum State {
    /// Client: the response headers have not arrived.
    Headers(h2::client::ResponseFuture),
    /// Receiving messages; `true` on the client, where trailers follow.
    Body(h2::RecvStream, bool),
    /// Client: waiting for the trailers.
    Trailers(h2::RecvStream),
    /// Ended (dropping the h2 handles resets the stream if it was still open).
    Done,
}

impl<T> Unpin for Streaming<T> {}

impl<T: Message + Default> Streaming<T> {
    /// The request stream of a server call.
    pub(crate) fn server(
        body: h2::RecvStream,
        max_receive: usize,
        encoding: Option<Encoding>,
        budget: std::sync::Arc<crate::budget::ReceiveBudget>,
    ) -> Self {
        let mut stream = Streaming::with_state(State::Body(body, false), max_receive, None);
        stream.decoder.set_encoding(encoding);
        stream.decoder.set_budget(budget);
        stream
    }

    /// The response stream of a client call, from the moment the request headers were sent.
    /// `active` counts the call as open on its connection while the stream lives.
    pub(crate) fn client(
        response: h2::client::ResponseFuture,
        active: crate::keepalive::ActiveCall,
        max_receive: usize,
        deadline: Option<Instant>,
    ) -> Self {
        let mut stream = Streaming::with_state(State::Headers(response), max_receive, deadline);
        stream._active = Some(active);
        stream
    }

    fn with_state(state: State, max_receive: usize, deadline: Option<Instant>) -> Self {
        Streaming {
            state,
            decoder: Decoder::new(max_receive),
            headers: None,
            trailers: None,
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d.into()))),
            boxed: None,
            _active: None,
            got_headers: false,
            tap: None,
            outcome: None,
            _message: PhantomData,
        }
    }

    /// A stream of messages that come from `stream` (interceptors' wrapping of the real one); on the client
    /// the real stream leaves its trailers in `trailers` as it ends.
    pub(crate) fn from_stream(
        stream: impl Stream<Item = Result<T, Status>> + Send + 'static,
        trailers: Option<TrailerSlot>,
    ) -> Self {
        let mut streaming = Streaming::with_state(State::Done, usize::MAX, None);
        streaming.boxed = Some(Boxed { stream: Box::pin(stream), trailers });
        streaming
    }

    /// Counts this stream's messages and bytes for an observed call, and reports how it ended.
    pub(crate) fn observe(&mut self, sink: crate::observe::TapSink) {
        self.tap = Some(crate::observe::StreamTap::new(sink));
    }

    /// Wraps the stream so that it leaves its trailers in `slot` when it ends.
    pub(crate) fn tap_trailers(self, slot: TrailerSlot) -> TrailerTap<T> {
        TrailerTap { inner: self, slot }
    }

    /// The next message; `Ok(None)` at the end of an OK stream.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await.transpose()
    }

    /// The one message of a stream that must hold exactly one (a unary request, a unary or client-streaming
    /// response); `none` and `many` are the errors when it holds none or more.
    pub(crate) async fn single(&mut self, none: &'static str, many: &'static str) -> Result<T, Status> {
        let message = self.message().await?.ok_or_else(|| Status::internal(none))?;
        if self.message().await?.is_some() {
            return Err(Status::internal(many));
        }
        Ok(message)
    }

    /// Waits for the response headers (client side) and returns their metadata.
    pub async fn headers(&mut self) -> Result<&MetadataMap, Status> {
        std::future::poll_fn(|cx| self.poll_headers(cx)).await?;
        Ok(self.headers.get_or_insert_with(MetadataMap::new))
    }

    /// The metadata of the trailers, once the stream ended (client side).
    pub fn trailers(&self) -> Option<&MetadataMap> {
        self.trailers.as_ref()
    }

    /// The metadata of the response headers, once they arrived (client side).
    pub fn header_metadata(&self) -> Option<&MetadataMap> {
        self.headers.as_ref()
    }

    /// Whether response headers arrived (client side): after them a call is no longer retried.
    pub(crate) fn received_headers(&self) -> bool {
        self.got_headers
    }

    pub(crate) fn take_headers(&mut self) -> MetadataMap {
        self.headers.take().unwrap_or_default()
    }

    pub(crate) fn take_trailers(&mut self) -> MetadataMap {
        self.trailers.take().unwrap_or_default()
    }

    /// Polls until the response headers arrived; a trailers-only response ends the stream here.
    pub(crate) fn poll_headers(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        if let Err(status) = self.check_deadline(cx) {
            return Poll::Ready(Err(status));
        }
        let State::Headers(response) = &mut self.state else { return Poll::Ready(Ok(())) };
        let response = match Pin::new(response).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(error)) => return Poll::Ready(Err(self.fail(Status::from(error)))),
            Poll::Ready(Ok(response)) => response,
        };
        let (parts, body) = response.into_parts();
        if let Err(status) = check_response_head(&parts) {
            return Poll::Ready(Err(self.fail(status)));
        }
        if let Some(status) = Status::from_headers(&parts.headers) {
            // Trailers-only: the status is in the headers and there is no body.
            self.trailers = Some(MetadataMap::from_headers(parts.headers));
            self.state = State::Done;
            if let Some(tap) = &mut self.tap {
                tap.ended(&status);
            }
            self.outcome(status.code() == Code::Ok);
            return Poll::Ready(if status.code() == Code::Ok { Ok(()) } else { Err(status) });
        }
        if let Some(value) = parts.headers.get(wire::GRPC_ENCODING) {
            match Encoding::from_header(value.as_bytes()) {
                Ok(encoding) => self.decoder.set_encoding(encoding),
                Err(name) => {
                    let status = Status::internal(format!("the server used message encoding {name:?}, not offered"));
                    return Poll::Ready(Err(self.fail(status)));
                }
            }
        }
        self.headers = Some(MetadataMap::from_headers(parts.headers));
        self.got_headers = true;
        self.state = State::Body(body, true);
        Poll::Ready(Ok(()))
    }

    fn check_deadline(&mut self, cx: &mut Context<'_>) -> Result<(), Status> {
        let expired = self.deadline.as_mut().is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if expired {
            self.deadline = None;
            return Err(self.fail(Status::deadline_exceeded("deadline exceeded while waiting for the response")));
        }
        Ok(())
    }

    /// Ends the stream with an error; dropping the h2 handles resets the HTTP/2 stream.
    /// Counts the call's outcome on its backend (outlier detection) with every later call of its kind.
    pub(crate) fn count_outcome(&mut self, outcomes: std::sync::Arc<dyn OutcomeSink>) {
        self.outcome = Some(outcomes);
    }

    /// The call ended (`ok`: with status OK): counted once, with its trailers (their load report).
    fn outcome(&mut self, ok: bool) {
        if let Some(outcomes) = self.outcome.take() {
            outcomes.record(ok, self.trailers.as_ref());
        }
    }

    fn fail(&mut self, status: Status) -> Status {
        self.outcome(false);
        self.state = State::Done;
        if let Some(tap) = &mut self.tap {
            tap.ended(&status);
        }
        // Whatever is left (a bad prefix, messages after a bad one) must not be yielded: after an error
        // the stream only ends.
        self.decoder.clear();
        status
    }
}

impl<T: Message + Default> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // Unobserved, the item goes straight to the caller (no move through here: it is not small).
        if this.tap.is_none() {
            return this.poll_message(cx);
        }
        let item = std::task::ready!(this.poll_message(cx));
        if let Some(tap) = &mut this.tap {
            match &item {
                Some(Ok(_)) => tap.message(),
                Some(Err(status)) => {
                    tap.ended(status);
                    tap.report();
                }
                None => {
                    tap.ended_ok();
                    tap.report();
                }
            }
        }
        Poll::Ready(item)
    }
}

impl<T: Message + Default> Streaming<T> {
    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Status>>> {
        let this = self;
        if let Some(boxed) = this.boxed.as_mut() {
            let item = std::task::ready!(boxed.stream.as_mut().poll_next(cx));
            if !matches!(item, Some(Ok(_))) {
                if let Some(slot) = &boxed.trailers {
                    this.trailers = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                }
            }
            return Poll::Ready(item);
        }
        loop {
            match this.decoder.next_message() {
                Ok(Some(bytes)) => return Poll::Ready(Some(codec::decode(bytes).map_err(|s| this.fail(s)))),
                Ok(None) => {}
                Err(status) => return Poll::Ready(Some(Err(this.fail(status)))),
            }
            if let Err(status) = this.check_deadline(cx) {
                return Poll::Ready(Some(Err(status)));
            }
            match &mut this.state {
                State::Headers(_) => match this.poll_headers(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(status)) => return Poll::Ready(Some(Err(status))),
                    Poll::Ready(Ok(())) => {}
                },
                State::Body(body, client) => match body.poll_data(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(chunk))) => {
                        // Bounded: the decoder refuses a message over the limit as soon as its prefix arrives.
                        let _ = body.flow_control().release_capacity(chunk.len());
                        if let Some(tap) = &mut this.tap {
                            tap.chunk(chunk.len());
                        }
                        this.decoder.push(&chunk);
                    }
                    Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(this.fail(Status::from(error))))),
                    Poll::Ready(None) => {
                        if let Err(status) = this.decoder.finish() {
                            return Poll::Ready(Some(Err(this.fail(status))));
                        }
                        let client = *client;
                        let State::Body(body, _) = std::mem::replace(&mut this.state, State::Done) else {
                            unreachable!("matched above")
                        };
                        if !client {
                            return Poll::Ready(None);
                        }
                        this.state = State::Trailers(body);
                    }
                },
                State::Trailers(body) => {
                    let trailers = match body.poll_trailers(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(this.fail(Status::from(error))))),
                        Poll::Ready(Ok(None)) => {
                            return Poll::Ready(Some(Err(
                                this.fail(Status::internal("the response ended without trailers"))
                            )))
                        }
                        Poll::Ready(Ok(Some(trailers))) => trailers,
                    };
                    this.state = State::Done;
                    let status = Status::from_headers(&trailers)
                        .unwrap_or_else(|| Status::internal("the trailers have no grpc-status"));
                    this.trailers = Some(MetadataMap::from_headers(trailers));
                    this.outcome(status.code() == Code::Ok);
                    return Poll::Ready(if status.code() == Code::Ok { None } else { Some(Err(status)) });
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

impl<T> std::fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streaming").field("headers", &self.headers).field("trailers", &self.trailers).finish()
    }
}

/// A client's response stream that leaves its trailers in a [`TrailerSlot`] when it ends, for the
/// stream the caller holds after interceptors wrapped this one.
pub(crate) struct TrailerTap<T> {
    inner: Streaming<T>,
    slot: TrailerSlot,
}

impl<T: Message + Default> Stream for TrailerTap<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = std::task::ready!(Pin::new(&mut this.inner).poll_next(cx));
        if !matches!(item, Some(Ok(_))) {
            *this.slot.lock().unwrap_or_else(|e| e.into_inner()) = this.inner.trailers.take();
        }
        Poll::Ready(item)
    }
}

/// Checks a response is gRPC: HTTP 200 and a gRPC content type; otherwise the status the spec derives from
/// the HTTP status.
fn check_response_head(parts: &http::response::Parts) -> Result<(), Status> {
    if parts.status != http::StatusCode::OK {
        let code = Code::from_http_status(parts.status);
        return Err(Status::new(code, format!("the server answered with HTTP status {}", parts.status)));
    }
    let content_type = parts.headers.get(http::header::CONTENT_TYPE).map(|v| v.as_bytes()).unwrap_or_default();
    if !content_type.starts_with(wire::CONTENT_TYPE_PREFIX.as_bytes()) {
        return Err(Status::unknown(format!(
            "the response is not gRPC (content-type {:?})",
            String::from_utf8_lossy(content_type)
        )));
    }
    Ok(())
}

/// Sends bytes, waiting for flow-control capacity, so that a peer that does not read bounds our buffering
/// to one message.
pub(crate) async fn send_message(
    send: &mut h2::SendStream<Bytes>,
    data: Bytes,
    end_of_stream: bool,
) -> Result<(), Status> {
    send_counted(send, data, end_of_stream, &mut 0).await
}

/// [`send_message`] within a deadline. When the deadline passes first, the stream is reset if part of the
/// message was handed to h2 already (a truncated message must not be followed by trailers, and what h2
/// holds would wait for a window that may never open); the `DEADLINE_EXCEEDED` returned is for the caller
/// to send as trailers otherwise.
pub(crate) async fn send_message_within(
    send: &mut h2::SendStream<Bytes>,
    data: Bytes,
    end_of_stream: bool,
    deadline: Option<Instant>,
) -> Result<(), Status> {
    let Some(deadline) = deadline else { return send_message(send, data, end_of_stream).await };
    let mut handed = 0;
    let sent = tokio::time::timeout_at(deadline.into(), send_counted(send, data, end_of_stream, &mut handed)).await;
    sent.unwrap_or_else(|_| {
        if handed > 0 {
            send.send_reset(h2::Reason::CANCEL);
        }
        Err(Status::deadline_exceeded("the call's deadline passed while sending"))
    })
}

/// Sends `data` as flow control allows, counting in `handed` what h2 took.
async fn send_counted(
    send: &mut h2::SendStream<Bytes>,
    mut data: Bytes,
    end_of_stream: bool,
    handed: &mut usize,
) -> Result<(), Status> {
    if data.is_empty() && end_of_stream {
        return send.send_data(data, true).map_err(Status::from);
    }
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let capacity = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(capacity)) => capacity,
            Some(Err(error)) => return Err(Status::from(error)),
            None => return Err(Status::unavailable("the stream closed while sending")),
        };
        if capacity == 0 {
            continue;
        }
        let chunk = data.split_to(capacity.min(data.len()));
        *handed += chunk.len();
        send.send_data(chunk, end_of_stream && data.is_empty()).map_err(Status::from)?;
    }
    Ok(())
}

/// Where a client call's outcome is counted when it ends (outlier detection's per-backend counts, weighted
/// round robin's load reports). A trait here, implemented by the client, so that this module does not
/// depend on the client's.
pub(crate) trait OutcomeSink: Send + Sync {
    /// Counts one call's end: `ok` when its status was OK; `trailers` when it ended with some.
    fn record(&self, ok: bool, trailers: Option<&MetadataMap>);
}
