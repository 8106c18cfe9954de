//! HTTP/2 keepalive: a PING every interval, and a peer that does not answer within the timeout is taken for
//! dead. Without it a half-open TCP connection (a peer that lost power, a NAT that dropped the mapping)
//! looks alive for hours, and calls without a deadline on it wait forever.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::observe::channelz::SocketNode;

/// How often to ping the peer and how long to wait for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Time between the answer to one PING and the next PING.
    pub interval: Duration,
    /// How long the peer has to answer before its connection is closed.
    pub timeout: Duration,
}

impl Keepalive {
    /// Pings every `interval`, closing the connection when an answer takes longer than `timeout`.
    pub fn new(interval: Duration, timeout: Duration) -> Self {
        Keepalive { interval, timeout }
    }
}

/// The calls open on a client connection, so keepalive can stay quiet on a connection without calls (a
/// server's policy may count PINGs there as abuse).
#[derive(Debug, Clone, Default)]
pub(crate) struct CallCount {
    open: Arc<AtomicUsize>,
    /// The connection's channelz entry, which its calls' attempts count into.
    socket: Option<Arc<SocketNode>>,
}

impl CallCount {
    /// The count of a connection with this channelz entry.
    pub(crate) fn new(socket: Option<Arc<SocketNode>>) -> Self {
        CallCount { open: Arc::default(), socket }
    }

    /// Counts a call until the returned guard is dropped.
    pub(crate) fn enter(&self) -> ActiveCall {
        self.open.fetch_add(1, Ordering::Relaxed);
        ActiveCall(self.open.clone())
    }

    /// The connection's channelz entry.
    pub(crate) fn socket(&self) -> Option<&Arc<SocketNode>> {
        self.socket.as_ref()
    }

    /// The calls open now (least_request's measure of a backend's load).
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn is_idle(&self) -> bool {
        self.open.load(Ordering::Relaxed) == 0
    }
}

/// One open call of a [`CallCount`].
#[derive(Debug)]
pub(crate) struct ActiveCall(Arc<AtomicUsize>);

impl Drop for ActiveCall {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Drives one connection's pings; [`Pinger::poll_dead`] is ready once the peer missed an answer.
pub(crate) struct Pinger {
    settings: Keepalive,
    ping_pong: h2::PingPong,
    timer: Pin<Box<Sleep>>,
    awaiting_pong: bool,
    /// Set when PINGs wait for a call to be open.
    calls: Option<CallCount>,
    /// The connection's channelz entry, which counts the PINGs sent.
    socket: Option<Arc<SocketNode>>,
}

impl Pinger {
    /// `calls`: ping only while one of these is open (`None`: always).
    pub(crate) fn new(settings: Keepalive, ping_pong: h2::PingPong, calls: Option<CallCount>) -> Self {
        let timer = Box::pin(tokio::time::sleep(settings.interval));
        Pinger { settings, ping_pong, timer, awaiting_pong: false, calls, socket: None }
    }

    /// Counts the PINGs sent into the connection's channelz entry.
    pub(crate) fn count_into(mut self, socket: Option<Arc<SocketNode>>) -> Self {
        self.socket = socket;
        self
    }

    /// Ready when the peer failed to answer a PING in time (or the connection can no longer send one).
    pub(crate) fn poll_dead(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.awaiting_pong {
                match self.ping_pong.poll_pong(cx) {
                    Poll::Ready(Ok(_)) => {
                        self.awaiting_pong = false;
                        self.timer.as_mut().reset(Instant::now() + self.settings.interval);
                        continue;
                    }
                    // The connection itself failed; its own task reports that.
                    Poll::Ready(Err(_)) => return Poll::Pending,
                    Poll::Pending => {}
                }
                if self.timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                return Poll::Pending;
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if self.calls.as_ref().is_some_and(CallCount::is_idle) {
                // Look again an interval later: a call that starts meanwhile gets its first PING by then.
                self.timer.as_mut().reset(Instant::now() + self.settings.interval);
                continue;
            }
            if self.ping_pong.send_ping(h2::Ping::opaque()).is_err() {
                // h2 allows one user PING in flight; an error means the connection is closing.
                return Poll::Pending;
            }
            self.awaiting_pong = true;
            if let Some(socket) = &self.socket {
                socket.keepalive_sent();
            }
            self.timer.as_mut().reset(Instant::now() + self.settings.timeout);
        }
    }
}

/// How often a server lets clients ping (grpc-go's `EnforcementPolicy`): a PING sooner than `min_time`
/// after the previous one, or any PING on a connection without calls unless `permit_without_calls`, is a
/// strike; the third strike in a row closes the connection with GOAWAY `ENHANCE_YOUR_CALM`. Sending
/// response data or headers clears the strikes. This bounds what a client flooding PINGs costs the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepaliveEnforcement {
    /// The shortest time between a client's PINGs (default 5 minutes, as in grpc-go).
    pub min_time: Duration,
    /// Whether PINGs are welcome on a connection without calls (default no).
    pub permit_without_calls: bool,
}

impl Default for KeepaliveEnforcement {
    fn default() -> Self {
        KeepaliveEnforcement { min_time: Duration::from_secs(5 * 60), permit_without_calls: false }
    }
}
