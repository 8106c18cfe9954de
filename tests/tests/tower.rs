//! The server as a tower service (feature `tower`) on a real hyper listener: gRPC (our generated client
//! and grpcio) and an axum route on one port through `grpc_or`, tower-http's TraceLayer seeing the gRPC
//! calls and their trailers, tower's timeout cancelling a call on the server, tower's concurrency limit
//! holding, and the server's limits and status mapping unchanged on this path.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rsgrpc::interceptor::{unary_fn, UnaryNext};
use rsgrpc::server::tower::{grpc_or, BoxError, PeerAddr};
use rsgrpc::server::{Server, ServerBuilder};
use rsgrpc::{Code, Request};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceBuilder;

type Log = Arc<Mutex<Vec<String>>>;

/// A hyper listener (hyper-util's auto builder: HTTP/1.1 and h2c) serving `service`; the accept loop
/// stops when this is dropped.
struct Listening {
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Listening {
    fn target(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn listen<S, B>(service: S) -> Listening
where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        loop {
            let Ok((stream, remote)) = listener.accept().await else { continue };
            // The client's address for the calls' peer_addr, as a host server sets it per connection.
            let service = ServiceBuilder::new()
                .map_request(move |mut request: http::Request<_>| {
                    request.extensions_mut().insert(PeerAddr(remote));
                    request
                })
                .service(service.clone());
            let service = hyper_util::service::TowerToHyperService::new(service);
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
                let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
            });
        }
    });
    Listening { addr, accept }
}

fn echo_server(service: &EchoService, configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> Server {
    configure(Server::builder().add_service(EchoServer::new(service.clone()))).build()
}

fn axum_app() -> axum::Router {
    axum::Router::new().route("/hello", axum::routing::get(|| async { "hello from axum" }))
}

/// A plain HTTP/1.1 GET, as curl would send it; the whole response.
async fn http1_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

fn request(message: &str) -> EchoRequest {
    EchoRequest { message: message.into(), ..Default::default() }
}

#[tokio::test]
async fn grpc_unary_and_streaming_and_an_axum_route_share_one_port_behind_tower_http_trace() {
    let log = Log::default();
    let (on_response, on_eos) = (log.clone(), log.clone());
    let grpc = ServiceBuilder::new()
        .layer(
            tower_http::trace::TraceLayer::new_for_grpc()
                .on_response(move |response: &http::Response<_>, _: Duration, _: &tracing::Span| {
                    on_response.lock().unwrap().push(format!("response {}", response.status().as_u16()));
                })
                .on_eos(move |trailers: Option<&http::HeaderMap>, _: Duration, _: &tracing::Span| {
                    let status = trailers.and_then(|t| t.get("grpc-status")).and_then(|v| v.to_str().ok());
                    on_eos.lock().unwrap().push(format!("end grpc-status {}", status.unwrap_or("none")));
                }),
        )
        .service(echo_server(&EchoService::default(), |b| b).into_tower());
    let server = listen(grpc_or(grpc, axum_app())).await;
    let client = EchoClient::connect(&server.target()).await.unwrap();

    let response = client.unary(Request::new(request("one port")).with_metadata("x-echo", "m")).await.unwrap();
    assert_eq!(response.metadata().get("x-echo"), Some("m"));
    assert_eq!(response.trailers().get("x-echo-trailer"), Some("m"));
    // The handler saw the client's address, from the PeerAddr extension.
    let peer: SocketAddr = response.trailers().get("x-peer").expect("a peer address").parse().unwrap();
    assert_eq!(peer.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_eq!(response.into_inner().message, "one port");
    // A client cannot claim another address through the header the in-process side uses for it.
    let spoofing = Request::new(request("spoof")).with_metadata("rsgrpc-in-process-peer", "10.9.8.7:1");
    let response = client.unary(spoofing).await.unwrap();
    let peer: SocketAddr = response.trailers().get("x-peer").expect("a peer address").parse().unwrap();
    assert_eq!(peer.ip(), std::net::Ipv4Addr::LOCALHOST);

    let mut stream = client.server_stream(EchoRequest { repeat: 3, ..request("s") }).await.unwrap().into_inner();
    let mut indexes = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        indexes.push(message.index);
    }
    assert_eq!(indexes, [0, 1, 2]);

    let (mut sender, mut responses) = client.bidi(()).await.unwrap();
    for word in ["ping", "pong"] {
        sender.send(request(word)).await.unwrap();
        assert_eq!(responses.message().await.unwrap().unwrap().message, word);
    }
    sender.close();
    assert!(responses.message().await.unwrap().is_none());

    let text = http1_get(server.addr, "/hello").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("hello from axum"), "{text}");

    // The trace layer saw each gRPC call start and end with its trailers (not the axum request).
    let seen = log.lock().unwrap().clone();
    // Four gRPC calls, four starts and four ends with their trailers.
    assert_eq!(seen, ["response 200", "end grpc-status 0"].repeat(4));
}

#[tokio::test]
async fn statuses_limits_and_unknown_methods_are_the_servers_own_over_tower() {
    let server = echo_server(&EchoService::default(), |b| b.max_receive_message_size(1024));
    let server = listen(grpc_or(server.into_tower(), axum_app())).await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let failing = EchoRequest { fail_code: Code::FailedPrecondition as i32, ..request("no ☺") };
    let status = client.unary(failing).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::FailedPrecondition, "no ☺"));
    let big = EchoRequest { payload: vec![0; 4096], ..Default::default() };
    assert_eq!(client.unary(big).await.unwrap_err().code(), Code::ResourceExhausted);
    let slow =
        Request::new(EchoRequest { delay_ms: 10_000, ..request("slow") }).with_timeout(Duration::from_millis(50));
    assert_eq!(client.unary(slow).await.unwrap_err().code(), Code::DeadlineExceeded);
    // A gRPC request for a method the server does not have: the server's UNIMPLEMENTED, not axum's 404.
    let channel = rsgrpc::client::Channel::connect(&server.target()).await.unwrap();
    let raw = rsgrpc::client::Client::new(channel);
    let status = raw
        .unary::<EchoRequest, EchoResponse>("/rsgrpc.test.echo.Echo/NoSuchMethod", Request::new(request("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
}

#[tokio::test]
async fn a_tower_timeout_cancels_the_call_on_the_server() {
    let service = EchoService::default();
    let grpc = ServiceBuilder::new()
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(50)))
        .service(echo_server(&service, |b| b).into_tower());
    let server = listen(grpc_or(grpc, axum_app())).await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let slow = EchoRequest { delay_ms: 30_000, ..request("slow") };
    let status = client.unary(slow).await.unwrap_err();
    assert_ne!(status.code(), Code::Ok);
    // The handler is dropped as the in-memory stream is reset; wait for that to be seen (bounded).
    for _ in 0..500 {
        if service.observed.cancelled.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(service.observed.cancelled.load(Ordering::SeqCst), 1);
    assert_eq!(service.observed.finished.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_tower_concurrency_limit_holds_for_grpc_calls() {
    let (in_flight, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (counting, highest) = (in_flight.clone(), most.clone());
    let server = echo_server(&EchoService::default(), move |b| {
        b.unary_interceptor(unary_fn(move |request, next: UnaryNext| {
            let (counting, highest) = (counting.clone(), highest.clone());
            async move {
                let now = counting.fetch_add(1, Ordering::SeqCst) + 1;
                highest.fetch_max(now, Ordering::SeqCst);
                let response = next.run(request).await;
                counting.fetch_sub(1, Ordering::SeqCst);
                response
            }
        }))
    });
    let grpc = ServiceBuilder::new().concurrency_limit(1).service(server.into_tower());
    let server = listen(grpc_or(grpc, axum_app())).await;
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let calls = (0..4).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.unary(EchoRequest { delay_ms: 20, ..request(&i.to_string()) }).await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 1);
}

/// grpcio's generic stubs (bytes in, bytes out): a unary call, a server stream and a failing call.
const GRPCIO_CLIENT: &str = r#"
import sys, grpc
port, unary_request, stream_request, failing_request = sys.argv[1:5]
channel = grpc.insecure_channel(f"127.0.0.1:{port}")
grpc.channel_ready_future(channel).result(timeout=10)
unary = channel.unary_unary("/rsgrpc.test.echo.Echo/Unary")
print("unary", unary(bytes.fromhex(unary_request), timeout=10).hex())
stream = channel.unary_stream("/rsgrpc.test.echo.Echo/ServerStream")
for message in stream(bytes.fromhex(stream_request), timeout=10):
    print("stream", message.hex())
try:
    unary(bytes.fromhex(failing_request), timeout=10)
    print("failing succeeded")
except grpc.RpcError as error:
    print("failing", error.code().name, error.details())
"#;

fn python() -> std::path::PathBuf {
    let dir = std::env::var_os("RSGRPC_TEST_ENV").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").join("target/test-env")
    });
    let python = dir.join("bin/python");
    assert!(python.exists(), "{} not found: run `bash tests/env/setup.sh` (or `bash tests/run.sh`)", python.display());
    python
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(hex: &str) -> EchoResponse {
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    prost::Message::decode(bytes.as_slice()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_calls_the_one_port_server_beside_axum() {
    let server = listen(grpc_or(echo_server(&EchoService::default(), |b| b).into_tower(), axum_app())).await;
    let encode = |message: &EchoRequest| hex(&prost::Message::encode_to_vec(message));
    let failing = EchoRequest { fail_code: Code::NotFound as i32, ..request("nothing here") };
    let output = tokio::process::Command::new(python())
        .args(["-c", GRPCIO_CLIENT, &server.addr.port().to_string()])
        .args([encode(&request("from grpcio")), encode(&EchoRequest { repeat: 2, ..request("s") }), encode(&failing)])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(decode(lines[0].strip_prefix("unary ").unwrap()).message, "from grpcio");
    let indexes: Vec<i32> = lines[1..3].iter().map(|l| decode(l.strip_prefix("stream ").unwrap()).index).collect();
    assert_eq!(indexes, [0, 1]);
    assert_eq!(lines[3], "failing NOT_FOUND nothing here");
    let page = http1_get(server.addr, "/hello").await;
    assert!(page.ends_with("hello from axum"), "{page}");
}

/// The client over a user's tower service (`tower_connector`): a hyper HTTP/2 client behind a tower layer
/// carries a channel's calls to a real server over TCP. The layer sees every call and adds metadata the
/// server echoes back in headers and trailers (which cross hyper's body as a trailers frame); streams,
/// statuses and deadlines are as over a socket, and a transport that cannot reach its backend gives
/// UNAVAILABLE naming the failure.
#[tokio::test]
async fn a_channel_runs_over_a_hyper_client_behind_tower_layers() {
    use rsgrpc::client::{tower_connector, Channel, TowerRequestBody};
    let running = rsgrpc_tests::support::serve(echo_server(&EchoService::default(), |b| b)).await;
    let hyper_client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<TowerRequestBody>();
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = seen.clone();
    let service = ServiceBuilder::new()
        .map_request(move |mut request: http::Request<TowerRequestBody>| {
            counted.fetch_add(1, Ordering::SeqCst);
            request.headers_mut().insert("x-echo", http::HeaderValue::from_static("via-tower"));
            request
        })
        .service(hyper_client.clone());
    let channel = Channel::builder(&running.target()).unwrap().connector(tower_connector(service)).connect_lazy();
    let client = EchoClient::new(channel);

    let response = client.unary(request("over tower")).await.unwrap();
    assert_eq!(response.metadata().get("x-echo").unwrap(), "via-tower");
    assert_eq!(response.trailers().get("x-echo-trailer").unwrap(), "via-tower");
    assert_eq!(response.into_inner().message, "over tower");

    let mut stream = client.server_stream(EchoRequest { repeat: 3, ..request("s") }).await.unwrap().into_inner();
    let mut indexes = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        indexes.push(message.index);
    }
    assert_eq!(indexes, [0, 1, 2]);

    let failing = EchoRequest { fail_code: Code::FailedPrecondition as i32, ..request("refused") };
    let status = client.unary(failing).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::FailedPrecondition, "refused"));
    let slow =
        Request::new(EchoRequest { delay_ms: 10_000, ..request("slow") }).with_timeout(Duration::from_millis(50));
    assert_eq!(client.unary(slow).await.unwrap_err().code(), Code::DeadlineExceeded);
    assert_eq!(seen.load(Ordering::SeqCst), 4, "every call went through the layer");

    // A backend nobody listens on: the service's error is the call's UNAVAILABLE.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_target = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let channel = Channel::builder(&closed_target).unwrap().connector(tower_connector(hyper_client)).connect_lazy();
    let status = EchoClient::new(channel).unary(request("nowhere")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("the transport failed"), "{status:?}");
}
