//! Graceful shutdown with calls in flight, and a deadline propagated through a middle service.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::{Code, Request, Response, Status};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::{Echo, EchoServer};
use rsgrpc_tests::gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};
use rsgrpc_tests::support::serve;

fn slow(message: &str, delay_ms: i32) -> EchoRequest {
    EchoRequest { message: message.into(), delay_ms, ..Default::default() }
}

#[tokio::test]
async fn graceful_shutdown_finishes_calls_in_flight_and_refuses_new_ones() {
    let service = EchoService::default();
    let server = serve(Server::builder().add_service(EchoServer::new(service.clone())).build()).await;
    let client = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    let in_flight: Vec<_> = (0..5)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.unary(slow(&format!("call {i}"), 300)).await })
        })
        .collect();
    // Let the calls reach their handlers before the server stops.
    let started = Instant::now();
    while service.observed.started.load(Ordering::SeqCst) < 5 {
        assert!(started.elapsed() < Duration::from_secs(5), "the calls did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopping = tokio::spawn(server.stop());
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = client.unary(slow("too late", 0)).await;
    assert!(refused.is_err(), "a call after the shutdown started must be refused");
    for (i, call) in in_flight.into_iter().enumerate() {
        let response = call.await.unwrap().unwrap_or_else(|s| panic!("call {i} was lost: {s}"));
        assert_eq!(response.into_inner().message, format!("call {i}"));
    }
    tokio::time::timeout(Duration::from_secs(5), stopping).await.expect("shutdown completes").unwrap();
    assert_eq!(service.observed.finished.load(Ordering::SeqCst), 5);
    assert_eq!(service.observed.cancelled.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_endless_call_cannot_hold_shutdown_past_the_grace_period() {
    let service = EchoService::default();
    let server = Server::builder()
        .add_service(EchoServer::new(service.clone()))
        .shutdown_grace_period(Some(Duration::from_millis(300)))
        .build();
    let server = serve(server).await;
    let client = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    // A handler that would run for a minute, like a Watch stream that never ends.
    let endless = tokio::spawn({
        let client = client.clone();
        async move { client.unary(slow("endless", 60_000)).await }
    });
    while service.observed.started.load(Ordering::SeqCst) < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), server.stop()).await.expect("shutdown ends after the grace period");
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    let status = tokio::time::timeout(Duration::from_secs(10), endless).await.unwrap().unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
}

/// An `Echo` that forwards `unary` to a backend, passing its deadline on.
struct Middle {
    backend: EchoClient,
    seen_deadline: Arc<std::sync::Mutex<Option<Duration>>>,
}

impl Echo for Middle {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        *self.seen_deadline.lock().unwrap() = request.remaining();
        let deadline = request.deadline();
        let forwarded = Request::new(request.into_inner()).with_deadline(deadline);
        self.backend.unary(forwarded).await
    }
}

#[tokio::test]
async fn a_deadline_propagates_through_a_middle_service() {
    let backend_service = EchoService::default();
    let backend = serve(Server::builder().add_service(EchoServer::new(backend_service.clone())).build()).await;
    let seen_deadline = Arc::new(std::sync::Mutex::new(None));
    let middle = Middle {
        backend: EchoClient::new(Channel::connect(&backend.target()).await.unwrap()),
        seen_deadline: seen_deadline.clone(),
    };
    let middle = serve(Server::builder().add_service(EchoServer::new(middle)).build()).await;
    let client = EchoClient::new(Channel::connect(&middle.target()).await.unwrap());

    let started = Instant::now();
    let status =
        client.unary(Request::new(slow("deep", 5_000)).with_timeout(Duration::from_millis(200))).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    let seen = seen_deadline.lock().unwrap().expect("the middle service saw a deadline");
    assert!(seen <= Duration::from_millis(200) && seen > Duration::from_millis(100), "{seen:?}");
    // The backend's handler was dropped at the propagated deadline, long before its 5 s sleep ended.
    for _ in 0..100 {
        if backend_service.observed.cancelled.load(Ordering::SeqCst) == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the backend did not see the call cancelled");
}

#[tokio::test]
async fn an_idle_connection_is_sent_away_but_a_busy_one_is_not() {
    idle_connections(false).await;
    // Spawned calls count as busy too.
    idle_connections(true).await;
}

async fn idle_connections(spawn_calls: bool) {
    let service = EchoService::default();
    let server = Server::builder()
        .add_service(EchoServer::new(service))
        .max_connection_idle(Duration::from_millis(300))
        .spawn_calls(spawn_calls)
        .build();
    let server = serve(server).await;
    // A call longer than the idle limit keeps its connection.
    let client = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    assert_eq!(client.unary(slow("busy", 800)).await.unwrap().into_inner().message, "busy");

    // A raw connection that makes no calls: the server sends GOAWAY and closes it.
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (_send, connection): (h2::client::SendRequest<bytes::Bytes>, _) = h2::client::handshake(tcp).await.unwrap();
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(5), connection).await;
    assert!(ended.is_ok(), "the idle connection was not closed");
    assert!(started.elapsed() >= Duration::from_millis(250), "{:?}", started.elapsed());
    // The channel reconnects after its own idle connection went away.
    assert_eq!(client.unary(slow("again", 0)).await.unwrap().into_inner().message, "again");
}

#[tokio::test]
async fn connections_past_their_maximum_age_are_sent_away_then_closed_after_the_grace() {
    let service = EchoService::default();
    let server = Server::builder()
        .add_service(EchoServer::new(service.clone()))
        .max_connection_age(Duration::from_millis(300), Some(Duration::from_millis(300)))
        .build();
    let server = serve(server).await;
    let client = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    let started = Instant::now();
    // Outlives age + grace: cut off, where a call that fits in the grace would have finished.
    let status = tokio::time::timeout(Duration::from_secs(10), client.unary(slow("endless", 60_000)))
        .await
        .expect("the call is cut off after the grace")
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(550), "{:?}", started.elapsed());
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert_eq!(service.observed.cancelled.load(Ordering::SeqCst), 1);
    // A new connection serves the next call.
    assert_eq!(client.unary(slow("next", 0)).await.unwrap().into_inner().message, "next");
}
