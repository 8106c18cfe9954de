//! Health checking (grpc.health.v1): the server reports SERVING or NOT_SERVING per service, and a probe
//! asks, as Kubernetes' gRPC liveness probe or `grpc_health_probe` would (see `health_probe.rs` for a probe
//! binary to run as an exec check).
//! `cargo run -p rsgrpc-examples --bin health`

use rsgrpc::health::{health_service, HealthCheckRequest, HealthClient, ServingStatus};
use rsgrpc::server::Server;
use rsgrpc::{Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, _request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(HelloReply::default()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (reporter, health) = health_service();
    reporter.set_serving("helloworld.Greeter");
    let server = Server::builder().add_service(health).add_service(GreeterServer::new(MyGreeter)).build();
    tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));

    let probe = HealthClient::connect(&format!("http://{addr}")).await?;
    let ask = |service: &str| HealthCheckRequest { service: service.into(), ..Default::default() };
    let status = probe.check(ask("helloworld.Greeter")).await?.into_inner().status();
    println!("helloworld.Greeter: {}", status.as_str_name());

    // Going down for maintenance: the probe sees it, and a load balancer stops sending calls.
    reporter.set_not_serving("helloworld.Greeter");
    let status = probe.check(ask("helloworld.Greeter")).await?.into_inner().status();
    assert_eq!(status, ServingStatus::NotServing);
    println!("helloworld.Greeter: {}", status.as_str_name());
    Ok(())
}
