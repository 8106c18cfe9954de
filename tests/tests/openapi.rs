//! The OpenAPI 3.1 document of testdata/gateway/protos (testdata/golden/openapi/gateway_v31, which
//! protoc-gen-rsgrpc-openapi's golden test keeps equal to the generator's output) against the running example
//! gateway: schemathesis (PyPI) generates requests from it and checks that no answer is a server error
//! and every answer matches the document's response schemas. A broken copy of the document must fail, so
//! the checks are known to look at the answers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rsgrpc::client::Channel;
use rsgrpc::gateway::Gateway;
use rsgrpc::server::Server;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_gateway;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_server::LibraryServer;
use rsgrpc_tests::library::TestLibrary;
use rsgrpc_tests::support::{serve, Running};
use tokio::net::TcpListener;

/// Operations schemathesis leaves alone, each for a reason of the test service, not of the document:
/// Fail answers whatever status it is asked for (5xx included); WatchShelf fails with UNAVAILABLE when asked
/// (`failAfter`) and, like Chat, answers a stream: zero or several `{"result": ...}` lines under the
/// gateway's `Content-Type: application/json`, which is not one JSON document for schemathesis to check.
const EXCLUDED: &[&str] = &["Library_Fail", "Library_WatchShelf", "Library_Chat"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("in the workspace").to_owned()
}

fn schemathesis() -> PathBuf {
    let env =
        std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"));
    let st = env.join("venv/bin/st");
    assert!(st.exists(), "{} not found: run `bash tests/env/setup.sh`", st.display());
    st
}

fn document() -> PathBuf {
    workspace().join("testdata/golden/openapi/gateway_v31/rsgrpc/test/gateway/library.openapi.json")
}

/// The example gateway (tests/examples/gateway.rs): the test library over gRPC, the gateway in front of it
/// through a channel, on 127.0.0.1.
async fn start_gateway() -> (SocketAddr, Running, tokio::sync::oneshot::Sender<()>) {
    rsgrpc::json::update_global_registry(rsgrpc_tests::gen::rsgrpc::test::common::register_json_types);
    let grpc = serve(Server::builder().add_service(LibraryServer::new(TestLibrary)).build()).await;
    let channel = Channel::connect(&grpc.target()).await.unwrap();
    let gateway = Gateway::builder().routes(library_gateway::proxy_routes(channel)).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    (addr, grpc, stop)
}

/// Runs schemathesis with `document` against `addr` and `options` (the checks and which operations):
/// whether it passed, and what it printed.
async fn run(document: &Path, addr: SocketAddr, options: &[&str]) -> (bool, String) {
    let work = tempfile::tempdir().unwrap(); // schemathesis keeps its example database in the working directory
    let mut command = tokio::process::Command::new(schemathesis());
    command
        .current_dir(work.path())
        .arg("run")
        .arg(document)
        .arg("--url")
        .arg(format!("http://{addr}"))
        .args(["--max-examples", "10", "--seed", "1", "--request-timeout", "10", "--no-color"])
        .args(options)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("schemathesis took over 120 s")
        .expect("schemathesis runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let (addr, grpc, stop) = start_gateway().await;
    let mut options = vec!["--checks", "not_a_server_error,response_schema_conformance"];
    for operation in EXCLUDED {
        options.extend(["--exclude-operation-id", operation]);
    }
    let (passed, output) = run(&document(), addr, &options).await;
    assert!(passed, "schemathesis found problems:\n{output}");
    assert!(output.contains("No issues found"), "{output}");
    // Every operation but the excluded ones was tested.
    let text: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(document()).unwrap()).unwrap();
    let operations: usize =
        text["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    let tested = format!("Tested: {}", operations - EXCLUDED.len());
    assert!(output.contains(&tested), "expected {tested:?}:\n{output}");
    let _ = stop.send(());
    grpc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bidirectional_stream_answers_no_server_error() {
    // Chat's answer is a stream (not one JSON document), so only the status is checked; the requests are
    // what the document's request body schema allows.
    let (addr, grpc, stop) = start_gateway().await;
    let options = ["--checks", "not_a_server_error", "--include-operation-id", "Library_Chat"];
    let (passed, output) = run(&document(), addr, &options).await;
    assert!(passed && output.contains("Tested: 1"), "schemathesis found problems:\n{output}");
    let _ = stop.send(());
    grpc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_notices_a_document_the_gateway_does_not_match() {
    let (addr, grpc, stop) = start_gateway().await;
    // The document says a shelf's theme is an integer; the gateway answers a string.
    let mut text: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(document()).unwrap()).unwrap();
    text["components"]["schemas"]["rsgrpc.test.gateway.Shelf"]["properties"]["theme"] =
        serde_json::json!({ "type": "integer" });
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.openapi.json");
    std::fs::write(&broken, text.to_string()).unwrap();
    let checks = ["--checks", "not_a_server_error,response_schema_conformance"];
    let (passed, output) =
        run(&broken, addr, &[&checks[..], &["--include-operation-id", "Library_GetShelf"]].concat()).await;
    assert!(!passed && output.contains("Response violates schema"), "schemathesis missed the violation:\n{output}");
    let _ = stop.send(());
    grpc.stop().await;
}
