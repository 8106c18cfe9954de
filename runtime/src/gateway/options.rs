//! What the gateway's parts share: the settings every route and response reads, and the response field a
//! rule sends as the body. Their own module, so that the server, the routes and the response writing depend
//! on it and not on each other.

use std::sync::Arc;

use bytes::Bytes;

use super::cors::Cors;
use super::headers::HeaderMatcher;
use crate::interceptor::Interceptors;
use crate::json::JsonOptions;

/// The response field a rule's `response_body` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseField {
    /// Its proto name.
    pub name: &'static str,
    /// Its JSON name.
    pub json_name: &'static str,
}

/// Settings routes share.
pub(crate) struct Options {
    pub(crate) max_body_size: usize,
    /// How long a client may take to send its request headers, and its body.
    pub(crate) read_timeout: std::time::Duration,
    /// How long a graceful shutdown waits for requests in flight.
    pub(crate) shutdown_grace_period: std::time::Duration,
    pub(crate) read: JsonOptions,
    pub(crate) write: JsonOptions,
    pub(crate) header_matcher: Option<HeaderMatcher>,
    pub(crate) health: Option<HealthEndpoint>,
    /// `None`: no CORS headers, no preflight answers (browsers then refuse cross-origin calls).
    pub(crate) cors: Option<Cors>,
    /// TLS on the listener (ALPN `h2` and `http/1.1`).
    pub(crate) tls: Option<crate::server::ServerTls>,
    /// The gateway's interceptors; `None` when there are none, so calls skip them without a look.
    pub(crate) interceptors: Option<Arc<Interceptors>>,
    /// Whether the client's own `X-Forwarded-For` and `X-Forwarded-Host` are believed.
    pub(crate) trust_forwarded: bool,
    /// How long a connection may go without a request in flight before it is closed.
    pub(crate) idle_timeout: std::time::Duration,
    /// HTTP/2 keepalive: a PING after this long without frames from the client...
    pub(crate) keepalive_interval: Option<std::time::Duration>,
    /// ...which it must answer within this, or its connection is closed.
    pub(crate) keepalive_timeout: std::time::Duration,
    /// The most connections served at once; more are closed as they come.
    pub(crate) max_connections: usize,
    /// The indentation of whole JSON documents (unary answers, errors); `None` writes them on one line.
    pub(crate) indent: Option<String>,
    /// Rewrites every error answer (grpc-gateway's `WithErrorHandler`).
    pub(crate) error_handler: Option<ErrorHandler>,
    /// Sees and may change every successful answer's head (grpc-gateway's `WithForwardResponseOption`).
    pub(crate) forward_response: Option<ForwardResponse>,
    /// The gRPC server that answers gRPC requests on the gateway's port, if any.
    pub(crate) grpc: Option<Arc<crate::server::in_process::InProcess>>,
    /// Streaming methods over WebSocket upgrades; `None`: off (the default).
    pub(crate) websocket: Option<WebSocketLimits>,
}

/// A custom error answer: gets the call's status and the answer the gateway would send, returns the one
/// to send.
pub type ErrorHandler =
    Arc<dyn Fn(&crate::status::Status, http::Response<GatewayBody>) -> http::Response<GatewayBody> + Send + Sync>;

/// A hook on successful answers: may set headers and change the status; an error it returns fails the
/// call with that status instead.
pub type ForwardResponse = Arc<dyn Fn(&mut ResponseParts<'_>) -> Result<(), crate::status::Status> + Send + Sync>;

/// The head of a successful answer, as a [`ForwardResponse`] hook sees it.
pub struct ResponseParts<'a> {
    /// The HTTP status (200 unless a hook changed it).
    pub status: &'a mut http::StatusCode,
    /// The headers (content type, `Grpc-Metadata-*` from the response metadata).
    pub headers: &'a mut http::HeaderMap,
    /// The response message, for a unary answer (downcast it to the method's type); `None` for streams.
    pub message: Option<&'a dyn std::any::Any>,
}

impl std::fmt::Debug for ResponseParts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseParts")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Where the health endpoint's answer comes from.
#[derive(Clone, Debug)]
pub(crate) enum HealthSource {
    /// The gateway runs: always SERVING.
    Running,
    /// The reporter of the health service served in this process.
    Reporter(crate::health::HealthReporter),
    /// The health service of the gRPC server behind the gateway.
    Client(crate::health::HealthClient),
}

/// The health endpoint's path and source.
#[derive(Clone, Debug)]
pub(crate) struct HealthEndpoint {
    pub(crate) path: String,
    pub(crate) source: HealthSource,
}

/// The body of every gateway response.
pub type GatewayBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BodyError>;

/// Why a response body was cut short: the call failed after the answer's head was sent, in an answer whose
/// body has no way to say so (a raw `google.api.HttpBody` download); the server then aborts the response
/// (HTTP/2 `RST_STREAM`, an HTTP/1.1 connection closed before the body's end).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// WebSocket settings of a gateway.
#[derive(Debug, Clone, Default)]
pub(crate) struct WebSocketLimits {
    /// The largest message (and frame) a client may send; `None`: the body limit.
    pub(crate) max_message_size: Option<usize>,
}
