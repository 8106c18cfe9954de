//! A channel's settings, as its builder leaves them: what the channel, its subchannels and its calls read.

use std::sync::Arc;
use std::time::Duration;

use super::service_config::{LoadBalancing, ServiceConfig};
use crate::interceptor::Interceptors;
use crate::wire;

/// Settings of a channel.
#[derive(Debug, Clone)]
pub(crate) struct ChannelConfig {
    pub(crate) connect_timeout: Duration,
    pub(crate) max_receive_message_size: usize,
    pub(crate) max_send_message_size: usize,
    pub(crate) user_agent: http::HeaderValue,
    pub(crate) initial_stream_window_size: Option<u32>,
    pub(crate) initial_connection_window_size: Option<u32>,
    /// The largest response header list (or trailers) accepted from a server.
    pub(crate) max_header_list_size: u32,
    pub(crate) tls: Option<TlsSetup>,
    pub(crate) credentials: Option<super::Credentials>,
    pub(crate) keepalive: Option<crate::keepalive::Keepalive>,
    pub(crate) keepalive_permit_without_calls: bool,
    pub(crate) send_compressed: Option<crate::compression::Encoding>,
    /// `None` when there are none, so calls skip them without a look.
    pub(crate) interceptors: Option<Arc<Interceptors>>,
    pub(crate) backoff: ConnectBackoff,
    /// The policy when the service config names none.
    pub(crate) load_balancing: LoadBalancing,
    /// The service config when the resolver gives none.
    pub(crate) service_config: Option<Arc<ServiceConfig>>,
    /// Whether the service config's retry and hedging policies apply.
    pub(crate) retries: bool,
    /// How many bytes of a streaming call's messages are kept for replay by a retry.
    pub(crate) retry_buffer: usize,
    /// Trace propagation and metrics (tracing spans need no setting: a subscriber turns them on).
    pub(crate) observe: crate::observe::client::ClientObserve,
    /// Opens connections in place of TCP and Unix sockets, when the user supplied one.
    pub(crate) connector: Option<super::connector::ConnectorHandle>,
}

/// A client TLS configuration, ready for connections to one target.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub(crate) struct TlsSetup {
    pub(crate) config: Arc<rustls::ClientConfig>,
    pub(crate) server_name: rustls::pki_types::ServerName<'static>,
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
            max_header_list_size: wire::DEFAULT_MAX_HEADER_LIST_SIZE,
            tls: None,
            credentials: None,
            keepalive: None,
            keepalive_permit_without_calls: false,
            send_compressed: None,
            interceptors: None,
            backoff: ConnectBackoff::default(),
            load_balancing: LoadBalancing::PickFirst,
            service_config: None,
            retries: true,
            retry_buffer: DEFAULT_RETRY_BUFFER,
            observe: Default::default(),
            connector: None,
        }
    }
}

/// gRPC's default per-call retry buffer.
const DEFAULT_RETRY_BUFFER: usize = 256 << 10;

/// Without the `tls` feature there is no TLS configuration to hold.
#[cfg(not(feature = "tls"))]
pub(crate) type TlsSetup = std::convert::Infallible;

#[cfg(feature = "tls")]
impl TlsSetup {
    /// The TLS handshake over `io`.
    pub(crate) async fn connect<IO>(&self, io: IO) -> std::io::Result<tokio_rustls::client::TlsStream<IO>>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        tokio_rustls::TlsConnector::from(self.config.clone()).connect(self.server_name.clone(), io).await
    }
}

/// gRPC's connection backoff parameters (grpc-go's `backoff.Config`): after the n-th failed attempt in a
/// row, the next waits `base_delay * multiplier^(n-1)`, capped at `max_delay`, randomized by ± `jitter`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectBackoff {
    /// The wait after the first failure (default 1 s).
    pub base_delay: Duration,
    /// Growth per failure (default 1.6).
    pub multiplier: f64,
    /// Randomization as a fraction of the wait (default 0.2).
    pub jitter: f64,
    /// The longest wait (default 120 s).
    pub max_delay: Duration,
}

impl Default for ConnectBackoff {
    fn default() -> Self {
        ConnectBackoff {
            base_delay: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max_delay: Duration::from_secs(120),
        }
    }
}

/// The longest any wait here may be (larger settings are clamped, never a panic).
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

impl ConnectBackoff {
    /// The wait after `failures` failed attempts in a row.
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        let growth = self.multiplier.powi(failures.saturating_sub(1).min(64) as i32);
        let seconds = (self.base_delay.as_secs_f64() * growth).min(self.max_delay.as_secs_f64());
        let jitter = 1.0 + self.jitter * (2.0 * crate::client::random_unit() - 1.0);
        Duration::try_from_secs_f64((seconds * jitter).max(0.0)).unwrap_or(MAX_WAIT).min(MAX_WAIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let backoff = ConnectBackoff::default();
        let first = backoff.delay(1).as_secs_f64();
        assert!((0.8..=1.2).contains(&first), "{first}");
        let third = backoff.delay(3).as_secs_f64();
        assert!((2.56 * 0.8..=2.56 * 1.2).contains(&third), "{third}");
        assert!(backoff.delay(100).as_secs_f64() <= 144.0);
    }
}
