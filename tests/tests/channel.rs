//! Channels: shared by several clients and services, over Unix sockets, surviving a server restart, failing
//! clearly when there is no server, and enforcing message size limits.

use std::time::Duration;

use futures_util::future::join_all;

use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::Code;
use rsgrpc_tests::echo::{CounterService, EchoService};
use rsgrpc_tests::gen::rsgrpc::test::echo::counter_client::CounterClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::counter_server::CounterServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::rt::well_known::Empty;
use rsgrpc_tests::support::{serve, serve_on};

fn both_services() -> Server {
    Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .add_service(CounterServer::new(CounterService::default()))
        .build()
}

fn request(message: &str) -> EchoRequest {
    EchoRequest { message: message.into(), ..Default::default() }
}

#[tokio::test]
async fn several_clients_and_services_share_one_channel() {
    let server = serve(both_services()).await;
    let channel = Channel::connect(&server.target()).await.unwrap();
    let echo = EchoClient::new(channel.clone());
    let counter = CounterClient::new(channel.clone());
    let echo_calls = (0..40).map(|i| {
        let echo = echo.clone();
        async move { echo.unary(request(&i.to_string())).await.map(|r| r.into_inner().message) }
    });
    let counter_calls = (0..40).map(|_| {
        let counter = counter.clone();
        async move { counter.next(Empty::default()).await.map(|r| r.into_inner().index) }
    });
    let (echoed, counted) = tokio::join!(join_all(echo_calls), join_all(counter_calls));
    let echoed: Vec<String> = echoed.into_iter().map(Result::unwrap).collect();
    assert_eq!(echoed, (0..40).map(|i| i.to_string()).collect::<Vec<_>>());
    let mut counted: Vec<i32> = counted.into_iter().map(Result::unwrap).collect();
    counted.sort_unstable();
    assert_eq!(counted, (0..40).collect::<Vec<_>>());
    assert_eq!(echo.price(Empty::default()).await.unwrap().into_inner().units, 42);
}

#[tokio::test]
async fn unix_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grpc.sock");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(both_services().serve_unix(path.clone(), async move {
        let _ = stopped.await;
    }));
    let target = format!("unix:{}", path.display());
    let client = connect_when_ready(&target).await;
    assert_eq!(client.unary(request("over unix")).await.unwrap().into_inner().message, "over unix");
    let mut stream = client.server_stream(EchoRequest { repeat: 3, ..request("s") }).await.unwrap().into_inner();
    let mut count = 0;
    while stream.message().await.unwrap().is_some() {
        count += 1;
    }
    assert_eq!(count, 3);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

async fn connect_when_ready(target: &str) -> EchoClient {
    for _ in 0..100 {
        if let Ok(client) = EchoClient::connect(target).await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no server at {target}");
}

#[tokio::test]
async fn a_client_keeps_its_channel_across_a_server_restart() {
    let server = serve(both_services()).await;
    let addr = server.addr;
    let client = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    assert!(client.unary(request("before")).await.is_ok());
    server.stop().await;

    let down = client.unary(request("while down")).await.unwrap_err();
    assert_eq!(down.code(), Code::Unavailable, "{down}");

    let _restarted = serve_on(both_services(), addr).await;
    // The failed attempt put the channel in backoff (about 1 s); it reconnects on the first call after it.
    let started = std::time::Instant::now();
    loop {
        match client.unary(request("after")).await {
            Ok(response) => {
                assert_eq!(response.into_inner().message, "after");
                break;
            }
            Err(status) if started.elapsed() < Duration::from_secs(5) => {
                assert_eq!(status.code(), Code::Unavailable, "{status}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("did not reconnect within 5 s: {status}"),
        }
    }
}

#[tokio::test]
async fn no_server_is_unavailable_eagerly_and_lazily() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = Channel::connect(&target).await.unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    assert!(error.message().contains("cannot connect"), "{error}");
    let client = EchoClient::new(Channel::lazy(&target).unwrap());
    assert_eq!(client.unary(request("x")).await.unwrap_err().code(), Code::Unavailable);
    assert_eq!(Channel::lazy("http://no-port").unwrap_err().code(), Code::InvalidArgument);
}

#[tokio::test]
async fn message_size_limits_on_both_sides() {
    let server =
        Server::builder().add_service(EchoServer::new(EchoService::default())).max_receive_message_size(1024).build();
    let server = serve(server).await;
    let big = EchoRequest { payload: vec![7; 4096], ..request("big") };

    let client = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    let status = client.unary(big.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    assert!(client.unary(request("small")).await.is_ok(), "the server keeps serving");

    let limited = Channel::builder(&server.target()).unwrap().max_send_message_size(100).connect().await.unwrap();
    let status = EchoClient::new(limited).unary(big).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(status.message().contains("send limit"), "{status}");

    let echo_big = EchoRequest { payload: vec![1; 1000], ..request("echo") };
    let small_receiver =
        Channel::builder(&server.target()).unwrap().max_receive_message_size(500).connect().await.unwrap();
    let status = EchoClient::new(small_receiver).unary(echo_big).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
}

#[tokio::test]
async fn windows_past_the_http2_maximum_are_clamped_not_a_panic() {
    let server = Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .initial_stream_window_size(u32::MAX)
        .initial_connection_window_size(u32::MAX)
        .build();
    let server = serve(server).await;
    let channel = Channel::builder(&server.target())
        .unwrap()
        .initial_stream_window_size(u32::MAX)
        .initial_connection_window_size(u32::MAX)
        .connect()
        .await
        .unwrap();
    let big = EchoRequest { payload: vec![3; 3 << 20], ..request("big window") };
    let reply = EchoClient::new(channel).unary(big).await;
    // A message larger than the default windows crosses the clamped ones.
    assert_eq!(reply.unwrap().into_inner().message, "big window");
}

#[tokio::test]
async fn oversized_metadata_is_refused_and_the_server_keeps_serving() {
    let server = serve(both_services()).await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let mut call = rsgrpc::Request::new(request("heavy"));
    call.metadata_mut().insert("x-large", &"v".repeat(64 * 1024)).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), client.unary(call)).await.expect("no hang").unwrap_err();
    assert_ne!(status.code(), Code::Ok, "{status}");
    let reply = client.unary(request("light")).await.unwrap().into_inner();
    assert_eq!(reply.message, "light");
}

#[tokio::test]
async fn an_oversized_message_in_a_client_stream_fails_at_once_without_a_deadline() {
    let server = serve(Server::builder().add_service(EchoServer::new(EchoService::default())).build()).await;
    let channel = Channel::builder(&server.target()).unwrap().max_send_message_size(100).connect().await.unwrap();
    let client = EchoClient::new(channel);
    let messages = vec![
        EchoRequest { message: "small".into(), ..Default::default() },
        EchoRequest { payload: vec![0; 1000], ..Default::default() },
    ];
    let call = client.client_stream(futures_util::stream::iter(messages));
    let status = tokio::time::timeout(Duration::from_secs(5), call).await.expect("no hang").unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
}
