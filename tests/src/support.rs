//! Starting and stopping test servers on 127.0.0.1 or Unix sockets.

use std::net::SocketAddr;

use rsgrpc::server::Server;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in the background until stopped or dropped.
pub struct Running {
    /// Its address.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`.
    pub fn target(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts a graceful shutdown and waits until every connection closed.
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Serves `server` on a free port of 127.0.0.1.
pub async fn serve(server: Server) -> Running {
    serve_on(server, "127.0.0.1:0".parse().expect("address")).await
}

/// Serves `server` on `addr` (port 0 for any).
pub async fn serve_on(server: Server, addr: SocketAddr) -> Running {
    let listener = TcpListener::bind(addr).await.expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    Running { addr, stop: Some(stop), task: Some(task) }
}
