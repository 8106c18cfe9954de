//! A custom name resolver: `hello:///myworld` resolves to the backends a registry of your own knows (here a
//! static table, as grpc-go's resolver example does; a real one would watch a registry and yield a new
//! resolution whenever it changes). The channel balances over what it yields.
//! `cargo run -p rsgrpc-examples --bin resolver`

use std::collections::HashMap;
use std::net::SocketAddr;

use rsgrpc::client::{Channel, LoadBalancing, Refresh, Resolution, Resolutions, Resolver, TargetUri};
use rsgrpc::server::Server;
use rsgrpc::{Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_client::GreeterClient;
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

/// Names to addresses.
struct StaticResolver(HashMap<String, Vec<SocketAddr>>);

impl Resolver for StaticResolver {
    fn resolve(&self, target: &TargetUri, _refresh: Refresh) -> Resolutions {
        let found = match self.0.get(target.endpoint()) {
            Some(addresses) => Ok(Resolution::new(addresses.clone())),
            None => Err(Status::unavailable(format!("hello: no service named {:?}", target.endpoint()))),
        };
        // One resolution and no further changes.
        Box::pin(futures_util::stream::iter([found]))
    }
}

/// A backend that says which one it is.
struct Backend(usize);

impl Greeter for Backend {
    async fn say_hello(&self, _request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(HelloReply { message: format!("backend {}", self.0), ..Default::default() }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addresses = Vec::new();
    for index in 0..2 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        addresses.push(listener.local_addr()?);
        let server = Server::builder().add_service(GreeterServer::new(Backend(index))).build();
        tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));
    }
    let resolver = StaticResolver(HashMap::from([("myworld".to_owned(), addresses)]));
    let channel = Channel::builder("hello:///myworld")?
        .resolver("hello", resolver)
        .load_balancing(LoadBalancing::RoundRobin)
        .connect()
        .await?;
    // round_robin connects to every backend in the background and picks among those connected; wait for
    // both so that the calls below show the spread.
    let started = std::time::Instant::now();
    while channel.connected_addresses().len() < 2 && started.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let client = GreeterClient::new(channel);
    for _ in 0..4 {
        let reply = client.say_hello(HelloRequest::default()).await?;
        println!("{}", reply.into_inner().message);
    }
    Ok(())
}
