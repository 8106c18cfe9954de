//! Rich errors: a status carrying google.rpc error details (here a `BadRequest` naming the bad field),
//! which clients in any language can decode, as grpc-go's `status.WithDetails` and
//! `errdetails.BadRequest` do.
//! `cargo run -p rsgrpc-examples --bin error_details`

use rsgrpc::rpc::bad_request::FieldViolation;
use rsgrpc::rpc::BadRequest;
use rsgrpc::server::Server;
use rsgrpc::well_known::Any;
use rsgrpc::{Code, Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_client::GreeterClient;
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

struct StrictGreeter;

impl Greeter for StrictGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let name = request.into_inner().name;
        if name.is_empty() {
            let violation =
                FieldViolation { field: "name".into(), description: "a name is required".into(), ..Default::default() };
            let details = BadRequest { field_violations: vec![violation], ..Default::default() };
            let any = Any::from_msg(&details).map_err(|e| Status::internal(e.to_string()))?;
            return Err(Status::with_error_details(Code::InvalidArgument, "invalid HelloRequest", [any]));
        }
        Ok(Response::new(HelloReply { message: format!("Hello {name}!"), ..Default::default() }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::builder().add_service(GreeterServer::new(StrictGreeter)).build();
    tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));
    let client = GreeterClient::connect(&format!("http://{addr}")).await?;

    let status = client.say_hello(HelloRequest::default()).await.unwrap_err();
    println!("{}: {}", status.code(), status.message());
    let bad_request: BadRequest = status.error_detail().expect("a BadRequest detail");
    for violation in &bad_request.field_violations {
        println!("field {:?}: {}", violation.field, violation.description);
    }
    Ok(())
}
