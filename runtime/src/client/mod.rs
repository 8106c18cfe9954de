//! The client side: a [`Channel`] and the four call kinds that generated clients use. A call's deadline is
//! sent as `grpc-timeout` and enforced here too; dropping a call resets its stream (the server sees it
//! cancelled).

mod attempt;
mod balancer;
mod call;
mod cancel;
mod channel;
mod config;
mod connectivity;
mod connector;
mod endpoint_weight;
mod health_check;
mod orca_oob;
mod outcomes;
mod replay;
mod request_queue;
pub mod resolver;
mod retry;
mod sender;
pub mod service_config;
mod subchannel;
mod target;
#[cfg(feature = "tower")]
mod tower_transport;

use std::sync::Arc;

use futures_core::Stream;
use futures_util::StreamExt;
use prost::Message;

#[cfg(feature = "jwt")]
pub use crate::credentials::JwtCredentials;
pub use crate::credentials::{
    CallCredentials, CallInfo, Credentials, MetadataFuture, Token, TokenCredentials, TokenFuture, TokenSource,
};
pub use cancel::{cancellable, Canceller};
pub use channel::{Channel, ChannelBuilder};
pub use config::ConnectBackoff;
pub use connectivity::ConnectivityState;
pub use connector::{ConnectFuture, Connector, Io};
pub use resolver::{register_resolver, Address, Refresh, Resolution, Resolutions, Resolver};
pub use sender::Sender;
pub use service_config::{
    FailurePercentageEjection, LeastRequestConfig, LoadBalancing, OutlierDetectionConfig, RingHashConfig,
    ServiceConfig, ServiceConfigError, SuccessRateEjection, WeightedRoundRobinConfig,
};
pub use target::TargetUri;
#[cfg(feature = "tower")]
pub use tower_transport::{tower_connector, TowerRequestBody};

use crate::codec;
use crate::interceptor::{run, Interceptors, MessageStream, MethodInfo, MethodKind};
use crate::metadata::MetadataMap;
use crate::request::Request;
use crate::response::Response;
use crate::status::{Code, Status};
use crate::streaming::{Streaming, TrailerSlot};
use attempt::prefer_response_status;
use call::{within, CallSetup};
use replay::{Body, Outgoing, Source};
use request_queue::{request_queue, Inbox, Next};
use retry::Failed;
pub(crate) use sender::local as local_sender;
use sender::{abandoned, pump, split_messages};

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
        let sender = Sender::queued(queue, deadline);
        Ok((sender, Streaming::from_stream(response.into_inner().into_typed::<Res>(method), Some(slot))))
    }

    /// The interceptor chain for a call of `kind`, if the channel has interceptors of that kind.
    fn chain(&self, path: &'static str, kind: MethodKind) -> Option<(Arc<Interceptors>, MethodInfo)> {
        Interceptors::for_call(self.channel.config().interceptors.as_ref(), MethodInfo::from_path(path, kind))
    }

    async fn unary_call<Req, Res>(&self, path: &'static str, request: Request<Req>) -> Result<Response<Res>, Status>
    where
        Req: Message,
        Res: Message + Default,
    {
        let (setup, message) = CallSetup::prepare(&self.channel, path, request).await;
        let result = async {
            // A message that cannot be sent (too large) fails the same way every time: no attempt is made.
            let body = Body::Single(codec::encode_with(&message, setup.max_send, setup.encoding)?);
            let attempts = setup.under_policy(|previous, commit| {
                let (setup, body) = (&setup, &body);
                async move {
                    let mut ongoing = attempt::run::<Res>(&self.channel, setup, previous, body, &commit, None).await?;
                    let result = read_single(&mut ongoing.responses).await;
                    let committed = ongoing.responses.received_headers();
                    result.map_err(|status| Failed {
                        status: prefer_response_status(status, ongoing.send_error),
                        committed,
                    })
                }
            });
            within(setup.deadline, attempts).await
        }
        .await;
        setup.observe_end(&result);
        result
    }

    /// An attempt ends when the response headers arrive: then the call is committed to it.
    async fn server_streaming_call<Req, Res>(
        &self,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Response<Streaming<Res>>, Status>
    where
        Req: Message,
        Res: Message + Default,
    {
        let (setup, message) = CallSetup::prepare(&self.channel, path, request).await;
        let result = async {
            let body = Body::Single(codec::encode_with(&message, setup.max_send, setup.encoding)?);
            let attempts = setup.under_policy(|previous, commit| {
                let (setup, body) = (&setup, &body);
                async move {
                    let ongoing =
                        attempt::run::<Res>(&self.channel, setup, previous, body, &commit, setup.deadline).await?;
                    if let Some(observed) = &ongoing.observed {
                        observed.ends_call();
                    }
                    let mut responses = ongoing.responses;
                    let headers = responses.take_headers();
                    Ok(Response::from_parts(headers, responses, MetadataMap::new()))
                }
            });
            within(setup.deadline, attempts).await
        }
        .await;
        // A stream handed over ends the call when it ends.
        if result.is_err() {
            setup.observe_end(&result);
        }
        result
    }

    /// The client-streaming call; an error in the request stream (an interceptor's) cancels the call and is
    /// its result. Under a retry or hedging policy the messages sent are kept (up to the retry buffer) for
    /// the next attempt.
    async fn client_streaming_call<Req, Res, S>(
        &self,
        path: &'static str,
        request: Request<S>,
    ) -> Result<Response<Res>, Status>
    where
        Req: Message + 'static,
        Res: Message + Default,
        S: Stream<Item = Result<Req, Status>> + Send + 'static,
    {
        let (setup, messages) = CallSetup::prepare(&self.channel, path, request).await;
        let (max_send, encoding) = (setup.max_send, setup.encoding);
        let source: Source = Box::pin(messages.map(move |message| match message {
            Ok(message) => match codec::encode_with(&message, max_send, encoding) {
                Ok(data) => Outgoing::Message(data),
                Err(status) => Outgoing::Cancel(status),
            },
            Err(status) => Outgoing::Cancel(status),
        }));
        let body = Body::stream(source, self.replay_limit(&setup));
        let attempts = setup.under_policy(|previous, commit| {
            let (setup, body) = (&setup, &body);
            async move {
                let mut ongoing = attempt::run::<Res>(&self.channel, setup, previous, body, &commit, None).await?;
                let sent = match ongoing.send.as_mut() {
                    Some(send) => attempt::send_rest(send, &mut ongoing.cursor, body, &ongoing.observed).await,
                    None => Ok(()),
                };
                let result = match sent {
                    Ok(()) => read_single(&mut ongoing.responses).await,
                    // The server may have answered (and reset the stream) before reading everything: its
                    // status says why; a local error (an oversized message) is reported as is.
                    Err(error) => match read_single(&mut ongoing.responses).await {
                        Err(status) if status.code() != Code::Cancelled => Err(status),
                        _ => Err(error),
                    },
                };
                let committed = ongoing.responses.received_headers() || body.overflowed().await;
                result
                    .map_err(|status| Failed { status: prefer_response_status(status, ongoing.send_error), committed })
            }
        });
        let result = within(setup.deadline, attempts).await;
        setup.observe_end(&result);
        result
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
        let (setup, ()) = CallSetup::prepare(&self.channel, path, request).await;
        if setup.policy.replays() {
            return Ok(self.replayed_streaming(setup));
        }
        let observed = setup.observe_attempt();
        let (opened, send) = match within(setup.deadline, attempt::open(&self.channel, &setup, 0)).await {
            Ok(opened) => opened,
            Err(status) => {
                if let Some(observed) = &observed {
                    observed.failed(status.code());
                }
                setup.observe_error(&status);
                return Err(status);
            }
        };
        let sender = Sender::direct(send, setup.max_send, setup.encoding, setup.deadline).observed(observed.clone());
        let mut responses = Streaming::client(opened.response, opened.active, setup.max_receive, setup.deadline);
        if let Some(observed) = observed {
            observed.ends_call();
            responses.observe(crate::observe::TapSink::Client(observed));
        }
        Ok((sender, responses))
    }

    /// A bidirectional call under a retry or hedging policy: the caller's messages go through a queue to a
    /// task that runs the attempts (each sends what the ones before it sent, kept up to the retry buffer),
    /// then sends the rest on the attempt that got response headers (the committed one) and hands its
    /// responses to the caller.
    fn replayed_streaming<Req, Res>(&self, setup: CallSetup) -> (Sender<Req>, Streaming<Res>)
    where
        Req: Message + 'static,
        Res: Message + Default + 'static,
    {
        let (queue, queued) = request_queue();
        let body = Arc::new(Body::stream(queued_source::<Req>(queued, &setup), self.replay_limit(&setup)));
        let (mut committed, responses) = tokio::sync::oneshot::channel::<Result<Streaming<Res>, Status>>();
        let deadline = setup.deadline;
        let channel = self.channel.clone();
        tokio::spawn(async move {
            let attempts = setup.under_policy(|previous, commit| {
                let (channel, setup, body) = (&channel, &setup, &*body);
                async move { attempt::run::<Res>(channel, setup, previous, body, &commit, deadline).await }
            });
            // A caller that dropped the response stream will read no outcome: stop the attempts (and their
            // backoff waits) rather than run them for nobody.
            let outcome = tokio::select! {
                outcome = within(deadline, attempts) => outcome,
                () = committed.closed() => return,
            };
            if outcome.is_err() {
                setup.observe_end(&outcome);
            }
            let outcome = outcome.map(|ongoing| {
                if let Some(observed) = &ongoing.observed {
                    observed.ends_call();
                }
                if let Some(mut send) = ongoing.send {
                    let (mut cursor, body, observed) = (ongoing.cursor, body.clone(), ongoing.observed.clone());
                    tokio::spawn(async move { attempt::send_rest(&mut send, &mut cursor, &body, &observed).await });
                }
                ongoing.responses
            });
            let _ = committed.send(outcome);
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
        (Sender::queued(queue, deadline), Streaming::from_stream(responses, Some(slot)))
    }

    /// How many bytes of a streaming call's messages are kept for later attempts.
    fn replay_limit(&self, setup: &CallSetup) -> usize {
        if setup.policy.replays() {
            self.channel.config().retry_buffer
        } else {
            0
        }
    }
}

/// A bidirectional call's queued messages as a body source: encoded as they come, a sender dropped without
/// closing cancels the call.
fn queued_source<Req: Message + 'static>(queued: Inbox, setup: &CallSetup) -> Source {
    let (max_send, encoding) = (setup.max_send, setup.encoding);
    Box::pin(futures_util::stream::unfold(Some(queued), move |queued| async move {
        let mut queued = queued?;
        let item = match queued.next().await {
            Next::Message(message) => match crate::interceptor::downcast::<Req>(message) {
                Ok(message) => match codec::encode_with(&message, max_send, encoding) {
                    Ok(data) => Outgoing::Message(data),
                    Err(status) => Outgoing::Cancel(status),
                },
                Err(_) => Outgoing::Cancel(Status::internal("a request message of the wrong type")),
            },
            Next::Closed => return None,
            Next::Abandoned => return Some((Outgoing::Cancel(abandoned()), None)),
        };
        Some((item, Some(queued)))
    }))
}

/// Reads the one response message and the status of a unary or client-streaming call.
async fn read_single<Res: Message + Default>(stream: &mut Streaming<Res>) -> Result<Response<Res>, Status> {
    let message = stream
        .single(
            "the server ended the call with OK but sent no response message",
            "the server sent more than one response message to a unary call",
        )
        .await?;
    Ok(Response::from_parts(stream.take_headers(), message, stream.take_trailers()))
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
