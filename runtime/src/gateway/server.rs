//! The gateway's HTTP server: HTTP/1.1 and HTTP/2 on one port (hyper), routing each request to the route
//! whose method and template match; 404 for an unknown path, 405 with `Allow` for a known path and another
//! method, 415 for a body that is not JSON, 413 past the body limit.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;

use super::body::{self, GatewayBody};
use super::connection::{later, Activity, FirstRead};
use super::input::streaming_body;
use super::options::Options;
use super::response::error_response;
use super::route::{Call, Handle, Input, Route};
use super::template::PathTemplate;
use crate::interceptor::{Interceptors, StreamInterceptor, UnaryInterceptor};
use crate::json::JsonOptions;
use crate::status::Status;

/// The default request body limit.
pub const DEFAULT_MAX_BODY_SIZE: usize = 4 << 20;

/// How long a client may take to send its request headers, and then its body, by default: a client that
/// trickles bytes must not hold a connection and a task forever.
pub const DEFAULT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A route with its parsed template.
struct Compiled {
    method: http::Method,
    template: PathTemplate,
    route: Route,
}

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
        self.options.health_path = Some(path.to_owned());
        self
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

/// A REST/JSON gateway: serves the routes of generated gateway code over HTTP/1.1 and HTTP/2.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    routes: Vec<Compiled>,
    options: Arc<Options>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("routes", &self.inner.routes.len()).finish()
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
            health_path: None,
            interceptors: None,
            trust_forwarded: false,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keepalive_interval: Some(DEFAULT_KEEPALIVE_INTERVAL),
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        };
        GatewayBuilder { routes: Vec::new(), options, interceptors: Interceptors::default() }
    }

    /// Serves on `listener` until `signal` completes; then stops accepting and lets requests in flight
    /// finish within the [grace period](GatewayBuilder::shutdown_grace_period), after which the connections
    /// left are closed (and with them their requests' tasks). Returns once every connection is closed.
    pub async fn serve_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let options = self.inner.options.clone();
        let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(options.read_timeout);
        builder
            .http2()
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(options.keepalive_interval)
            .keep_alive_timeout(options.keepalive_timeout);
        let builder = Arc::new(builder);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        let mut signal = std::pin::pin!(signal);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut signal => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accepting a gateway connection failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            while connections.try_join_next().is_some() {}
            if connections.len() >= options.max_connections {
                tracing::warn!(%peer, max = options.max_connections, "the gateway is at its connection limit; closing a new one");
                continue;
            }
            let _ = stream.set_nodelay(true);
            connections.spawn(self.clone().serve_connection(stream, peer, builder.clone(), stopped.clone()));
        }
        // New clients are refused at once rather than left waiting in the accept queue during the drain.
        drop(listener);
        let _ = stop.send(true);
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(options.shutdown_grace_period, drain).await.is_err() {
            tracing::info!(
                connections = connections.len(),
                "the gateway's shutdown grace period ran out; closing the connections left"
            );
            // Dropping a connection ends its HTTP/2 streams' tasks too: each sees its stream reset.
            connections.abort_all();
            while connections.join_next().await.is_some() {}
        }
        Ok(())
    }

    /// Serves one connection until it ends, is idle too long, or a shutdown has drained it.
    async fn serve_connection(
        self,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        builder: Arc<hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>>,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) {
        let options = self.inner.options.clone();
        let activity = Arc::new(Activity::new());
        let tracked = activity.clone();
        let gateway = self;
        let service = hyper::service::service_fn(move |request| {
            let gateway = gateway.clone();
            // Held by the response body, so a request counts as in flight until its answer is written.
            let busy = tracked.start();
            async move {
                let response = gateway.handle(request, Some(peer)).await;
                Ok::<_, Infallible>(response.map(|body| {
                    body.map_frame(move |frame| {
                        let _ = &busy;
                        frame
                    })
                }))
            }
        });
        // hyper reads the protocol preface without a timeout: a client that sends nothing would hold the
        // connection and its task forever.
        let io = hyper_util::rt::TokioIo::new(FirstRead::new(stream, options.read_timeout));
        let connection = builder.serve_connection_with_upgrades(io, service);
        let mut connection = std::pin::pin!(connection);
        let idle = options.idle_timeout;
        let idle_check = tokio::time::sleep(idle);
        let mut idle_check = std::pin::pin!(idle_check);
        let mut closing = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "gateway connection ended with an error");
                    }
                    return;
                }
                _ = stopped.wait_for(|stop| *stop), if !closing => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = idle_check.as_mut(), if !closing => match activity.idle_since() {
                    Some(since) if since.elapsed() >= idle => {
                        tracing::debug!(%peer, "closing an idle gateway connection");
                        closing = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    Some(since) => idle_check.as_mut().reset(later(since.into(), idle)),
                    None => idle_check.as_mut().reset(later(tokio::time::Instant::now(), idle)),
                },
            }
        }
    }

    /// Answers one request (to mount the gateway in another hyper server). Interceptors, deadlines, body
    /// limits and timeouts and the panic guard apply; the connection limits (first-read, idle and keepalive
    /// timeouts, `max_connections`) are then the host server's to set.
    pub async fn handle<B>(&self, request: http::Request<B>, peer: Option<SocketAddr>) -> http::Response<GatewayBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let options = &self.inner.options;
        let path = request.uri().path().to_owned();
        if options.health_path.as_deref() == Some(path.as_str()) && request.method() == http::Method::GET {
            return json_response(http::StatusCode::OK, "{\"status\":\"SERVING\"}".into());
        }
        if !super::template::is_well_encoded(&path) {
            let status = Status::invalid_argument(format!("the path {path:?} has a malformed percent-escape"));
            return error_response(&status, options);
        }
        let mut allowed: Vec<&http::Method> = Vec::new();
        let mut found: Option<(&Compiled, Vec<(String, String)>)> = None;
        for compiled in &self.inner.routes {
            if let Some(values) = compiled.template.match_path(&path) {
                if compiled.method == *request.method() {
                    // The most specific match wins (a verb, then more literal segments), whatever the order.
                    if found
                        .as_ref()
                        .is_none_or(|(best, _)| compiled.template.specificity() > best.template.specificity())
                    {
                        found = Some((compiled, values));
                    }
                } else if !allowed.contains(&&compiled.method) {
                    allowed.push(&compiled.method);
                }
            }
        }
        let Some((compiled, path_values)) = found else {
            if allowed.is_empty() {
                return error_response(&Status::not_found(format!("no route for {path}")), options);
            }
            let mut response = error_response(
                &Status::unimplemented(format!("{} is not allowed on {path}", request.method())),
                options,
            );
            *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
            let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
            if let Ok(value) = http::HeaderValue::from_str(&allow.join(", ")) {
                response.headers_mut().insert(http::header::ALLOW, value);
            }
            return response;
        };
        let (head, body) = request.into_parts();
        let takes_body = compiled.route.input == Input::Stream || compiled.route.spec.body != super::BodyRule::None;
        if takes_body && !compiled.route.raw.request {
            if let Some(content_type) = head.headers.get(http::header::CONTENT_TYPE) {
                if !is_json(content_type.as_bytes()) {
                    let status = Status::invalid_argument(format!(
                        "the body must be JSON (Content-Type: application/json), not {:?}",
                        String::from_utf8_lossy(content_type.as_bytes())
                    ));
                    let mut response = error_response(&status, options);
                    *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
                    return response;
                }
            }
        }
        let sse = head
            .headers
            .get_all(http::header::ACCEPT)
            .iter()
            .any(|value| value.to_str().is_ok_and(|v| v.contains("text/event-stream")));
        if compiled.route.input == Input::Stream {
            // Read as it arrives: a bidirectional call answers while the client is still sending.
            let (chunks, stalled) = streaming_body(body, options.read_timeout);
            let call = Call {
                head,
                body: Bytes::new(),
                stream: std::sync::Mutex::new(Some(chunks)),
                path_values,
                options: options.clone(),
                peer,
                sse,
                body_timed_out: Some(stalled),
                raw: compiled.route.raw,
            };
            return caught(compiled.route.handler.as_ref(), call).await;
        }
        let collect = http_body_util::Limited::new(body, options.max_body_size).collect();
        let Ok(collected) = tokio::time::timeout(options.read_timeout, collect).await else {
            let status = Status::deadline_exceeded("the request body did not arrive in time");
            let mut response = error_response(&status, options);
            *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
            return response;
        };
        let body = match collected {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                let status =
                    Status::resource_exhausted(format!("the request body is over {} bytes", options.max_body_size));
                let mut response = error_response(&status, options);
                *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
                return response;
            }
            Err(error) => {
                return error_response(
                    &Status::invalid_argument(format!("reading the request body failed: {error}")),
                    options,
                )
            }
        };
        let call = Call {
            head,
            body,
            stream: std::sync::Mutex::new(None),
            path_values,
            options: options.clone(),
            peer,
            sse,
            body_timed_out: None,
            raw: compiled.route.raw,
        };
        caught(compiled.route.handler.as_ref(), call).await
    }
}

/// Runs a route's handler; a panic in it (the service's code) is answered 500 with a `google.rpc.Status`
/// body, as the gRPC server answers `INTERNAL`, instead of unwinding into the connection and closing it
/// for every request on it.
async fn caught(handler: &dyn Handle, call: Call) -> http::Response<GatewayBody> {
    let options = call.options.clone();
    let panicked = |panic: Box<dyn std::any::Any + Send>| {
        let message = crate::interceptor::recovery::panic_message(panic.as_ref());
        tracing::error!(panic = %message, "a gateway handler panicked; the request fails with INTERNAL");
        error_response(&Status::internal("the handler panicked"), &options)
    };
    let mut future = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(call))) {
        Ok(future) => future,
        Err(panic) => return panicked(panic),
    };
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => std::task::Poll::Ready(panicked(panic)),
        }
    })
    .await
}

/// `application/json`, `application/*+json` and `text/json`, with or without parameters.
fn is_json(content_type: &[u8]) -> bool {
    let text = String::from_utf8_lossy(content_type).to_ascii_lowercase();
    let essence = text.split(';').next().unwrap_or_default().trim();
    essence == "application/json"
        || essence == "text/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn json_response(status: http::StatusCode, json: String) -> http::Response<GatewayBody> {
    let mut response = http::Response::new(if json.is_empty() { body::empty() } else { body::full(json) });
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}
