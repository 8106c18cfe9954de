//! A subchannel: the HTTP/2 connection to one backend address, opened when a balancer asks, reopened after
//! it is lost, with gRPC's exponential connection backoff (and jitter) after failed attempts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};

use super::config::{ChannelConfig, MAX_WAIT};
use super::health_check::{Health, HealthWatch};
use super::orca_oob::OobReporting;
use super::outcomes::CallOutcomes;
use super::resolver::{Address, Refresh};
use crate::keepalive::CallCount;
use crate::observe::channelz::{Endpoints, Registered, SubchannelNode};
use crate::status::Status;

/// What subchannels share with their channel.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Arc<ChannelConfig>,
    /// Bumped whenever a subchannel connects, fails or loses its connection, and on every resolution: what
    /// waiting calls watch.
    pub(crate) changed: tokio::sync::watch::Sender<u64>,
    pub(crate) refresh: Refresh,
    /// Keep every subchannel connected, reconnecting on loss and after backoffs (round robin).
    pub(crate) eager: AtomicBool,
    /// The service config's `healthCheckConfig.serviceName`: new connections watch it (gRFC A17).
    pub(crate) health_service: std::sync::RwLock<Option<Arc<str>>>,
    /// How often new connections ask for out-of-band ORCA load reports, when the policy wants them.
    pub(crate) oob_reporting: std::sync::RwLock<Option<std::time::Duration>>,
}

impl Shared {
    /// Takes in the health-checked service of a new service config; connections made from now on watch it.
    pub(crate) fn set_health_service(&self, service: Option<&str>) {
        let mut current = self.health_service.write().unwrap_or_else(|e| e.into_inner());
        if current.as_deref() != service {
            *current = service.map(Arc::from);
        }
    }

    /// Takes in the policy's wish for out-of-band load reports; connections made from now on follow it.
    pub(crate) fn set_oob_reporting(&self, period: Option<std::time::Duration>) {
        *self.oob_reporting.write().unwrap_or_else(|e| e.into_inner()) = period;
    }

    pub(crate) fn notify(&self) {
        self.changed.send_modify(|generation| *generation = generation.wrapping_add(1));
    }
}

/// A live connection: where to open streams, whether it is still up, its calls.
#[derive(Clone, Debug)]
pub(crate) struct Connection {
    pub(crate) send: h2::client::SendRequest<Bytes>,
    alive: Arc<AtomicBool>,
    pub(crate) calls: CallCount,
    /// The backend's health, when the service config asks for health checking.
    health: Option<Arc<HealthWatch>>,
    /// The out-of-band load-report stream, when the policy asks for one.
    _oob: Option<Arc<OobReporting>>,
}

impl Connection {
    fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    fn health(&self) -> Health {
        self.health.as_ref().map_or(Health::Serving, |watch| watch.health())
    }
}

enum State {
    Idle,
    Connecting,
    Ready(Connection),
    /// The last attempt failed: connecting again waits until `until`.
    Backoff {
        until: Instant,
        error: Status,
        failures: u32,
    },
}

/// The connection to one address.
pub(crate) struct Subchannel {
    address: Address,
    shared: Arc<Shared>,
    state: Mutex<State>,
    /// The subchannel's channelz entry, while it lives (when its channel has one).
    channelz: Option<Registered<SubchannelNode>>,
    /// Its calls' outcomes and its ejection, for outlier detection.
    outcomes: Arc<CallOutcomes>,
}

impl Subchannel {
    pub(crate) fn new(address: Address, shared: Arc<Shared>) -> Arc<Self> {
        Arc::new_cyclic(|this: &Weak<Subchannel>| {
            let channelz = shared.config.observe.channelz.as_ref().map(|channel| {
                let node = channel.subchannel(address.to_string());
                let this = this.clone();
                node.watch_state(move || this.upgrade().map(|subchannel| subchannel.connectivity().as_str()));
                node
            });
            Subchannel { address, shared, state: Mutex::new(State::Idle), channelz, outcomes: Arc::default() }
        })
    }

    pub(crate) fn outcomes(&self) -> &Arc<CallOutcomes> {
        &self.outcomes
    }

    /// Wakes the calls waiting for a change (an ejection ended, say).
    pub(crate) fn notify(&self) {
        self.shared.notify();
    }

    pub(crate) fn address(&self) -> &Address {
        &self.address
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection, if it is up (and its backend healthy, when health checking is on).
    pub(crate) fn current(&self) -> Option<Connection> {
        if self.outcomes.is_ejected() {
            return None;
        }
        let mut state = self.state();
        match &*state {
            State::Ready(connection) if connection.alive() => {
                (connection.health() == Health::Serving).then(|| connection.clone())
            }
            State::Ready(_) => {
                *state = State::Idle;
                None
            }
            _ => None,
        }
    }

    /// The subchannel's connectivity state, as the channel reports it; a lost connection reads as idle
    /// (the next call, or an eager policy, reconnects).
    pub(crate) fn connectivity(&self) -> super::ConnectivityState {
        use super::ConnectivityState as S;
        if self.outcomes.is_ejected() {
            return S::TransientFailure;
        }
        match &*self.state() {
            State::Idle => S::Idle,
            State::Connecting => S::Connecting,
            State::Ready(connection) if connection.alive() => match connection.health() {
                Health::Serving => S::Ready,
                // gRFC A17: connecting until the first answer, failing while not SERVING.
                Health::Unknown => S::Connecting,
                Health::NotServing => S::TransientFailure,
            },
            State::Ready(_) => S::Idle,
            State::Backoff { .. } => S::TransientFailure,
        }
    }

    /// Whether an attempt is under way (or the first health answer is awaited).
    pub(crate) fn is_connecting(&self) -> bool {
        if self.outcomes.is_ejected() {
            return false;
        }
        match &*self.state() {
            State::Connecting => true,
            State::Ready(connection) => connection.alive() && connection.health() == Health::Unknown,
            _ => false,
        }
    }

    /// Why the subchannel cannot take calls now, when it has failed: its last connection attempt's error
    /// (during the backoff after it), its backend not SERVING, or its ejection by outlier detection.
    pub(crate) fn failure(&self) -> Option<Status> {
        if self.outcomes.is_ejected() {
            return Some(CallOutcomes::ejected_status(&self.address));
        }
        match &*self.state() {
            State::Backoff { error, .. } => Some(error.clone()),
            State::Ready(connection) if connection.alive() && connection.health() == Health::NotServing => {
                connection.health.as_ref().map(|watch| watch.not_serving(&self.address))
            }
            _ => None,
        }
    }

    /// When a failed subchannel may try again, and why it failed.
    pub(crate) fn backoff(&self) -> Option<(Instant, Status)> {
        match &*self.state() {
            State::Backoff { until, error, .. } => Some((*until, error.clone())),
            _ => None,
        }
    }

    /// Drops a connection that turned out to be gone.
    pub(crate) fn forget(&self) {
        let mut state = self.state();
        if matches!(*state, State::Ready(_)) {
            *state = State::Idle;
        }
    }

    /// Starts an attempt as a task of its own, unless connected, connecting or waiting out a backoff. The
    /// attempt runs to its end whatever happens to the calls that wanted it (a call's deadline must not
    /// cut a slow handshake short, or no call would ever get a connection).
    pub(crate) fn start_connecting(self: &Arc<Self>) {
        let failures = {
            let mut state = self.state();
            let failures = match &*state {
                State::Idle => 0,
                State::Backoff { until, failures, .. } if Instant::now() >= *until => *failures,
                State::Ready(connection) if !connection.alive.load(Ordering::Acquire) => 0,
                State::Backoff { .. } | State::Ready(_) | State::Connecting => return,
            };
            *state = State::Connecting;
            failures
        };
        // Those watching the connectivity state see the attempt start.
        self.shared.notify();
        let subchannel = self.clone();
        tokio::spawn(async move { subchannel.attempt(failures).await });
    }

    /// The connection, connecting now if there is none; fails fast while a backoff runs.
    pub(crate) async fn connect(self: &Arc<Self>) -> Result<Connection, Status> {
        let mut changes = self.shared.changed.subscribe();
        loop {
            changes.borrow_and_update();
            if let Some(connection) = self.current() {
                return Ok(connection);
            }
            if let Some((until, error)) = self.backoff() {
                if Instant::now() < until {
                    let wait = until.saturating_duration_since(Instant::now());
                    return Err(Status::new(error.code(), format!("{} (next attempt in {wait:.1?})", error.message())));
                }
            }
            if let (Some(error), None) = (self.failure(), self.backoff()) {
                // Connected, and the backend says it is not SERVING.
                return Err(error);
            }
            self.start_connecting();
            if self.is_connecting() && changes.changed().await.is_err() {
                return Err(Status::unavailable("the channel is gone"));
            }
        }
    }

    /// One attempt: the dial within the connect timeout, its outcome recorded; after a failure, and when
    /// the channel keeps every backend connected (round robin), the next attempt once the backoff ran out.
    async fn attempt(self: Arc<Self>, failures: u32) {
        let config = &self.shared.config;
        let attempt = tokio::time::timeout(config.connect_timeout, self.dial()).await;
        let result =
            attempt.unwrap_or_else(|_| Err(Status::unavailable(format!("connecting to {} timed out", self.address))));
        let retry_after = {
            let mut state = self.state();
            match result {
                Ok(connection) => {
                    *state = State::Ready(connection);
                    None
                }
                Err(error) => {
                    let failures = failures + 1;
                    let delay = config.backoff.delay(failures);
                    let until = Instant::now().checked_add(delay).unwrap_or_else(|| Instant::now() + MAX_WAIT);
                    *state = State::Backoff { until, error, failures };
                    Some(delay)
                }
            }
        };
        if retry_after.is_some() {
            // The address may be stale: ask the resolver for fresh ones.
            self.shared.refresh.request();
        }
        self.shared.notify();
        if let (Some(delay), true) = (retry_after, self.shared.eager.load(Ordering::Relaxed)) {
            let subchannel = Arc::downgrade(&self);
            drop(self);
            tokio::time::sleep(delay.min(MAX_WAIT)).await;
            // Gone from the resolution meanwhile: nothing to reconnect.
            if let Some(subchannel) = subchannel.upgrade() {
                subchannel.start_connecting();
            }
        }
    }

    /// After its connection closed: reconnects at once when the channel keeps every backend connected.
    fn connection_lost(self: &Arc<Self>) {
        if self.shared.eager.load(Ordering::Relaxed) {
            self.start_connecting();
        }
    }

    async fn dial(self: &Arc<Self>) -> Result<Connection, Status> {
        let unavailable =
            |error: std::io::Error| Status::unavailable(format!("cannot connect to {}: {error}", self.address));
        if let Some(connector) = &self.shared.config.connector {
            let stream = connector.0.connect(self.address.clone()).await.map_err(unavailable)?;
            return self.secure_handshake(Endpoints::default(), stream).await;
        }
        match &self.address {
            Address::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr).await.map_err(unavailable)?;
                let _ = stream.set_nodelay(true);
                self.secure_handshake(Endpoints::tcp(&stream), stream).await
            }
            Address::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await.map_err(unavailable)?;
                self.secure_handshake(Endpoints::unix(&stream), stream).await
            }
        }
    }

    /// TLS first when configured, then HTTP/2.
    async fn secure_handshake<IO>(self: &Arc<Self>, ends: Endpoints, io: IO) -> Result<Connection, Status>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Some(tls) = &self.shared.config.tls else { return self.handshake(ends, io).await };
        #[cfg(not(feature = "tls"))]
        match *tls {}
        #[cfg(feature = "tls")]
        let stream = tls
            .connect(io)
            .await
            .map_err(|e| Status::unavailable(format!("TLS handshake with {} failed: {e}", self.address)))?;
        #[cfg(feature = "tls")]
        crate::tls::check_alpn(stream.get_ref().1.alpn_protocol(), "server")
            .map_err(|e| Status::unavailable(format!("{}: {e}", self.address)))?;
        #[cfg(feature = "tls")]
        self.handshake(ends, stream).await
    }

    async fn handshake<IO>(self: &Arc<Self>, ends: Endpoints, io: IO) -> Result<Connection, Status>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let config = &self.shared.config;
        let mut builder = h2::client::Builder::new();
        // gRPC has no use for server push, and a pushed stream is memory a hostile server makes us hold.
        builder.enable_push(false).max_header_list_size(config.max_header_list_size);
        if let Some(size) = config.initial_stream_window_size {
            builder.initial_window_size(size);
        }
        if let Some(size) = config.initial_connection_window_size {
            builder.initial_connection_window_size(size);
        }
        let (send, mut connection) = builder
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|e| Status::unavailable(format!("HTTP/2 handshake with {} failed: {e}", self.address)))?;
        // Registered for as long as the connection's task runs.
        let socket = self.channelz.as_ref().map(|node| node.node().socket(ends, config.tls.is_some()));
        let calls = CallCount::new(socket.as_ref().map(|socket| socket.node().clone()));
        let counted = (!config.keepalive_permit_without_calls).then(|| calls.clone());
        let mut pinger = match (config.keepalive, connection.ping_pong()) {
            (Some(settings), Some(ping_pong)) => {
                Some(crate::keepalive::Pinger::new(settings, ping_pong, counted).count_into(calls.socket().cloned()))
            }
            _ => None,
        };
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        let address = self.address.clone();
        let shared = self.shared.clone();
        let subchannel = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(result) = std::future::Future::poll(connection.as_mut(), cx) {
                    if let Err(error) = result {
                        tracing::debug!(%address, %error, "connection closed with an error");
                    }
                    return std::task::Poll::Ready(());
                }
                if pinger.as_mut().is_some_and(|pinger| pinger.poll_dead(cx).is_ready()) {
                    // Dropping the connection fails the calls on it; the channel connects anew for the next.
                    tracing::debug!(%address, "the server did not answer a keepalive ping in time");
                    return std::task::Poll::Ready(());
                }
                std::task::Poll::Pending
            })
            .await;
            flag.store(false, Ordering::Release);
            drop(socket);
            // A lost connection may mean the backend moved: re-resolve, and wake calls waiting for one.
            shared.refresh.request();
            shared.notify();
            if let Some(subchannel) = subchannel.upgrade() {
                subchannel.connection_lost();
            }
        });
        let service = self.shared.health_service.read().unwrap_or_else(|e| e.into_inner()).clone();
        let health = service.map(|service| {
            let shared = self.shared.clone();
            crate::client::health_check::watch(
                send.clone(),
                service,
                self.address.clone(),
                self.shared.config.clone(),
                Arc::new(move || shared.notify()),
                alive.clone(),
            )
        });
        let oob_period = *self.shared.oob_reporting.read().unwrap_or_else(|e| e.into_inner());
        let oob = oob_period.map(|period| {
            crate::client::orca_oob::start(
                send.clone(),
                period,
                self.address.clone(),
                self.shared.config.clone(),
                self.outcomes.clone(),
                alive.clone(),
            )
        });
        Ok(Connection { send, alive, calls, health, _oob: oob })
    }
}

impl std::fmt::Debug for Subchannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subchannel").field("address", &self.address).finish()
    }
}
