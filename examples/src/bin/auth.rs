//! Authentication: a server interceptor checks the bearer token of every call and hands the caller's
//! identity to the handler; the client sends the token as per-call credentials.
//! `cargo run -p rsgrpc-examples --bin auth`

use rsgrpc::client::{Channel, Credentials};
use rsgrpc::interceptor::{auth_fn, bearer_token};
use rsgrpc::server::Server;
use rsgrpc::{Code, Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_client::GreeterClient;
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

/// Who the token says the caller is; the interceptor puts it in the request's extensions.
#[derive(Clone)]
struct User(String);

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        let user = request.extensions().get::<User>().map_or("nobody".to_owned(), |user| user.0.clone());
        Ok(Response::new(HelloReply { message: format!("Hello {user}!"), ..Default::default() }))
    }
}

/// A real service would verify a signed token or ask an identity provider.
async fn verify(token: &str) -> Result<User, Status> {
    match token {
        "alice-token" => Ok(User("alice".into())),
        _ => Err(Status::unauthenticated("unknown token")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::builder()
        .interceptor(auth_fn(|metadata, _method| {
            // Read what is needed from the borrowed metadata first, then verify without it.
            let token = bearer_token(metadata).map(str::to_owned);
            async move { verify(&token?).await }
        }))
        .add_service(GreeterServer::new(MyGreeter))
        .build();
    tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));

    let client = GreeterClient::new(Channel::connect(&format!("http://{addr}")).await?);
    let hello = || HelloRequest { name: "ignored".into(), ..Default::default() };

    let anonymous = client.say_hello(hello()).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    println!("without a token: {} ({})", anonymous.code(), anonymous.message());

    // Bearer credentials go only over TLS unless allowed: this example runs on plaintext loopback.
    let credentials = Credentials::bearer("alice-token").allow_insecure();
    let reply = client.say_hello(Request::new(hello()).with_credentials(credentials)).await?;
    println!("with alice's token: {}", reply.into_inner().message);
    Ok(())
}
