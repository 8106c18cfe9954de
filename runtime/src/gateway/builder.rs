//! Building a gateway: its routes (checked: templates, methods, no two routes for the same requests) and
//! its settings, with defaults safe for production.

use std::sync::Arc;

use super::body::GatewayBody;
use super::cors::Cors;
use super::dispatch::{Compiled, Inner};
use super::options::{HealthEndpoint, HealthSource, Options, ResponseParts};
use super::route::Route;
use super::server::Gateway;
use super::template::PathTemplate;
use crate::interceptor::{Interceptors, StreamInterceptor, UnaryInterceptor};
use crate::json::JsonOptions;

/// The default request body limit.
pub const DEFAULT_MAX_BODY_SIZE: usize = 4 << 20;

/// How long a client may take to send its request headers, and then its body, by default: a client that
/// trickles bytes must not hold a connection and a task forever.
pub const DEFAULT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a connection may stay open without a request in flight by default (nginx's
/// `keepalive_timeout`): idle clients must not hold connections forever.
pub const DEFAULT_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(75);

/// How often an HTTP/2 client that sent nothing is pinged by default, so a peer that vanished without
/// closing TCP is noticed even in the middle of a long stream.
pub const DEFAULT_KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a keepalive PING may go unanswered by default before the connection is closed.
pub const DEFAULT_KEEPALIVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The most connections a gateway serves at once by default; each costs a task and buffers, so a flood
/// of connections must not exhaust memory or file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Builds a [`Gateway`].
pub struct GatewayBuilder {
    routes: Vec<Route>,
    options: Options,
    interceptors: Interceptors,
}

impl std::fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder").field("routes", &self.routes).finish_non_exhaustive()
    }
}

/// A route set that cannot be served: a bad template or method, or two routes for the same requests (a
/// [`ConfigError`](crate::ConfigError) of kind `Route`).
pub type GatewayError = crate::ConfigError;

#[allow(non_snake_case)]
fn GatewayError(message: String) -> crate::ConfigError {
    crate::ConfigError::new(crate::ConfigErrorKind::Route, message)
}

impl GatewayBuilder {
    /// Adds routes (a generated `routes(...)` or `proxy_routes(...)`); earlier ones win when two match.
    pub fn routes(mut self, routes: impl IntoIterator<Item = Route>) -> Self {
        self.routes.extend(routes);
        self
    }

    /// Writes fields holding their default values too (grpc-gateway's `EmitUnpopulated`).
    pub fn emit_defaults(mut self, emit: bool) -> Self {
        self.options.write.emit_defaults = emit;
        self
    }

    /// Writes proto field names (`user_id`) instead of JSON names (`userId`).
    pub fn proto_names(mut self, proto_names: bool) -> Self {
        self.options.write.proto_names = proto_names;
        self
    }

    /// Writes enum values as their numbers (`"genre": 2`) instead of their names, in answers and stream
    /// messages (protojson's `UseEnumNumbers`, Envoy's `always_print_enums_as_ints`). Requests take both
    /// forms either way.
    pub fn use_enum_numbers(mut self, numbers: bool) -> Self {
        self.options.write.use_enum_numbers = numbers;
        self
    }

    /// Reads enum names in any case (`genre=history` for `HISTORY`) in the path, the query and the body:
    /// a name that matches no value is tried again upper-cased (Envoy's `case_insensitive_enum_parsing`).
    /// Off by default, as protojson reads names exactly.
    pub fn case_insensitive_enums(mut self, insensitive: bool) -> Self {
        self.options.read.case_insensitive_enums = insensitive;
        self
    }

    /// Fails requests naming fields the message does not have, instead of ignoring them (the default, as
    /// in grpc-gateway).
    pub fn reject_unknown_fields(mut self, reject: bool) -> Self {
        self.options.read.ignore_unknown = !reject;
        self
    }

    /// The largest request body accepted (default 4 MiB); larger ones get 413.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.options.max_body_size = bytes;
        self
    }

    /// How long a client may take to send its first bytes, its request headers, then its body, and each
    /// chunk of a streaming body (default 30 s); a slow body gets 408.
    pub fn read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.read_timeout = timeout;
        self
    }

    /// How long a graceful shutdown lets requests in flight (streams included) run before closing their
    /// connections (default 30 s, as the gRPC server's).
    pub fn shutdown_grace_period(mut self, grace: std::time::Duration) -> Self {
        self.options.shutdown_grace_period = grace;
        self
    }

    /// Forwards more headers as metadata: `matcher` gets each header's lower-case name and returns the
    /// metadata key for it, or `None` for the default rules.
    pub fn header_matcher(mut self, matcher: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.options.header_matcher = Some(Arc::new(matcher));
        self
    }

    /// Answers `GET path` with `200 {"status":"SERVING"}` while the gateway runs (for load balancers).
    pub fn health_endpoint(mut self, path: &str) -> Self {
        self.options.health = Some(HealthEndpoint { path: path.to_owned(), source: HealthSource::Running });
        self
    }

    /// Answers `GET path[?service=name]` from the health service this process serves (the reporter of
    /// [`health_service`](crate::health::health_service)): 200 for SERVING, 503 for NOT_SERVING, 404 for a
    /// service it does not know.
    pub fn health_endpoint_from_reporter(mut self, path: &str, reporter: crate::health::HealthReporter) -> Self {
        let source = HealthSource::Reporter(reporter);
        self.options.health = Some(HealthEndpoint { path: path.to_owned(), source });
        self
    }

    /// Answers `GET path[?service=name]` by asking the gRPC server's health service through `client`
    /// (grpc-gateway's `WithHealthzEndpoint`): 200 for SERVING, 503 for NOT_SERVING, the check's error
    /// otherwise (404 for an unknown service, 503 when the server is unreachable).
    pub fn health_endpoint_from_client(mut self, path: &str, client: crate::health::HealthClient) -> Self {
        let source = HealthSource::Client(client);
        self.options.health = Some(HealthEndpoint { path: path.to_owned(), source });
        self
    }

    /// Indents whole JSON answers (unary responses and errors) with `indent` (`"  "`), as protojson's
    /// `Indent`; streams stay one message per line.
    pub fn indent(mut self, indent: &str) -> Self {
        self.options.indent = Some(indent.to_owned());
        self
    }

    /// Rewrites every error answer, the gateway's own (404, 405, 413...) and the service's (grpc-gateway's
    /// `WithErrorHandler`): `handler` gets the status and the answer the gateway would send, and returns
    /// the answer to send (another status, headers, a body of the application's shape).
    pub fn error_handler(
        mut self,
        handler: impl Fn(&crate::Status, http::Response<GatewayBody>) -> http::Response<GatewayBody> + Send + Sync + 'static,
    ) -> Self {
        self.options.error_handler = Some(Arc::new(handler));
        self
    }

    /// Runs `hook` on every successful answer before it is sent (grpc-gateway's
    /// `WithForwardResponseOption`): it may set headers, change the status (201 for a create, say, by
    /// looking at the message), or fail the call.
    pub fn forward_response(
        mut self,
        hook: impl Fn(&mut ResponseParts<'_>) -> Result<(), crate::Status> + Send + Sync + 'static,
    ) -> Self {
        self.options.forward_response = Some(Arc::new(hook));
        self
    }

    /// Serves the streaming methods (server, client and bidirectional) over WebSocket upgrades of their
    /// routes' paths too (off by default): one JSON message per text frame each way, the final status as
    /// the close frame (the README's gateway section has the protocol). Messages are limited to the
    /// [body limit](Self::max_body_size) unless [`websocket_max_message_size`](Self::websocket_max_message_size)
    /// says otherwise.
    pub fn websocket(mut self, enable: bool) -> Self {
        self.options.websocket = enable.then(|| self.options.websocket.take().unwrap_or_default());
        self
    }

    /// The largest WebSocket message (and frame) a client may send (default: the body limit, 4 MiB); a
    /// larger one closes the connection with 1009 and cancels the call. Turns WebSocket on.
    pub fn websocket_max_message_size(mut self, bytes: usize) -> Self {
        let limits = self.options.websocket.get_or_insert_with(Default::default);
        limits.max_message_size = Some(bytes);
        self
    }

    /// Lets browsers call the gateway from other origins as `cors` says (off by default): the gateway
    /// answers preflights and adds `Access-Control-*` headers to answers for allowed origins.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.options.cors = Some(cors);
        self
    }

    /// Serves over TLS with this identity (and, for mutual TLS, client CAs), the runtime's TLS types as on
    /// the gRPC server; ALPN offers `h2` and `http/1.1`.
    /// Serves gRPC on the gateway's port too: requests with `content-type: application/grpc` (or
    /// `application/grpc+proto`) go to `server`, over HTTP/2 (h2c, or TLS with ALPN `h2` when the gateway
    /// has [`tls`](Self::tls)); every other request to the REST routes. See the README's gateway section.
    pub fn grpc(mut self, server: crate::server::Server) -> Self {
        self.options.grpc = Some(Arc::new(crate::server::in_process::InProcess::new(server)));
        self
    }

    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::ServerTlsConfig) -> Result<Self, crate::tls::TlsError> {
        let mut built = (*config.build()?).clone();
        built.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        self.options.tls = Some(Arc::new(built));
        Ok(self)
    }

    /// Adds an interceptor around unary calls, as [`ServerBuilder::unary_interceptor`] does on the gRPC
    /// server: interceptors run in the order they were added (the first outermost), around every route's
    /// call, in process and proxied alike.
    ///
    /// [`ServerBuilder::unary_interceptor`]: crate::server::ServerBuilder::unary_interceptor
    pub fn unary_interceptor(mut self, interceptor: impl UnaryInterceptor) -> Self {
        self.interceptors.push_unary(Arc::new(interceptor));
        self
    }

    /// Adds an interceptor around streaming calls (server, client and bidirectional streaming), after those
    /// added before. It sees the request messages read from the body and the response messages written.
    pub fn stream_interceptor(mut self, interceptor: impl StreamInterceptor) -> Self {
        self.interceptors.push_stream(Arc::new(interceptor));
        self
    }

    /// Adds an interceptor of both kinds ([`auth_fn`](crate::interceptor::auth_fn),
    /// [`recovery`](crate::interceptor::recovery), [`logging`](crate::interceptor::logging)) around every
    /// call: give the gateway the interceptors of the gRPC server whose service it calls in process, so REST
    /// traffic is authenticated and logged as gRPC traffic is.
    pub fn interceptor<I: UnaryInterceptor + StreamInterceptor>(mut self, interceptor: I) -> Self {
        let interceptor = Arc::new(interceptor);
        self.interceptors.push_unary(interceptor.clone());
        self.interceptors.push_stream(interceptor);
        self
    }

    /// Believes the client's own `X-Forwarded-For` and `X-Forwarded-Host` (off by default): turn it on only
    /// behind a proxy that sets them, since a client that reaches the gateway directly could write anything
    /// there. Off, `x-forwarded-for` is the peer's address and `x-forwarded-host` the request's `Host`.
    pub fn trust_forwarded_headers(mut self, trust: bool) -> Self {
        self.options.trust_forwarded = trust;
        self
    }

    /// How long a connection may stay open without a request in flight (default 75 s); then it is closed
    /// gracefully (HTTP/2 GOAWAY).
    pub fn idle_timeout(mut self, idle: std::time::Duration) -> Self {
        self.options.idle_timeout = idle;
        self
    }

    /// HTTP/2 keepalive: pings a client that sent nothing for `interval` (default 60 s; `None` never) and
    /// closes its connection when the answer takes longer than `timeout` (default 20 s).
    pub fn http2_keepalive(mut self, interval: Option<std::time::Duration>, timeout: std::time::Duration) -> Self {
        self.options.keepalive_interval = interval;
        self.options.keepalive_timeout = timeout;
        self
    }

    /// The most connections served at once (default 10,000); a connection past it is closed as it comes.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.options.max_connections = connections;
        self
    }

    /// The gateway; an error names a route that cannot work.
    pub fn build(mut self) -> Result<Gateway, GatewayError> {
        if let Some(cors) = &self.options.cors {
            cors.check().map_err(GatewayError)?;
        }
        if !self.interceptors.is_empty() {
            self.options.interceptors = Some(Arc::new(std::mem::take(&mut self.interceptors)));
        }
        let mut compiled: Vec<Compiled> = Vec::with_capacity(self.routes.len());
        for route in self.routes {
            let spec = route.spec;
            let template =
                PathTemplate::parse(spec.template).map_err(|e| GatewayError(format!("{}: {e}", spec.rpc)))?;
            let method = http::Method::from_bytes(spec.method.as_bytes())
                .map_err(|_| GatewayError(format!("{}: {:?} is not an HTTP method", spec.rpc, spec.method)))?;
            if let Some(other) = compiled.iter().find(|c| c.method == method && c.template.same_shape(&template)) {
                return Err(GatewayError(format!(
                    "{} and {} both bind {method} {}",
                    other.route.spec.rpc, spec.rpc, spec.template
                )));
            }
            compiled.push(Compiled { method, template, route });
        }
        Ok(Gateway { inner: Arc::new(Inner { routes: compiled, options: Arc::new(self.options) }) })
    }
}

impl Gateway {
    /// A builder with grpc-gateway's defaults: JSON names, no default values, unknown fields ignored.
    pub fn builder() -> GatewayBuilder {
        let read = JsonOptions { ignore_unknown: true, ..Default::default() };
        let options = Options {
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            read_timeout: DEFAULT_READ_TIMEOUT,
            shutdown_grace_period: crate::server::DEFAULT_SHUTDOWN_GRACE_PERIOD,
            read,
            write: JsonOptions::default(),
            header_matcher: None,
            indent: None,
            error_handler: None,
            forward_response: None,
            websocket: None,
            health: None,
            cors: None,
            tls: None,
            interceptors: None,
            trust_forwarded: false,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keepalive_interval: Some(DEFAULT_KEEPALIVE_INTERVAL),
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            grpc: None,
        };
        GatewayBuilder { routes: Vec::new(), options, interceptors: Interceptors::default() }
    }
}
