//! channelz (`grpc.channelz.v1.Channelz`): what grpc-go's and grpc-java's channelz show, served for
//! tools (grpcdebug, grpcurl, grpcio's channelz client) to ask a running process about its channels,
//! subchannels, servers and sockets: ids, targets, connectivity states, calls started, succeeded and failed,
//! when the last one started, and per socket its streams, messages, keepalives and addresses.
//!
//! Off until [`service`] (or [`enable`]) is called: before that nothing is registered and calls count
//! nothing. From then on every channel and server created is registered, with its subchannels and
//! sockets, until it is dropped.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let server = rsgrpc::server::Server::builder().add_service(rsgrpc::channelz::service()).build();
//! server.serve("127.0.0.1:50051".parse().unwrap()).await
//! # }
//! ```

/// The generated `grpc.channelz.v1` package: messages, `ChannelzClient` and the `Channelz` trait.
pub mod v1 {
    include!("grpc.channelz.v1.rs");
}

mod service;

pub use crate::observe::channelz::enable;
pub use service::ChannelzService;
pub use v1::channelz_client::ChannelzClient;
pub use v1::channelz_server::{Channelz, ChannelzServer};

/// The channelz service to register with [`ServerBuilder::add_service`](crate::server::ServerBuilder::add_service);
/// turns channelz on for the process.
pub fn service() -> ChannelzServer<ChannelzService> {
    ChannelzServer::new(ChannelzService::new())
}
