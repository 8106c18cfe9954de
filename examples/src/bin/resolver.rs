//! A custom resolver over a registry of your own (a directory of files): `registry:///greeter` resolves to the
//! addresses in the file `greeter` and follows its changes. `cargo run -p rsgrpc-examples --bin resolver`

use rsgrpc::client::{Channel, LoadBalancing, Refresh, Resolution, Resolutions, Resolver, TargetUri};
use rsgrpc::{server::Server, Request, Response, Status};
use rsgrpc_examples::pb::helloworld::{greeter_client::GreeterClient, greeter_server::*, HelloReply, HelloRequest};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

struct FileRegistry(PathBuf);
impl Resolver for FileRegistry {
    fn resolve(&self, target: &TargetUri, _refresh: Refresh) -> Resolutions {
        Box::pin(futures_util::stream::unfold((self.0.join(target.endpoint()), String::new()), changed))
    }
}

/// The file's next change (polled here; a real registry pushes its changes).
async fn changed((file, last): (PathBuf, String)) -> Option<(Result<Resolution, Status>, (PathBuf, String))> {
    loop {
        let text = tokio::fs::read_to_string(&file).await.unwrap_or_default();
        if text != last {
            let addresses: Vec<SocketAddr> = text.lines().filter_map(|line| line.trim().parse().ok()).collect();
            return Some((Ok(Resolution::new(addresses)), (file, text)));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
        addresses.push(listener.local_addr()?.to_string());
        let server = Server::builder().add_service(GreeterServer::new(Backend(index))).build();
        tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));
    }
    let registry = tempfile::tempdir()?;
    std::fs::write(registry.path().join("greeter"), &addresses[0])?;
    let channel = Channel::builder("registry:///greeter")?.resolver("registry", FileRegistry(registry.path().into()));
    let channel = channel.load_balancing(LoadBalancing::RoundRobin).connect().await?;
    let client = GreeterClient::new(channel.clone());
    println!("{}", client.say_hello(HelloRequest::default()).await?.into_inner().message);
    // The second backend registers: the channel connects to it, and round robin takes it in.
    std::fs::write(registry.path().join("greeter"), addresses.join("\n"))?;
    while channel.connected_addresses().len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for _ in 0..4 {
        println!("{}", client.say_hello(HelloRequest::default()).await?.into_inner().message);
    }
    Ok(())
}
