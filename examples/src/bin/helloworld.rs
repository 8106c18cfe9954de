//! The smallest exchange: a server answering SayHello, and a client calling it.
//! `cargo run -p rsgrpc-examples --bin helloworld`

use rsgrpc::server::Server;
use rsgrpc::{Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_client::GreeterClient;
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(HelloReply { message: format!("Hello {name}!"), ..Default::default() }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Port 0: the system picks a free one; a real server would bind a known port.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::builder().add_service(GreeterServer::new(MyGreeter)).build();
    tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));

    let client = GreeterClient::connect(&format!("http://{addr}")).await?;
    let reply = client.say_hello(HelloRequest { name: "world".into(), ..Default::default() }).await?;
    println!("{}", reply.into_inner().message);
    Ok(())
}
