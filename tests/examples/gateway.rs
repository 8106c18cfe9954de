//! A REST/JSON gateway in front of a gRPC server: the library service of testdata/gateway/protos served
//! over gRPC, and the gateway calling it through a channel (proxy mode).
//!
//! `cargo run -p rsgrpc-tests --example gateway [PORT]` (default 8080; 0 picks a free one), then try the
//! curl lines it prints.

use std::sync::Arc;

use rsgrpc::client::Channel;
use rsgrpc::gateway::Gateway;
use rsgrpc::server::Server;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_gateway;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_server::LibraryServer;
use rsgrpc_tests::library::TestLibrary;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map(|p| p.parse()).transpose()?.unwrap_or(8080);
    // The gRPC server, on a port of its own.
    let grpc = TcpListener::bind("127.0.0.1:0").await?;
    let grpc_addr = grpc.local_addr()?;
    let server = Server::builder().add_service(LibraryServer::new(TestLibrary)).build();
    tokio::spawn(server.serve_with_shutdown(grpc, std::future::pending()));

    // The gateway: proxy_routes calls the server; library_gateway::routes(Arc::new(TestLibrary)) would
    // call the implementation in this process instead.
    let channel = Channel::connect(&format!("http://{grpc_addr}")).await?;
    let _in_process = library_gateway::routes(Arc::new(TestLibrary));
    let gateway =
        Gateway::builder().routes(library_gateway::proxy_routes(channel)).health_endpoint("/healthz").build()?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    println!("  curl http://{addr}/v1/shelves/s1");
    println!("  curl 'http://{addr}/v1/shelves/s1/books?pageSize=10&tags=a&tags=b&genre=HISTORY'");
    println!("  curl -X POST -H 'Content-Type: application/json' -d '{{\"title\": \"Dune\"}}' http://{addr}/v1/shelves/s1/books");
    println!("  curl -N http://{addr}/v1/shelves/s1:watch?count=3");
    println!("  curl -N -H 'Accept: text/event-stream' 'http://{addr}/v1/shelves/s1:watch?count=3&fail_after=2'");
    println!("  curl -i http://{addr}/v1/fail/5?message=gone");
    gateway
        .serve_with_shutdown(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
