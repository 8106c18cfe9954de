//! The gateway's WebSocket streaming (issue 17, item 8), end to end with a real WebSocket client (Python's
//! `websockets`, tests/py/gateway_websocket.py), in process and through a gRPC server: the three streaming
//! kinds, errors as close codes, the message limit, a client that vanishes cancelling its call, and what
//! is refused at the upgrade.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rsgrpc::gateway::{Gateway, GatewayBuilder};
use rsgrpc::server::Server;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_gateway;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_server::LibraryServer;
use rsgrpc_tests::library::{chat_ending, TestLibrary};
use rsgrpc_tests::support::{serve, Running};
use serde_json::{json, Value};
use tokio::net::TcpListener;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    InProcess,
    Proxy,
}

struct Started {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _grpc: Option<Running>,
}

async fn start(mode: Mode, configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> Started {
    let (routes, grpc) = match mode {
        Mode::InProcess => (library_gateway::routes(Arc::new(TestLibrary)), None),
        Mode::Proxy => {
            let grpc = serve(Server::builder().add_service(LibraryServer::new(TestLibrary)).build()).await;
            let channel = rsgrpc::client::Channel::connect(&grpc.target()).await.unwrap();
            (library_gateway::proxy_routes(channel), Some(grpc))
        }
    };
    let gateway = configure(Gateway::builder().routes(routes)).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    Started { addr, _stop: stop, _grpc: grpc }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_owned()
}

fn python() -> PathBuf {
    let dir =
        std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"));
    let python = dir.join("bin/python");
    assert!(python.exists(), "{} not found: run `bash tests/env/setup.sh` (or `bash tests/run.sh`)", python.display());
    python
}

/// What the client received: the messages (parsed) and the close frame's code and reason.
#[derive(Debug)]
struct Session {
    messages: Vec<Value>,
    close: Option<(u64, String)>,
    http_status: Option<u64>,
}

/// Runs the Python client with `plan` against the gateway at `addr`.
async fn client(addr: SocketAddr, plan: Value) -> Session {
    let script = workspace().join("tests/py/gateway_websocket.py");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python())
            .arg(script)
            .arg(format!("--port={}", addr.port()))
            .arg(plan.to_string())
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the client failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let messages = result["received"]
        .as_array()
        .unwrap()
        .iter()
        .map(|text| serde_json::from_str(text.as_str().unwrap()).unwrap_or_else(|e| panic!("{e}: {text}")))
        .collect();
    let close = result["close"].as_array().map(|c| (c[0].as_u64().unwrap(), c[1].as_str().unwrap().to_owned()));
    Session { messages, close, http_status: result["http_status"].as_u64() }
}

fn websocket(builder: GatewayBuilder) -> GatewayBuilder {
    builder.websocket(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_client_and_bidi_streams_over_websocket() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let started = start(mode, websocket).await;
        let addr = started.addr;
        // Server streaming: the request from the path and the query, a message per frame, then 1000.
        let session = client(addr, json!({"path": "/v1/shelves/s1:watch?count=3"})).await;
        let names: Vec<&str> = session.messages.iter().map(|m| m["result"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["shelves/s1/books/0", "shelves/s1/books/1", "shelves/s1/books/2"], "{mode:?}");
        assert_eq!(session.close, Some((1000, String::new())), "{mode:?}");
        // Client streaming: a message per frame, an empty frame ends them; the answer, then 1000.
        let plan = json!({"path": "/v1/books:import", "steps": [
            {"send": "{\"title\": \"Dune\"}"}, {"send": "{\"title\": \"Emma\"}"}, {"send": ""},
        ]});
        let session = client(addr, plan).await;
        assert_eq!(session.messages, [json!({"result": {"count": 2, "titles": ["Dune", "Emma"]}})], "{mode:?}");
        assert_eq!(session.close, Some((1000, String::new())), "{mode:?}");
        // Bidirectional: each answer comes before the next message is sent; the metadata (a
        // Grpc-Metadata-* header of the upgrade) reaches the handler, which sees the end of the input.
        let id = format!("bidi-{mode:?}");
        let plan = json!({"path": "/v1/chat", "headers": {"Grpc-Metadata-X-Call-Id": id}, "steps": [
            {"send": "{\"text\": \"hi\"}"}, {"recv": 1}, {"send": "{\"text\": \"yo\"}"}, {"recv": 1}, {"send": ""},
        ]});
        let session = client(addr, plan).await;
        assert_eq!(session.messages, [json!({"result": {"text": "HI"}}), json!({"result": {"text": "YO"}})]);
        assert_eq!(session.close, Some((1000, String::new())), "{mode:?}");
        assert_eq!(ended(&id).await, "completed", "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_end_with_the_status_and_a_close_code_of_4000_plus_the_grpc_code() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let started = start(mode, websocket).await;
        let addr = started.addr;
        // A stream that fails after two messages: its error message, then 4014 (UNAVAILABLE).
        let session = client(addr, json!({"path": "/v1/shelves/s1:watch?count=5&fail_after=2"})).await;
        assert_eq!(session.messages.len(), 3, "{mode:?}: {session:?}");
        assert_eq!(session.messages[2]["error"]["code"], 14, "{mode:?}: {session:?}");
        assert_eq!(session.close, Some((4014, "shelf s1 went away".into())), "{mode:?}");
        // A call that fails before its first message: the same shape (NOT_FOUND, 4005).
        let session = client(addr, json!({"path": "/v1/shelves/missing:watch?count=1"})).await;
        assert_eq!(session.messages, [json!({"error": {"code": 5, "message": "no such shelf", "details": []}})]);
        assert_eq!(session.close, Some((4005, "no such shelf".into())), "{mode:?}");
        // A frame that is not JSON fails the call with INVALID_ARGUMENT (4003).
        let plan = json!({"path": "/v1/chat", "steps": [{"send": "{not json"}]});
        let session = client(addr, plan).await;
        assert_eq!(session.close.as_ref().map(|c| c.0), Some(4003), "{mode:?}: {session:?}");
        assert!(session.messages[0]["error"]["message"].as_str().unwrap().contains("not one JSON message"));
        // Binary frames are refused: messages are JSON text.
        let plan = json!({"path": "/v1/chat", "steps": [{"send_binary": "{\"text\": \"hi\"}"}]});
        let session = client(addr, plan).await;
        assert_eq!(session.close.as_ref().map(|c| c.0), Some(1003), "{mode:?}: {session:?}");
        // A message the method's type cannot read: the handler's own error, 4003 as well.
        let plan = json!({"path": "/v1/chat", "steps": [{"send": "{\"text\": 7}"}, {"send": ""}]});
        let session = client(addr, plan).await;
        assert_eq!(session.close.as_ref().map(|c| c.0), Some(4003), "{mode:?}: {session:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_refused_with_1009() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let started = start(mode, |b| b.websocket_max_message_size(1024)).await;
        let id = format!("oversized-{mode:?}");
        let plan = json!({"path": "/v1/chat", "headers": {"Grpc-Metadata-X-Call-Id": id}, "steps": [
            {"send": "{\"text\": \"small\"}"}, {"recv": 1}, {"send_bytes": 4096},
        ]});
        let session = client(started.addr, plan).await;
        assert_eq!(session.messages, [json!({"result": {"text": "SMALL"}})], "{mode:?}");
        assert_eq!(session.close, Some((1009, "the message is over 1024 bytes".into())), "{mode:?}");
        // The call did not go on with what came: it was cancelled.
        assert_eq!(ended(&id).await, "cancelled", "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_vanishes_mid_stream_cancels_the_call() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let started = start(mode, websocket).await;
        let id = format!("vanish-{mode:?}");
        let plan = json!({"path": "/v1/chat", "headers": {"Grpc-Metadata-X-Call-Id": id}, "steps": [
            {"send": "{\"text\": \"hi\"}"}, {"recv": 1}, {"abort": true},
        ]});
        let session = client(started.addr, plan).await;
        assert_eq!(session.messages, [json!({"result": {"text": "HI"}})], "{mode:?}");
        // The handler's stream (behind the gRPC server in proxy mode) was dropped before its end.
        assert_eq!(ended(&id).await, "cancelled", "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_upgrade_refuses() {
    // Off by default: an upgrade is a plain GET, and the chat route is a POST.
    let off = start(Mode::InProcess, |b| b).await;
    let session = client(off.addr, json!({"path": "/v1/chat"})).await;
    assert_eq!(session.http_status, Some(405), "{session:?}");
    let on = start(Mode::InProcess, websocket).await;
    // Unary methods are plain HTTP; unknown paths are 404.
    let session = client(on.addr, json!({"path": "/v1/shelves/s1"})).await;
    assert_eq!(session.http_status, Some(400), "{session:?}");
    let session = client(on.addr, json!({"path": "/v1/nowhere"})).await;
    assert_eq!(session.http_status, Some(404), "{session:?}");
    // A page of another origin may not open one (cross-site WebSocket hijacking) unless CORS allows it.
    let foreign = json!({"path": "/v1/shelves/s1:watch?count=1", "headers": {"Origin": "https://evil.example"}});
    let session = client(on.addr, foreign.clone()).await;
    assert_eq!(session.http_status, Some(403), "{session:?}");
    let cors = rsgrpc::gateway::Cors::new().allow_origins(["https://evil.example"]);
    let allowed = start(Mode::InProcess, move |b| b.websocket(true).cors(cors)).await;
    let session = client(allowed.addr, foreign).await;
    assert_eq!(session.close, Some((1000, String::new())), "{session:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_shutdown_closes_websockets_with_1001_and_cancels_their_calls() {
    use std::io::{BufRead, BufReader, Read};
    let Started { addr, _stop: stop, _grpc } = start(Mode::InProcess, websocket).await;
    let id = "shutdown";
    let plan = json!({"path": "/v1/chat", "headers": {"Grpc-Metadata-X-Call-Id": id}, "steps": [
        {"send": "{\"text\": \"hi\"}"}, {"recv": 1}, {"ready": true},
    ]});
    let script = workspace().join("tests/py/gateway_websocket.py");
    let out = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(python())
            .arg(script)
            .arg(format!("--port={}", addr.port()))
            .arg(plan.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python runs");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        // The session is open and its call in flight: the gateway shuts down.
        let _ = stop.send(());
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert!(child.wait().unwrap().success());
        rest
    })
    .await
    .unwrap();
    let result: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["close"], json!([1001, "the gateway is shutting down"]), "{result}");
    assert_eq!(ended(id).await, "cancelled");
}

/// How the chat call `id` ended, waiting (at most 10 s) for it to end.
async fn ended(id: &str) -> &'static str {
    for _ in 0..1000 {
        if let Some(ending) = chat_ending(id) {
            return ending;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the chat call {id} never ended");
}
