//! Bound listeners as streams of accepted connections, which the server's one accept loop serves like any
//! other incoming stream.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_core::Stream;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// How long to wait after a failed accept (out of file descriptors and the like) rather than spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The connections of a TCP listener, with Nagle off (gRPC messages are small and latency-bound).
pub(super) fn tcp(listener: TcpListener) -> impl Stream<Item = io::Result<(TcpStream, Option<SocketAddr>)>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                Ok((stream, Some(peer)))
            }
            Err(error) => {
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                Err(error)
            }
        };
        Some((accepted, listener))
    })
}

/// The connections of a Unix socket listener (they have no address to report).
pub(super) fn unix(listener: UnixListener) -> impl Stream<Item = io::Result<(UnixStream, Option<SocketAddr>)>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = match listener.accept().await {
            Ok((stream, _)) => Ok((stream, None)),
            Err(error) => {
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                Err(error)
            }
        };
        Some((accepted, listener))
    })
}
