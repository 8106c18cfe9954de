//! User-supplied dialers: a [`Connector`] opens the byte stream a subchannel runs HTTP/2 (and TLS, when
//! configured) over, in place of a TCP or Unix socket. For custom transports (vsock, an SSH tunnel, a
//! proxy's CONNECT) and for in-process tests ([`crate::testing`]).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};

use super::resolver::Address;

/// A connection a [`Connector`] opened: any byte stream both ways.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// What [`Connector::connect`] returns.
pub type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<Box<dyn Io>>> + Send>>;

/// Opens connections to resolved addresses. The channel calls it for every connection attempt, within
/// its connect timeout; an error fails the attempt with UNAVAILABLE and the usual backoff follows.
pub trait Connector: Send + Sync + 'static {
    /// Opens a connection to `address`.
    fn connect(&self, address: Address) -> ConnectFuture;
}

/// A closure `Fn(Address) -> impl Future<Output = io::Result<IO>>` is a connector.
impl<F, Fut, IO> Connector for F
where
    F: Fn(Address) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<IO>> + Send + 'static,
    IO: Io,
{
    fn connect(&self, address: Address) -> ConnectFuture {
        let connecting = self(address);
        Box::pin(async move { Ok(Box::new(connecting.await?) as Box<dyn Io>) })
    }
}

/// A connector as a channel's settings hold it.
#[derive(Clone)]
pub(crate) struct ConnectorHandle(pub(crate) Arc<dyn Connector>);

impl fmt::Debug for ConnectorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Connector")
    }
}
