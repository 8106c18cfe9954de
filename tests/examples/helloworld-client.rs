//! The helloworld client: `cargo run -p rsgrpc-tests --example helloworld-client [TARGET] [NAME]`.

use std::time::Duration;

use rsgrpc::Request;
use rsgrpc_tests::gen::helloworld::greeter_client::GreeterClient;
use rsgrpc_tests::gen::helloworld::HelloRequest;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let name = args.next().unwrap_or_else(|| "world".to_owned());
    let client = GreeterClient::connect(&target).await?;
    let request = Request::new(HelloRequest { name, ..Default::default() }).with_timeout(Duration::from_secs(5));
    let reply = client.say_hello(request).await?;
    println!("{}", reply.into_inner().message);
    Ok(())
}
