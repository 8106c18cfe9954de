//! The helloworld server: `cargo run -p rsgrpc-tests --example helloworld-server [PORT]`.

use rsgrpc::server::Server;
use rsgrpc::{Request, Response, Status};
use rsgrpc_tests::gen::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_tests::gen::helloworld::{HelloReply, HelloRequest};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        if name.is_empty() {
            return Err(Status::invalid_argument("name is empty"));
        }
        Ok(Response::new(HelloReply { message: format!("Hello {name}!"), ..Default::default() }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(50051), |p| p.parse())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?);
    let server = Server::builder().add_service(GreeterServer::new(MyGreeter)).build();
    server.serve_with_shutdown(listener, async { tokio::signal::ctrl_c().await.unwrap_or(()) }).await?;
    Ok(())
}
