//! The in-memory transport (`rsgrpc::testing`): a channel and a server in one process over a pipe carrying
//! real HTTP/2. The four call kinds, interceptors on both sides, deadlines, metadata and trailers, a
//! graceful shutdown, and a server that goes away, exactly as over TCP.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::stream;
use rsgrpc::interceptor::{auth_fn, bearer_token, unary_fn, UnaryNext};
use rsgrpc::server::Server;
use rsgrpc::testing::InMemoryServer;
use rsgrpc::{BoxMessage, Code, Request, Status};
use rsgrpc_tests::echo::{EchoService, Identity};
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;

fn request(message: &str) -> EchoRequest {
    EchoRequest { message: message.into(), ..Default::default() }
}

fn echo_server() -> (InMemoryServer, EchoService) {
    let service = EchoService::default();
    let server = Server::builder().add_service(EchoServer::new(service.clone())).build();
    (InMemoryServer::start(server), service)
}

/// Waits (yielding, without a clock) until `service` has started `count` handlers.
async fn started(service: &EchoService, count: usize) {
    while service.observed.started.load(Ordering::SeqCst) < count {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn the_four_call_kinds_with_metadata_and_trailers() {
    let (server, _) = echo_server();
    let client = EchoClient::new(server.channel());

    let response = client.unary(Request::new(request("hello")).with_metadata("x-echo", "one")).await.unwrap();
    assert_eq!(response.get_ref().message, "hello");
    assert_eq!(response.metadata().get_all("x-echo"), ["one"]);
    assert_eq!(response.trailers().get_all("x-echo-trailer"), ["one"]);
    // No socket, so no peer address, and the handler is told so rather than given a made-up one.
    assert_eq!(response.trailers().get("x-peer"), None);

    let mut messages = client.server_stream(EchoRequest { repeat: 3, ..request("s") }).await.unwrap().into_inner();
    let mut indexes = Vec::new();
    while let Some(message) = messages.message().await.unwrap() {
        indexes.push(message.index);
    }
    assert_eq!(indexes, [0, 1, 2]);

    let response = client.client_stream(stream::iter(["a", "b", "c"].map(request))).await.unwrap();
    assert_eq!((response.get_ref().message.as_str(), response.get_ref().index), ("a,b,c", 3));

    let (mut sender, mut responses) = client.bidi(()).await.unwrap();
    for (index, word) in ["ping", "pong"].into_iter().enumerate() {
        sender.send(request(word)).await.unwrap();
        let response = responses.message().await.unwrap().unwrap();
        assert_eq!((response.message.as_str(), response.index), (word, index as i32));
    }
    sender.close();
    assert!(responses.message().await.unwrap().is_none());

    // A status from the handler arrives intact, as over TCP.
    let status = client.unary(EchoRequest { fail_code: Code::NotFound as i32, ..request("gone") }).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::NotFound, "gone"));
    server.shutdown().await;
}

#[tokio::test]
async fn interceptors_run_on_both_sides() {
    let service = EchoService::default();
    let server = Server::builder()
        .add_service(EchoServer::new(service.clone()))
        .interceptor(auth_fn(|metadata, _method| {
            let token = bearer_token(metadata).map(str::to_owned);
            async move {
                match token?.as_str() {
                    "secret-alice" => Ok(Identity("alice".into())),
                    _ => Err(Status::unauthenticated("unknown token")),
                }
            }
        }))
        .build();
    let server = InMemoryServer::start(server);

    let unauthenticated = EchoClient::new(server.channel());
    let status = unauthenticated.unary(request("x")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    // The builder keeps every channel setting: here a client interceptor adding the token.
    let channel = server
        .channel_builder()
        .unary_interceptor(unary_fn(|mut request: Request<BoxMessage>, next: UnaryNext| async move {
            request.metadata_mut().insert("authorization", "Bearer secret-alice").unwrap();
            next.run(request).await
        }))
        .connect()
        .await
        .unwrap();
    let response = EchoClient::new(channel).unary(request("x")).await.unwrap();
    assert_eq!(response.trailers().get("x-identity"), Some("alice"));
}

#[tokio::test]
async fn a_deadline_ends_a_slow_call_on_both_sides() {
    let (server, service) = echo_server();
    let client = EchoClient::new(server.channel());
    let slow =
        Request::new(EchoRequest { delay_ms: 60_000, ..request("slow") }).with_timeout(Duration::from_millis(50));
    let status = client.unary(slow).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    // The server dropped the handler too: it was sent the deadline, not just abandoned by the client.
    while service.observed.cancelled.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_graceful_shutdown_lets_calls_in_flight_finish_and_refuses_new_ones() {
    let (server, service) = echo_server();
    let client = EchoClient::new(server.channel());
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.unary(EchoRequest { delay_ms: 200, ..request("in flight") }).await }
    });
    started(&service, 1).await;
    server.shutdown().await;
    let response = in_flight.await.unwrap().expect("the call in flight finishes");
    assert_eq!(response.get_ref().message, "in flight");

    let status = client.unary(request("after")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
}

#[tokio::test]
async fn a_dropped_server_fails_calls_with_unavailable_instead_of_hanging() {
    let (server, service) = echo_server();
    let client = EchoClient::new(server.channel());
    client.unary(request("warm up")).await.unwrap();
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move { client.unary(EchoRequest { delay_ms: 600_000, ..request("forever") }).await }
    });
    started(&service, 2).await;
    drop(server);
    let status = in_flight.await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");

    let status = client.unary(request("after")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("no longer serving"), "{status}");
}

/// `serve_with_incoming` takes any stream of connections: here pipes made by hand, one of them failing,
/// which is skipped rather than ending the server.
#[tokio::test]
async fn serve_with_incoming_serves_any_stream_of_connections() {
    let (connector, incoming) = rsgrpc::testing::pipe();
    let failing = stream::iter([Err(std::io::Error::other("a broken accept"))]);
    let incoming = futures_util::StreamExt::chain(failing, incoming);
    let server = Server::builder().add_service(EchoServer::new(EchoService::default())).build();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_with_incoming(incoming, async move {
        let _ = stopped.await;
    }));
    let channel = rsgrpc::client::Channel::builder("unix:/any").unwrap().connector(connector).connect().await.unwrap();
    let response = EchoClient::new(channel).unary(request("by hand")).await.unwrap();
    assert_eq!(response.get_ref().message, "by hand");
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}
