//! Serving gRPC requests handed over as `http::Request`s (by a tower stack, or the gateway's port) with
//! the server's own engine: each request goes to the server over an in-memory HTTP/2 connection, served
//! by the same connection code as a TCP client's. Routing, interceptors, limits, deadlines, compression,
//! cancellation and status mapping are then exactly those of the h2 path, at the price of one in-memory
//! HTTP/2 encoding of each frame; the response comes back as an `http::Response` whose body carries the
//! gRPC trailers.

use std::future::Future as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame};
use tokio::sync::{oneshot, watch};

use super::{connection, Peer, Server, Shared};
use crate::status::Status;

/// Where the in-process side puts the host connection's peer address for the server to read (and remove):
/// any such header from the client is dropped first, so it cannot claim another address.
const PEER_HEADER: http::header::HeaderName = http::header::HeaderName::from_static("rsgrpc-in-process-peer");

/// The in-memory pipe's buffer each way: enough for a few full DATA frames in flight.
const PIPE_BUFFER: usize = 256 * 1024;

/// Request headers HTTP/2 forbids (RFC 9113 §8.2.2): an HTTP/1.1 request's hop-by-hop headers, which an
/// HTTP/2 stream must not carry. `te` is kept when it is `trailers`, the only value allowed.
const CONNECTION_HEADERS: [http::header::HeaderName; 5] = [
    http::header::CONNECTION,
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
    http::header::HeaderName::from_static("keep-alive"),
    http::header::HeaderName::from_static("proxy-connection"),
];

/// A server taking requests in process; see the module documentation.
pub(crate) struct InProcess {
    shared: Arc<Shared>,
    /// The open in-memory connection, if any; a new one replaces it once it fails.
    connection: tokio::sync::Mutex<Option<h2::client::SendRequest<Bytes>>>,
    /// Dropped with this: the in-memory connections then shut down gracefully (GOAWAY, calls finish).
    _stop: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
}

impl InProcess {
    /// `server`'s services and settings, minus what belongs to a network connection: keepalive pings and
    /// their policing, connection age and idleness, and the stream limit (the host's HTTP server limits its
    /// own connections; calls from all of them share the in-memory one).
    pub(crate) fn new(server: Server) -> InProcess {
        let mut config = server.shared.config.clone();
        config.keepalive = None;
        config.keepalive_enforcement = None;
        config.lifetime = Default::default();
        config.max_concurrent_streams = None;
        config.tls = None;
        config.in_process = true;
        let shared = Arc::new(Shared {
            router: server.shared.router.clone(),
            config,
            interceptors: server.shared.interceptors.clone(),
            // Its calls are the host server's; channelz counts them on the connections they came in on.
            channelz: None,
        });
        let (stop, stopped) = watch::channel(false);
        InProcess { shared, connection: tokio::sync::Mutex::new(None), _stop: stop, stopped }
    }

    /// Answers one gRPC request, from `peer` when the host connection's address is known. Errors of the
    /// in-memory connection itself become a gRPC status in a trailers-only response, so this never fails.
    pub(crate) async fn call<B>(&self, request: http::Request<B>, peer: Option<SocketAddr>) -> http::Response<GrpcBody>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let version = request.version();
        let mut request = request;
        let headers = request.headers_mut();
        headers.remove(PEER_HEADER);
        if let Some(value) = peer.and_then(|peer| http::HeaderValue::try_from(peer.to_string()).ok()) {
            headers.insert(PEER_HEADER, value);
        }
        match self.start(request).await {
            Ok((response, cancel)) => {
                let (mut parts, body) = response.into_parts();
                parts.version = version;
                http::Response::from_parts(parts, GrpcBody::new(body, cancel))
            }
            Err(status) => trailers_only(&status, version),
        }
    }

    async fn start<B>(
        &self,
        request: http::Request<B>,
    ) -> Result<(http::Response<h2::RecvStream>, oneshot::Sender<()>), Status>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let head = h2_head(parts)?;
        let mut sender = self.ready_sender().await?;
        let end = body.is_end_stream();
        let (response, send) = sender.send_request(head, end).map_err(Status::from)?;
        let (cancel, cancelled) = oneshot::channel();
        if !end {
            // Owned by the stream: it ends with the body, a reset, or the response's drop.
            tokio::spawn(pump(body, send, cancelled));
        }
        Ok((response.await.map_err(Status::from)?, cancel))
    }

    /// A sender on a live in-memory connection, opening one if there is none or it failed.
    async fn ready_sender(&self) -> Result<h2::client::SendRequest<Bytes>, Status> {
        let mut connection = self.connection.lock().await;
        if let Some(sender) = connection.clone() {
            if let Ok(sender) = sender.ready().await {
                return Ok(sender);
            }
        }
        let sender = self.connect().await?;
        *connection = Some(sender.clone());
        sender.ready().await.map_err(Status::from)
    }

    async fn connect(&self) -> Result<h2::client::SendRequest<Bytes>, Status> {
        let (client, server) = tokio::io::duplex(PIPE_BUFFER);
        tokio::spawn(connection::serve(server, Peer::default(), self.shared.clone(), self.stopped.clone()));
        let mut builder = h2::client::Builder::new();
        builder
            .initial_window_size(crate::wire::DEFAULT_STREAM_WINDOW_SIZE)
            .initial_connection_window_size(crate::wire::DEFAULT_CONNECTION_WINDOW_SIZE);
        let (sender, connection) = builder.handshake::<_, Bytes>(client).await.map_err(Status::from)?;
        // Ends when the server side closes: on the server's shutdown, or when every sender is dropped.
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "an in-process gRPC connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// The peer an in-process request came from, taken out of its headers (see [`PEER_HEADER`]).
pub(crate) fn take_peer(headers: &mut http::HeaderMap) -> Peer {
    let addr = headers.remove(PEER_HEADER).and_then(|value| value.to_str().ok()?.parse().ok());
    Peer { addr, ..Peer::default() }
}

/// The request's head as an HTTP/2 request: an absolute URI (HTTP/1.1 requests carry only the path) and no
/// connection-specific headers.
fn h2_head(parts: http::request::Parts) -> Result<http::Request<()>, Status> {
    let path = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let authority = parts.uri.authority().map_or("in-process", |authority| authority.as_str());
    let uri = http::Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path)
        .build()
        .map_err(|error| Status::internal(format!("bad request URI: {error}")))?;
    let mut head = http::Request::new(());
    *head.method_mut() = parts.method;
    *head.uri_mut() = uri;
    *head.headers_mut() = parts.headers;
    let headers = head.headers_mut();
    for name in &CONNECTION_HEADERS {
        headers.remove(name);
    }
    headers.remove(http::header::HOST);
    if headers.get(http::header::TE).is_some_and(|te| te != "trailers") {
        headers.remove(http::header::TE);
    }
    Ok(head)
}

/// Copies the request body into the in-memory stream as flow control allows, until the body ends, the
/// server resets the stream, or the response is dropped (its [`GrpcBody`] holds the other end of
/// `cancelled`), which resets it.
async fn pump<B>(body: B, mut send: h2::SendStream<Bytes>, mut cancelled: oneshot::Receiver<()>)
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut body = std::pin::pin!(body);
    loop {
        let frame = std::future::poll_fn(|cx| {
            if Pin::new(&mut cancelled).poll(cx).is_ready() {
                return Poll::Ready(Err(h2::Reason::CANCEL));
            }
            if let Poll::Ready(reset) = send.poll_reset(cx) {
                return Poll::Ready(Err(reset.unwrap_or(h2::Reason::CANCEL)));
            }
            body.as_mut().poll_frame(cx).map(Ok)
        });
        let data = match frame.await {
            Err(reason) => return send.send_reset(reason),
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                tracing::debug!(error = %error.into(), "the request body failed; cancelling the call");
                return send.send_reset(h2::Reason::CANCEL);
            }
            // gRPC requests have no trailers: nothing to pass on.
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => data.copy_to_bytes(data.remaining()),
                Err(_) => continue,
            },
        };
        if data.is_empty() {
            continue;
        }
        if crate::streaming::send_message(&mut send, data, false).await.is_err() {
            return;
        }
    }
    let _ = send.send_data(Bytes::new(), true);
}

/// Whether `headers` say gRPC: the content type is `application/grpc`, alone, with a `+subtype` or with
/// parameters.
pub fn is_grpc_request(headers: &http::HeaderMap) -> bool {
    let Some(content_type) = headers.get(http::header::CONTENT_TYPE) else { return false };
    let value = content_type.as_bytes();
    let prefix = crate::wire::CONTENT_TYPE_PREFIX.as_bytes();
    value.len() >= prefix.len()
        && value[..prefix.len()].eq_ignore_ascii_case(prefix)
        && matches!(value.get(prefix.len()), None | Some(b'+' | b';' | b' '))
}

/// A trailers-only gRPC response with `status`.
fn trailers_only(status: &Status, version: http::Version) -> http::Response<GrpcBody> {
    let mut response = http::Response::new(GrpcBody::empty());
    *response.version_mut() = version;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(crate::wire::CONTENT_TYPE));
    status.write_headers(headers);
    response
}

/// The body of a gRPC response served in process: the response messages as they come, then the trailers
/// (`grpc-status`, `grpc-message`, the handler's trailing metadata) as an HTTP trailers frame. Dropping it
/// before its end cancels the call, as a client's RST_STREAM would.
pub struct GrpcBody {
    state: State,
    /// Dropped with the body, which tells the request's pump to reset the stream.
    _cancel: Option<oneshot::Sender<()>>,
}

enum State {
    Data(h2::RecvStream),
    Trailers(h2::RecvStream),
    Done,
}

impl std::fmt::Debug for GrpcBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcBody").field("done", &matches!(self.state, State::Done)).finish()
    }
}

impl GrpcBody {
    fn new(body: h2::RecvStream, cancel: oneshot::Sender<()>) -> GrpcBody {
        // A trailers-only response ends with its headers.
        let state = if body.is_end_stream() { State::Done } else { State::Data(body) };
        GrpcBody { state, _cancel: Some(cancel) }
    }

    fn empty() -> GrpcBody {
        GrpcBody { state: State::Done, _cancel: None }
    }
}

impl Body for GrpcBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Data(body) => match body.poll_data(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(data))) => {
                        // Handed on: the host's connection applies its own flow control from here.
                        let _ = body.flow_control().release_capacity(data.len());
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Poll::Ready(Some(Err(error))) => {
                        this.state = State::Done;
                        return Poll::Ready(Some(Err(Status::from(error))));
                    }
                    Poll::Ready(None) => {
                        if let State::Data(body) = std::mem::replace(&mut this.state, State::Done) {
                            this.state = State::Trailers(body);
                        }
                    }
                },
                State::Trailers(body) => {
                    let trailers = std::task::ready!(body.poll_trailers(cx));
                    this.state = State::Done;
                    return Poll::Ready(match trailers {
                        Ok(Some(trailers)) => Some(Ok(Frame::trailers(trailers))),
                        Ok(None) => None,
                        Err(error) => Some(Err(Status::from(error))),
                    });
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }
}
