//! A channel: one HTTP/2 connection to a target, shared by every client and call made through it, opened
//! eagerly or on first use, and reopened (with exponential backoff after failures) when it is lost.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::interceptor::{Interceptors, StreamInterceptor, UnaryInterceptor};
use crate::keepalive::CallCount;
use crate::status::Status;
use crate::wire;

/// Where a channel connects.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl Target {
    /// Parses `http://host:port`, `host:port`, `unix:/path` or `unix:///path`.
    fn parse(target: &str) -> Result<(Target, http::uri::Authority), Status> {
        let bad = |why: &str| Status::invalid_argument(format!("invalid target {target:?}: {why}"));
        if let Some(path) = target.strip_prefix("unix://").or_else(|| target.strip_prefix("unix:")) {
            if !path.starts_with('/') {
                return Err(bad("a unix socket path must be absolute (unix:/path or unix:///path)"));
            }
            return Ok((Target::Unix(PathBuf::from(path)), http::uri::Authority::from_static("localhost")));
        }
        let rest = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://")).unwrap_or(target);
        let rest = rest.trim_end_matches('/');
        let authority: http::uri::Authority = rest.parse().map_err(|_| bad("expected http://host:port"))?;
        let port = authority.port_u16().ok_or_else(|| bad("the port is missing"))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        Ok((Target::Tcp { host, port }, authority))
    }
}

/// Settings of a channel.
#[derive(Debug, Clone)]
pub(crate) struct ChannelConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) max_receive_message_size: usize,
    pub(crate) max_send_message_size: usize,
    pub(crate) user_agent: http::HeaderValue,
    pub(crate) initial_stream_window_size: Option<u32>,
    pub(crate) initial_connection_window_size: Option<u32>,
    pub(crate) tls: Option<TlsSetup>,
    pub(crate) credentials: Option<super::Credentials>,
    pub(crate) keepalive: Option<crate::keepalive::Keepalive>,
    pub(crate) keepalive_permit_without_calls: bool,
    pub(crate) send_compressed: Option<crate::compression::Encoding>,
    /// `None` when there are none, so calls skip them without a look.
    pub(crate) interceptors: Option<Arc<Interceptors>>,
}

/// A client TLS configuration, ready for connections to one target.
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    config: Arc<rustls::ClientConfig>,
    server_name: rustls::pki_types::ServerName<'static>,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig {
            connect_timeout: Duration::from_secs(20),
            max_receive_message_size: wire::DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
            max_send_message_size: wire::DEFAULT_MAX_SEND_MESSAGE_SIZE,
            user_agent: http::HeaderValue::from_static(wire::USER_AGENT),
            initial_stream_window_size: Some(wire::DEFAULT_STREAM_WINDOW_SIZE),
            initial_connection_window_size: Some(wire::DEFAULT_CONNECTION_WINDOW_SIZE),
            tls: None,
            credentials: None,
            keepalive: None,
            keepalive_permit_without_calls: false,
            send_compressed: None,
            interceptors: None,
        }
    }
}

/// Builds a [`Channel`].
#[derive(Debug, Clone)]
pub struct ChannelBuilder {
    target: Target,
    authority: http::uri::Authority,
    config: ChannelConfig,
    /// The target said `https://`: TLS must be configured.
    https: bool,
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
    pub fn user_agent(mut self, user_agent: &str) -> Result<Self, Status> {
        let value = format!("{user_agent} {}", wire::USER_AGENT);
        self.config.user_agent = http::HeaderValue::from_str(&value)
            .map_err(|_| Status::invalid_argument(format!("invalid user agent {user_agent:?}")))?;
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

    /// Connects over TLS, verifying the server with `config` (and presenting its identity for mutual TLS).
    pub fn tls(mut self, config: crate::tls::ClientTlsConfig) -> Result<Self, Status> {
        let invalid = |e: crate::tls::TlsError| Status::invalid_argument(format!("TLS: {e}"));
        let host = match &self.target {
            Target::Tcp { host, .. } => host.clone(),
            Target::Unix(_) => "localhost".to_owned(),
        };
        let server_name = config.server_name(&host).map_err(invalid)?;
        self.config.tls = Some(TlsSetup { config: config.build().map_err(invalid)?, server_name });
        Ok(self)
    }

    /// Credentials for every call on the channel (a call's own credentials replace them).
    pub fn credentials(mut self, credentials: super::Credentials) -> Self {
        self.config.credentials = Some(credentials);
        self
    }

    /// Connects now; an error if the target cannot be reached.
    pub async fn connect(self) -> Result<Channel, Status> {
        let channel = self.connect_lazy();
        channel.connection().await?;
        Ok(channel)
    }

    /// A channel that connects on its first call.
    pub fn connect_lazy(self) -> Channel {
        Channel {
            inner: Arc::new(Inner {
                https_without_tls: self.https && self.config.tls.is_none(),
                target: self.target,
                authority: self.authority,
                config: self.config,
                state: Mutex::new(State::Idle),
                connecting: tokio::sync::Mutex::new(()),
            }),
        }
    }
}

/// A connection to a gRPC server, shared by clients; cheap to clone.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

struct Inner {
    /// An `https://` target without a TLS configuration: every call fails, saying so.
    https_without_tls: bool,
    target: Target,
    authority: http::uri::Authority,
    config: ChannelConfig,
    state: Mutex<State>,
    /// Held while connecting, so concurrent calls wait for one attempt instead of each making their own.
    connecting: tokio::sync::Mutex<()>,
}

enum State {
    Idle,
    Ready {
        send: h2::client::SendRequest<Bytes>,
        alive: Arc<AtomicBool>,
        calls: CallCount,
    },
    /// The last attempt failed: calls fail fast with its error until `until`.
    Backoff {
        until: Instant,
        error: Status,
        failures: u32,
    },
}

/// A new connection: where to open streams, whether it is still up, its calls.
type Connected = (h2::client::SendRequest<Bytes>, Arc<AtomicBool>, CallCount);

/// gRPC's connection backoff: 1 s, growing 1.6x per failure up to 120 s, with 20% jitter.
fn backoff(failures: u32) -> Duration {
    let base = 1.0 * 1.6f64.powi(failures.saturating_sub(1).min(20) as i32);
    let seconds = base.min(120.0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = 1.0 + 0.2 * ((f64::from(nanos % 2001) / 1000.0) - 1.0);
    Duration::from_secs_f64(seconds * jitter)
}

impl Channel {
    /// A builder for `target`: `http://host:port`, `host:port`, `unix:/path` or `unix:///path`.
    pub fn builder(target: &str) -> Result<ChannelBuilder, Status> {
        let https = target.starts_with("https://");
        let (target, authority) = Target::parse(target)?;
        Ok(ChannelBuilder { target, authority, config: ChannelConfig::default(), https })
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
    pub fn lazy(target: &str) -> Result<Channel, Status> {
        Ok(Channel::builder(target)?.connect_lazy())
    }

    pub(crate) fn config(&self) -> &ChannelConfig {
        &self.inner.config
    }

    pub(crate) fn authority(&self) -> &http::uri::Authority {
        &self.inner.authority
    }

    /// A connection ready for a new stream, and its count of calls; reconnects once if the current one
    /// turns out to be gone.
    pub(crate) async fn ready(&self) -> Result<(h2::client::SendRequest<Bytes>, CallCount), Status> {
        let mut retried = false;
        loop {
            let (send, calls) = self.connection().await?;
            match send.ready().await {
                Ok(send) => return Ok((send, calls)),
                Err(error) if !retried => {
                    tracing::debug!(%error, "the connection is gone; reconnecting");
                    self.forget_connection();
                    retried = true;
                }
                Err(error) => return Err(Status::from_h2(&error)),
            }
        }
    }

    fn current(&self) -> Option<(h2::client::SendRequest<Bytes>, CallCount)> {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        match &*state {
            State::Ready { send, alive, calls } if alive.load(Ordering::Acquire) => Some((send.clone(), calls.clone())),
            State::Ready { .. } => {
                *state = State::Idle;
                None
            }
            _ => None,
        }
    }

    fn forget_connection(&self) {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        if matches!(*state, State::Ready { .. }) {
            *state = State::Idle;
        }
    }

    async fn connection(&self) -> Result<(h2::client::SendRequest<Bytes>, CallCount), Status> {
        if self.inner.https_without_tls {
            return Err(Status::invalid_argument("an https:// target needs ChannelBuilder::tls(ClientTlsConfig)"));
        }
        if let Some(send) = self.current() {
            return Ok(send);
        }
        let _connecting = self.inner.connecting.lock().await;
        if let Some(send) = self.current() {
            return Ok(send);
        }
        let failures = {
            let state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            match &*state {
                State::Backoff { until, error, .. } if Instant::now() < *until => {
                    let wait = until.saturating_duration_since(Instant::now());
                    return Err(Status::new(error.code(), format!("{} (next attempt in {wait:.1?})", error.message())));
                }
                State::Backoff { failures, .. } => *failures,
                _ => 0,
            }
        };
        let attempt = tokio::time::timeout(self.inner.config.connect_timeout, self.dial()).await;
        let result = attempt
            .unwrap_or_else(|_| Err(Status::unavailable(format!("connecting to {} timed out", self.inner.authority))));
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok((send, alive, calls)) => {
                *state = State::Ready { send: send.clone(), alive, calls: calls.clone() };
                Ok((send, calls))
            }
            Err(error) => {
                let failures = failures + 1;
                *state = State::Backoff { until: Instant::now() + backoff(failures), error: error.clone(), failures };
                Err(error)
            }
        }
    }

    async fn dial(&self) -> Result<Connected, Status> {
        let unavailable = |error: std::io::Error| {
            Status::unavailable(format!("cannot connect to {}: {error}", self.describe_target()))
        };
        match &self.inner.target {
            Target::Tcp { host, port } => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await.map_err(unavailable)?;
                let _ = stream.set_nodelay(true);
                self.secure_handshake(stream).await
            }
            Target::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await.map_err(unavailable)?;
                self.secure_handshake(stream).await
            }
        }
    }

    /// TLS first when configured, then HTTP/2.
    async fn secure_handshake<IO>(&self, io: IO) -> Result<Connected, Status>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Some(tls) = &self.inner.config.tls else { return self.handshake(io).await };
        let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
        let stream = connector
            .connect(tls.server_name.clone(), io)
            .await
            .map_err(|e| Status::unavailable(format!("TLS handshake with {} failed: {e}", self.describe_target())))?;
        crate::tls::check_alpn(stream.get_ref().1.alpn_protocol(), "server")
            .map_err(|e| Status::unavailable(format!("{}: {e}", self.describe_target())))?;
        self.handshake(stream).await
    }

    async fn handshake<IO>(&self, io: IO) -> Result<Connected, Status>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut builder = h2::client::Builder::new();
        if let Some(size) = self.inner.config.initial_stream_window_size {
            builder.initial_window_size(size);
        }
        if let Some(size) = self.inner.config.initial_connection_window_size {
            builder.initial_connection_window_size(size);
        }
        let (send, mut connection) = builder.handshake::<_, Bytes>(io).await.map_err(|e| {
            Status::unavailable(format!("HTTP/2 handshake with {} failed: {e}", self.describe_target()))
        })?;
        let calls = CallCount::default();
        let counted = (!self.inner.config.keepalive_permit_without_calls).then(|| calls.clone());
        let mut pinger = match (self.inner.config.keepalive, connection.ping_pong()) {
            (Some(settings), Some(ping_pong)) => Some(crate::keepalive::Pinger::new(settings, ping_pong, counted)),
            _ => None,
        };
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        let target = self.describe_target();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(result) = std::future::Future::poll(connection.as_mut(), cx) {
                    if let Err(error) = result {
                        tracing::debug!(%target, %error, "connection closed with an error");
                    }
                    return std::task::Poll::Ready(());
                }
                if pinger.as_mut().is_some_and(|pinger| pinger.poll_dead(cx).is_ready()) {
                    // Dropping the connection fails the calls on it; the channel connects anew for the next.
                    tracing::debug!(%target, "the server did not answer a keepalive ping in time");
                    flag.store(false, Ordering::Release);
                    return std::task::Poll::Ready(());
                }
                std::task::Poll::Pending
            })
            .await;
            flag.store(false, Ordering::Release);
        });
        Ok((send, alive, calls))
    }

    fn describe_target(&self) -> String {
        match &self.inner.target {
            Target::Tcp { host, port } => format!("{host}:{port}"),
            Target::Unix(path) => format!("unix:{}", path.display()),
        }
    }
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("target", &self.describe_target()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        for (text, expected) in [
            ("http://127.0.0.1:50051", "127.0.0.1:50051"),
            ("localhost:8080", "localhost:8080"),
            ("http://[::1]:9000/", "::1:9000"),
            ("unix:/tmp/x.sock", "unix:/tmp/x.sock"),
            ("unix:///tmp/y.sock", "unix:/tmp/y.sock"),
        ] {
            let (target, _) = Target::parse(text).unwrap();
            let described = match target {
                Target::Tcp { host, port } => format!("{host}:{port}"),
                Target::Unix(path) => format!("unix:{}", path.display()),
            };
            assert_eq!(described, expected, "{text}");
        }
        for bad in ["http://host", "unix:relative", "http://a b:1"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let first = backoff(1).as_secs_f64();
        assert!((0.8..=1.2).contains(&first), "{first}");
        let third = backoff(3).as_secs_f64();
        assert!((2.56 * 0.8..=2.56 * 1.2).contains(&third), "{third}");
        assert!(backoff(100).as_secs_f64() <= 144.0);
    }
}
