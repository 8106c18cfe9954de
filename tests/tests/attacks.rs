//! The attack suite (issue 11, item 14): hostile peers against a real rsgrpc server and gateway running as a
//! process of their own (`attack-target`), each attack followed by normal calls that must still work, and
//! the server's peak resident memory read from `/proc` and held to a stated bound. Well-formed but hostile
//! clients use the h2 crate; malformed ones write hand-built frames on a TCP stream ([`frames`]).
//!
//! Every case prints one line of figures, captured or not (`cargo test -p rsgrpc-tests --test attacks`):
//! `attack <case>: peak RSS <n> MiB, ..., normal call ok in <ms> ms`. RELIABILITY.md records them.
//!
//! Every loop is bounded in count and in time, and only 127.0.0.1 is used.

#[path = "attacks/bomb.rs"]
mod bomb;
#[path = "attacks/floods.rs"]
mod floods;
#[path = "attacks/frames.rs"]
mod frames;
#[path = "attacks/idle.rs"]
mod idle;
#[path = "attacks/load.rs"]
mod load;
#[path = "attacks/memory.rs"]
mod memory;
#[path = "attacks/target.rs"]
mod target;

use std::net::SocketAddr;

use bytes::Bytes;
use rsgrpc::Message;

/// The unary echo method of the target's `Echo` service.
const ECHO_UNARY: &str = "/rsgrpc.test.echo.Echo/Unary";
/// The server-streaming echo method: `repeat` responses, each carrying the request's `payload`.
const ECHO_SERVER_STREAM: &str = "/rsgrpc.test.echo.Echo/ServerStream";

/// Prints a case's figures, one line each, in the form RELIABILITY.md quotes. The line goes to stderr itself
/// rather than through `eprintln!`, which the test harness captures, so that the figures show in the test
/// command's output (`bash tests/run.sh`) without `--nocapture`.
fn report(case: &str, figures: impl std::fmt::Display) {
    use std::io::Write;
    let line = format!("attack {case}: {figures}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// A well-formed HTTP/2 client connection made with h2's `builder`, driven by a task that ends with it.
async fn h2_client(addr: SocketAddr, builder: &h2::client::Builder) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect to the target");
    let (send, connection) = builder.handshake(tcp).await.expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send
}

/// The head of a gRPC request to `path` with `extra` headers.
fn grpc_request(path: &str, extra: &[(&str, &str)]) -> http::Request<()> {
    let mut request = http::Request::post(format!("http://attack.test{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(()).expect("a valid request head")
}

/// A length-prefixed gRPC message: the compressed flag, the length (big-endian u32), the bytes.
fn grpc_frame(compressed: bool, body: &[u8]) -> Vec<u8> {
    let mut frame = vec![u8::from(compressed)];
    frame.extend_from_slice(&u32::try_from(body.len()).expect("under 4 GiB").to_be_bytes());
    frame.extend_from_slice(body);
    frame
}

/// `message` encoded as one uncompressed gRPC message.
fn grpc_message(message: &impl Message) -> Vec<u8> {
    grpc_frame(false, &message.encode_to_vec())
}

/// The `grpc-status` of a response, from its headers (trailers-only) or its trailers, reading and
/// discarding the body; `Err` says how the stream failed instead.
async fn grpc_status(response: h2::client::ResponseFuture) -> Result<i32, String> {
    let response = response.await.map_err(|e| format!("no response: {e}"))?;
    let status_of = |headers: &http::HeaderMap| {
        headers.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i32>().ok())
    };
    if let Some(status) = status_of(response.headers()) {
        return Ok(status);
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| format!("the body failed: {e}"))?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.map_err(|e| format!("the trailers failed: {e}"))?;
    trailers.as_ref().and_then(status_of).ok_or_else(|| "no grpc-status".to_owned())
}
