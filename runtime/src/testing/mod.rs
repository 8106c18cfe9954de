//! Support for users' tests: a [`Server`](crate::server::Server) and [`Channel`](crate::client::Channel)
//! in one process, joined by an in-memory pipe instead of a socket (as grpc-go's `bufconn`). The pipe
//! carries real HTTP/2, both ends run the same code as over TCP, so interceptors, deadlines, metadata,
//! compression and the four call kinds behave exactly as in production.
//!
//! ```no_run
//! # async fn example(server: rsgrpc::server::Server) -> Result<(), rsgrpc::Status> {
//! let running = rsgrpc::testing::InMemoryServer::start(server);
//! let channel = running.channel();
//! // let client = GreeterClient::new(channel);
//! running.shutdown().await;
//! # Ok(()) }
//! ```

mod pipe;
mod server;

pub use pipe::{pipe, InMemoryConnector, InMemoryIncoming};
pub use server::InMemoryServer;
