//! The client over a user's tower service (feature `tower`): [`tower_connector`] makes a
//! [`Connector`](super::Connector) whose connections are in-memory HTTP/2 pipes, each served by handing its
//! requests to the service as `http::Request<TowerRequestBody>` and its answers back. A channel built with
//! it keeps everything it does over a socket (retries, deadlines, interceptors, credentials, limits,
//! balancing over the resolved addresses), while the service decides how requests travel: a hyper client
//! behind tower layers, a proxy, a test double of the whole backend. This is the mirror of
//! [`Server::into_tower`](crate::server::Server::into_tower), and costs the same: one in-memory HTTP/2
//! encoding of each frame.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame};

use super::connector::{ConnectFuture, Connector, Io};
use super::resolver::Address;
use crate::status::Status;

/// What errors of the user's service and its response bodies convert into (the same as
/// `rsgrpc::server::tower::BoxError`).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The in-memory pipe's buffer each way: enough for a few full DATA frames in flight.
const PIPE_BUFFER: usize = 256 * 1024;

/// Response headers HTTP/2 forbids (RFC 9113 §8.2.2), which a service proxying to an HTTP/1.1 peer may
/// pass on; they are dropped rather than let h2 refuse the whole response.
const CONNECTION_HEADERS: [&str; 5] = ["connection", "transfer-encoding", "upgrade", "keep-alive", "proxy-connection"];

/// A [`Connector`] sending every call of a channel through `service`, a
/// `tower::Service<http::Request<TowerRequestBody>>` answering `http::Response<B>` for any body `B`
/// (hyper's `Incoming` included): a hyper client with tower layers around it, say. Requests carry the
/// channel's target as their URI's scheme and authority (`http://backend:50051/pkg.Svc/Method`), so a
/// hyper client can send them as they are; use a plaintext target (`http://`): TLS, if any, is the
/// service's business.
///
/// ```ignore
/// let service = tower::ServiceBuilder::new().layer(my_layer).service(hyper_client);
/// let channel = Channel::builder("http://backend:50051")?.connector(tower_connector(service)).connect_lazy();
/// ```
///
/// The service is cloned per call, as tower services are; a call whose service fails (its `poll_ready` or
/// its future returns an error) ends with UNAVAILABLE and the error's text.
pub fn tower_connector<S, B>(service: S) -> impl Connector
where
    S: tower_service::Service<http::Request<TowerRequestBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    TowerConnector { service }
}

struct TowerConnector<S> {
    service: S,
}

impl<S, B> Connector for TowerConnector<S>
where
    S: tower_service::Service<http::Request<TowerRequestBody>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    fn connect(&self, _address: Address) -> ConnectFuture {
        let (client, server) = tokio::io::duplex(PIPE_BUFFER);
        tokio::spawn(serve(server, self.service.clone()));
        Box::pin(async move { Ok::<_, io::Error>(Box::new(client) as Box<dyn Io>) })
    }
}

/// Serves one in-memory connection: each stream the channel opens becomes a call of `service`.
async fn serve<S, B>(io: tokio::io::DuplexStream, service: S)
where
    S: tower_service::Service<http::Request<TowerRequestBody>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(crate::wire::DEFAULT_STREAM_WINDOW_SIZE)
        .initial_connection_window_size(crate::wire::DEFAULT_CONNECTION_WINDOW_SIZE);
    let mut connection = match builder.handshake::<_, Bytes>(io).await {
        Ok(connection) => connection,
        Err(error) => return tracing::debug!(%error, "the in-memory tower connection failed its handshake"),
    };
    while let Some(accepted) = connection.accept().await {
        match accepted {
            Ok((request, respond)) => {
                tokio::spawn(answer(service.clone(), request, respond));
            }
            Err(error) => return tracing::debug!(%error, "the in-memory tower connection ended"),
        }
    }
}

/// One call: the request to the service, its response back, the body as flow control allows; a reset
/// from the channel (the call cancelled) drops the response body, which cancels it in the service.
async fn answer<S, B>(
    mut service: S,
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
) where
    S: tower_service::Service<http::Request<TowerRequestBody>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, TowerRequestBody::new(body));
    let called = async {
        std::future::poll_fn(|cx| service.poll_ready(cx)).await.map_err(Into::into)?;
        service.call(request).await.map_err(Into::into)
    };
    let response = match called.await {
        Ok(response) => response,
        Err(error) => {
            return trailers_only(&mut respond, &Status::unavailable(format!("the transport failed: {error}")))
        }
    };
    let (mut parts, body) = response.into_parts();
    for name in CONNECTION_HEADERS {
        parts.headers.remove(name);
    }
    let mut head = http::Response::new(());
    *head.status_mut() = parts.status;
    *head.headers_mut() = parts.headers;
    let end = body.is_end_stream();
    let Ok(mut send) = respond.send_response(head, end) else { return };
    if end {
        return;
    }
    let mut body = std::pin::pin!(body);
    loop {
        let frame = std::future::poll_fn(|cx| {
            if let Poll::Ready(reset) = send.poll_reset(cx) {
                return Poll::Ready(Err(reset.unwrap_or(h2::Reason::CANCEL)));
            }
            body.as_mut().poll_frame(cx).map(Ok)
        });
        // The error converted at once: the body's own error type need not be Send across the await below.
        let next = frame.await.map(|frame| frame.map(|frame| frame.map_err(Into::<BoxError>::into)));
        match next {
            // The channel reset the stream: dropping the body tells the service.
            Err(_) => return,
            Ok(None) => {
                let _ = send.send_data(Bytes::new(), true);
                return;
            }
            Ok(Some(Err(error))) => {
                tracing::debug!(%error, "the response body from the tower service failed");
                return send.send_reset(h2::Reason::INTERNAL_ERROR);
            }
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    let data = data.copy_to_bytes(data.remaining());
                    if !data.is_empty() && crate::streaming::send_message(&mut send, data, false).await.is_err() {
                        return;
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        let _ = send.send_trailers(trailers);
                        return;
                    }
                }
            },
        }
    }
}

/// Answers a stream with a gRPC status and nothing else.
fn trailers_only(respond: &mut h2::server::SendResponse<Bytes>, status: &Status) {
    let mut head = http::Response::new(());
    let headers = head.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(crate::wire::CONTENT_TYPE));
    status.write_headers(headers);
    let _ = respond.send_response(head, true);
}

/// The body of a request a channel sends through [`tower_connector`]'s service: the call's messages as the
/// channel sends them (gRPC length-prefixed frames), then the end. Flow control is released as the
/// service reads, so a service that stops reading holds the channel back instead of buffering.
pub struct TowerRequestBody {
    stream: Option<h2::RecvStream>,
}

impl TowerRequestBody {
    fn new(stream: h2::RecvStream) -> TowerRequestBody {
        let stream = if stream.is_end_stream() { None } else { Some(stream) };
        TowerRequestBody { stream }
    }
}

impl std::fmt::Debug for TowerRequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TowerRequestBody").field("done", &self.stream.is_none()).finish()
    }
}

impl Body for TowerRequestBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let Some(stream) = self.stream.as_mut() else { return Poll::Ready(None) };
        match stream.poll_data(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(data))) => {
                let _ = stream.flow_control().release_capacity(data.len());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(error))) => {
                self.stream = None;
                Poll::Ready(Some(Err(Status::from(error))))
            }
            // gRPC requests carry no trailers: the body ends with its data.
            Poll::Ready(None) => {
                self.stream = None;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_none()
    }
}
