//! The README's "Testing" example, as written there except where the generated code comes from: a function
//! taking `&impl GreeterApi`, tested with `MockGreeter` (met, and an unexpected call reported) and against a
//! real server over the in-memory transport. Keep the two in step.

// The README includes the generated code; here it is the `wire` golden case's (generated with `mocks`).
use rsgrpc_tests::wire_gen::helloworld as pb;

use pb::greeter_client::GreeterApi;
use pb::HelloRequest;

/// The code under test: it takes any client of `Greeter`, the real one or a mock.
pub async fn greet_all(greeter: &impl GreeterApi, names: &[&str]) -> Result<Vec<String>, rsgrpc::Status> {
    let mut replies = Vec::new();
    for name in names {
        let request = HelloRequest { name: name.to_string(), ..Default::default() };
        replies.push(greeter.say_hello(request).await?.into_inner().message);
    }
    Ok(replies)
}

mod tests {
    use super::*;
    use pb::greeter_client::{GreeterClient, MockGreeter};
    use pb::greeter_server::{Greeter, GreeterServer};
    use pb::HelloReply;
    use rsgrpc::{Code, Request, Response, Status};

    fn reply(message: String) -> HelloReply {
        HelloReply { message, ..Default::default() }
    }

    #[tokio::test]
    async fn with_a_mock() {
        let greeter = MockGreeter::new();
        greeter.expect_say_hello().times(2).returning(|request| Ok(reply(format!("Hi {}", request.name))));
        assert_eq!(greet_all(&greeter, &["Ann", "Bob"]).await.unwrap(), ["Hi Ann", "Hi Bob"]);
        greeter.verify().unwrap();
    }

    #[tokio::test]
    async fn an_unexpected_call_is_reported() {
        let greeter = MockGreeter::new();
        greeter.expect_say_hello().with(|request| request.name == "Cy");
        assert_eq!(greet_all(&greeter, &["Ann"]).await.unwrap_err().code(), Code::Unimplemented);
        let report = greeter.verify().unwrap_err().to_string();
        assert!(report.contains(r#"unexpected call of /helloworld.Greeter/SayHello with HelloRequest { name: "Ann""#));
        assert!(report.contains("expectation #1 (a request the matcher accepts) wants exactly 1 call, and got 0"));
    }

    struct Polite;

    impl Greeter for Polite {
        async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
            Ok(Response::new(reply(format!("Good day, {}", request.into_inner().name))))
        }
    }

    #[tokio::test]
    async fn against_a_real_server_in_memory() {
        let server = rsgrpc::server::Server::builder().add_service(GreeterServer::new(Polite)).build();
        let running = rsgrpc::testing::InMemoryServer::start(server);
        let client = GreeterClient::new(running.channel());
        assert_eq!(greet_all(&client, &["Ann"]).await.unwrap(), ["Good day, Ann"]);
        running.shutdown().await;
    }
}
