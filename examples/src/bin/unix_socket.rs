//! Serving and calling over a Unix domain socket (`unix:/path`), for sidecars and local daemons.
//! `cargo run -p rsgrpc-examples --bin unix_socket`

use rsgrpc::server::Server;
use rsgrpc::{Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_client::GreeterClient;
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(HelloReply { message: format!("Hello {name}, over a Unix socket!"), ..Default::default() }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("rsgrpc-example-{}.sock", std::process::id()));
    let server = Server::builder().add_service(GreeterServer::new(MyGreeter)).build();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn({
        let path = path.clone();
        async move {
            server
                .serve_unix(&path, async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    // The socket file exists once the server is listening.
    while !path.exists() {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let client = GreeterClient::connect(&format!("unix:{}", path.display())).await?;
    let reply = client.say_hello(HelloRequest { name: "neighbour".into(), ..Default::default() }).await?;
    println!("{}", reply.into_inner().message);

    let _ = stop.send(());
    serving.await??;
    let _ = std::fs::remove_file(&path);
    Ok(())
}
