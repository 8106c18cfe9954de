//! The gateway's HTTP server: HTTP/1.1 and HTTP/2 on one port (hyper), routing each request to the route
//! whose method and template match; 404 for an unknown path, 405 with `Allow` for a known path and another
//! method, 415 for a body that is not JSON, 413 past the body limit.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;

use super::body::GatewayBody;
use super::connection::{later, Activity, FirstRead};
pub(crate) use super::dispatch::{caught, Compiled, Inner};
use super::input::streaming_body;
use super::response::{error_response, error_response_as};
use super::route::{Call, Input};
use crate::status::Status;

/// A REST/JSON gateway: serves the routes of generated gateway code over HTTP/1.1 and HTTP/2.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("routes", &self.inner.routes.len()).finish()
    }
}

impl Gateway {
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
            let (gateway, builder, stopped) = (self.clone(), builder.clone(), stopped.clone());
            #[cfg_attr(not(feature = "tls"), allow(clippy::clone_on_copy))]
            match options.tls.clone() {
                None => connections.spawn(gateway.serve_connection(stream, peer, None, builder, stopped)),
                #[cfg(not(feature = "tls"))]
                Some(tls) => match tls {},
                #[cfg(feature = "tls")]
                Some(tls) => connections.spawn(async move {
                    // The handshake must finish within the read timeout, as a plain connection's first bytes.
                    let handshake = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
                    match tokio::time::timeout(gateway.inner.options.read_timeout, handshake).await {
                        Ok(Ok(stream)) => {
                            let certificates = super::PeerCertificates::of(stream.get_ref().1);
                            gateway.serve_connection(stream, peer, certificates, builder, stopped).await
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "a gateway TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "a gateway TLS handshake timed out"),
                    }
                }),
            };
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
    async fn serve_connection<IO>(
        self,
        stream: IO,
        peer: SocketAddr,
        certificates: Option<super::PeerCertificates>,
        builder: Arc<hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>>,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let options = self.inner.options.clone();
        let activity = Arc::new(Activity::new());
        let tracked = activity.clone();
        let (upgrades, mut upgraded) = super::websocket::slot(stopped.clone());
        let gateway = self;
        let service = hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
            let gateway = gateway.clone();
            if let Some(certificates) = &certificates {
                request.extensions_mut().insert(certificates.clone());
            }
            request.extensions_mut().insert(upgrades.clone());
            // Held by the response body, so a request counts as in flight until its answer is written.
            let busy = tracked.start();
            async move {
                let response = gateway.answer(request, Some(peer)).await;
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
                    break;
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
        // A WebSocket upgrade hands the connection on: it is served here, so it counts against
        // max_connections and ends with the gateway.
        super::websocket::serve_upgraded(&mut upgraded).await;
    }

    /// Answers one request (to mount the gateway in another hyper server). Interceptors, deadlines, body
    /// limits and timeouts and the panic guard apply; the connection limits (first-read, idle and keepalive
    /// timeouts, `max_connections`) are then the host server's to set.
    pub async fn handle<B>(&self, request: http::Request<B>, peer: Option<SocketAddr>) -> http::Response<GatewayBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Some(cors) = &self.inner.options.cors else { return self.route(request, peer).await };
        if let Some(preflight) = cors.preflight(request.method(), request.headers()) {
            return preflight.map(|()| super::body::empty());
        }
        let origin = request.headers().get(http::header::ORIGIN).cloned();
        let mut response = self.route(request, peer).await;
        let mut asked = http::HeaderMap::new();
        if let Some(origin) = origin {
            asked.insert(http::header::ORIGIN, origin);
        }
        cors.decorate(&asked, response.headers_mut());
        response
    }

    /// Answers one request: the health endpoint, or the route that matches.
    async fn route<B>(&self, request: http::Request<B>, peer: Option<SocketAddr>) -> http::Response<GatewayBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let options = &self.inner.options;
        let path = request.uri().path().to_owned();
        if let Some(health) = options.health.as_ref().filter(|h| h.path == path) {
            if request.method() == http::Method::GET {
                return super::health::answer(&health.source, request.uri().query(), options).await;
            }
        }
        if !super::template::is_well_encoded(&path) {
            let status = Status::invalid_argument(format!("the path {path:?} has a malformed percent-escape"));
            return error_response(&status, options);
        }
        if options.websocket.is_some() && super::websocket::is_upgrade(&request) {
            return super::websocket::upgrade(&self.inner, request, peer);
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
            let status = Status::unimplemented(format!("{} is not allowed on {path}", request.method()));
            let mut response = error_response_as(&status, options, http::StatusCode::METHOD_NOT_ALLOWED);
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
                    return error_response_as(&status, options, http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
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
                frames: Default::default(),
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
            return error_response_as(&status, options, http::StatusCode::REQUEST_TIMEOUT);
        };
        let body = match collected {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                let status =
                    Status::resource_exhausted(format!("the request body is over {} bytes", options.max_body_size));
                return error_response_as(&status, options, http::StatusCode::PAYLOAD_TOO_LARGE);
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
            frames: Default::default(),
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

/// `application/json`, `application/*+json` and `text/json`, with or without parameters.
fn is_json(content_type: &[u8]) -> bool {
    let text = String::from_utf8_lossy(content_type).to_ascii_lowercase();
    let essence = text.split(';').next().unwrap_or_default().trim();
    essence == "application/json"
        || essence == "text/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}
