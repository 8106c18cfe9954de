//! Keepalive: a peer that stops answering PINGs (behind a proxy that turns into a black hole) is noticed
//! within the configured interval and timeout, on the client and on the server side; a client that pings
//! more often than the server's policy allows is sent GOAWAY `ENHANCE_YOUR_CALM`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsgrpc::client::Channel;
use rsgrpc::keepalive::KeepaliveEnforcement;
use rsgrpc::server::Server;
use rsgrpc::Code;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::serve;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to `upstream` that, once `frozen` is set, swallows every byte in both directions: to each
/// side the other looks alive at the TCP level but never answers, like a peer behind a dropped NAT mapping.
async fn black_hole_proxy(upstream: std::net::SocketAddr, frozen: Arc<AtomicBool>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((downstream, _)) = listener.accept().await {
            let Ok(upstream) = TcpStream::connect(upstream).await else { continue };
            let (down_read, down_write) = downstream.into_split();
            let (up_read, up_write) = upstream.into_split();
            tokio::spawn(pump(down_read, up_write, frozen.clone()));
            tokio::spawn(pump(up_read, down_write, frozen.clone()));
        }
    });
    addr
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !frozen.load(Ordering::SeqCst) && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn endless() -> EchoRequest {
    EchoRequest { message: "endless".into(), delay_ms: 60_000, ..Default::default() }
}

#[tokio::test]
async fn a_client_notices_a_server_that_stopped_answering() {
    // The client pings every 200 ms, with or without calls: the server must allow that.
    let policy = KeepaliveEnforcement { min_time: Duration::from_millis(100), permit_without_calls: true };
    let server = echo_server_with(Some(policy)).await;
    let frozen = Arc::new(AtomicBool::new(false));
    let proxy = black_hole_proxy(server.addr, frozen.clone()).await;
    let channel = Channel::builder(&format!("http://{proxy}"))
        .unwrap()
        .keepalive(Duration::from_millis(200), Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let client = EchoClient::new(channel);
    let quick = EchoRequest { message: "quick".into(), ..Default::default() };
    assert_eq!(client.unary(quick.clone()).await.unwrap().into_inner().message, "quick");
    // Pings are answered while the path works: a call outlives several keepalive rounds.
    let slow = EchoRequest { message: "slow".into(), delay_ms: 1_000, ..Default::default() };
    assert_eq!(client.unary(slow).await.unwrap().into_inner().message, "slow");

    // A call without a deadline, then the path goes dark.
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.unary(endless()).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    frozen.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(10), call).await.expect("the dead server is noticed");
    let status = status.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    // Once the path works again the channel connects anew.
    frozen.store(false, Ordering::SeqCst);
    assert_eq!(client.unary(quick).await.unwrap().into_inner().message, "quick");
}

#[tokio::test]
async fn a_server_notices_a_client_that_stopped_answering() {
    let service = EchoService::default();
    let server = Server::builder()
        .add_service(EchoServer::new(service.clone()))
        .keepalive(Duration::from_millis(200), Duration::from_millis(300))
        .build();
    let server = serve(server).await;
    let frozen = Arc::new(AtomicBool::new(false));
    let proxy = black_hole_proxy(server.addr, frozen.clone()).await;
    let client = EchoClient::connect(&format!("http://{proxy}")).await.unwrap();
    let _call = tokio::spawn(async move { client.unary(endless()).await });
    while service.observed.started.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Healthy for a few keepalive rounds: the call stays.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(service.observed.cancelled.load(Ordering::SeqCst), 0);
    frozen.store(true, Ordering::SeqCst);
    let started = Instant::now();
    while service.observed.cancelled.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "the handler of a vanished client was not cancelled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An echo server enforcing `policy` on its clients' pings.
async fn echo_server_with(policy: Option<KeepaliveEnforcement>) -> rsgrpc_tests::support::Running {
    let server = Server::builder().add_service(EchoServer::new(EchoService::default())).keepalive_enforcement(policy);
    serve(server.build()).await
}

/// A raw HTTP/2 connection to `addr` whose driver task returns how the connection ended.
async fn raw_connection(
    addr: std::net::SocketAddr,
) -> (h2::client::SendRequest<bytes::Bytes>, h2::PingPong, tokio::task::JoinHandle<Result<(), h2::Error>>) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, mut connection) = h2::client::handshake(tcp).await.unwrap();
    let ping_pong = connection.ping_pong().expect("ping_pong");
    (send, ping_pong, tokio::spawn(connection))
}

/// Pings `count` times, each right after the previous answer; how many were answered.
async fn ping_quickly(ping_pong: &mut h2::PingPong, count: usize) -> usize {
    for answered in 0..count {
        if ping_pong.ping(h2::Ping::opaque()).await.is_err() {
            return answered;
        }
    }
    count
}

#[tokio::test]
async fn a_ping_flooding_client_gets_goaway_enhance_your_calm() {
    let server = serve(Server::builder().add_service(EchoServer::new(EchoService::default())).build()).await;
    let (_send, mut ping_pong, connection) = raw_connection(server.addr).await;
    // The default policy (grpc-go's: 5 minutes, none without calls): the first PING is fine, the next three
    // are strikes and the third strike ends the connection.
    let answered = ping_quickly(&mut ping_pong, 50).await;
    assert!(answered < 50, "the server answered every PING of a flood");
    let error = tokio::time::timeout(Duration::from_secs(5), connection).await.unwrap().unwrap().unwrap_err();
    assert!(error.is_go_away() && error.is_remote(), "{error:?}");
    assert_eq!(error.reason(), Some(h2::Reason::ENHANCE_YOUR_CALM), "{error:?}");
    // Other clients are served as before.
    let client = EchoClient::connect(&server.target()).await.unwrap();
    let hello = EchoRequest { message: "still here".into(), ..Default::default() };
    assert_eq!(client.unary(hello).await.unwrap().into_inner().message, "still here");
}

#[tokio::test]
async fn pings_the_policy_allows_are_answered() {
    let policy = KeepaliveEnforcement { min_time: Duration::from_millis(50), permit_without_calls: true };
    let server = echo_server_with(Some(policy)).await;
    let (_send, mut ping_pong, connection) = raw_connection(server.addr).await;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(80)).await;
        ping_pong.ping(h2::Ping::opaque()).await.expect("an allowed PING is answered");
    }
    assert!(!connection.is_finished());

    // Without a policy anything goes.
    let server = echo_server_with(None).await;
    let (_send, mut ping_pong, connection) = raw_connection(server.addr).await;
    assert_eq!(ping_quickly(&mut ping_pong, 200).await, 200);
    assert!(!connection.is_finished());
}

#[tokio::test]
async fn pings_on_a_connection_without_calls_need_the_policy_to_permit_them() {
    // Pings every 80 ms are within min_time, but there is no call and the policy does not permit that.
    let policy = KeepaliveEnforcement { min_time: Duration::from_millis(50), permit_without_calls: false };
    let server = echo_server_with(Some(policy)).await;
    let (_send, mut ping_pong, connection) = raw_connection(server.addr).await;
    let mut answered = 0;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(80)).await;
        if ping_pong.ping(h2::Ping::opaque()).await.is_err() {
            break;
        }
        answered += 1;
    }
    assert!(answered < 8, "idle pings were all answered");
    let error = tokio::time::timeout(Duration::from_secs(5), connection).await.unwrap().unwrap().unwrap_err();
    assert_eq!(error.reason(), Some(h2::Reason::ENHANCE_YOUR_CALM), "{error:?}");
}

/// The client address the server saw for a call, which changes when the channel had to reconnect.
async fn peer_of_a_call(client: &EchoClient) -> String {
    let response = client.unary(EchoRequest { message: "peer".into(), ..Default::default() }).await.unwrap();
    response.trailers().get("x-peer").expect("x-peer trailer").to_owned()
}

#[tokio::test]
async fn client_keepalive_stays_quiet_without_calls_unless_permitted() {
    // The server tolerates frequent pings during calls but none on an idle connection.
    let policy = KeepaliveEnforcement { min_time: Duration::from_millis(10), permit_without_calls: false };
    let server = echo_server_with(Some(policy)).await;
    let channel = |permit: bool| {
        let builder = Channel::builder(&server.target()).unwrap();
        builder.keepalive(Duration::from_millis(50), Duration::from_secs(1)).keepalive_permit_without_calls(permit)
    };

    // By default an idle connection is not pinged, so the server keeps it.
    let client = EchoClient::new(channel(false).connect().await.unwrap());
    let first = peer_of_a_call(&client).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(peer_of_a_call(&client).await, first, "the idle connection was closed");

    // Permitted to ping idle connections, the client earns this server's GOAWAY and reconnects.
    let client = EchoClient::new(channel(true).connect().await.unwrap());
    let first = peer_of_a_call(&client).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_ne!(peer_of_a_call(&client).await, first, "idle pings went unpunished");
}
