//! The gRPC server: services registered by name, served on TCP or Unix sockets, one task per connection,
//! graceful shutdown (GOAWAY, in-flight calls finish, new ones are refused).

mod accepting;
mod call;
mod connection;
mod frame_watch;
#[cfg(any(feature = "tower", feature = "gateway"))]
pub(crate) mod in_process;
mod lifetime;
mod ping_policy;
mod router;
mod runner;
mod service_settings;
#[cfg(feature = "tower")]
pub mod tower;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;

use call::CallLimits;
pub use call::{client_streaming, server_streaming, streaming, unary, BoxStream, ServerCall};
pub(crate) use router::Router;
pub use service_settings::ServiceSettings;

use crate::interceptor::{Interceptors, StreamInterceptor, UnaryInterceptor};
use crate::observe::channelz::{Endpoints, Registered, ServerNode, SocketAddress, SocketNode};
use crate::wire;

/// The future of one call, as a service starts it.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A gRPC service, as generated code implements it (`GreeterServer::new(my_impl)`).
pub trait Service: Send + Sync + 'static {
    /// The full name, `package.Service`.
    fn name(&self) -> &'static str;

    /// Starts a call to `method` (the last path segment, `SayHello`).
    fn call(&self, method: &str, call: ServerCall) -> BoxFuture;

    /// The encoded `FileDescriptorSet` of the service's file and what it imports (for reflection).
    fn file_descriptor_set(&self) -> &'static [u8] {
        &[]
    }
}

/// How long a graceful shutdown waits for calls in flight by default: Kubernetes' default termination grace
/// period, so a pod's server is done before it would be killed anyway.
pub const DEFAULT_SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(30);

/// How many connections a server serves at once by default; past it, new connections wait in the listen
/// queue until one closes, so a flood of connections cannot take every file descriptor and its memory.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// Settings of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    max_receive_message_size: usize,
    /// The largest of the services' own receive limits (0 when none has one), for the budget's floor.
    largest_service_receive: usize,
    max_send_message_size: usize,
    receive_budget: usize,
    max_connections: usize,
    max_concurrent_streams: Option<u32>,
    initial_stream_window_size: Option<u32>,
    initial_connection_window_size: Option<u32>,
    max_header_list_size: Option<u32>,
    max_frame_size: Option<u32>,
    handshake_timeout: Duration,
    shutdown_grace_period: Option<Duration>,
    keepalive: Option<crate::keepalive::Keepalive>,
    keepalive_enforcement: Option<crate::keepalive::KeepaliveEnforcement>,
    lifetime: lifetime::ConnectionLimits,
    send_compressed: Option<crate::compression::Encoding>,
    spawn_calls: bool,
    tls: Option<ServerTls>,
    /// Whether this serves in-process connections, whose requests carry their host connection's peer
    /// address in a header only the in-process side sets.
    #[cfg_attr(not(any(feature = "tower", feature = "gateway")), allow(dead_code))]
    in_process: bool,
}

/// A server's TLS configuration; without the `tls` feature there is none to hold.
#[cfg(feature = "tls")]
pub(crate) type ServerTls = Arc<rustls::ServerConfig>;
/// A server's TLS configuration; without the `tls` feature there is none to hold.
#[cfg(not(feature = "tls"))]
pub(crate) type ServerTls = std::convert::Infallible;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_receive_message_size: wire::DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
            largest_service_receive: 0,
            max_send_message_size: wire::DEFAULT_MAX_SEND_MESSAGE_SIZE,
            receive_budget: crate::budget::DEFAULT_CONNECTION_RECEIVE_BUDGET,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_concurrent_streams: Some(wire::DEFAULT_MAX_CONCURRENT_STREAMS),
            initial_stream_window_size: Some(wire::DEFAULT_STREAM_WINDOW_SIZE),
            initial_connection_window_size: Some(wire::DEFAULT_CONNECTION_WINDOW_SIZE),
            max_header_list_size: Some(wire::DEFAULT_MAX_HEADER_LIST_SIZE),
            max_frame_size: None,
            handshake_timeout: Duration::from_secs(20),
            shutdown_grace_period: Some(DEFAULT_SHUTDOWN_GRACE_PERIOD),
            keepalive: None,
            keepalive_enforcement: Some(crate::keepalive::KeepaliveEnforcement::default()),
            lifetime: lifetime::ConnectionLimits::default(),
            send_compressed: None,
            spawn_calls: false,
            tls: None,
            in_process: false,
        }
    }
}

impl ServerConfig {
    /// A new connection's receive budget: never less than one message of the largest size accepted, or
    /// such a message could not arrive at all.
    pub(crate) fn receive_budget(&self) -> Arc<crate::budget::ReceiveBudget> {
        let floor = self.max_receive_message_size.saturating_add(wire::PREFIX_LEN);
        crate::budget::ReceiveBudget::new(self.receive_budget.max(floor))
    }

    fn limits(&self) -> CallLimits {
        CallLimits {
            max_receive: self.max_receive_message_size,
            max_send: self.max_send_message_size,
            request_encoding: None,
            response_encoding: self.send_compressed,
            accepted: crate::compression::Accepted::default(),
        }
    }

    fn h2(&self) -> h2::server::Builder {
        let mut builder = h2::server::Builder::new();
        if let Some(max) = self.max_concurrent_streams {
            builder.max_concurrent_streams(max);
        }
        if let Some(size) = self.initial_stream_window_size {
            builder.initial_window_size(size);
        }
        if let Some(size) = self.initial_connection_window_size {
            builder.initial_connection_window_size(size);
        }
        if let Some(size) = self.max_header_list_size {
            builder.max_header_list_size(size);
        }
        if let Some(size) = self.max_frame_size {
            builder.max_frame_size(size);
        }
        builder
    }
}

/// What connection tasks share.
pub(crate) struct Shared {
    router: Router,
    config: ServerConfig,
    /// `None` when there are none, so calls skip them without a look.
    interceptors: Option<Arc<Interceptors>>,
    /// The server's channelz entry, while it lives (when channelz is on).
    channelz: Option<Registered<ServerNode>>,
}

impl Shared {
    fn dispatch(
        &self,
        request: http::Request<h2::RecvStream>,
        respond: h2::server::SendResponse<bytes::Bytes>,
        peer: &Peer,
        budget: &Arc<crate::budget::ReceiveBudget>,
    ) -> Option<BoxFuture> {
        #[cfg(any(feature = "tower", feature = "gateway"))]
        if self.config.in_process {
            let mut request = request;
            let peer = in_process::take_peer(request.headers_mut());
            return self.router.dispatch(
                request,
                respond,
                &peer,
                self.config.limits(),
                self.interceptors.as_ref(),
                budget,
            );
        }
        self.router.dispatch(request, respond, peer, self.config.limits(), self.interceptors.as_ref(), budget)
    }
}

/// Builds a [`Server`].
#[derive(Default)]
pub struct ServerBuilder {
    router: Router,
    config: ServerConfig,
    /// What runs on the services at build time.
    at_build: Vec<fn(&mut Router)>,
    interceptors: Interceptors,
    observe: crate::observe::server::ServerObserve,
    /// The first service added twice, which makes the server fail to build.
    duplicate: Option<&'static str>,
}

impl ServerBuilder {
    /// Registers a service. Adding a second service of the same name makes
    /// [`try_build`](Self::try_build) fail (and [`build`](Self::build) panic), as grpc-go's
    /// `RegisterService` does: a silent replacement would serve the wrong implementation.
    pub fn add_service(self, service: impl Service) -> Self {
        self.add(Arc::new(service), None)
    }

    /// Registers a service with settings of its own (message limits, compression, interceptors) in place
    /// of the server's; see [`ServiceSettings`].
    pub fn add_service_with(self, service: impl Service, settings: ServiceSettings) -> Self {
        self.add(Arc::new(service), Some(settings))
    }

    fn add(mut self, service: Arc<dyn Service>, settings: Option<ServiceSettings>) -> Self {
        if let Err(name) = self.router.try_add(service, settings) {
            self.duplicate.get_or_insert(name);
        }
        self
    }

    /// Adds an interceptor around unary calls; interceptors run in the order they were added, the first
    /// outermost.
    pub fn unary_interceptor(mut self, interceptor: impl UnaryInterceptor) -> Self {
        self.interceptors.push_unary(Arc::new(interceptor));
        self
    }

    /// Adds an interceptor around streaming calls (server, client and bidirectional streaming), after those
    /// added before.
    pub fn stream_interceptor(mut self, interceptor: impl StreamInterceptor) -> Self {
        self.interceptors.push_stream(Arc::new(interceptor));
        self
    }

    /// Adds an interceptor of both kinds (such as [`auth_fn`](crate::interceptor::auth_fn),
    /// [`recovery`](crate::interceptor::recovery), [`logging`](crate::interceptor::logging)) around every
    /// call.
    pub fn interceptor<I: UnaryInterceptor + StreamInterceptor>(mut self, interceptor: I) -> Self {
        let interceptor = Arc::new(interceptor);
        self.interceptors.push_unary(interceptor.clone());
        self.interceptors.push_stream(interceptor);
        self
    }

    /// The largest request message accepted (default 4 MiB); larger ones fail with `RESOURCE_EXHAUSTED`.
    pub fn max_receive_message_size(mut self, bytes: usize) -> Self {
        self.config.max_receive_message_size = bytes;
        self
    }

    /// The largest response message sent; larger ones fail the call with `RESOURCE_EXHAUSTED`.
    pub fn max_send_message_size(mut self, bytes: usize) -> Self {
        self.config.max_send_message_size = bytes;
        self
    }

    /// How many bytes of request messages that have begun to arrive but are not complete the calls of one
    /// connection may buffer together (default 64 MiB, and never less than one message of
    /// [`max_receive_message_size`](Self::max_receive_message_size)). A message that does not fit fails its
    /// call with `RESOURCE_EXHAUSTED` before its body is buffered: without a budget, a client opening many
    /// streams that each send part of a large message could make the server hold gigabytes.
    pub fn connection_receive_budget(mut self, bytes: usize) -> Self {
        self.config.receive_budget = bytes;
        self
    }

    /// The most connections served at once (default 10,000); past it, new connections wait to be accepted
    /// until one closes.
    pub fn max_connections(mut self, connections: usize) -> Self {
        // A semaphore holds at most MAX_PERMITS; more would panic, and is no limit anyway.
        self.config.max_connections = connections.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        self
    }

    /// The most calls a client may have open at once on one connection (HTTP/2 MAX_CONCURRENT_STREAMS;
    /// default 1000).
    pub fn max_concurrent_streams(mut self, streams: u32) -> Self {
        self.config.max_concurrent_streams = Some(streams);
        self
    }

    /// The HTTP/2 flow-control window of each call (default 1 MiB; at most 2^31-1, larger is clamped).
    pub fn initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.config.initial_stream_window_size = Some(bytes.min(wire::MAX_WINDOW_SIZE));
        self
    }

    /// The HTTP/2 flow-control window of each connection (default 4 MiB; at most 2^31-1, larger is clamped).
    pub fn initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.config.initial_connection_window_size = Some(bytes.min(wire::MAX_WINDOW_SIZE));
        self
    }

    /// The largest header list (metadata) a client may send (HTTP/2 MAX_HEADER_LIST_SIZE; default 16 KiB).
    pub fn max_header_list_size(mut self, bytes: u32) -> Self {
        self.config.max_header_list_size = Some(bytes);
        self
    }

    /// Pings each client every `interval` and closes its connection when an answer takes longer than
    /// `timeout`, cancelling its calls: a client that vanished without closing TCP is noticed. Off by
    /// default.
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.keepalive = Some(crate::keepalive::Keepalive::new(interval, timeout));
        self
    }

    /// How often clients may ping (default: every 5 minutes, and not on connections without calls, as in
    /// grpc-go); a client pinging more often is sent GOAWAY `ENHANCE_YOUR_CALM` and disconnected. Clients
    /// with keepalive set shorter need a matching policy here. `None` lets clients ping as they like.
    pub fn keepalive_enforcement(mut self, policy: Option<crate::keepalive::KeepaliveEnforcement>) -> Self {
        self.config.keepalive_enforcement = policy;
        self
    }

    /// Compresses responses with `encoding` for clients that accept it (`grpc-accept-encoding`). Without
    /// this, a response is compressed only when its request was, with the request's encoding.
    pub fn send_compressed(mut self, encoding: crate::compression::Encoding) -> Self {
        self.config.send_compressed = Some(encoding);
        self
    }

    /// Sends GOAWAY on a connection that has had no calls for `idle`, so idle clients release server
    /// resources (they reconnect when they next call). Off by default.
    pub fn max_connection_idle(mut self, idle: Duration) -> Self {
        self.config.lifetime.max_idle = Some(idle);
        self
    }

    /// Sends GOAWAY on every connection once it is `age` old, so long-lived clients spread over servers
    /// added since they connected; calls in flight then get `grace` (forever if `None`) before the
    /// connection is closed. Off by default.
    pub fn max_connection_age(mut self, age: Duration, grace: Option<Duration>) -> Self {
        self.config.lifetime.max_age = Some(age);
        self.config.lifetime.age_grace = grace;
        self
    }

    /// How long a graceful shutdown lets calls in flight run before closing their connections (default 30 s;
    /// `None` waits for as long as they take). Without a limit one endless call, such as a health `Watch`
    /// kept open by a load balancer, would hold the shutdown forever.
    pub fn shutdown_grace_period(mut self, grace: Option<Duration>) -> Self {
        self.config.shutdown_grace_period = grace;
        self
    }

    /// Runs every call as a task of its own instead of inside its connection's task.
    ///
    /// By default a connection's task polls its calls itself: no spawn and no cross-task wake-up per call,
    /// and responses that become ready together are written together (see BENCHMARKS.md). The price is that
    /// a handler blocking its thread (CPU-heavy work without `spawn_blocking`) stalls the other calls of its
    /// connection; with this set, calls spread over the runtime's worker threads, as in tonic.
    pub fn spawn_calls(mut self, spawn: bool) -> Self {
        self.config.spawn_calls = spawn;
        self
    }

    /// Serves over TLS (mutual TLS when the configuration names client CAs); plaintext clients fail the
    /// handshake.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::ServerTlsConfig) -> Result<Self, crate::tls::TlsError> {
        self.config.tls = Some(config.build()?);
        Ok(self)
    }

    /// How long a new connection may take for the TLS and HTTP/2 handshakes.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.config.handshake_timeout = timeout;
        self
    }

    /// Takes a request's W3C `traceparent` as the remote parent of the call's span (its `trace_id` and
    /// `parent_span_id` fields), and makes it the trace that calls made from the handler continue
    /// (channels with [`trace_propagation`](crate::client::ChannelBuilder::trace_propagation)). Off by
    /// default: then each server span starts a trace of its own.
    pub fn trace_propagation(mut self, propagate: bool) -> Self {
        self.observe.propagate = propagate;
        self
    }

    /// Records gRFC A66's server metrics (`grpc.server.call.started`, `grpc.server.call.duration`,
    /// `grpc.server.call.{sent,rcvd}_total_compressed_message_size`, with `grpc.method`, `other` for
    /// methods the server does not have, and `grpc.status`) on a meter of `provider`, as grpc-go's
    /// OpenTelemetry plugin does.
    #[cfg(feature = "otel")]
    pub fn meter_provider<P: opentelemetry::metrics::MeterProvider>(mut self, provider: &P) -> Self {
        self.observe.metrics = Some(Arc::new(crate::observe::metrics::ServerMetrics::new(provider)));
        self
    }

    /// Runs `hook` on the services when the server is built, after every service was added (the reflection
    /// service, which describes them all, is added this way).
    pub(crate) fn at_build(mut self, hook: fn(&mut Router)) -> Self {
        self.at_build.push(hook);
        self
    }

    /// The server.
    ///
    /// # Panics
    /// When a service was added twice, with the message of [`try_build`](Self::try_build)'s error
    /// ("the service `pkg.Name` is registered twice"). Use `try_build` to handle it.
    pub fn build(self) -> Server {
        match self.try_build() {
            Ok(server) => server,
            Err(error) => panic!("{error}"),
        }
    }

    /// The server, or a [`ConfigError`](crate::ConfigError) of kind
    /// [`Service`](crate::ConfigErrorKind::Service) naming the service that was added twice.
    pub fn try_build(mut self) -> Result<Server, crate::ConfigError> {
        if let Some(name) = self.duplicate {
            return Err(crate::ConfigError::new(
                crate::ConfigErrorKind::Service,
                format!("the service `{name}` is registered twice; each service name may be added once"),
            ));
        }
        for hook in std::mem::take(&mut self.at_build) {
            hook(&mut self.router);
        }
        let interceptors = (!self.interceptors.is_empty()).then(|| Arc::new(self.interceptors));
        self.router.resolve(interceptors.as_ref());
        self.config.largest_service_receive = self.router.largest_service_receive().unwrap_or(0);
        if self.observe.is_on() {
            self.router.observe = Some(Arc::new(self.observe));
        }
        let channelz = ServerNode::register();
        Ok(Server { shared: Arc::new(Shared { router: self.router, config: self.config, interceptors, channelz }) })
    }
}

/// A bound socket to serve on.
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// A Unix domain socket.
    Unix(UnixListener),
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Self {
        Listener::Tcp(listener)
    }
}

impl From<UnixListener> for Listener {
    fn from(listener: UnixListener) -> Self {
        Listener::Unix(listener)
    }
}

/// A gRPC server.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

impl Server {
    /// A builder.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The names of the registered services.
    pub fn service_names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.shared.router.service_names().collect();
        names.sort_unstable();
        names
    }

    /// Binds `addr` and serves until the process ends.
    pub async fn serve(self, addr: SocketAddr) -> io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_with_shutdown(listener, std::future::pending()).await
    }

    /// Binds a Unix socket at `path` and serves until `signal` completes, then shuts down gracefully.
    pub async fn serve_unix(self, path: impl AsRef<Path>, signal: impl Future<Output = ()>) -> io::Result<()> {
        let listener = UnixListener::bind(path)?;
        self.serve_with_shutdown(listener, signal).await
    }

    /// Serves on a bound listener until `signal` completes; then stops accepting, sends GOAWAY on every
    /// connection, lets the calls in flight finish (within the
    /// [grace period](ServerBuilder::shutdown_grace_period), after which their connections are closed) and
    /// returns once all connections closed.
    pub async fn serve_with_shutdown(
        self,
        listener: impl Into<Listener>,
        signal: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let listener = listener.into();
        // Registered while serving: channelz lists the server's listen socket.
        let _listening = self.shared.channelz.as_ref().map(|server| server.node().listener(listener.local()));
        match listener {
            Listener::Tcp(listener) => self.serve_connections(accepting::tcp(listener), Endpoints::tcp, signal).await,
            Listener::Unix(listener) => {
                self.serve_connections(accepting::unix(listener), Endpoints::unix, signal).await
            }
        }
    }

    /// Serves the connections `incoming` yields (any byte streams: an in-memory pipe, a socket accepted
    /// elsewhere, a vsock) until `signal` completes, then shuts down gracefully as
    /// [`serve_with_shutdown`](Self::serve_with_shutdown) does. An error item is logged and skipped; once
    /// `incoming` ends, the server returns when the connections it has closed (or at `signal`).
    pub async fn serve_with_incoming<S, IO, E>(self, incoming: S, signal: impl Future<Output = ()>) -> io::Result<()>
    where
        S: futures_core::Stream<Item = Result<IO, E>>,
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let incoming = incoming.map(|item| item.map(|io| (io, None)).map_err(|e| e.to_string()));
        self.serve_connections(incoming, |_: &IO| Endpoints::default(), signal).await
    }

    /// The one accept loop of every way to serve: a connection task per item of `incoming` (within
    /// [`max_connections`](ServerBuilder::max_connections)), then the graceful shutdown at `signal`. `ends`
    /// tells a connection's addresses to channelz, asked only when channelz is on.
    async fn serve_connections<S, IO, E>(
        self,
        incoming: S,
        ends: impl Fn(&IO) -> Endpoints,
        signal: impl Future<Output = ()>,
    ) -> io::Result<()>
    where
        S: futures_core::Stream<Item = Result<(IO, Option<SocketAddr>), E>>,
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let (stop, stopped) = watch::channel(false);
        let mut connections = JoinSet::new();
        let mut signal = std::pin::pin!(signal);
        let mut incoming = Box::pin(incoming);
        let mut open = true;
        // A permit per connection, taken before accepting: at the limit, clients wait in the listen queue.
        let permits = Arc::new(tokio::sync::Semaphore::new(self.shared.config.max_connections));
        loop {
            if !open && connections.is_empty() {
                return Ok(());
            }
            let next = async {
                let permit = permits.clone().acquire_owned().await;
                (permit, incoming.next().await)
            };
            tokio::select! {
                () = &mut signal => break,
                (permit, accepted) = next, if open => match accepted {
                    Some(Ok((io, addr))) => {
                        let tls = self.shared.config.tls.is_some();
                        let socket = self.shared.channelz.as_ref().map(|server| server.node().socket(ends(&io), tls));
                        let shared = self.shared.clone();
                        let stopped = stopped.clone();
                        connections.spawn(async move {
                            let _permit = permit;
                            start_connection(io, addr, socket, shared, stopped).await
                        });
                    }
                    Some(Err(error)) => tracing::warn!(%error, "accepting a connection failed"),
                    None => open = false,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // New clients are refused at once rather than left waiting in the accept queue during the drain.
        drop(incoming);
        let _ = stop.send(true);
        let drain = async { while connections.join_next().await.is_some() {} };
        match self.shared.config.shutdown_grace_period {
            None => drain.await,
            Some(grace) => {
                if tokio::time::timeout(grace, drain).await.is_err() {
                    tracing::info!(
                        connections = connections.len(),
                        "the shutdown grace period ran out; closing the connections left"
                    );
                    connections.abort_all();
                    while connections.join_next().await.is_some() {}
                }
            }
        }
        Ok(())
    }
}

/// Who is on the other end of a connection: its address (TCP) and, with mutual TLS, its certificates.
#[derive(Clone, Debug, Default)]
pub(crate) struct Peer {
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) certificates: Option<Arc<[Vec<u8>]>>,
    /// The connection's channelz entry, which its calls count into.
    pub(crate) channelz: Option<Arc<SocketNode>>,
}

/// The TLS handshake when the server has TLS, then the connection; `socket` (its channelz entry) stays
/// registered until the connection ends.
async fn start_connection<IO>(
    io: IO,
    addr: Option<SocketAddr>,
    socket: Option<Registered<SocketNode>>,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let channelz = socket.as_ref().map(|socket| socket.node().clone());
    #[cfg_attr(not(feature = "tls"), allow(clippy::clone_on_copy))]
    let Some(tls) = shared.config.tls.clone() else {
        return connection::serve(io, Peer { addr, certificates: None, channelz }, shared, stopped).await;
    };
    #[cfg(not(feature = "tls"))]
    match tls {}
    #[cfg(feature = "tls")]
    serve_tls(io, tls, Peer { addr, certificates: None, channelz }, shared, stopped).await;
}

/// The TLS handshake, bounded by the handshake timeout, then the connection with the client's certificates.
#[cfg(feature = "tls")]
async fn serve_tls<IO>(io: IO, tls: ServerTls, peer: Peer, shared: Arc<Shared>, stopped: watch::Receiver<bool>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let addr = peer.addr;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let stream = match tokio::time::timeout(shared.config.handshake_timeout, acceptor.accept(io)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return tracing::debug!(?addr, %error, "TLS handshake failed"),
        Err(_) => return tracing::debug!(?addr, "TLS handshake timed out"),
    };
    let session = stream.get_ref().1;
    if let Err(error) = crate::tls::check_alpn(session.alpn_protocol(), "client") {
        return tracing::debug!(?addr, %error, "refusing the connection");
    }
    let certificates = session.peer_certificates().map(|chain| chain.iter().map(|c| c.to_vec()).collect());
    connection::serve(stream, Peer { certificates, ..peer }, shared, stopped).await;
}

impl Listener {
    /// The address listened on, for channelz.
    fn local(&self) -> Option<SocketAddress> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok().map(SocketAddress::Tcp),
            Listener::Unix(listener) => listener
                .local_addr()
                .ok()
                .and_then(|addr| addr.as_pathname().map(|path| SocketAddress::Unix(path.display().to_string()))),
        }
    }
}
