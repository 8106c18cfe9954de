//! What a hostile server can make the client hold: the client refuses server push and caps the header
//! lists it accepts, so neither pushed streams nor huge response metadata grow its memory.

use std::time::Duration;

use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::Request;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::serve;
use tokio::io::AsyncReadExt;

/// The settings of a client's first SETTINGS frame, read by a server that is only a TCP listener.
async fn client_settings() -> Vec<(u16, u32)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    let call = tokio::spawn(async move {
        let channel = Channel::builder(&target).unwrap().connect_lazy();
        let request = Request::new(EchoRequest::default()).with_timeout(Duration::from_secs(2));
        let _ = EchoClient::new(channel).unary(request).await;
    });
    let (mut tcp, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept()).await.unwrap().unwrap();
    let mut preface = [0u8; 24];
    tcp.read_exact(&mut preface).await.unwrap();
    assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    let mut header = [0u8; 9];
    tcp.read_exact(&mut header).await.unwrap();
    let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    assert_eq!(header[3], 0x4, "the first frame after the preface is SETTINGS");
    let mut payload = vec![0u8; length];
    tcp.read_exact(&mut payload).await.unwrap();
    call.abort();
    payload
        .chunks_exact(6)
        .map(|s| (u16::from_be_bytes([s[0], s[1]]), u32::from_be_bytes([s[2], s[3], s[4], s[5]])))
        .collect()
}

#[tokio::test]
async fn the_client_announces_no_push_and_a_header_list_cap() {
    const ENABLE_PUSH: u16 = 0x2;
    const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    let settings = client_settings().await;
    assert!(settings.contains(&(ENABLE_PUSH, 0)), "server push must be refused: {settings:?}");
    assert!(settings.contains(&(MAX_HEADER_LIST_SIZE, 16 * 1024)), "the header list must be capped: {settings:?}");
}

#[tokio::test]
async fn response_metadata_past_the_clients_cap_fails_the_call_and_the_channel_goes_on() {
    // A server that lets big metadata in, and echoes it back as response headers and trailers.
    let server = Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .max_header_list_size(1024 * 1024)
        .build();
    let server = serve(server).await;
    let channel = Channel::builder(&server.target()).unwrap().max_header_list_size(1024 * 1024).connect_lazy();
    let big = "x".repeat(64 * 1024);
    let request = || Request::new(EchoRequest { message: "hi".into(), ..Default::default() });
    // Sent through a channel allowing it, the echo comes back whole...
    let allowed = EchoClient::new(channel).unary(request().with_metadata("x-echo", &big)).await;
    assert_eq!(allowed.expect("within an explicit larger cap").metadata().get("x-echo"), Some(big.as_str()));
    // ... and through a default channel it is refused.
    let echo = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    let refused = echo.unary(request().with_metadata("x-echo", &big)).await;
    assert!(refused.is_err(), "64 KiB of response headers must not be accepted by default");
    let reply = echo.unary(request()).await.expect("the channel still works after the refusal");
    assert_eq!(reply.into_inner().message, "hi");
}
