//! The four call kinds end to end over real TCP: generated client, generated server trait, our runtime.

use std::time::Duration;

use rsgrpc::server::Server;
use rsgrpc::{Code, Request};
use rsgrpc_tests::echo::{CounterService, EchoService};
use rsgrpc_tests::gen::rsgrpc::test::echo::counter_server::CounterServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::{serve, Running};

async fn echo_server() -> (Running, EchoService) {
    let service = EchoService::default();
    let server = rsgrpc::server::Server::builder()
        .add_service(EchoServer::new(service.clone()))
        .add_service(CounterServer::new(CounterService::default()))
        .build();
    (serve(server).await, service)
}

fn request(message: &str) -> EchoRequest {
    EchoRequest { message: message.into(), ..Default::default() }
}

#[tokio::test]
async fn unary_with_metadata_both_ways() {
    let (server, _) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let response = client
        .unary(Request::new(request("hello")).with_metadata("x-echo", "one").with_metadata("x-echo", "two"))
        .await
        .unwrap();
    assert_eq!(response.get_ref().message, "hello");
    assert_eq!(response.metadata().get_all("x-echo"), ["one", "two"]);
    assert_eq!(response.trailers().get_all("x-echo-trailer"), ["one", "two"]);
    // The handler saw the client's address.
    let peer = response.trailers().get("x-peer").expect("x-peer trailer");
    assert!(peer.starts_with("127.0.0.1:"), "{peer}");
}

/// The tokio task each of two calls on one connection ran in.
async fn handler_tasks(spawn_calls: bool) -> (String, String) {
    let server =
        Server::builder().add_service(EchoServer::new(EchoService::default())).spawn_calls(spawn_calls).build();
    let server = serve(server).await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let task = |response: rsgrpc::Response<_>| response.trailers().get("x-task").expect("x-task trailer").to_owned();
    let first = task(client.unary(request("one")).await.unwrap());
    let second = task(client.unary(request("two")).await.unwrap());
    (first, second)
}

#[tokio::test]
async fn calls_run_in_their_connection_task_unless_spawn_calls() {
    // Inline (the default): both calls are polled by the connection's task.
    let (first, second) = handler_tasks(false).await;
    assert_eq!(first, second);
    // spawn_calls: each call is a task of its own, so a handler blocking its thread leaves the others free.
    let (first, second) = handler_tasks(true).await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn server_streaming_then_status() {
    let (server, _) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let mut stream = client.server_stream(EchoRequest { repeat: 5, ..request("s") }).await.unwrap().into_inner();
    let mut indexes = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        indexes.push(message.index);
    }
    assert_eq!(indexes, [0, 1, 2, 3, 4]);

    let failing = EchoRequest { repeat: 2, fail_code: Code::Aborted as i32, ..request("mid-stream failure") };
    let mut stream = client.server_stream(failing).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().index, 0);
    assert_eq!(stream.message().await.unwrap().unwrap().index, 1);
    let status = stream.message().await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Aborted, "mid-stream failure"));
}

/// The server gathers the messages a handler has ready into one write (up to 32 KiB): thousands of them,
/// small and over that size, come out whole, in order and followed by the handler's status.
#[tokio::test]
async fn many_ready_messages_arrive_whole_in_order_then_the_status() {
    let (server, _) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    for (repeat, payload) in [(5000, 10usize), (200, 40 << 10)] {
        let failing = EchoRequest {
            repeat,
            payload: vec![7; payload],
            fail_code: Code::DataLoss as i32,
            ..request("after the batch")
        };
        let mut stream = client.server_stream(failing).await.unwrap().into_inner();
        let mut next = 0;
        let status = loop {
            match stream.message().await {
                Ok(Some(message)) => {
                    assert_eq!((message.index, message.payload.len()), (next, payload));
                    next += 1;
                }
                Ok(None) => panic!("the stream ended OK"),
                Err(status) => break status,
            }
        };
        assert_eq!(next, repeat, "every message before the status");
        assert_eq!((status.code(), status.message()), (Code::DataLoss, "after the batch"));
    }
}

#[tokio::test]
async fn client_streaming() {
    let (server, _) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let messages = ["a", "b", "c"].map(request);
    let response = client.client_stream(iter_stream(messages)).await.unwrap();
    assert_eq!((response.get_ref().message.as_str(), response.get_ref().index), ("a,b,c", 3));
    let empty = client.client_stream(iter_stream(Vec::new())).await.unwrap();
    assert_eq!(empty.get_ref().index, 0);
}

#[tokio::test]
async fn bidirectional_streaming_ping_pong() {
    let (server, _) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let (mut sender, mut responses) = client.bidi(()).await.unwrap();
    for (index, word) in ["ping", "pong", "pang"].into_iter().enumerate() {
        sender.send(request(word)).await.unwrap();
        let response = responses.message().await.unwrap().unwrap();
        assert_eq!((response.message.as_str(), response.index), (word, index as i32));
    }
    sender.close();
    assert!(responses.message().await.unwrap().is_none());
}

#[tokio::test]
async fn statuses_from_handlers_arrive_intact() {
    let (server, _) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    for code in 1..=16 {
        let message = format!("code {code} ☺ \t\n%");
        let status = client.unary(EchoRequest { fail_code: code, ..request(&message) }).await.unwrap_err();
        assert_eq!((status.code() as i32, status.message()), (code, message.as_str()));
    }
}

#[tokio::test]
async fn unimplemented_method_and_service() {
    let (server, _) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    // `Old` is in the proto but EchoService keeps the trait's default body.
    #[allow(deprecated)]
    let status = client.old(request("x")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().contains("rsgrpc.test.echo.Echo/Old"), "{status}");

    let lonely = rsgrpc::server::Server::builder().add_service(CounterServer::new(CounterService::default())).build();
    let lonely = serve(lonely).await;
    let client = EchoClient::connect(&lonely.target()).await.unwrap();
    let status = client.unary(request("x")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().contains("unknown service rsgrpc.test.echo.Echo"), "{status}");
}

#[tokio::test]
async fn deadline_exceeded_on_both_sides() {
    let (server, service) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let slow = Request::new(EchoRequest { delay_ms: 2_000, ..request("slow") }).with_timeout(Duration::from_millis(50));
    let started = std::time::Instant::now();
    let status = client.unary(slow).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    // The server dropped the handler when the deadline passed or the client cancelled.
    wait_until(|| service.observed.cancelled.load(std::sync::atomic::Ordering::SeqCst) == 1).await;
}

#[tokio::test]
async fn timeouts_beyond_the_clock_mean_no_deadline() {
    let (server, _service) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let request = Request::new(request("forever")).with_timeout(Duration::MAX);
    assert_eq!(request.deadline(), None);
    let reply = client.unary(request).await.unwrap().into_inner();
    assert_eq!(reply.message, "forever");
}

#[tokio::test]
async fn dropping_a_call_cancels_the_handler() {
    let (server, service) = echo_server().await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let call = client.unary(EchoRequest { delay_ms: 10_000, ..request("never") });
    let _ = tokio::time::timeout(Duration::from_millis(100), call).await;
    wait_until(|| service.observed.cancelled.load(std::sync::atomic::Ordering::SeqCst) == 1).await;
}

async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 2 s");
}

fn iter_stream<T: Send + 'static>(items: impl IntoIterator<Item = T>) -> impl rsgrpc::Stream<Item = T> + Send
where
    <Vec<T> as IntoIterator>::IntoIter: Send,
{
    let mut items: Vec<T> = items.into_iter().collect();
    items.reverse();
    struct Iter<T>(Vec<T>);
    impl<T> Unpin for Iter<T> {}
    impl<T> rsgrpc::Stream for Iter<T> {
        type Item = T;
        fn poll_next(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.get_mut().0.pop())
        }
    }
    Iter(items)
}

/// A bare HTTP/2 server that answers each call's headers and then never reads: it ignores `grpc-timeout`,
/// as a stuck or non-conforming peer would.
async fn server_that_stops_reading() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut connection: h2::server::Connection<_, bytes::Bytes> = h2::server::handshake(tcp).await.unwrap();
        let mut held = Vec::new();
        while let Some(Ok((request, mut respond))) = connection.accept().await {
            let head = http::Response::builder().header("content-type", "application/grpc").body(()).unwrap();
            let send = respond.send_response(head, false).unwrap();
            held.push((request, send));
        }
    });
    addr
}

#[tokio::test]
async fn a_bidi_send_blocked_by_flow_control_ends_at_the_deadline() {
    let addr = server_that_stops_reading().await;
    let client = EchoClient::connect(&format!("http://{addr}")).await.unwrap();
    let call = Request::new(()).with_timeout(Duration::from_millis(300));
    let (mut sender, _responses) = client.bidi(call).await.unwrap();
    let started = std::time::Instant::now();
    let big = EchoRequest { payload: vec![0; 1 << 20], ..request("big") };
    let status = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Err(status) = sender.send(big.clone()).await {
                return status;
            }
        }
    })
    .await
    .expect("the send ends at the deadline");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn gzip_both_ways_for_all_four_kinds() {
    use rsgrpc::compression::Encoding;
    let server = Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .send_compressed(Encoding::Gzip)
        .max_receive_message_size(64 * 1024)
        .build();
    let server = serve(server).await;
    let channel = rsgrpc::client::Channel::builder(&server.target())
        .unwrap()
        .send_compressed(Encoding::Gzip)
        .connect()
        .await
        .unwrap();
    let client = EchoClient::new(channel);
    // Highly compressible and larger than the server's 64 KiB limit uncompressed on purpose: the limit is on
    // the inflated size, so this must be refused even though it crosses the wire in a few hundred bytes.
    let too_big = EchoRequest { payload: vec![0; 100_000], ..request("big") };
    let status = client.unary(too_big).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");

    let payload = vec![5; 30_000];
    let reply = client.unary(EchoRequest { payload: payload.clone(), ..request("unary") }).await.unwrap();
    assert_eq!((reply.get_ref().message.as_str(), &reply.get_ref().payload), ("unary", &payload));

    let mut stream = client.server_stream(EchoRequest { repeat: 3, ..request("s") }).await.unwrap().into_inner();
    let mut count = 0;
    while let Some(message) = stream.message().await.unwrap() {
        assert_eq!(message.message, "s");
        count += 1;
    }
    assert_eq!(count, 3);

    let response = client.client_stream(iter_stream(["a", "b"].map(request))).await.unwrap();
    assert_eq!(response.get_ref().message, "a,b");

    let (mut sender, mut responses) = client.bidi(()).await.unwrap();
    sender.send(request("ping")).await.unwrap();
    assert_eq!(responses.message().await.unwrap().unwrap().message, "ping");
    sender.close();
    assert!(responses.message().await.unwrap().is_none());

    // Per call: compressed on a plain channel, against a server that only answers in kind.
    let plain_server = serve(Server::builder().add_service(EchoServer::new(EchoService::default())).build()).await;
    let plain = EchoClient::connect(&plain_server.target()).await.unwrap();
    let call = Request::new(request("per call")).with_compression(Encoding::Gzip);
    assert_eq!(plain.unary(call).await.unwrap().into_inner().message, "per call");
}
