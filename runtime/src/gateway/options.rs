//! What the gateway's parts share: the settings every route and response reads, and the response field a
//! rule sends as the body. Their own module, so that the server, the routes and the response writing depend
//! on it and not on each other.

use std::sync::Arc;

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
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
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
