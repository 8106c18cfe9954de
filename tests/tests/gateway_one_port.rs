//! One port for gRPC and REST (`GatewayBuilder::grpc`): on the gateway's listener, gRPC requests (by
//! content type) reach the gRPC server and the rest the REST routes; our gRPC client (h2c, and TLS with
//! ALPN h2) and curl (HTTP/1.1 and HTTP/2) against the same port.

use std::net::SocketAddr;
use std::sync::Arc;

use rsgrpc::gateway::{Gateway, GatewayBuilder};
use rsgrpc::server::Server;
use rsgrpc::Code;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_gateway;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_server::LibraryServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::library::TestLibrary;
use tokio::net::TcpListener;

struct Started {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A gateway serving the library's REST routes, and gRPC (the echo and library services) on its port.
async fn start(configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> Started {
    let grpc = Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .add_service(LibraryServer::new(TestLibrary))
        .max_receive_message_size(1024)
        .build();
    let routes = library_gateway::routes(Arc::new(TestLibrary));
    let gateway = configure(Gateway::builder().routes(routes).grpc(grpc)).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    Started { addr, _stop: stop }
}

/// curl's status line and body (`-i`), lowercased.
async fn curl(args: Vec<String>) -> String {
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10"])
        .args(&args)
        .output()
        .await
        .expect("curl runs");
    assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).to_ascii_lowercase()
}

async fn grpc_calls(client: &EchoClient) {
    let response = client.unary(EchoRequest { message: "grpc".into(), ..Default::default() }).await.unwrap();
    // The handler saw the client's address, not the in-memory connection's (none).
    let peer: SocketAddr = response.trailers().get("x-peer").expect("a peer address").parse().unwrap();
    assert_eq!(peer.ip(), std::net::Ipv4Addr::LOCALHOST);
    assert_eq!(response.into_inner().message, "grpc");
    let request = EchoRequest { repeat: 3, ..Default::default() };
    let mut stream = client.server_stream(request).await.unwrap().into_inner();
    let mut indexes = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        indexes.push(message.index);
    }
    assert_eq!(indexes, [0, 1, 2]);
    // The gRPC server's own limit applies, not the gateway's body limit.
    let big = EchoRequest { payload: vec![0; 4096], ..Default::default() };
    assert_eq!(client.unary(big).await.unwrap_err().code(), Code::ResourceExhausted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_rest_share_the_gateways_port_over_http1_and_http2() {
    let started = start(|b| b).await;
    let client = EchoClient::connect(&format!("http://{}", started.addr)).await.unwrap();
    grpc_calls(&client).await;
    let url = format!("http://{}/v1/shelves/s1", started.addr);
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let text = curl(vec![version.to_owned(), url.clone()]).await;
        let status = if version == "--http1.1" { "http/1.1 200" } else { "http/2 200" };
        assert!(text.starts_with(status), "{version}: {text}");
        assert!(text.contains("\"theme\":\"theme of s1\""), "{version}: {text}");
    }
    // A REST path with a gRPC content type is a gRPC request: the gRPC server's answer, not the route's.
    let text = curl(vec![
        "--http2-prior-knowledge".into(),
        "-X".into(),
        "POST".into(),
        "-H".into(),
        "content-type: application/grpc".into(),
        url.clone(),
    ])
    .await;
    assert!(text.contains("grpc-status: 12"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_rest_share_the_gateways_tls_port() {
    use rcgen::{CertificateParams, DnType, KeyPair};
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "gateway");
    let key = KeyPair::generate().unwrap();
    let certificate = params.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, certificate.pem()).unwrap();
    let identity =
        rsgrpc::tls::Identity::from_pem(certificate.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let tls = rsgrpc::tls::ServerTlsConfig::new(identity);
    let started = start(move |b| b.tls(tls).unwrap()).await;
    let port = started.addr.port();
    let client_tls = rsgrpc::tls::ClientTlsConfig::new().ca_pem(certificate.pem().as_bytes()).unwrap();
    let channel = rsgrpc::client::Channel::builder(&format!("https://localhost:{port}"))
        .unwrap()
        .tls(client_tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    grpc_calls(&EchoClient::new(channel)).await;
    let ca = ca.to_str().unwrap().to_owned();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}/v1/shelves/s1");
    for version in ["--http1.1", "--http2"] {
        let text =
            curl(vec![version.into(), "--cacert".into(), ca.clone(), "--resolve".into(), resolve.clone(), url.clone()])
                .await;
        assert!(text.contains("\"theme\":\"theme of s1\""), "{version}: {text}");
    }
}
