//! The in-memory pipe: a connector for channels whose every connection is a fresh `tokio::io::duplex`
//! pair, the other end of which comes out of an incoming stream for
//! [`Server::serve_with_incoming`](crate::server::Server::serve_with_incoming).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use crate::client::{Address, ConnectFuture, Connector, Io};

/// How many bytes each direction of a connection buffers before a writer waits for its reader: about a
/// socket's buffer, so flow control and back-pressure behave as they do over TCP.
const PIPE_BUFFER: usize = 256 << 10;

/// How many connections may wait for the server to take them.
const BACKLOG: usize = 64;

/// A connected pair: the connector for channels and the stream of connections for the server.
pub fn pipe() -> (InMemoryConnector, InMemoryIncoming) {
    let (sender, receiver) = mpsc::channel(BACKLOG);
    (InMemoryConnector { sender }, InMemoryIncoming { receiver })
}

/// Opens in-memory connections to the server holding the matching [`InMemoryIncoming`]; once that is gone
/// (the server stopped or was dropped), connecting fails and calls get UNAVAILABLE.
#[derive(Clone, Debug)]
pub struct InMemoryConnector {
    sender: mpsc::Sender<DuplexStream>,
}

impl Connector for InMemoryConnector {
    fn connect(&self, _address: Address) -> ConnectFuture {
        let sender = self.sender.clone();
        Box::pin(async move {
            let (client, server) = tokio::io::duplex(PIPE_BUFFER);
            sender.send(server).await.map_err(|_| {
                io::Error::new(io::ErrorKind::ConnectionRefused, "the in-memory server is no longer serving")
            })?;
            Ok(Box::new(client) as Box<dyn Io>)
        })
    }
}

/// The server's end of the pipe: every connection a channel opens, until every connector is dropped.
#[derive(Debug)]
pub struct InMemoryIncoming {
    receiver: mpsc::Receiver<DuplexStream>,
}

impl Stream for InMemoryIncoming {
    type Item = io::Result<DuplexStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx).map(|connection| connection.map(Ok))
    }
}
