//! A channel: the calls of every client made through it go to the backends its resolver finds (one HTTP/2
//! connection each, see [`subchannel`](super::subchannel)), spread by its load-balancing policy
//! ([`balancer`](super::balancer)), with the service config from the builder or the resolver. The channel
//! follows the resolver and hands each answer to the balancer as a new picker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;

use super::balancer::{self, Picker};
#[cfg(feature = "tls")]
use super::config::TlsSetup;
use super::config::{ChannelConfig, ConnectBackoff};
use super::resolver::{self, Address, Refresh, Resolution, Resolver};
use super::retry::Throttle;
use super::service_config::{LoadBalancing, ServiceConfig};
use super::subchannel::Shared;
use super::target::TargetUri;
use crate::config_error::{ConfigError, ConfigErrorKind};
use crate::interceptor::{Interceptors, StreamInterceptor, UnaryInterceptor};
use crate::status::Status;
use crate::wire;

/// Builds a [`Channel`].
#[derive(Debug, Clone)]
pub struct ChannelBuilder {
    target: String,
    config: ChannelConfig,
    /// Resolvers of this channel only, by scheme.
    resolvers: HashMap<String, ResolverHandle>,
}

/// A resolver as a builder holds it.
#[derive(Clone)]
struct ResolverHandle(Arc<dyn Resolver>);

impl std::fmt::Debug for ResolverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl ChannelBuilder {
    /// Adds an interceptor around unary calls; interceptors run in the order they were added, the first
    /// outermost, and before per-call credentials are applied.
    pub fn unary_interceptor(mut self, interceptor: impl UnaryInterceptor) -> Self {
        self.interceptors().push_unary(Arc::new(interceptor));
        self
    }

    /// Adds an interceptor around streaming calls (server, client and bidirectional streaming).
    pub fn stream_interceptor(mut self, interceptor: impl StreamInterceptor) -> Self {
        self.interceptors().push_stream(Arc::new(interceptor));
        self
    }

    /// Adds an interceptor of both kinds (such as [`logging`](crate::interceptor::logging)) around every
    /// call.
    pub fn interceptor<I: UnaryInterceptor + StreamInterceptor>(mut self, interceptor: I) -> Self {
        let interceptor = Arc::new(interceptor);
        self.interceptors().push_unary(interceptor.clone());
        self.interceptors().push_stream(interceptor);
        self
    }

    fn interceptors(&mut self) -> &mut Interceptors {
        Arc::make_mut(self.config.interceptors.get_or_insert_with(Default::default))
    }

    /// Compresses every request message with `encoding` (a call can choose otherwise with
    /// [`Request::with_compression`](crate::Request::with_compression)). Responses in any encoding this
    /// crate supports are accepted either way.
    pub fn send_compressed(mut self, encoding: crate::compression::Encoding) -> Self {
        self.config.send_compressed = Some(encoding);
        self
    }

    /// Pings the server every `interval` while calls are open and drops the connection when an answer
    /// takes longer than `timeout`, failing its calls with UNAVAILABLE (the next call reconnects). Off by
    /// default.
    ///
    /// Servers limit how often they may be pinged (grpc-go's and rsgrpc's default: every 5 minutes, and not
    /// at all without calls) and close the connection with GOAWAY `ENHANCE_YOUR_CALM` past that, so
    /// `interval` must respect the server's policy.
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.config.keepalive = Some(crate::keepalive::Keepalive::new(interval, timeout));
        self
    }

    /// Keepalive pings also on a connection without calls (default: no, as in grpc-go), to keep NATs and
    /// proxies from dropping an idle connection; the server must permit it.
    pub fn keepalive_permit_without_calls(mut self, permit: bool) -> Self {
        self.config.keepalive_permit_without_calls = permit;
        self
    }

    /// How long connecting (TCP and the HTTP/2 handshake) may take; default 20 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The largest response message accepted (default 4 MiB).
    pub fn max_receive_message_size(mut self, bytes: usize) -> Self {
        self.config.max_receive_message_size = bytes;
        self
    }

    /// The largest request message sent; larger ones fail with `RESOURCE_EXHAUSTED` before sending.
    pub fn max_send_message_size(mut self, bytes: usize) -> Self {
        self.config.max_send_message_size = bytes;
        self
    }

    /// A `user-agent` prefix of the application, before rsgrpc's own.
    pub fn user_agent(mut self, user_agent: &str) -> Result<Self, ConfigError> {
        let value = format!("{user_agent} {}", wire::USER_AGENT);
        self.config.user_agent = http::HeaderValue::from_str(&value).map_err(|e| {
            ConfigError::new(ConfigErrorKind::Value, format!("invalid user agent {user_agent:?}")).with_source(e)
        })?;
        Ok(self)
    }

    /// The HTTP/2 flow-control window of each call (default 1 MiB; at most 2^31-1, larger is clamped).
    pub fn initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.config.initial_stream_window_size = Some(bytes.min(wire::MAX_WINDOW_SIZE));
        self
    }

    /// The HTTP/2 flow-control window of the connection (default 4 MiB; at most 2^31-1, larger is clamped).
    pub fn initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.config.initial_connection_window_size = Some(bytes.min(wire::MAX_WINDOW_SIZE));
        self
    }

    /// The largest header list (response metadata, or trailers) accepted from a server (HTTP/2
    /// MAX_HEADER_LIST_SIZE; default 16 KiB, as hyper's client). A server sending more fails the call
    /// instead of growing the client's memory.
    pub fn max_header_list_size(mut self, bytes: u32) -> Self {
        self.config.max_header_list_size = bytes;
        self
    }

    /// Connects over TLS, verifying the server with `config` (and presenting its identity for mutual TLS).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::ClientTlsConfig) -> Result<Self, ConfigError> {
        let invalid = |e: ConfigError| ConfigError::new(ConfigErrorKind::Tls, format!("TLS: {e}"));
        let host = self.parse_target()?.1.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let server_name = config.server_name(&host).map_err(invalid)?;
        self.config.tls = Some(TlsSetup { config: config.build().map_err(invalid)?, server_name });
        Ok(self)
    }

    /// Credentials for every call on the channel (a call's own credentials replace them).
    pub fn credentials(mut self, credentials: super::Credentials) -> Self {
        self.config.credentials = Some(credentials);
        self
    }

    /// Resolves targets of `scheme` with `resolver` on this channel (before the globally registered ones).
    pub fn resolver(mut self, scheme: &str, resolver: impl Resolver) -> Self {
        self.resolvers.insert(scheme.to_owned(), ResolverHandle(Arc::new(resolver)));
        self
    }

    /// Opens every connection with `connector` instead of a TCP or Unix socket: the resolved address goes to
    /// it, and TLS (when configured) and HTTP/2 run over what it returns. For custom transports, and for
    /// tests in one process ([`crate::testing::InMemoryServer`]).
    pub fn connector(mut self, connector: impl super::Connector) -> Self {
        self.config.connector = Some(super::connector::ConnectorHandle(Arc::new(connector)));
        self
    }

    /// The load-balancing policy when the service config names none (default `pick_first`).
    pub fn load_balancing(mut self, policy: LoadBalancing) -> Self {
        self.config.load_balancing = policy;
        self
    }

    /// The service config (JSON) used unless the resolver supplies one; an error says what is invalid.
    pub fn default_service_config(mut self, json: &str) -> Result<Self, ConfigError> {
        let config = ServiceConfig::from_json(json)
            .map_err(|e| ConfigError::new(ConfigErrorKind::ServiceConfig, e.to_string()).with_source(e))?;
        self.config.service_config = Some(Arc::new(config));
        Ok(self)
    }

    /// Ignores the retry and hedging policies of the service config (they apply by default).
    pub fn disable_retries(mut self) -> Self {
        self.config.retries = false;
        self
    }

    /// How many bytes of a client-streaming call's messages are kept so a retry can send them again
    /// (default 256 KiB, as in gRPC); a call that sends more is not retried once past it.
    pub fn retry_buffer_size(mut self, bytes: usize) -> Self {
        self.config.retry_buffer = bytes;
        self
    }

    /// The backoff between failed connection attempts to one address (default: gRPC's, 1 s growing 1.6x
    /// up to 120 s with 20% jitter).
    pub fn connect_backoff(mut self, backoff: ConnectBackoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// Sends a W3C `traceparent` with every call (off by default): a call made while a server handler runs
    /// continues that call's trace, any other starts a trace of its own. A `traceparent` the caller put in
    /// the request's metadata (from an OpenTelemetry propagator, say) is sent as it is.
    pub fn trace_propagation(mut self, propagate: bool) -> Self {
        self.config.observe.propagate = propagate;
        self
    }

    /// Records gRFC A66's client metrics (`grpc.client.attempt.started`, `grpc.client.attempt.duration`,
    /// `grpc.client.attempt.{sent,rcvd}_total_compressed_message_size`, `grpc.client.call.duration`, with
    /// `grpc.method`, `grpc.target` and `grpc.status`) on a meter of `provider`, as grpc-go's OpenTelemetry
    /// plugin does.
    #[cfg(feature = "otel")]
    pub fn meter_provider<P: opentelemetry::metrics::MeterProvider>(mut self, provider: &P) -> Self {
        // The canonical URI, as grpc-go reports it (`dns:///host:port` for `http://host:port`).
        let target = match self.parse_target() {
            Ok((target, _)) => format!("{}://{}/{}", target.scheme(), target.authority(), target.endpoint()),
            Err(_) => self.target.clone(),
        };
        let metrics = crate::observe::metrics::ClientMetrics::new(provider, target);
        self.config.observe.metrics = Some(Arc::new(metrics));
        self
    }

    fn resolver_for(&self, scheme: &str) -> Option<Arc<dyn Resolver>> {
        self.resolvers.get(scheme).map(|handle| handle.0.clone()).or_else(|| resolver::registered(scheme))
    }

    fn parse_target(&self) -> Result<(TargetUri, http::uri::Authority), ConfigError> {
        // `scheme://...` is a URI whatever the scheme (its resolver may be added to the builder later); in
        // `name:rest` the name is a scheme only if a resolver knows it, else it is a host.
        let explicit = |scheme: &str| self.target.strip_prefix(scheme).is_some_and(|rest| rest.starts_with("://"));
        let target = TargetUri::parse(&self.target, |scheme| explicit(scheme) || self.resolver_for(scheme).is_some())?;
        let text = target.default_authority();
        if self.resolver_for(target.scheme()).is_none() {
            // Checked again when the channel is built, after the builder had its chance to add the resolver.
            return Ok((target, http::uri::Authority::from_static("localhost")));
        }
        let bad =
            |why: &str| ConfigError::new(ConfigErrorKind::Target, format!("invalid target {:?}: {why}", self.target));
        let authority: http::uri::Authority = text.parse().map_err(|_| bad(&format!("{text:?} is not host:port")))?;
        if target.scheme() == "dns" && authority.port_u16().is_none() {
            return Err(bad("the port is missing (host:port)"));
        }
        Ok((target, authority))
    }

    /// Connects now; an error if the target cannot be resolved or reached.
    pub async fn connect(self) -> Result<Channel, Status> {
        let channel = self.build()?;
        channel.pick(false, &http::HeaderMap::new()).await?;
        Ok(channel)
    }

    /// A channel that resolves and connects on its first call (a bad target fails every call, saying why).
    pub fn connect_lazy(self) -> Channel {
        match self.build() {
            Ok(channel) => channel,
            Err(error) => Channel::broken(error.into(), self.config),
        }
    }

    fn build(&self) -> Result<Channel, ConfigError> {
        let (target, authority) = self.parse_target()?;
        let resolver = self.resolver_for(target.scheme()).ok_or_else(|| {
            let message = format!("no resolver for the scheme {:?} of target {target}", target.scheme());
            ConfigError::new(ConfigErrorKind::Target, message)
        })?;
        let mut config = self.config.clone();
        let channelz = crate::observe::channelz::ChannelNode::register(&self.target);
        config.observe.channelz = channelz.as_ref().map(|node| node.node().clone());
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut setup_error = None;
        #[cfg(not(feature = "tls"))]
        if target.https() {
            let message = format!("the target {target} is https://, and this rsgrpc is built without its tls feature");
            return Err(ConfigError::new(ConfigErrorKind::Tls, message));
        }
        #[cfg(feature = "tls")]
        if target.https() && config.tls.is_none() {
            // https:// without a TLS config: the system's CAs, as a browser or curl would.
            let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
            let tls = crate::tls::ClientTlsConfig::new();
            match tls.server_name(&host).and_then(|server_name| Ok(TlsSetup { config: tls.build()?, server_name })) {
                Ok(setup) => config.tls = Some(setup),
                Err(error) => {
                    setup_error = Some(Status::invalid_argument(format!("TLS for an https:// target: {error}")))
                }
            }
        }
        let config = Arc::new(config);
        let (changed, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            config: config.clone(),
            changed,
            refresh: Refresh::default(),
            eager: AtomicBool::new(false),
            health_service: Default::default(),
            oob_reporting: Default::default(),
        });
        let mut balancer = Balancer {
            picker: Arc::new(Picker::unresolved(LoadBalancing::PickFirst)),
            service_config: None,
            throttle: None,
        };
        balancer.set_service_config(config.service_config.clone(), &config, &shared);
        let channel = Channel {
            inner: Arc::new(Inner {
                setup_error,
                target,
                authority,
                config,
                resolver,
                shared,
                balancer: Mutex::new(balancer),
                resolving: OnceLock::new(),
                resolved_once: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                channelz,
            }),
        };
        if let Some(node) = &channel.inner.channelz {
            let inner = Arc::downgrade(&channel.inner);
            node.watch_state(move || inner.upgrade().map(|inner| Channel { inner }.state(false).as_str()));
        }
        Ok(channel)
    }
}

/// The policy the service config names, else the builder's.
fn effective_policy(config: &ChannelConfig, service_config: Option<&ServiceConfig>) -> LoadBalancing {
    service_config.and_then(ServiceConfig::load_balancing).unwrap_or_else(|| config.load_balancing.clone())
}

/// Connections to a gRPC service, shared by clients; cheap to clone.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

struct Inner {
    /// Set when every call must fail with it (an `https://` target without TLS, a bad lazy target).
    setup_error: Option<Status>,
    target: TargetUri,
    authority: http::uri::Authority,
    config: Arc<ChannelConfig>,
    resolver: Arc<dyn Resolver>,
    shared: Arc<Shared>,
    balancer: Mutex<Balancer>,
    /// The resolver's task, started by the first call; stopped with the channel.
    resolving: OnceLock<tokio::task::AbortHandle>,
    /// Set once the resolver answered (or failed): calls stop waiting for it.
    resolved_once: AtomicBool,
    /// Set by [`Channel::close`]: the channel is shut down for good.
    closed: AtomicBool,
    /// The channel's channelz entry, while it lives (when channelz is on).
    channelz: Option<crate::observe::channelz::Registered<crate::observe::channelz::ChannelNode>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = self.resolving.get() {
            task.abort();
        }
    }
}

/// What the channel follows of the resolver: the picker calls read, and the service config in force.
struct Balancer {
    picker: Arc<Picker>,
    service_config: Option<Arc<ServiceConfig>>,
    /// The retry throttle the service config asks for.
    throttle: Option<Arc<Throttle>>,
}

impl Balancer {
    /// Takes in the service config in force: its policy, and a throttle (kept, tokens and all, while the
    /// config's throttling settings stay the same).
    fn set_service_config(&mut self, config: Option<Arc<ServiceConfig>>, builder: &ChannelConfig, shared: &Shared) {
        let kind = effective_policy(builder, config.as_deref());
        shared.set_health_service(config.as_ref().and_then(|c| c.health_check_service()));
        self.picker = Arc::new(Picker::clone(&self.picker).with_policy(kind));
        let settings = config.as_ref().and_then(|c| c.retry_throttling);
        if self.throttle.as_ref().map(|t| t.settings()) != settings {
            self.throttle = settings.map(|s| Arc::new(Throttle::new(s)));
        }
        self.service_config = config;
    }
}

impl Channel {
    /// A builder for `target`: `http://host:port`, `host:port` and `dns:///host:port` (every address DNS
    /// gives), `unix:/path`, `ipv4:a:p,b:p`, `ipv6:[a]:p,[b]:p`, or `scheme://authority/endpoint` for a
    /// registered resolver. Checked when the channel is built.
    pub fn builder(target: &str) -> Result<ChannelBuilder, ConfigError> {
        let builder =
            ChannelBuilder { target: target.to_owned(), config: ChannelConfig::default(), resolvers: HashMap::new() };
        builder.parse_target()?;
        Ok(builder)
    }

    /// A channel whose every call fails with `error`.
    fn broken(error: Status, config: ChannelConfig) -> Channel {
        let error_copy = error.clone();
        let (changed, _) = tokio::sync::watch::channel(0);
        let config = Arc::new(config);
        Channel {
            inner: Arc::new(Inner {
                setup_error: Some(error),
                target: TargetUri::parse("localhost:0", |_| false).expect("a valid target"),
                authority: http::uri::Authority::from_static("localhost"),
                shared: Arc::new(Shared {
                    config: config.clone(),
                    changed,
                    refresh: Refresh::default(),
                    eager: AtomicBool::new(false),
                    health_service: Default::default(),
                    oob_reporting: Default::default(),
                }),
                config,
                resolver: Arc::new(resolver::StaticResolver),
                balancer: Mutex::new(Balancer {
                    picker: Arc::new(Picker::unresolved(LoadBalancing::PickFirst).with_error(error_copy)),
                    service_config: None,
                    throttle: None,
                }),
                resolving: OnceLock::new(),
                resolved_once: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                channelz: None,
            }),
        }
    }

    /// Whether calls go over TLS.
    pub fn is_tls(&self) -> bool {
        self.inner.config.tls.is_some()
    }

    /// Connects to `target` now, with default settings.
    pub async fn connect(target: &str) -> Result<Channel, Status> {
        Channel::builder(target)?.connect().await
    }

    /// A channel to `target` that connects on its first call.
    pub fn lazy(target: &str) -> Result<Channel, ConfigError> {
        Ok(Channel::builder(target)?.connect_lazy())
    }

    pub(crate) fn config(&self) -> &ChannelConfig {
        &self.inner.config
    }

    pub(crate) fn authority(&self) -> &http::uri::Authority {
        &self.inner.authority
    }

    /// The service config in force (the resolver's, else the builder's), if any, and its retry throttle.
    pub(crate) fn service_config(&self) -> Option<(Arc<ServiceConfig>, Option<Arc<Throttle>>)> {
        let balancer = self.balancer();
        balancer.service_config.clone().map(|config| (config, balancer.throttle.clone()))
    }

    /// Waits (until `deadline`) for the resolver's first answer, so a call uses the service config the
    /// resolver brings; at once after that.
    pub(crate) async fn first_resolution(&self, deadline: Option<std::time::Instant>) {
        if self.inner.setup_error.is_some() || self.inner.resolved_once.load(Ordering::Acquire) {
            return;
        }
        self.start_resolving();
        let mut changes = self.inner.shared.changed.subscribe();
        let wait = async {
            loop {
                changes.borrow_and_update();
                if self.balancer().picker.resolved {
                    self.inner.resolved_once.store(true, Ordering::Release);
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        match deadline {
            Some(deadline) => {
                let _ = tokio::time::timeout_at(deadline.into(), wait).await;
            }
            None => wait.await,
        }
    }

    /// The addresses of the connections that are up now (for tests and diagnostics).
    pub fn connected_addresses(&self) -> Vec<Address> {
        let subchannels = self.balancer().picker.subchannels.clone();
        subchannels.iter().filter(|s| s.current().is_some()).map(|s| s.address().clone()).collect()
    }

    /// The picker in force (for the connectivity state).
    pub(crate) fn picker(&self) -> Arc<Picker> {
        self.balancer().picker.clone()
    }

    /// What the channel's subchannels share (their change notifications).
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Whether the resolver's task was started (the channel left idle).
    pub(crate) fn resolving_started(&self) -> bool {
        self.inner.resolving.get().is_some()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Shuts the channel down, for every clone of it (grpc-go's `ClientConn.Close`): the resolver stops,
    /// the connections are released (each closes once the calls on it ended) and new calls fail with
    /// UNAVAILABLE. The connectivity state is `Shutdown` from now on.
    pub fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(task) = self.inner.resolving.get() {
            task.abort();
        }
        {
            let mut balancer = self.balancer();
            let closed = Picker::unresolved(balancer.picker.kind.clone())
                .with_error(Status::unavailable("the channel was closed"));
            balancer.picker = Arc::new(closed);
        }
        self.inner.resolved_once.store(true, Ordering::Release);
        self.inner.shared.notify();
    }

    fn balancer(&self) -> std::sync::MutexGuard<'_, Balancer> {
        self.inner.balancer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection ready for a new stream, picked by the balancing policy (which may look at the call's
    /// `headers`). Without `wait_for_ready` a call fails with UNAVAILABLE when no backend can be reached;
    /// with it, it waits (within its deadline).
    pub(crate) async fn pick(
        &self,
        wait_for_ready: bool,
        headers: &http::HeaderMap,
    ) -> Result<balancer::Picked, Status> {
        if let Some(error) = &self.inner.setup_error {
            return Err(error.clone());
        }
        if self.is_closed() {
            return Err(Status::unavailable("the channel was closed"));
        }
        self.start_resolving();
        let current = || self.balancer().picker.clone();
        let call = balancer::PickInfo { headers };
        balancer::pick(current, &self.inner.shared, &self.inner.target, wait_for_ready, call).await
    }

    /// Starts the resolver's task, once.
    fn start_resolving(&self) {
        self.inner.resolving.get_or_init(|| {
            let resolutions = self.inner.resolver.resolve(&self.inner.target, self.inner.shared.refresh.clone());
            let channel = Arc::downgrade(&self.inner);
            tokio::spawn(follow(channel, resolutions)).abort_handle()
        });
    }
}

/// Follows the resolver for as long as the channel lives. A resolver that ends without any answer, or
/// panics, leaves an error for the calls instead of keeping them waiting.
async fn follow(channel: std::sync::Weak<Inner>, mut resolutions: resolver::Resolutions) {
    loop {
        let next = std::future::poll_fn(|cx| {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| resolutions.poll_next_unpin(cx))) {
                Ok(poll) => poll.map(|item| item.map(Ok)),
                Err(_) => std::task::Poll::Ready(Some(Err(()))),
            }
        })
        .await;
        let Some(inner) = channel.upgrade() else { return };
        match next {
            Some(Ok(resolution)) => apply(&inner, resolution),
            Some(Err(())) => {
                apply(&inner, Err(Status::unavailable(format!("the resolver of {} panicked", inner.target))));
                return;
            }
            None => {
                let answered = inner.balancer.lock().unwrap_or_else(|e| e.into_inner()).picker.resolved;
                if !answered {
                    apply(
                        &inner,
                        Err(Status::unavailable(format!("the resolver of {} ended without an answer", inner.target))),
                    );
                }
                return;
            }
        }
    }
}

/// Takes in a resolution: new subchannels for new addresses, the old ones (and their connections) for
/// addresses still there, and the service config it brings.
fn apply(inner: &Inner, resolution: Result<Resolution, Status>) {
    let eager = {
        let mut balancer = inner.balancer.lock().unwrap_or_else(|e| e.into_inner());
        match resolution {
            Err(error) => {
                tracing::warn!(target = %inner.target, %error, "name resolution failed");
                balancer.picker = Arc::new(Picker::clone(&balancer.picker).with_error(error));
            }
            Ok(resolution) => {
                match resolution.service_config.as_deref().map(ServiceConfig::from_json) {
                    None => {
                        balancer.set_service_config(inner.config.service_config.clone(), &inner.config, &inner.shared)
                    }
                    Some(Ok(config)) => {
                        balancer.set_service_config(Some(Arc::new(config)), &inner.config, &inner.shared)
                    }
                    // gRPC keeps the config it had when the resolver's new one is invalid.
                    Some(Err(error)) => {
                        tracing::warn!(target = %inner.target, %error, "ignoring the resolver's service config")
                    }
                }
                let picker = Picker::clone(&balancer.picker).with_addresses(resolution.addresses, &inner.shared);
                tracing::debug!(
                    target = %inner.target,
                    policy = picker.policy.name(),
                    addresses = picker.subchannels.len(),
                    "a resolution applied"
                );
                balancer.picker = Arc::new(picker);
            }
        }
        let eager = balancer.picker.policy.eager();
        inner.shared.eager.store(eager, Ordering::Relaxed);
        inner.shared.set_oob_reporting(balancer.picker.policy.oob_reporting());
        eager.then(|| balancer.picker.subchannels.clone())
    };
    // An eager policy keeps a connection to every backend, not only the ones calls happened to need.
    for subchannel in eager.iter().flat_map(|s| s.iter()) {
        subchannel.start_connecting();
    }
    inner.shared.notify();
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("target", &self.inner.target.to_string()).finish()
    }
}

#[cfg(all(test, not(feature = "tls")))]
mod without_tls {
    /// Without the `tls` feature an https:// target is refused when the channel is built, never sent in
    /// plaintext.
    #[tokio::test]
    async fn an_https_target_is_refused_naming_the_feature() {
        let error = super::Channel::builder("https://example.com:443").unwrap().build().unwrap_err();
        assert_eq!(error.kind(), crate::ConfigErrorKind::Tls);
        assert!(error.to_string().contains("tls feature"), "{error}");
        let status = super::Channel::builder("https://example.com:443").unwrap().connect().await.unwrap_err();
        assert_eq!(status.code(), crate::Code::InvalidArgument);
        assert!(super::Channel::builder("http://127.0.0.1:1").unwrap().build().is_ok());
    }
}
