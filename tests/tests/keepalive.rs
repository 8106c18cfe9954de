//! Keepalive: a peer that stops answering PINGs (behind a proxy that turns into a black hole) is noticed
//! within the configured interval and timeout, on the client and on the server side.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsgrpc::client::Channel;
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
    let server = serve(Server::builder().add_service(EchoServer::new(EchoService::default())).build()).await;
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
