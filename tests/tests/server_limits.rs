//! What one client can make the server hold: the per-connection budget for incomplete request messages,
//! the connection limit, and unary responses that wait for flow control instead of being buffered whole.
//! The attacks use raw h2 clients, since rsgrpc's own client would not misbehave.

use std::time::Duration;

use bytes::Bytes;
use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::Code;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::serve;
use tokio::net::TcpStream;

type H2Client = h2::client::SendRequest<Bytes>;

/// A raw HTTP/2 connection to `addr`, driven in the background.
async fn raw_client(addr: std::net::SocketAddr, builder: h2::client::Builder) -> H2Client {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = builder.handshake::<_, Bytes>(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn grpc_request(addr: std::net::SocketAddr, method: &str, timeout: Option<&str>) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/rsgrpc.test.echo.Echo/{method}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(timeout) = timeout {
        request = request.header("grpc-timeout", timeout);
    }
    request.body(()).unwrap()
}

fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    headers.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

/// Waits for a response's status: from a trailers-only answer, or from the trailers after the body.
async fn status_of(response: h2::client::ResponseFuture) -> Result<i32, String> {
    let response = response.await.map_err(|e| e.to_string())?;
    if let Some(code) = grpc_status(response.headers()) {
        return Ok(code);
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.map_err(|e| e.to_string())?.ok_or("no trailers")?;
    grpc_status(&trailers).ok_or_else(|| "no grpc-status".to_owned())
}

#[tokio::test]
async fn incomplete_messages_past_the_connection_budget_fail_before_they_are_buffered() {
    const MESSAGE: usize = 200 * 1024;
    let server = Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .max_receive_message_size(256 * 1024)
        .connection_receive_budget(1024 * 1024)
        .build();
    let server = serve(server).await;
    let mut client = raw_client(server.addr, h2::client::Builder::new()).await;
    // Ten uploads that each announce a message of 200 KiB, send 1 KiB of it and stall: 1 MiB holds five.
    let full = rsgrpc::codec::encode(&EchoRequest { payload: vec![1; MESSAGE], ..Default::default() }, usize::MAX);
    let full = full.unwrap();
    let mut stalled = Vec::new();
    for _ in 0..10 {
        client = client.ready().await.unwrap();
        let (response, mut send) = client.send_request(grpc_request(server.addr, "ClientStream", None), false).unwrap();
        send.send_data(full.slice(..5 + 1024), false).unwrap();
        stalled.push((tokio::spawn(status_of(response)), send));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut refused = 0;
    let mut waiting = Vec::new();
    for (answer, send) in stalled {
        if answer.is_finished() {
            assert_eq!(answer.await.unwrap(), Ok(Code::ResourceExhausted as i32));
            refused += 1;
        } else {
            waiting.push((answer, send));
        }
    }
    assert_eq!(refused, 5, "the five uploads past the budget must be refused at once");
    // Those within the budget are unharmed: the rest of a message arrives and the call completes.
    let (answer, mut send) = waiting.remove(0);
    send.send_data(full.slice(5 + 1024..), true).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(5), answer).await.expect("the upload completes");
    assert_eq!(finished.unwrap(), Ok(Code::Ok as i32));
    // Its share came back: a new message that fits is accepted.
    let echo = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    let request = EchoRequest { payload: vec![1; MESSAGE], ..Default::default() };
    let reply = echo.unary(request).await.expect("a normal call on another connection");
    assert_eq!(reply.into_inner().payload.len(), MESSAGE);
}

#[tokio::test]
async fn connections_past_the_limit_wait_until_one_closes() {
    let server = Server::builder().add_service(EchoServer::new(EchoService::default())).max_connections(2).build();
    let server = serve(server).await;
    let first = raw_client(server.addr, h2::client::Builder::new()).await;
    let _second = raw_client(server.addr, h2::client::Builder::new()).await;
    let echo = EchoClient::new(Channel::builder(&server.target()).unwrap().connect_lazy());
    let request = || rsgrpc::Request::new(EchoRequest { message: "hi".into(), ..Default::default() });
    let refused = echo.unary(request().with_timeout(Duration::from_millis(500))).await.unwrap_err();
    assert!(
        matches!(refused.code(), Code::DeadlineExceeded | Code::Unavailable),
        "a third connection must not be served while two are open: {refused}"
    );
    drop(first);
    let reply = echo.unary(request().with_timeout(Duration::from_secs(10))).await;
    assert_eq!(reply.expect("served once a connection closed").into_inner().message, "hi");
}

#[tokio::test]
async fn a_unary_response_the_client_never_has_window_for_ends_at_the_deadline() {
    let server = serve(Server::builder().add_service(EchoServer::new(EchoService::default())).build()).await;
    // A window of 0: the client reads nothing, ever.
    let mut builder = h2::client::Builder::new();
    builder.initial_window_size(0);
    let client = raw_client(server.addr, builder).await;
    let mut client = client.ready().await.unwrap();
    let (response, mut send) = client.send_request(grpc_request(server.addr, "Unary", Some("300m")), false).unwrap();
    let request = EchoRequest { payload: vec![7; 256 * 1024], ..Default::default() };
    send.send_data(rsgrpc::codec::encode(&request, usize::MAX).unwrap(), true).unwrap();
    // Before, the response sat in h2's buffer for as long as the connection lived and the trailers behind it
    // never came; now the server gives up on the message at the deadline and says so in the trailers.
    let status = tokio::time::timeout(Duration::from_secs(5), status_of(response)).await;
    let status = status.expect("the call must end at its deadline, not wait for a window forever");
    match status {
        Ok(code) => assert_eq!(code, Code::DeadlineExceeded as i32),
        Err(reset) => assert!(reset.contains("CANCEL") || reset.contains("cancel"), "{reset}"),
    }
}

#[tokio::test]
async fn an_unlimited_connection_count_is_clamped_not_a_panic() {
    let server = Server::builder().add_service(EchoServer::new(EchoService::default())).max_connections(usize::MAX);
    let server = serve(server.build()).await;
    let echo = EchoClient::new(Channel::connect(&server.target()).await.unwrap());
    let request = EchoRequest { message: "hi".into(), ..Default::default() };
    assert_eq!(echo.unary(request).await.expect("served").into_inner().message, "hi");
}
