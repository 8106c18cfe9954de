//! Interceptors: async middleware around calls, on the client ([`ChannelBuilder`](crate::client::ChannelBuilder))
//! and on the server ([`ServerBuilder`](crate::server::ServerBuilder)), chained in the order they were added
//! (the first added runs outermost).
//!
//! There are two kinds, the same on both sides, as in grpc-go:
//! - a [`UnaryInterceptor`] runs around unary calls: it gets the request (message and metadata), may change
//!   it, answer itself, or call [`UnaryNext::run`] and then see and change the response or the status;
//! - a [`StreamInterceptor`] runs around the three streaming kinds: it gets the request with its messages as
//!   a [`MessageStream`] and returns the response with its messages as a `MessageStream`, so it sees the
//!   call's start and, by wrapping the streams ([`MessageStream::map_messages`], [`MessageStream::map_end`]),
//!   every message and the end.
//!
//! On the client the request stream holds the messages being sent and the response stream those received;
//! on the server the other way round. Messages are [`BoxMessage`]s; interceptors downcast them to the
//! types they know. With no interceptor configured, calls take a path without any of this.
//!
//! Ready-made: [`auth_fn`] (server authentication), [`recovery`] (panics to a status) and [`logging`].

mod auth;
mod logging;
mod message;
pub(crate) mod recovery;
pub(crate) mod run;
mod stream;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use auth::{auth_fn, bearer_token, Auth};
pub use logging::{logging, Logging};
pub use message::{downcast, AnyMessage, BoxMessage, MethodInfo, MethodKind};
pub use recovery::{recovery, recovery_with, Recovery};
pub use stream::MessageStream;

use crate::request::Request;
use crate::response::Response;
use crate::status::Status;

/// What a unary interceptor (and the rest of the chain) returns.
pub type UnaryFuture = Pin<Box<dyn Future<Output = Result<Response<BoxMessage>, Status>> + Send + 'static>>;

/// What a stream interceptor (and the rest of the chain) returns.
pub type StreamFuture = Pin<Box<dyn Future<Output = Result<Response<MessageStream>, Status>> + Send + 'static>>;

/// Runs around unary calls.
pub trait UnaryInterceptor: Send + Sync + 'static {
    /// Handles `request`, usually by passing it (changed or not) to `next` and returning what that returns
    /// (changed or not); returning without calling `next` answers the call here.
    fn intercept(&self, request: Request<BoxMessage>, next: UnaryNext) -> UnaryFuture;
}

/// Runs around streaming calls (server, client and bidirectional streaming).
pub trait StreamInterceptor: Send + Sync + 'static {
    /// Handles the call: `request` holds the request messages (sent on the client, received on the server);
    /// the returned response holds the response messages.
    fn intercept(&self, request: Request<MessageStream>, next: StreamNext) -> StreamFuture;
}

/// A unary interceptor from an async function, so closures need no type annotations:
/// `unary_fn(|request, next| async move { next.run(request).await })`.
pub fn unary_fn<F, Fut>(f: F) -> UnaryFn<F>
where
    F: Fn(Request<BoxMessage>, UnaryNext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<BoxMessage>, Status>> + Send + 'static,
{
    UnaryFn(f)
}

/// A stream interceptor from an async function (see [`unary_fn`]).
pub fn stream_fn<F, Fut>(f: F) -> StreamFn<F>
where
    F: Fn(Request<MessageStream>, StreamNext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<MessageStream>, Status>> + Send + 'static,
{
    StreamFn(f)
}

/// See [`unary_fn`].
#[derive(Clone, Copy)]
pub struct UnaryFn<F>(F);

impl<F, Fut> UnaryInterceptor for UnaryFn<F>
where
    F: Fn(Request<BoxMessage>, UnaryNext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<BoxMessage>, Status>> + Send + 'static,
{
    fn intercept(&self, request: Request<BoxMessage>, next: UnaryNext) -> UnaryFuture {
        Box::pin((self.0)(request, next))
    }
}

/// See [`stream_fn`].
#[derive(Clone, Copy)]
pub struct StreamFn<F>(F);

impl<F, Fut> StreamInterceptor for StreamFn<F>
where
    F: Fn(Request<MessageStream>, StreamNext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<MessageStream>, Status>> + Send + 'static,
{
    fn intercept(&self, request: Request<MessageStream>, next: StreamNext) -> StreamFuture {
        Box::pin((self.0)(request, next))
    }
}

/// The one interceptor chain type: a channel's, a server's or a gateway's interceptors, in order. Client,
/// server and gateway all run a call through it with [`run`].
#[derive(Clone, Default)]
pub(crate) struct Interceptors {
    unary: Vec<Arc<dyn UnaryInterceptor>>,
    stream: Vec<Arc<dyn StreamInterceptor>>,
}

impl Interceptors {
    pub(crate) fn push_unary(&mut self, interceptor: Arc<dyn UnaryInterceptor>) {
        self.unary.push(interceptor);
    }

    pub(crate) fn push_stream(&mut self, interceptor: Arc<dyn StreamInterceptor>) {
        self.stream.push(interceptor);
    }

    /// Appends `inner`'s interceptors after these (they run inside them).
    pub(crate) fn extend(&mut self, inner: &Interceptors) {
        self.unary.extend(inner.unary.iter().cloned());
        self.stream.extend(inner.stream.iter().cloned());
    }

    pub(crate) fn has_unary(&self) -> bool {
        !self.unary.is_empty()
    }

    pub(crate) fn has_stream(&self) -> bool {
        !self.stream.is_empty()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.unary.is_empty() && self.stream.is_empty()
    }

    /// The chain a call of `method` runs through, if `chain` has interceptors of its kind: calls of a kind
    /// no interceptor handles take the plain path, with no boxing of messages.
    pub(crate) fn for_call(
        chain: Option<&Arc<Interceptors>>,
        method: MethodInfo,
    ) -> Option<(Arc<Interceptors>, MethodInfo)> {
        let chain = chain?;
        let has = if method.kind() == MethodKind::Unary { chain.has_unary() } else { chain.has_stream() };
        has.then(|| (chain.clone(), method))
    }
}

impl fmt::Debug for Interceptors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interceptors").field("unary", &self.unary.len()).field("stream", &self.stream.len()).finish()
    }
}

/// The final step of a unary chain: the call itself (client) or the handler (server).
pub(crate) type UnaryLast = Box<dyn FnOnce(Request<BoxMessage>) -> UnaryFuture + Send>;

/// The final step of a streaming chain.
pub(crate) type StreamLast = Box<dyn FnOnce(Request<MessageStream>) -> StreamFuture + Send>;

/// The rest of a unary chain: the interceptors after this one, then the call.
pub struct UnaryNext {
    chain: Arc<Interceptors>,
    index: usize,
    method: MethodInfo,
    last: UnaryLast,
}

impl UnaryNext {
    pub(crate) fn new(chain: Arc<Interceptors>, method: MethodInfo, last: UnaryLast) -> Self {
        UnaryNext { chain, index: 0, method, last }
    }

    /// The method being called.
    pub fn method(&self) -> MethodInfo {
        self.method
    }

    /// Runs the rest of the chain with `request`.
    pub fn run(self, request: Request<BoxMessage>) -> UnaryFuture {
        match self.chain.unary.get(self.index).cloned() {
            Some(interceptor) => interceptor.intercept(request, UnaryNext { index: self.index + 1, ..self }),
            None => (self.last)(request),
        }
    }
}

impl fmt::Debug for UnaryNext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnaryNext").field("method", &self.method).field("index", &self.index).finish()
    }
}

/// The rest of a streaming chain: the interceptors after this one, then the call.
pub struct StreamNext {
    chain: Arc<Interceptors>,
    index: usize,
    method: MethodInfo,
    last: StreamLast,
}

impl StreamNext {
    pub(crate) fn new(chain: Arc<Interceptors>, method: MethodInfo, last: StreamLast) -> Self {
        StreamNext { chain, index: 0, method, last }
    }

    /// The method being called.
    pub fn method(&self) -> MethodInfo {
        self.method
    }

    /// Runs the rest of the chain with `request`.
    pub fn run(self, request: Request<MessageStream>) -> StreamFuture {
        match self.chain.stream.get(self.index).cloned() {
            Some(interceptor) => interceptor.intercept(request, StreamNext { index: self.index + 1, ..self }),
            None => (self.last)(request),
        }
    }
}

impl fmt::Debug for StreamNext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamNext").field("method", &self.method).field("index", &self.index).finish()
    }
}
