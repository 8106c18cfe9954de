//! The gateway's HTTP server: HTTP/1.1 and HTTP/2 on one port (hyper), routing each request to the route
//! whose method and template match; 404 for an unknown path, 405 with `Allow` for a known path and another
//! method, 415 for a body that is not JSON, 413 past the body limit.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::BodyExt;

use super::body::{self, GatewayBody};
use super::headers::HeaderMatcher;
use super::route::{error_response, Call, Input, Route};
use super::template::PathTemplate;
use crate::json::JsonOptions;
use crate::status::Status;

/// The default request body limit.
pub const DEFAULT_MAX_BODY_SIZE: usize = 4 << 20;

/// How long a client may take to send its request headers, and then its body, by default: a client that
/// trickles bytes must not hold a connection and a task forever.
pub const DEFAULT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

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
    pub(crate) health_path: Option<String>,
}

/// A route with its parsed template.
struct Compiled {
    method: http::Method,
    template: PathTemplate,
    route: Route,
}

/// Builds a [`Gateway`].
pub struct GatewayBuilder {
    routes: Vec<Route>,
    options: Options,
}

impl std::fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder").field("routes", &self.routes).finish_non_exhaustive()
    }
}

/// A route set that cannot be served: a bad template or method, or two routes for the same requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError(pub String);

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GatewayError {}

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

    /// How long a client may take to send its request headers, and then its body (default 30 s); a slow
    /// body gets 408.
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

    /// The gateway; an error names a route that cannot work.
    pub fn build(self) -> Result<Gateway, GatewayError> {
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
        };
        GatewayBuilder { routes: Vec::new(), options }
    }

    /// Serves on `listener` until `signal` completes; then stops accepting and lets requests in flight
    /// finish.
    pub async fn serve_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(self.inner.options.read_timeout);
        builder.http2().timer(hyper_util::rt::TokioTimer::new());
        let mut signal = std::pin::pin!(signal);
        loop {
            let (stream, peer) = tokio::select! {
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accepting a gateway connection failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let gateway = self.clone();
            let service = hyper::service::service_fn(move |request| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(gateway.handle(request, Some(peer)).await) }
            });
            let connection = builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service);
            let connection = graceful.watch(connection.into_owned());
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%peer, %error, "gateway connection ended with an error");
                }
            });
        }
        drop(listener);
        let grace = self.inner.options.shutdown_grace_period;
        if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
            tracing::info!("the gateway's shutdown grace period ran out; closing the connections left");
        }
        Ok(())
    }

    /// Answers one request (to mount the gateway in another hyper server).
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
        if takes_body {
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
            let chunks = http_body_util::BodyStream::new(body)
                .map(|frame| match frame {
                    Ok(frame) => frame.into_data().ok().map(Ok),
                    Err(error) => {
                        let error: Box<dyn std::error::Error + Send + Sync> = error.into();
                        Some(Err(Status::invalid_argument(format!("reading the request body failed: {error}"))))
                    }
                })
                .filter_map(std::future::ready);
            let call = Call {
                head,
                body: Bytes::new(),
                stream: std::sync::Mutex::new(Some(Box::pin(chunks))),
                path_values,
                options: options.clone(),
                peer,
                sse,
            };
            return compiled.route.handler.handle(call).await;
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
        let call =
            Call { head, body, stream: std::sync::Mutex::new(None), path_values, options: options.clone(), peer, sse };
        compiled.route.handler.handle(call).await
    }
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
