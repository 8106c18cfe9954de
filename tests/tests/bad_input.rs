//! Bad input on the server, sent with a raw HTTP/2 client: each gets the right status or HTTP answer, and a
//! normal call afterwards still works.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::Code;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::{serve, Running};

const UNARY: &str = "/rsgrpc.test.echo.Echo/Unary";

async fn server(service: &EchoService) -> Running {
    let server = Server::builder().add_service(EchoServer::new(service.clone())).max_receive_message_size(1024).build();
    serve(server).await
}

/// A raw HTTP/2 connection; dropping the returned task handle's abort closes it.
async fn raw(server: &Running) -> (h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<()>) {
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (send, task)
}

fn request(method: http::Method, path: &str, content_type: &str, extra: &[(&str, &str)]) -> http::Request<()> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1{path}"))
        .header("content-type", content_type)
        .header("te", "trailers");
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

/// What came back: HTTP status, headers, body, trailers.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
}

impl Answer {
    /// The gRPC status, from trailers or (trailers-only) headers.
    fn grpc_status(&self) -> rsgrpc::Status {
        let source = self.trailers.as_ref().unwrap_or(&self.headers);
        rsgrpc::Status::from_headers(source).expect("a grpc-status")
    }
}

async fn send(send: &mut h2::client::SendRequest<Bytes>, head: http::Request<()>, body: &[u8], end: bool) -> Answer {
    let mut ready = send.clone().ready().await.unwrap();
    let (response, mut stream) = ready.send_request(head, false).unwrap();
    stream.send_data(Bytes::copy_from_slice(body), end).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(5), response).await.expect("an answer").unwrap();
    let (parts, mut body) = response.into_parts();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.unwrap();
    drop(stream);
    Answer { status: parts.status, headers: parts.headers, body: bytes, trailers }
}

/// A message flagged compressed.
fn compressed(message: &[u8]) -> Vec<u8> {
    let mut bytes = framed(message);
    bytes[0] = 1;
    bytes
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0];
    bytes.extend_from_slice(&(message.len() as u32).to_be_bytes());
    bytes.extend_from_slice(message);
    bytes
}

async fn still_serving(server: &Running) {
    let client = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    let response = client.unary(EchoRequest { message: "still here".into(), ..Default::default() }).await.unwrap();
    assert_eq!(response.into_inner().message, "still here");
}

#[tokio::test]
async fn not_grpc_gets_plain_http_answers() {
    let service = EchoService::default();
    let server = server(&service).await;
    let (mut connection, _task) = raw(&server).await;

    let answer = send(&mut connection, request(http::Method::GET, UNARY, "application/grpc", &[]), b"", true).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(String::from_utf8_lossy(&answer.body).contains("POST"));

    for content_type in ["application/json", "application/grpc+json", "text/plain", ""] {
        let head = request(http::Method::POST, UNARY, content_type, &[]);
        let answer = send(&mut connection, head, b"{}", true).await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
        let body = String::from_utf8_lossy(&answer.body);
        assert!(body.contains(content_type) && body.contains("application/grpc"), "{body}");
    }
    // The protobuf forms, with parameters, are served.
    for content_type in ["application/grpc+proto", "application/grpc; charset=utf-8"] {
        let head = request(http::Method::POST, UNARY, content_type, &[]);
        let answer = send(&mut connection, head, &framed(b""), true).await;
        assert_eq!(answer.grpc_status().code(), Code::Ok, "{content_type:?}");
    }
    still_serving(&server).await;
}

#[tokio::test]
async fn malformed_frames_and_headers_get_grpc_statuses() {
    let service = EchoService::default();
    let server = server(&service).await;
    let (mut connection, _task) = raw(&server).await;
    let post = |extra: &[(&str, &str)]| request(http::Method::POST, UNARY, "application/grpc", extra);

    // (what, request head, body, end the stream after it, expected code)
    type Case = (&'static str, http::Request<()>, Vec<u8>, bool, Code);
    let cases: Vec<Case> = vec![
        ("truncated prefix", post(&[]), vec![0, 0, 0], true, Code::Internal),
        ("truncated message", post(&[]), framed(b"\x0a\x05hello")[..8].to_vec(), true, Code::Internal),
        // The prefix alone announces 2 GiB: refused before any of it is buffered, without waiting for the end.
        ("oversized prefix", post(&[]), vec![0, 0x7f, 0xff, 0xff, 0xff], false, Code::ResourceExhausted),
        ("over the 1 KiB limit", post(&[]), framed(&vec![b'x'; 2048]), true, Code::ResourceExhausted),
        ("compressed without encoding", post(&[]), vec![1, 0, 0, 0, 0], true, Code::Internal),
        ("not protobuf", post(&[]), framed(&[0xff, 0xff, 0xff]), true, Code::Internal),
        ("invalid binary metadata", post(&[("x-bad-bin", "@@@")]), framed(b""), true, Code::Internal),
        ("malformed grpc-timeout", post(&[("grpc-timeout", "soon")]), framed(b""), true, Code::Internal),
        // The largest timeout the wire allows (~11,000 years) is served, not a clock overflow.
        ("largest grpc-timeout", post(&[("grpc-timeout", "99999999H")]), framed(b""), true, Code::Ok),
        ("unknown encoding", post(&[("grpc-encoding", "snappy")]), framed(b""), true, Code::Unimplemented),
        ("corrupt gzip", post(&[("grpc-encoding", "gzip")]), compressed(b"not gzip at all"), true, Code::Internal),
        // 64 KiB of zeros compresses to a few dozen bytes, under the 1 KiB limit; inflated it is over.
        ("zip bomb", post(&[("grpc-encoding", "gzip")]), compressed(&gzip(&[0; 65536])), true, Code::ResourceExhausted),
        (
            "unknown method",
            request(http::Method::POST, "/rsgrpc.test.echo.Echo/Nope", "application/grpc", &[]),
            framed(b""),
            true,
            Code::Unimplemented,
        ),
        (
            "malformed path",
            request(http::Method::POST, "/nothing", "application/grpc", &[]),
            framed(b""),
            true,
            Code::Unimplemented,
        ),
        ("two messages to a unary method", post(&[]), [framed(b""), framed(b"")].concat(), true, Code::Internal),
        ("no message", post(&[]), Vec::new(), true, Code::Internal),
    ];
    for (what, head, body, end, code) in cases {
        let answer = send(&mut connection, head, &body, end).await;
        assert_eq!(answer.status, StatusCode::OK, "{what}");
        let status = answer.grpc_status();
        assert_eq!(status.code(), code, "{what}: {status}");
    }
    let answer = send(&mut connection, post(&[("grpc-encoding", "snappy")]), b"", true).await;
    assert_eq!(answer.headers.get("grpc-accept-encoding").map(|v| v.as_bytes()), Some(&b"gzip"[..]));
    still_serving(&server).await;
}

#[tokio::test]
async fn a_client_that_vanishes_mid_call_cancels_it() {
    let service = EchoService::default();
    let server = server(&service).await;
    let (connection, task) = raw(&server).await;
    let message = rsgrpc::Message::encode_to_vec(&EchoRequest { delay_ms: 10_000, ..Default::default() });
    let mut ready = connection.clone().ready().await.unwrap();
    let (_response, mut stream) =
        ready.send_request(request(http::Method::POST, UNARY, "application/grpc", &[]), false).unwrap();
    stream.send_data(Bytes::from(framed(&message)), true).unwrap();
    while service.observed.started.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The TCP connection goes away with the call in flight.
    task.abort();
    drop((connection, stream, _response));
    for _ in 0..200 {
        if service.observed.cancelled.load(Ordering::SeqCst) == 1 {
            still_serving(&server).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the handler was not cancelled when its client vanished");
}

#[tokio::test]
async fn a_rapid_reset_flood_does_not_stop_normal_calls_or_leak_calls() {
    let service = EchoService::default();
    let server = server(&service).await;
    let (connection, _task) = raw(&server).await;
    // Each flood stream starts a call that would run for 10 s, then is reset at once (CVE-2023-44487).
    let slow = rsgrpc::Message::encode_to_vec(&EchoRequest { delay_ms: 10_000, ..Default::default() });
    let flood = tokio::spawn(async move {
        let mut sent = 0usize;
        for _ in 0..5_000 {
            let Ok(mut ready) = connection.clone().ready().await else { break };
            let head = request(http::Method::POST, UNARY, "application/grpc", &[]);
            let Ok((_response, mut stream)) = ready.send_request(head, false) else { break };
            if stream.send_data(Bytes::from(framed(&slow)), false).is_err() {
                break;
            }
            stream.send_reset(h2::Reason::CANCEL);
            sent += 1;
            // Let the connection task write, so the server sees the flood as it is sent.
            tokio::task::yield_now().await;
        }
        sent
    });
    // Meanwhile, a well-behaved client on its own connection is served throughout.
    let client = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    for i in 0..50 {
        let message = format!("normal {i}");
        let reply = client.unary(EchoRequest { message: message.clone(), ..Default::default() }).await.unwrap();
        assert_eq!(reply.into_inner().message, message);
    }
    let sent = tokio::time::timeout(Duration::from_secs(30), flood).await.expect("the flood ends").unwrap();
    // h2 answers a connection resetting streams faster than they are accepted with GOAWAY
    // (ENHANCE_YOUR_CALM), so the flood is cut short instead of running to the end.
    assert!(sent > 0 && sent < 5_000, "the server never closed the flooding connection ({sent} streams)");
    // Every call the flood started was dropped with its stream: none is left holding memory.
    let observed = &service.observed;
    let settled = || {
        observed.started.load(Ordering::SeqCst)
            == observed.finished.load(Ordering::SeqCst) + observed.cancelled.load(Ordering::SeqCst)
    };
    for _ in 0..500 {
        if settled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(settled(), "calls left running: {observed:?}");
    assert_eq!(observed.finished.load(Ordering::SeqCst), 50, "only the normal calls ran to the end");
    still_serving(&server).await;
}

#[tokio::test]
async fn gzip_requests_are_served_and_answered_in_gzip() {
    let service = EchoService::default();
    let server = server(&service).await;
    let (mut connection, _task) = raw(&server).await;
    let message = rsgrpc::Message::encode_to_vec(&EchoRequest { message: "zipped".into(), ..Default::default() });
    let head = request(
        http::Method::POST,
        UNARY,
        "application/grpc",
        &[("grpc-encoding", "gzip"), ("grpc-accept-encoding", "deflate, gzip")],
    );
    let answer = send(&mut connection, head, &compressed(&gzip(&message)), true).await;
    assert_eq!(answer.grpc_status().code(), Code::Ok);
    assert_eq!(answer.headers.get("grpc-encoding").map(|v| v.as_bytes()), Some(&b"gzip"[..]));
    assert_eq!(answer.body[0], 1, "the response is flagged compressed");
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&answer.body[5..]), &mut inflated).unwrap();
    let reply: rsgrpc_tests::gen::rsgrpc::test::echo::EchoResponse = rsgrpc::Message::decode(&inflated[..]).unwrap();
    assert_eq!(reply.message, "zipped");

    // A client that does not accept gzip gets its answer uncompressed even though it sent gzip.
    let head = request(http::Method::POST, UNARY, "application/grpc", &[("grpc-encoding", "gzip")]);
    let answer = send(&mut connection, head, &compressed(&gzip(&message)), true).await;
    assert_eq!(answer.grpc_status().code(), Code::Ok);
    assert_eq!(answer.body[0], 0);
    assert!(answer.headers.get("grpc-encoding").is_none());
}
