//! Retries from a service config (gRFC A6): calls failing UNAVAILABLE are tried again with backoff, up to
//! `maxAttempts`, without the caller seeing the failures; hedging is configured the same way
//! (`hedgingPolicy`). The config could come from the resolver (DNS TXT, a registry) instead.
//! `cargo run -p rsgrpc-examples --bin retries`

use std::sync::atomic::{AtomicU32, Ordering};

use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::{Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_client::GreeterClient;
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

/// Fails the first two attempts of every three.
#[derive(Default)]
struct FlakyGreeter {
    attempts: AtomicU32,
}

impl Greeter for FlakyGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        // Later attempts say which they are.
        let previous = request.metadata().get("grpc-previous-rpc-attempts").unwrap_or("0").to_owned();
        println!("server: attempt {attempt} (grpc-previous-rpc-attempts: {previous})");
        if attempt % 3 != 0 {
            return Err(Status::unavailable("try again"));
        }
        Ok(Response::new(HelloReply { message: format!("succeeded on attempt {attempt}"), ..Default::default() }))
    }
}

const SERVICE_CONFIG: &str = r#"{
  "methodConfig": [{
    "name": [{"service": "helloworld.Greeter"}],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.01s",
      "maxBackoff": "0.1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::builder().add_service(GreeterServer::new(FlakyGreeter::default())).build();
    tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));

    let channel =
        Channel::builder(&format!("http://{addr}"))?.default_service_config(SERVICE_CONFIG)?.connect().await?;
    let client = GreeterClient::new(channel);
    let reply = client.say_hello(HelloRequest::default()).await?;
    println!("client: {}", reply.into_inner().message);
    Ok(())
}
