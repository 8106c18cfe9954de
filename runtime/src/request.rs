//! A call's request: the message (or stream of messages), its metadata, and the call's deadline; on the
//! server also the peer's address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metadata::MetadataMap;

/// A request, on the client as it is sent and on the server as it was received.
#[derive(Debug)]
pub struct Request<T> {
    message: T,
    metadata: MetadataMap,
    deadline: Option<Instant>,
    peer: Option<SocketAddr>,
    certificates: Option<Arc<[Vec<u8>]>>,
    credentials: Option<crate::credentials::Credentials>,
    compression: Option<crate::compression::Encoding>,
    extensions: http::Extensions,
    wait_for_ready: Option<bool>,
}

impl<T> Request<T> {
    /// A request with no metadata and no deadline.
    pub fn new(message: T) -> Self {
        Request {
            message,
            metadata: MetadataMap::new(),
            deadline: None,
            peer: None,
            certificates: None,
            credentials: None,
            compression: None,
            extensions: http::Extensions::new(),
            wait_for_ready: None,
        }
    }

    /// Client side: whether the call waits for a backend to become reachable (within its deadline) rather
    /// than failing at once with UNAVAILABLE; overrides the service config's `waitForReady`.
    pub fn with_wait_for_ready(mut self, wait: bool) -> Self {
        self.wait_for_ready = Some(wait);
        self
    }

    /// The call's own wait-for-ready choice, if it made one.
    pub fn wait_for_ready(&self) -> Option<bool> {
        self.wait_for_ready
    }

    /// Values attached to the request in this process (never sent): on the server, what interceptors found
    /// out for the handler, such as the caller's identity from `rsgrpc::interceptor::auth_fn`.
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The request's extensions, to change.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// The request's metadata.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The request's metadata, to change.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// The message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The message, to change.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// The message, consuming the request.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// The call's deadline: on the client as set, on the server as received in `grpc-timeout`. Pass it on
    /// to the calls a handler makes ([`Request::with_deadline`]) to propagate it.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time left until the deadline (zero once it passed).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Sets a timeout from now; it becomes the call's deadline, sent as `grpc-timeout`. A timeout too large
    /// for the clock (such as `Duration::MAX`) means no deadline rather than a panic.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.deadline = Instant::now().checked_add(timeout);
    }

    /// The request with a timeout from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.set_timeout(timeout);
        self
    }

    /// The request with a deadline (or none), e.g. an incoming request's, to propagate it.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The request with an ASCII metadata entry added; panics on an invalid key or value, so use it with
    /// literals and [`Request::metadata_mut`] for values from elsewhere.
    pub fn with_metadata(mut self, key: &str, value: &str) -> Self {
        if let Err(error) = self.metadata.append(key, value) {
            panic!("Request::with_metadata: {error}");
        }
        self
    }

    /// The address of the peer that sent the request (server side; `None` on Unix sockets).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The certificate chain (DER, leaf first) the peer presented with mutual TLS (server side).
    pub fn peer_certificates(&self) -> Option<&[Vec<u8>]> {
        self.certificates.as_deref()
    }

    /// Replaces the message, keeping metadata and deadline.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Request<U> {
        Request {
            message: f(self.message),
            metadata: self.metadata,
            deadline: self.deadline,
            peer: self.peer,
            certificates: self.certificates,
            credentials: self.credentials,
            compression: self.compression,
            extensions: self.extensions,
            wait_for_ready: self.wait_for_ready,
        }
    }

    /// The request with its messages compressed with `encoding` (client side; replaces the channel's
    /// choice for this call).
    pub fn with_compression(mut self, encoding: crate::compression::Encoding) -> Self {
        self.compression = Some(encoding);
        self
    }

    /// The compression of the request: on the server, the encoding the client declared for its messages
    /// (`grpc-encoding`); on the client, the one chosen with [`Request::with_compression`].
    pub fn compression(&self) -> Option<crate::compression::Encoding> {
        self.compression
    }

    #[cfg_attr(not(feature = "gateway"), allow(dead_code))]
    pub(crate) fn set_peer(&mut self, peer: Option<SocketAddr>) {
        self.peer = peer;
    }

    #[cfg_attr(not(feature = "gateway"), allow(dead_code))]
    pub(crate) fn set_peer_certificates(&mut self, certificates: Option<Arc<[Vec<u8>]>>) {
        self.certificates = certificates;
    }

    pub(crate) fn set_received_compression(&mut self, encoding: Option<crate::compression::Encoding>) {
        self.compression = encoding;
    }

    /// The request with credentials for this call only (replacing the channel's).
    pub fn with_credentials(mut self, credentials: crate::credentials::Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    pub(crate) fn into_client_parts(
        self,
    ) -> (MetadataMap, T, Option<Instant>, Option<crate::credentials::Credentials>) {
        (self.metadata, self.message, self.deadline, self.credentials)
    }

    /// The parts: metadata, message, deadline.
    pub fn into_parts(self) -> (MetadataMap, T, Option<Instant>) {
        (self.metadata, self.message, self.deadline)
    }

    /// A request as a server received it, from `peer` with TLS `certificates`, if any.
    pub(crate) fn from_server(
        message: T,
        metadata: MetadataMap,
        deadline: Option<Instant>,
        peer: Option<SocketAddr>,
        certificates: Option<Arc<[Vec<u8>]>>,
    ) -> Self {
        Request {
            message,
            metadata,
            deadline,
            peer,
            certificates,
            credentials: None,
            compression: None,
            extensions: http::Extensions::new(),
            wait_for_ready: None,
        }
    }
}

/// Anything a client method takes as a request: a message, or a [`Request`] with metadata and a deadline.
pub trait IntoRequest<T> {
    /// The request.
    fn into_request(self) -> Request<T>;
}

impl<T> IntoRequest<T> for T {
    fn into_request(self) -> Request<T> {
        Request::new(self)
    }
}

impl<T> IntoRequest<T> for Request<T> {
    fn into_request(self) -> Request<T> {
        self
    }
}

/// Anything a client-streaming method takes as its request: a stream of messages, or a [`Request`] holding
/// one (with metadata and a deadline). One trait for both, so neither needs type annotations.
pub trait IntoStreamingRequest {
    /// The message type.
    type Message;
    /// The stream of messages.
    type Stream: futures_core::Stream<Item = Self::Message> + Send + 'static;

    /// The request.
    fn into_streaming_request(self) -> Request<Self::Stream>;
}

impl<S> IntoStreamingRequest for S
where
    S: futures_core::Stream + Send + 'static,
{
    type Message = S::Item;
    type Stream = S;

    fn into_streaming_request(self) -> Request<S> {
        Request::new(self)
    }
}

impl<S> IntoStreamingRequest for Request<S>
where
    S: futures_core::Stream + Send + 'static,
{
    type Message = S::Item;
    type Stream = S;

    fn into_streaming_request(self) -> Request<S> {
        self
    }
}
