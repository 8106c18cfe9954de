//! Settings of one service on a server (`ServerBuilder::add_service_with`): its message limit applies to
//! its calls and not to the other services', its interceptor runs for its calls only (inside the server's),
//! and a service added twice is refused with its name.

use std::sync::{Arc, Mutex};

use rsgrpc::health::{health_service, HealthCheckRequest, HealthClient};
use rsgrpc::interceptor::{unary_fn, UnaryNext};
use rsgrpc::server::{Server, ServiceSettings};
use rsgrpc::{Code, ConfigErrorKind};
use rsgrpc_tests::echo::{CounterService, EchoService};
use rsgrpc_tests::gen::rsgrpc::test::echo::counter_client::CounterClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::counter_server::CounterServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::rt::well_known::Empty;
use rsgrpc_tests::support::serve;

const TEN_KIB: usize = 10 * 1024;

fn big_echo() -> EchoRequest {
    EchoRequest { payload: vec![7; TEN_KIB], ..Default::default() }
}

/// A health check whose request is over 10 KiB: it reaches the handler (NOT_FOUND, an unknown service)
/// unless a receive limit stops it first.
fn big_health_check() -> HealthCheckRequest {
    HealthCheckRequest { service: "x".repeat(TEN_KIB), ..Default::default() }
}

#[tokio::test]
async fn a_services_receive_limit_applies_to_its_calls_and_not_to_the_other_services() {
    let (_reporter, health) = health_service();
    let server = Server::builder()
        .add_service_with(
            EchoServer::new(EchoService::default()),
            ServiceSettings::new().max_receive_message_size(1024),
        )
        .add_service(health)
        .build();
    let server = serve(server).await;
    let echo = EchoClient::connect(&server.target()).await.unwrap();
    let status = echo.unary(big_echo()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let small = EchoRequest { message: "small".into(), ..Default::default() };
    assert_eq!(echo.unary(small).await.unwrap().into_inner().message, "small");
    // The server-wide limit (4 MiB) still holds for the health service.
    let health = HealthClient::connect(&server.target()).await.unwrap();
    assert_eq!(health.check(big_health_check()).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn a_service_may_accept_more_than_the_server_wide_limit() {
    let (_reporter, health) = health_service();
    let server = Server::builder()
        .max_receive_message_size(1024)
        .add_service_with(
            EchoServer::new(EchoService::default()),
            ServiceSettings::new().max_receive_message_size(64 * 1024),
        )
        .add_service(health)
        .build();
    let server = serve(server).await;
    let echo = EchoClient::connect(&server.target()).await.unwrap();
    assert_eq!(echo.unary(big_echo()).await.unwrap().into_inner().payload.len(), TEN_KIB);
    let health = HealthClient::connect(&server.target()).await.unwrap();
    assert_eq!(health.check(big_health_check()).await.unwrap_err().code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn a_services_send_limit_applies_to_its_responses() {
    let server = Server::builder()
        .add_service_with(EchoServer::new(EchoService::default()), ServiceSettings::new().max_send_message_size(1024))
        .build();
    let server = serve(server).await;
    let echo = EchoClient::connect(&server.target()).await.unwrap();
    let status = echo.unary(big_echo()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
}

type Log = Arc<Mutex<Vec<String>>>;

/// An interceptor noting `name` and the method of each unary call it sees.
fn noting(log: &Log, name: &'static str) -> impl rsgrpc::interceptor::UnaryInterceptor {
    let log = log.clone();
    unary_fn(move |request, next: UnaryNext| {
        log.lock().unwrap().push(format!("{name} {}", next.method().path()));
        next.run(request)
    })
}

#[tokio::test]
async fn a_services_interceptor_runs_for_its_calls_only_and_inside_the_servers() {
    let log: Log = Log::default();
    let server = Server::builder()
        .unary_interceptor(noting(&log, "server"))
        .add_service_with(
            CounterServer::new(CounterService::default()),
            ServiceSettings::new().unary_interceptor(noting(&log, "counter")),
        )
        .add_service(EchoServer::new(EchoService::default()))
        .build();
    let server = serve(server).await;
    let echo = EchoClient::connect(&server.target()).await.unwrap();
    echo.unary(EchoRequest::default()).await.unwrap();
    let counter = CounterClient::connect(&server.target()).await.unwrap();
    counter.next(Empty::default()).await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "server /rsgrpc.test.echo.Echo/Unary",
            "server /rsgrpc.test.echo.Counter/Next",
            "counter /rsgrpc.test.echo.Counter/Next",
        ]
    );
}

#[test]
fn a_service_added_twice_is_refused_with_its_name() {
    let builder = Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .add_service(CounterServer::new(CounterService::default()))
        .add_service_with(EchoServer::new(EchoService::default()), ServiceSettings::new());
    let error = builder.try_build().err().expect("a duplicate service must be refused");
    assert_eq!(error.kind(), ConfigErrorKind::Service);
    assert_eq!(
        error.to_string(),
        "the service `rsgrpc.test.echo.Echo` is registered twice; each service name may be added once"
    );
}

#[test]
#[should_panic(expected = "the service `rsgrpc.test.echo.Counter` is registered twice")]
fn build_panics_on_a_service_added_twice() {
    let _ = Server::builder()
        .add_service(CounterServer::new(CounterService::default()))
        .add_service(CounterServer::new(CounterService::default()))
        .build();
}
