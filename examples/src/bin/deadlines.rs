//! Deadlines and cancellation: a call with a timeout ends DEADLINE_EXCEEDED when the server is too slow,
//! and the server's handler is cancelled with it (its work stops; it does not run on for nobody).
//! `cargo run -p rsgrpc-examples --bin deadlines`

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rsgrpc::server::Server;
use rsgrpc::{Code, Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_client::GreeterClient;
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

struct SlowGreeter {
    slow_finished: Arc<AtomicBool>,
}

impl Greeter for SlowGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        // The client's deadline arrives with the call (grpc-timeout); a handler can read it to plan its work.
        if let Some(left) = request.remaining() {
            println!("server: a {:?} call, {} ms left", request.get_ref().name, left.as_millis());
        }
        if request.get_ref().name == "slow" {
            tokio::time::sleep(Duration::from_secs(5)).await;
            // Not reached: the server drops the handler's future when the deadline passes or the client
            // cancels.
            self.slow_finished.store(true, Ordering::SeqCst);
        }
        Ok(Response::new(HelloReply { message: "done".into(), ..Default::default() }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let slow_finished = Arc::new(AtomicBool::new(false));
    let service = SlowGreeter { slow_finished: slow_finished.clone() };
    let server = Server::builder().add_service(GreeterServer::new(service)).build();
    tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));
    let client = GreeterClient::connect(&format!("http://{addr}")).await?;

    let quick =
        Request::new(HelloRequest { name: "quick".into(), ..Default::default() }).with_timeout(Duration::from_secs(1));
    println!("quick call: {}", client.say_hello(quick).await?.into_inner().message);

    let slow = Request::new(HelloRequest { name: "slow".into(), ..Default::default() })
        .with_timeout(Duration::from_millis(200));
    let status = client.say_hello(slow).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    println!("slow call: {}", status.code());

    // Cancelling: dropping the call's future (here by a timeout around it) resets the stream.
    let call = client.say_hello(HelloRequest { name: "slow".into(), ..Default::default() });
    let abandoned = tokio::time::timeout(Duration::from_millis(100), call).await;
    assert!(abandoned.is_err());
    println!("abandoned call: cancelled by the client");

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!slow_finished.load(Ordering::SeqCst));
    println!("the slow handlers were stopped, not left running");
    Ok(())
}
