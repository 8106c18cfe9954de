//! A server running in the test's process, reached through the in-memory pipe.

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::pipe::{pipe, InMemoryConnector};
use crate::client::{Channel, ChannelBuilder};
use crate::server::Server;

/// The target of in-memory channels: only the connector reaches it, so it names no real socket. It is
/// the Unix form so that the `:authority` is `localhost`, as for a local server.
const TARGET: &str = "unix:/rsgrpc-in-memory";

/// A [`Server`] serving on an in-memory pipe in this process, with channels to it.
///
/// Dropping it stops the server at once (its connections close, calls in flight fail with UNAVAILABLE,
/// as when a server process dies); [`shutdown`](Self::shutdown) stops it gracefully.
#[derive(Debug)]
pub struct InMemoryServer {
    connector: InMemoryConnector,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl InMemoryServer {
    /// Starts serving `server` in a task of the current tokio runtime.
    pub fn start(server: Server) -> InMemoryServer {
        let (connector, incoming) = pipe();
        let (stop, stopped) = oneshot::channel::<()>();
        let signal = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(server.serve_with_incoming(incoming, signal));
        InMemoryServer { connector, stop: Some(stop), task }
    }

    /// A builder of channels to the server, for settings, interceptors and credentials of their own.
    pub fn channel_builder(&self) -> ChannelBuilder {
        Channel::builder(TARGET).expect("the in-memory target is valid").connector(self.connector.clone())
    }

    /// A channel to the server with default settings (it connects on its first call).
    pub fn channel(&self) -> Channel {
        self.channel_builder().connect_lazy()
    }

    /// The connector channels to this server use, for a [`ChannelBuilder`] made elsewhere.
    pub fn connector(&self) -> InMemoryConnector {
        self.connector.clone()
    }

    /// Shuts the server down gracefully, as [`Server::serve_with_shutdown`] does at its signal (GOAWAY,
    /// calls in flight finish within the grace period), and waits until it has.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = &mut self.task;
        if let Err(error) = task.await {
            if error.is_panic() {
                std::panic::resume_unwind(error.into_panic());
            }
        }
    }
}

impl Drop for InMemoryServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
