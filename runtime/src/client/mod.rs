//! The client side: a [`Channel`] and the four call kinds that generated clients use. A call's deadline is
//! sent as `grpc-timeout` and enforced here too; dropping a call resets its stream (the server sees it
//! cancelled).

mod cancel;
mod channel;
mod credentials;
mod request_queue;
pub mod resolver;
mod retry;
pub mod service_config;
mod subchannel;
mod target;

use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use prost::Message;

pub use cancel::{cancellable, Canceller};
pub use channel::{Channel, ChannelBuilder};
pub use credentials::{CallCredentials, CallInfo, Credentials, MetadataFuture};
pub use resolver::{register_resolver, Address, Refresh, Resolution, Resolutions, Resolver};
pub use service_config::{LoadBalancing, ServiceConfig, ServiceConfigError};
pub use subchannel::ConnectBackoff;
pub use target::TargetUri;

use crate::codec;
use crate::compression::Encoding;
use crate::interceptor::{run, Interceptors, MessageStream, MethodInfo, MethodKind};
use crate::metadata::MetadataMap;
use crate::request::Request;
use crate::response::Response;
use crate::status::Status;
use crate::streaming::TrailerSlot;
use crate::streaming::{send_message, Streaming};
use crate::{timeout, wire};
use request_queue::{request_queue, Inbox, Next, Outbox};
use retry::{Commit, Failed, Throttle};
use service_config::{HedgingPolicy, RetryPolicy};

/// What generated clients hold: the channel their calls go through.
#[derive(Clone, Debug)]
pub struct Client {
    channel: Channel,
}

impl Client {
    /// A client on `channel`.
    pub fn new(channel: Channel) -> Self {
        Client { channel }
    }

    /// The channel.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// A unary call: `path` is `/package.Service/Method`.
    pub async fn unary<Req, Res>(&self, path: &'static str, request: Request<Req>) -> Result<Response<Res>, Status>
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
    {
        let Some((chain, method)) = self.chain(path, MethodKind::Unary) else {
            return self.unary_call(path, request).await;
        };
        let client = self.clone();
        let last = move |request| async move { client.unary_call(path, request).await };
        within(request.deadline(), run::unary(chain, method, request, last)).await
    }

    /// A server-streaming call: one request, a stream of responses (which ends with the call's status).
    pub async fn server_streaming<Req, Res>(
        &self,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Response<Streaming<Res>>, Status>
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
    {
        let Some((chain, method)) = self.chain(path, MethodKind::ServerStreaming) else {
            return self.server_streaming_call(path, request).await;
        };
        let client = self.clone();
        let slot = TrailerSlot::default();
        let tap = slot.clone();
        let last = move |mut request: Request<MessageStream>| async move {
            let stream = std::mem::replace(request.get_mut(), MessageStream::empty());
            let message = run::single::<Req>(stream, method, "request").await?;
            let response = client.server_streaming_call::<Req, Res>(path, request.map(|_| message)).await?;
            Ok(response.map(|stream| MessageStream::from_typed(stream.tap_trailers(tap))))
        };
        let deadline = request.deadline();
        let request = request.map(|message| MessageStream::once(run::boxed(message)));
        let response = within(deadline, run::stream(chain, method, request, last)).await?;
        Ok(response.map(|stream| Streaming::from_stream(stream.into_typed::<Res>(method), Some(slot))))
    }

    /// A client-streaming call: the request stream is sent as it yields, then the one response is read.
    pub async fn client_streaming<Req, Res, S>(
        &self,
        path: &'static str,
        request: Request<S>,
    ) -> Result<Response<Res>, Status>
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
        S: Stream<Item = Req> + Send + 'static,
    {
        let Some((chain, method)) = self.chain(path, MethodKind::ClientStreaming) else {
            return self.client_streaming_call(path, request.map(|messages| messages.map(Ok))).await;
        };
        let client = self.clone();
        let last = move |request: Request<MessageStream>| async move {
            let request = request.map(|stream| stream.into_typed::<Req>(method));
            let response = client.client_streaming_call::<Req, Res, _>(path, request).await?;
            Ok(response.map(|message| MessageStream::once(run::boxed(message))))
        };
        let deadline = request.deadline();
        let request = request.map(|messages| MessageStream::new(messages.map(|message| Ok(run::boxed(message)))));
        let mut response = within(deadline, run::stream(chain, method, request, last)).await?;
        let stream = std::mem::replace(response.get_mut(), MessageStream::empty());
        let message = run::single::<Res>(stream, method, "response").await?;
        Ok(response.map(|_| message))
    }

    /// A bidirectional-streaming call: a sender for requests and the stream of responses.
    /// [`Sender::close`] ends the request stream; dropping the sender without closing it cancels the call
    /// (so a server never takes a stream the caller gave up on for a complete one), and so does dropping
    /// the response stream and the sender.
    pub async fn streaming<Req, Res>(
        &self,
        path: &'static str,
        request: Request<()>,
    ) -> Result<(Sender<Req>, Streaming<Res>), Status>
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
    {
        let Some((chain, method)) = self.chain(path, MethodKind::BidiStreaming) else {
            return self.streaming_call(path, request).await;
        };
        // The caller's sender feeds the interceptors' request stream; a task sends what comes out of it.
        let (queue, queued) = request_queue();
        // A sender dropped without closing ends the interceptors' stream with an error, which cancels the call.
        let outgoing = futures_util::stream::unfold(Some(queued), |queued| async move {
            let mut queued = queued?;
            match queued.next().await {
                Next::Message(message) => Some((Ok(message), Some(queued))),
                Next::Closed => None,
                Next::Abandoned => Some((Err(abandoned()), None)),
            }
        });
        let client = self.clone();
        let slot = TrailerSlot::default();
        let tap = slot.clone();
        let last = move |request: Request<MessageStream>| async move {
            let (request, outgoing) = split_messages(request);
            let (sender, responses) = client.streaming_call::<Req, Res>(path, request).await?;
            tokio::spawn(pump(sender, outgoing.into_typed::<Req>(method)));
            Ok(Response::new(MessageStream::from_typed(responses.tap_trailers(tap))))
        };
        let deadline = request.deadline();
        let request = request.map(|()| MessageStream::new(outgoing));
        let response = within(deadline, run::stream(chain, method, request, last)).await?;
        let sender =
            Sender { send: None, queue: Some(queue), max_send: 0, encoding: None, deadline, _message: PhantomData };
        Ok((sender, Streaming::from_stream(response.into_inner().into_typed::<Res>(method), Some(slot))))
    }

    /// The interceptor chain for a call of `kind`, if the channel has interceptors of that kind.
    fn chain(&self, path: &'static str, kind: MethodKind) -> Option<(Arc<Interceptors>, MethodInfo)> {
        let chain = self.channel.config().interceptors.as_ref()?;
        let has = if kind == MethodKind::Unary { chain.has_unary() } else { chain.has_stream() };
        has.then(|| (chain.clone(), MethodInfo::from_path(path, kind)))
    }

    async fn unary_call<Req, Res>(&self, path: &'static str, request: Request<Req>) -> Result<Response<Res>, Status>
    where
        Req: Message,
        Res: Message + Default,
    {
        self.channel.first_resolution(request.deadline()).await;
        let (call, message) = self.parts(path, request);
        let deadline = call.deadline;
        within(deadline, under_policy(call, |call, commit| self.unary_attempt(path, call, &message, commit))).await
    }

    async fn unary_attempt<Req, Res>(
        &self,
        path: &'static str,
        call: CallParts,
        message: &Req,
        commit: Commit,
    ) -> Result<Response<Res>, Failed>
    where
        Req: Message,
        Res: Message + Default,
    {
        let max_receive = call.max_receive;
        let (response, sent) = self.send_single(path, call, message).await?;
        let mut stream = Streaming::<Res>::client(response, max_receive, None);
        let headers = std::future::poll_fn(|cx| stream.poll_headers(cx)).await;
        if headers.is_ok() && stream.received_headers() {
            // Response headers: this attempt is the call now (a hedged call stops the others).
            commit.commit();
        }
        let result = match headers {
            Ok(()) => read_single(&mut stream).await,
            Err(status) => Err(status),
        };
        let result = prefer_response_status(result, sent);
        result.map_err(|status| Failed { status, committed: stream.received_headers() })
    }

    async fn server_streaming_call<Req, Res>(
        &self,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Response<Streaming<Res>>, Status>
    where
        Req: Message,
        Res: Message + Default,
    {
        self.channel.first_resolution(request.deadline()).await;
        let (call, message) = self.parts(path, request);
        let deadline = call.deadline;
        // An attempt ends when the response headers arrive: then the call is committed to it.
        within(deadline, under_policy(call, |call, _commit| self.server_streaming_attempt(path, call, &message))).await
    }

    async fn server_streaming_attempt<Req, Res>(
        &self,
        path: &'static str,
        call: CallParts,
        message: &Req,
    ) -> Result<Response<Streaming<Res>>, Failed>
    where
        Req: Message,
        Res: Message + Default,
    {
        let (deadline, max_receive) = (call.deadline, call.max_receive);
        let (response, sent) = self.send_single(path, call, message).await?;
        let mut stream = Streaming::<Res>::client(response, max_receive, deadline);
        let headers = std::future::poll_fn(|cx| stream.poll_headers(cx)).await;
        prefer_response_status(headers, sent)
            .map_err(|status| Failed { status, committed: stream.received_headers() })?;
        let headers = stream.take_headers();
        Ok(Response::from_parts(headers, stream, MetadataMap::new()))
    }

    /// The client-streaming call; an error in the request stream (an interceptor's) cancels the call and is
    /// its result. Under a retry policy the messages sent are kept (up to the retry buffer) for the next
    /// attempt; hedging does not apply to client streams.
    async fn client_streaming_call<Req, Res, S>(
        &self,
        path: &'static str,
        request: Request<S>,
    ) -> Result<Response<Res>, Status>
    where
        Req: Message,
        Res: Message + Default,
        S: Stream<Item = Result<Req, Status>> + Send,
    {
        self.channel.first_resolution(request.deadline()).await;
        let (call, messages) = self.parts(path, request);
        let buffer_limit = match &call.policy {
            Policy::Retry(..) => self.channel.config().retry_buffer,
            Policy::None(_) | Policy::Hedge(..) => 0,
        };
        let mut replay = Replay { source: Box::pin(messages), kept: Kept::new(buffer_limit) };
        within(call.deadline, async {
            match &call.policy {
                Policy::Retry(policy, throttle) => {
                    // Attempts run one after another; the lock only lets each borrow the replay in turn.
                    let replay = tokio::sync::Mutex::new(&mut replay);
                    let attempt = |call: CallParts, _commit| {
                        let replay = &replay;
                        async move {
                            let mut replay = replay.lock().await;
                            self.client_streaming_attempt(path, call, &mut replay).await
                        }
                    };
                    retry::with_retries(policy, throttle.as_deref(), &call, attempt).await
                }
                _ => {
                    self.client_streaming_attempt(path, call.clone(), &mut replay).await.map_err(|failed| failed.status)
                }
            }
        })
        .await
    }

    async fn client_streaming_attempt<Req, Res, S>(
        &self,
        path: &'static str,
        call: CallParts,
        replay: &mut Replay<S>,
    ) -> Result<Response<Res>, Failed>
    where
        Req: Message,
        Res: Message + Default,
        S: Stream<Item = Result<Req, Status>> + Send,
    {
        let (encoding, max_send, max_receive) = (call.encoding, call.max_send, call.max_receive);
        let (response, mut send) = self.start(path, call).await.map_err(Failed::uncommitted)?;
        let sent: Result<(), Status> = async {
            for data in &replay.kept.sent {
                send_message(&mut send, data.clone(), false).await?;
            }
            while let Some(message) = std::future::poll_fn(|cx| replay.source.as_mut().poll_next(cx)).await {
                let message = match message {
                    Ok(message) => message,
                    Err(status) => {
                        send.send_reset(h2::Reason::CANCEL);
                        replay.kept.overflowed = true;
                        return Err(status);
                    }
                };
                let data = match codec::encode_with(&message, max_send, encoding) {
                    Ok(data) => data,
                    Err(status) => {
                        // The server is still waiting for messages: end the call for it too.
                        send.send_reset(h2::Reason::CANCEL);
                        replay.kept.overflowed = true;
                        return Err(status);
                    }
                };
                replay.kept.keep(&data);
                send_message(&mut send, data, false).await?;
            }
            send_message(&mut send, Bytes::new(), true).await
        }
        .await;
        let mut stream = Streaming::<Res>::client(response, max_receive, None);
        let result = match sent {
            Ok(()) => read_single(&mut stream).await,
            // The server may have answered (and reset the stream) before reading everything: its status
            // says why; a local error (an oversized message) is reported as is.
            Err(error) => match read_single(&mut stream).await {
                Err(status) if status.code() != crate::Code::Cancelled => Err(status),
                _ => Err(error),
            },
        };
        // Messages that were sent but not kept cannot be sent again.
        let committed = stream.received_headers() || replay.kept.overflowed;
        result.map_err(|status| Failed { status, committed })
    }

    async fn streaming_call<Req, Res>(
        &self,
        path: &'static str,
        request: Request<()>,
    ) -> Result<(Sender<Req>, Streaming<Res>), Status>
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
    {
        self.channel.first_resolution(request.deadline()).await;
        let (call, ()) = self.parts(path, request);
        if let Policy::Retry(policy, throttle) = call.policy.clone() {
            return Ok(self.retried_streaming(path, call, policy, throttle));
        }
        let (deadline, encoding, max_send, max_receive) =
            (call.deadline, call.encoding, call.max_send, call.max_receive);
        let (response, send) = within(deadline, self.start(path, call)).await?;
        let sender = Sender { send: Some(send), queue: None, max_send, encoding, deadline, _message: PhantomData };
        Ok((sender, Streaming::client(response, max_receive, deadline)))
    }

    /// A bidirectional call under a retry policy: the caller's messages go through a queue to a task that
    /// runs the attempts, keeps what was sent (up to the retry buffer) to send again, and hands the
    /// responses of the attempt that got response headers (the committed one) to the caller.
    fn retried_streaming<Req, Res>(
        &self,
        path: &'static str,
        call: CallParts,
        policy: Arc<RetryPolicy>,
        throttle: Option<Arc<Throttle>>,
    ) -> (Sender<Req>, Streaming<Res>)
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
    {
        let (queue, queued) = request_queue();
        let (mut committed, responses) = tokio::sync::oneshot::channel::<Result<Streaming<Res>, Status>>();
        let deadline = call.deadline;
        let client = self.clone();
        tokio::spawn(async move {
            let outcome =
                within(deadline, client.drive_retried_streaming::<Req, Res>(path, call, policy, throttle, queued));
            // A caller that dropped the response stream will read no outcome: stop the attempts (and their
            // backoff waits) rather than run them for nobody.
            tokio::select! {
                outcome = outcome => { let _ = committed.send(outcome); }
                () = committed.closed() => {}
            }
        });
        let slot = TrailerSlot::default();
        let tap = slot.clone();
        let responses = futures_util::stream::once(async move {
            match responses.await {
                Ok(Ok(stream)) => stream.tap_trailers(tap).left_stream(),
                Ok(Err(status)) => futures_util::stream::iter([Err(status)]).right_stream(),
                Err(_) => futures_util::stream::iter([Err(Status::cancelled("the call's task ended"))]).right_stream(),
            }
        })
        .flatten();
        let sender =
            Sender { send: None, queue: Some(queue), max_send: 0, encoding: None, deadline, _message: PhantomData };
        (sender, Streaming::from_stream(responses, Some(slot)))
    }

    /// The attempts of a retried bidirectional call; once one is committed, the rest of the caller's
    /// messages are sent on it from a task, and its responses are returned.
    async fn drive_retried_streaming<Req, Res>(
        &self,
        path: &'static str,
        call: CallParts,
        policy: Arc<RetryPolicy>,
        throttle: Option<Arc<Throttle>>,
        queued: Inbox,
    ) -> Result<Streaming<Res>, Status>
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
    {
        let limit = self.channel.config().retry_buffer;
        let state = tokio::sync::Mutex::new(BidiReplay { queued, kept: Kept::new(limit), ended: false });
        let attempt = |call: CallParts, _commit| {
            let state = &state;
            async move {
                let mut state = state.lock().await;
                self.bidi_attempt::<Req, Res>(path, call, &mut state).await
            }
        };
        let (mut send, responses) = retry::with_retries(&policy, throttle.as_deref(), &call, attempt).await?;
        let mut state = state.into_inner();
        let (max_send, encoding) = (call.max_send, call.encoding);
        if !state.ended {
            tokio::spawn(async move {
                loop {
                    let message = match state.queued.next().await {
                        Next::Message(message) => message,
                        Next::Closed => return drop(send.send_data(Bytes::new(), true)),
                        Next::Abandoned => return send.send_reset(h2::Reason::CANCEL),
                    };
                    let Ok(message) = crate::interceptor::downcast::<Req>(message) else { continue };
                    let Ok(data) = codec::encode_with(&message, max_send, encoding) else {
                        send.send_reset(h2::Reason::CANCEL);
                        return;
                    };
                    if send_message(&mut send, data, false).await.is_err() {
                        return;
                    }
                }
            });
        }
        Ok(responses)
    }

    /// One attempt of a retried bidirectional call: replays what was sent, forwards new messages, until the
    /// response headers arrive (committed) or the attempt fails before them.
    async fn bidi_attempt<Req, Res>(
        &self,
        path: &'static str,
        call: CallParts,
        state: &mut BidiReplay,
    ) -> Result<(h2::SendStream<Bytes>, Streaming<Res>), Failed>
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
    {
        let (deadline, encoding, max_send, max_receive) =
            (call.deadline, call.encoding, call.max_send, call.max_receive);
        let (opened, mut send) = self.start(path, call).await.map_err(Failed::uncommitted)?;
        let mut responses = Streaming::<Res>::client(opened, max_receive, deadline);
        let mut sending = true;
        for data in &state.kept.sent {
            if send_message(&mut send, data.clone(), false).await.is_err() {
                sending = false;
                break;
            }
        }
        if sending && state.ended {
            let _ = send.send_data(Bytes::new(), true);
            sending = false;
        }
        loop {
            tokio::select! {
                headers = std::future::poll_fn(|cx| responses.poll_headers(cx)) => {
                    return match headers {
                        Ok(()) => Ok((send, responses)),
                        // Messages sent but not kept cannot be sent again.
                        Err(status) => {
                            Err(Failed { status, committed: responses.received_headers() || state.kept.overflowed })
                        }
                    };
                }
                next = state.queued.next(), if sending => match next {
                    Next::Message(message) => {
                        let Ok(message) = crate::interceptor::downcast::<Req>(message) else { continue };
                        let data = match codec::encode_with(&message, max_send, encoding) {
                            Ok(data) => data,
                            Err(status) => {
                                send.send_reset(h2::Reason::CANCEL);
                                return Err(Failed::committed(status));
                            }
                        };
                        state.kept.keep(&data);
                        if send_message(&mut send, data, false).await.is_err() {
                            // The server's answer (awaited above) says why.
                            sending = false;
                        }
                    }
                    Next::Closed => {
                        state.ended = true;
                        sending = false;
                        let _ = send.send_data(Bytes::new(), true);
                    }
                    // Never replayed or ended as complete: the caller gave up on the call.
                    Next::Abandoned => {
                        send.send_reset(h2::Reason::CANCEL);
                        return Err(Failed::committed(abandoned()));
                    }
                },
            }
        }
    }

    /// Splits a request into its message and what the call sends besides: the channel's compression unless
    /// the call chose its own, and the service config's settings for the method (its timeout shortens the
    /// deadline, its message limits lower the channel's, its waitForReady applies unless the call chose).
    fn parts<T>(&self, path: &str, request: Request<T>) -> (CallParts, T) {
        let config = self.channel.config();
        let encoding = request.compression().or(config.send_compressed);
        let wait_for_ready = request.wait_for_ready();
        let (metadata, message, mut deadline, credentials) = request.into_client_parts();
        let mut call = CallParts {
            metadata,
            deadline,
            credentials,
            encoding,
            wait_for_ready: wait_for_ready.unwrap_or(false),
            max_send: config.max_send_message_size,
            max_receive: config.max_receive_message_size,
            policy: Policy::None(None),
        };
        if let Some((service_config, throttle)) = self.channel.service_config() {
            call.policy = Policy::None(throttle.clone());
            let (service, method) = path.strip_prefix('/').and_then(|p| p.split_once('/')).unwrap_or(("", path));
            if let Some(method) = service_config.method(service, method) {
                if let Some(timeout) = method.timeout.and_then(|t| Instant::now().checked_add(t)) {
                    deadline = Some(deadline.map_or(timeout, |d| d.min(timeout)));
                    call.deadline = deadline;
                }
                call.wait_for_ready = wait_for_ready.or(method.wait_for_ready).unwrap_or(false);
                call.max_send = call.max_send.min(method.max_request_message_bytes.unwrap_or(usize::MAX));
                call.max_receive = call.max_receive.min(method.max_response_message_bytes.unwrap_or(usize::MAX));
                if config.retries {
                    if let Some(retry) = &method.retry {
                        call.policy = Policy::Retry(Arc::new(retry.clone()), throttle);
                    } else if let Some(hedging) = &method.hedging {
                        call.policy = Policy::Hedge(Arc::new(hedging.clone()), throttle);
                    }
                }
            }
        }
        (call, message)
    }

    /// Opens the stream of a call with one request message, sends it and ends the request side. The send
    /// result is returned, not raised: the server's answer may explain a failed send better.
    async fn send_single<Req: Message>(
        &self,
        path: &'static str,
        call: CallParts,
        message: &Req,
    ) -> Result<(Opened, Result<(), h2::Error>), Failed> {
        // A message that cannot be sent (too large) fails the same way every time: not worth a retry.
        let data = codec::encode_with(message, call.max_send, call.encoding).map_err(Failed::committed)?;
        let (response, mut send) = self.start(path, call).await.map_err(Failed::uncommitted)?;
        Ok((response, send.send_data(data, true)))
    }

    /// Opens the stream: request headers with metadata and timeout.
    async fn start(&self, path: &'static str, call: CallParts) -> Result<(Opened, h2::SendStream<Bytes>), Status> {
        let CallParts { metadata, deadline, credentials, encoding, wait_for_ready, .. } = call;
        let mut head = http::Request::new(());
        *head.method_mut() = http::Method::POST;
        let mut uri = http::uri::Parts::default();
        uri.scheme = Some(if self.channel.is_tls() { http::uri::Scheme::HTTPS } else { http::uri::Scheme::HTTP });
        uri.authority = Some(self.channel.authority().clone());
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static(path));
        *head.uri_mut() =
            http::Uri::from_parts(uri).map_err(|e| Status::internal(format!("bad method path {path}: {e}")))?;
        let headers = head.headers_mut();
        *headers = metadata.into_headers();
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(wire::CONTENT_TYPE));
        headers.insert(wire::TE, http::HeaderValue::from_static(wire::TE_TRAILERS));
        headers.insert(http::header::USER_AGENT, self.channel.config().user_agent.clone());
        headers.insert(wire::GRPC_ACCEPT_ENCODING, http::HeaderValue::from_static(crate::compression::ACCEPT_ENCODING));
        if let Some(encoding) = encoding {
            headers.insert(wire::GRPC_ENCODING, http::HeaderValue::from_static(encoding.name()));
        }
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Status::deadline_exceeded("the deadline passed before the call started"));
            }
            let value = http::HeaderValue::from_str(&timeout::encode(left)).expect("timeouts are ASCII");
            headers.insert(wire::GRPC_TIMEOUT, value);
        }
        if let Some(credentials) = credentials.as_ref().or(self.channel.config().credentials.as_ref()) {
            let call = CallInfo { authority: self.channel.authority().to_string(), method: path };
            credentials.apply(&call, self.channel.is_tls(), head.headers_mut()).await?;
        }
        let (parts, ()) = head.into_parts();
        let mut attempts_left = 3;
        loop {
            let (mut send_request, calls) = self.channel.pick(wait_for_ready).await?;
            let mut head = http::Request::new(());
            *head.method_mut() = http::Method::POST;
            *head.uri_mut() = parts.uri.clone();
            *head.headers_mut() = parts.headers.clone();
            match send_request.send_request(head, false) {
                Ok((response, send)) => return Ok((Opened { response, active: calls.enter() }, send)),
                // Refused before anything was sent (the connection received GOAWAY meanwhile): nothing reached
                // the server, so another connection may take the call (gRPC's transparent retry).
                Err(error) if attempts_left > 1 => {
                    tracing::debug!(%error, "the connection refused a new stream; picking again");
                    attempts_left -= 1;
                }
                Err(error) => return Err(Status::from_h2(&error)),
            }
        }
    }
}

/// A call's stream, opened: the response to come and the call's place in its connection's count.
pub(crate) struct Opened {
    pub(crate) response: h2::client::ResponseFuture,
    pub(crate) active: crate::keepalive::ActiveCall,
}

/// What a call sends besides its messages, and its settings.
#[derive(Clone)]
struct CallParts {
    metadata: MetadataMap,
    deadline: Option<Instant>,
    credentials: Option<Credentials>,
    encoding: Option<Encoding>,
    wait_for_ready: bool,
    max_send: usize,
    max_receive: usize,
    policy: Policy,
}

/// The retry or hedging policy of a call, with the channel's throttle.
#[derive(Clone)]
enum Policy {
    /// One attempt; a success still refills the channel's retry throttle.
    None(Option<Arc<Throttle>>),
    Retry(Arc<RetryPolicy>, Option<Arc<Throttle>>),
    Hedge(Arc<HedgingPolicy>, Option<Arc<Throttle>>),
}

/// What a retried bidirectional call sent so far, and where the caller's next messages come from.
struct BidiReplay {
    queued: Inbox,
    kept: Kept,
    /// The caller closed its side.
    ended: bool,
}

/// Runs the attempts of a call as its retry or hedging policy says (one attempt without a policy).
async fn under_policy<T, F, Fut>(call: CallParts, attempt: F) -> Result<T, Status>
where
    F: Fn(CallParts, Commit) -> Fut,
    Fut: Future<Output = Result<T, Failed>>,
{
    match call.policy.clone() {
        Policy::None(throttle) => {
            let result = attempt(call, Commit::default()).await.map_err(|failed| failed.status);
            if let (Ok(_), Some(throttle)) = (&result, throttle) {
                throttle.success();
            }
            result
        }
        Policy::Retry(policy, throttle) => retry::with_retries(&policy, throttle.as_deref(), &call, attempt).await,
        Policy::Hedge(policy, throttle) => retry::with_hedging(&policy, throttle.as_deref(), &call, attempt).await,
    }
}

/// A client-streaming call's messages: where they come from, and what was sent so far, kept for a retry
/// up to `limit` bytes.
struct Replay<S> {
    source: std::pin::Pin<Box<S>>,
    kept: Kept,
}

/// What a retried streaming call sent so far, kept up to `limit` bytes for the next attempt.
struct Kept {
    sent: Vec<Bytes>,
    bytes: usize,
    limit: usize,
    /// More was sent than kept: no retry can send it all again.
    overflowed: bool,
}

impl Kept {
    fn new(limit: usize) -> Self {
        Kept { sent: Vec::new(), bytes: 0, limit, overflowed: false }
    }

    fn keep(&mut self, data: &Bytes) {
        if self.overflowed {
            return;
        }
        self.bytes += data.len();
        if self.bytes > self.limit {
            self.overflowed = true;
            self.sent = Vec::new();
        } else {
            self.sent.push(data.clone());
        }
    }
}

/// Runs `work` within the deadline; when it passes, `work` is dropped (resetting its stream) and the call
/// fails with `DEADLINE_EXCEEDED`.
async fn within<T>(deadline: Option<Instant>, work: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    match deadline {
        None => work.await,
        Some(deadline) => tokio::time::timeout_at(deadline.into(), work)
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("deadline exceeded"))),
    }
}

/// The outcome of a call whose request may have failed to send: a server can answer (and reset the
/// stream) before it read the request, and then its answer, not the send error, says what happened.
fn prefer_response_status<T>(received: Result<T, Status>, sent: Result<(), h2::Error>) -> Result<T, Status> {
    match (received, sent) {
        (Ok(value), _) => Ok(value),
        (Err(status), Ok(())) => Err(status),
        (Err(status), Err(_)) if status.code() != crate::Code::Cancelled && status.code() != crate::Code::Internal => {
            Err(status)
        }
        (Err(_), Err(error)) => Err(Status::from_h2(&error)),
    }
}

/// Reads the one response message and the status of a unary or client-streaming call.
async fn read_single<Res: Message + Default>(stream: &mut Streaming<Res>) -> Result<Response<Res>, Status> {
    let message = stream.message().await?;
    let Some(message) = message else {
        return Err(Status::internal("the server ended the call with OK but sent no response message"));
    };
    if stream.message().await?.is_some() {
        return Err(Status::internal("the server sent more than one response message to a unary call"));
    }
    Ok(Response::from_parts(stream.take_headers(), message, stream.take_trailers()))
}

/// The request side of a bidirectional-streaming call.
pub struct Sender<T> {
    send: Option<h2::SendStream<Bytes>>,
    /// With stream interceptors or a retry policy: messages go to a task that sends them.
    queue: Option<Outbox>,
    max_send: usize,
    encoding: Option<Encoding>,
    /// The call's deadline: a server that stops reading must not hold a send past it.
    deadline: Option<Instant>,
    _message: PhantomData<fn(T)>,
}

impl<T: Message + 'static> Sender<T> {
    /// Sends a message, waiting for flow control. An error means the call ended; the response stream
    /// has its status.
    pub async fn send(&mut self, message: T) -> Result<(), Status> {
        if let Some(queue) = &self.queue {
            let queued = queue.send(run::boxed(message));
            let queued = match self.deadline {
                None => queued.await,
                Some(deadline) => tokio::time::timeout_at(deadline.into(), queued)
                    .await
                    .map_err(|_| Status::deadline_exceeded("the deadline passed while sending a message"))?,
            };
            return queued.map_err(|()| Status::unavailable("the call ended; its response stream has the status"));
        }
        let data = codec::encode_with(&message, self.max_send, self.encoding)?;
        let send = self.send.as_mut().ok_or_else(|| Status::failed_precondition("the request stream is closed"))?;
        let Some(deadline) = self.deadline else { return send_message(send, data, false).await };
        match tokio::time::timeout_at(deadline.into(), send_message(send, data, false)).await {
            Ok(sent) => sent,
            Err(_) => {
                // Resetting ends the call for the server too and frees the data h2 still buffers.
                send.send_reset(h2::Reason::CANCEL);
                self.send = None;
                Err(Status::deadline_exceeded("the deadline passed while sending a message"))
            }
        }
    }

    /// Ends the request stream: the server sees it complete. Without this, dropping the sender cancels
    /// the call (RST_STREAM CANCEL) rather than end it, so that a sender dropped mid-upload (an early
    /// return, a panic) can never pass for a complete stream.
    pub fn close(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.close();
        }
        if let Some(mut send) = self.send.take() {
            let _ = send.send_data(Bytes::new(), true);
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(mut send) = self.send.take() {
            send.send_reset(h2::Reason::CANCEL);
        }
    }
}

/// The status of a call whose caller dropped its request sender without closing it.
fn abandoned() -> Status {
    Status::cancelled("the request sender was dropped without close(): the call is cancelled")
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("open", &(self.send.is_some() || self.queue.is_some())).finish()
    }
}

/// Splits the request stream off a request.
fn split_messages(mut request: Request<MessageStream>) -> (Request<()>, MessageStream) {
    let messages = std::mem::replace(request.get_mut(), MessageStream::empty());
    (request.map(|_| ()), messages)
}

/// Sends what stream interceptors pass on of a bidirectional call's requests; an error they end the
/// stream with cancels the call.
async fn pump<T: Message + 'static>(mut sender: Sender<T>, messages: impl Stream<Item = Result<T, Status>>) {
    let mut messages = pin!(messages);
    while let Some(message) = std::future::poll_fn(|cx| messages.as_mut().poll_next(cx)).await {
        let sent = match message {
            Ok(message) => sender.send(message).await,
            Err(_) => Err(Status::cancelled("an interceptor ended the request stream with an error")),
        };
        if sent.is_err() {
            // Dropping the sender resets the stream.
            return;
        }
    }
    sender.close();
}

/// A pseudo-random number in `[0, 1)` for jitter, from the standard library's randomly keyed hasher (no
/// dependency for something this small; not for anything needing real randomness).
pub(crate) fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
