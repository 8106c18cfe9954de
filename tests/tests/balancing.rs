//! Name resolution and load balancing with several real servers on 127.0.0.1: round_robin spreads calls
//! evenly, skips a stopped backend and takes a restarted one back; pick_first fails over; a custom resolver
//! is followed as its addresses change; DNS resolves `localhost`; wait_for_ready waits for a backend; the
//! service config sets the policy, timeouts and limits.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rsgrpc::client::{
    Channel, ChannelBuilder, ConnectBackoff, LoadBalancing, Refresh, Resolution, Resolutions, Resolver, TargetUri,
};
use rsgrpc::server::Server;
use rsgrpc::{Code, Request};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::{serve_on, Running};

/// A backend: a running server and what its handlers counted.
struct Backend {
    running: Option<Running>,
    addr: SocketAddr,
    service: EchoService,
}

impl Backend {
    async fn start() -> Backend {
        Backend::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    async fn start_on(addr: SocketAddr) -> Backend {
        let service = EchoService::default();
        let running = serve_on(Server::builder().add_service(EchoServer::new(service.clone())).build(), addr).await;
        Backend { addr: running.addr, running: Some(running), service }
    }

    fn calls(&self) -> usize {
        self.service.observed.started.load(Ordering::SeqCst)
    }

    async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}

fn ipv4_target(backends: &[&Backend]) -> String {
    let addresses: Vec<String> = backends.iter().map(|b| b.addr.to_string()).collect();
    format!("ipv4:{}", addresses.join(","))
}

/// Quick reconnection attempts, so tests do not wait out gRPC's one-second first backoff.
fn quick_backoff() -> ConnectBackoff {
    ConnectBackoff {
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        ..Default::default()
    }
}

fn hello() -> EchoRequest {
    EchoRequest { message: "hello".into(), ..Default::default() }
}

async fn call_n(client: &EchoClient, n: usize) {
    for i in 0..n {
        client.unary(hello()).await.unwrap_or_else(|status| panic!("call {i} failed: {status}"));
    }
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < Duration::from_secs(10), "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn round_robin_channel(target: &str) -> Channel {
    let builder = Channel::builder(target).unwrap().load_balancing(LoadBalancing::RoundRobin);
    builder.connect_backoff(quick_backoff()).connect().await.unwrap()
}

#[tokio::test]
async fn round_robin_spreads_calls_evenly() {
    let backends = [Backend::start().await, Backend::start().await, Backend::start().await];
    let channel = round_robin_channel(&ipv4_target(&backends.iter().collect::<Vec<_>>())).await;
    eventually("a connection to every backend", || channel.connected_addresses().len() == 3).await;
    let client = EchoClient::new(channel);
    call_n(&client, 30).await;
    let counts: Vec<usize> = backends.iter().map(Backend::calls).collect();
    assert_eq!(counts, [10, 10, 10]);
}

#[tokio::test]
async fn round_robin_skips_a_stopped_backend_and_takes_a_restarted_one_back() {
    let mut backends = [Backend::start().await, Backend::start().await, Backend::start().await];
    let channel = round_robin_channel(&ipv4_target(&backends.iter().collect::<Vec<_>>())).await;
    eventually("a connection to every backend", || channel.connected_addresses().len() == 3).await;
    let client = EchoClient::new(channel.clone());
    call_n(&client, 6).await;

    backends[1].stop().await;
    let before: Vec<usize> = backends.iter().map(Backend::calls).collect();
    call_n(&client, 20).await;
    let after: Vec<usize> = backends.iter().map(Backend::calls).collect();
    assert_eq!(after[1], before[1], "the stopped backend got calls");
    assert_eq!(after[0] - before[0] + after[2] - before[2], 20);
    assert!(after[0] - before[0] >= 9 && after[2] - before[2] >= 9, "{before:?} -> {after:?}");

    // Back on the same port: the channel reconnects (after its backoff) and spreads calls to it again.
    let addr = backends[1].addr;
    backends[1] = Backend::start_on(addr).await;
    let started = Instant::now();
    while backends[1].calls() == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the restarted backend never got a call");
        call_n(&client, 3).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn pick_first_sticks_to_the_first_backend_and_fails_over() {
    let mut first = Backend::start().await;
    let second = Backend::start().await;
    let builder = Channel::builder(&ipv4_target(&[&first, &second])).unwrap().connect_backoff(quick_backoff());
    let client = EchoClient::new(builder.connect().await.unwrap());
    call_n(&client, 5).await;
    assert_eq!((first.calls(), second.calls()), (5, 0));
    first.stop().await;
    call_n(&client, 5).await;
    assert_eq!((first.calls(), second.calls()), (5, 5));
}

/// A resolver whose addresses the test changes.
struct Switchboard(tokio::sync::watch::Receiver<Vec<SocketAddr>>);

impl Resolver for Switchboard {
    fn resolve(&self, target: &TargetUri, _refresh: Refresh) -> Resolutions {
        assert_eq!((target.scheme(), target.endpoint()), ("switchboard", "echo"));
        let receiver = self.0.clone();
        Box::pin(futures_util::stream::unfold((receiver, true), |(mut receiver, first)| async move {
            if !first && receiver.changed().await.is_err() {
                return None;
            }
            let addresses = receiver.borrow_and_update().clone();
            Some((Ok(Resolution::new(addresses)), (receiver, false)))
        }))
    }
}

#[tokio::test]
async fn a_custom_resolver_is_followed_as_its_addresses_change() {
    let (first, second) = (Backend::start().await, Backend::start().await);
    let (publish, addresses) = tokio::sync::watch::channel(vec![first.addr]);
    // Without the resolver the scheme is unknown.
    let error = Channel::builder("switchboard:///echo").unwrap().connect().await.unwrap_err();
    assert!(error.message().contains("no resolver for the scheme \"switchboard\""), "{error}");
    let builder = switchboard(Switchboard(addresses));
    let client = EchoClient::new(builder.connect().await.unwrap());
    call_n(&client, 3).await;
    assert_eq!((first.calls(), second.calls()), (3, 0));

    publish.send(vec![second.addr]).unwrap();
    let started = Instant::now();
    while second.calls() == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "the channel did not follow the new address");
        call_n(&client, 1).await;
    }
    let moved = first.calls();
    call_n(&client, 5).await;
    assert_eq!(first.calls(), moved, "calls still went to the removed address");

    // A resolver's service config applies too.
    let config = r#"{"loadBalancingConfig": [{"round_robin": {}}]}"#;
    let (_publish, addresses) = tokio::sync::watch::channel(vec![first.addr, second.addr]);
    let resolver = WithConfig(Switchboard(addresses), config);
    let builder = switchboard(resolver);
    let channel = builder.connect_backoff(quick_backoff()).connect().await.unwrap();
    eventually("round robin connects to both", || channel.connected_addresses().len() == 2).await;
    let (a, b) = (first.calls(), second.calls());
    call_n(&EchoClient::new(channel), 10).await;
    assert_eq!((first.calls() - a, second.calls() - b), (5, 5));
}

fn switchboard(resolver: impl Resolver) -> ChannelBuilder {
    Channel::builder("switchboard:///echo").unwrap().resolver("switchboard", resolver)
}

/// A resolver that adds a service config to another's addresses.
struct WithConfig(Switchboard, &'static str);

impl Resolver for WithConfig {
    fn resolve(&self, target: &TargetUri, refresh: Refresh) -> Resolutions {
        use futures_util::StreamExt;
        let config = self.1.to_owned();
        Box::pin(self.0.resolve(target, refresh).map(move |resolution| {
            resolution.map(|mut resolution| {
                resolution.service_config = Some(config.clone());
                resolution
            })
        }))
    }
}

#[tokio::test]
async fn dns_resolution_of_localhost() {
    let backend = Backend::start().await;
    let port = backend.addr.port();
    for target in [format!("dns:///localhost:{port}"), format!("localhost:{port}"), format!("http://localhost:{port}")]
    {
        let client = EchoClient::connect(&target).await.unwrap_or_else(|e| panic!("{target}: {e}"));
        call_n(&client, 1).await;
    }
    assert_eq!(backend.calls(), 3);
    let status = Channel::connect("dns:///no-such-host.invalid:80").await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("no-such-host.invalid"), "{status}");
    let status = Channel::builder("dns:///localhost").unwrap_err();
    assert!(status.message().contains("the port is missing"), "{status}");
}

/// A port with nothing listening (bound, then released).
async fn free_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn wait_for_ready_waits_for_a_backend_within_the_deadline() {
    let addr = free_port().await;
    let channel = Channel::builder(&format!("http://{addr}")).unwrap().connect_backoff(quick_backoff()).connect_lazy();
    let client = EchoClient::new(channel);
    // Fail fast by default.
    let started = Instant::now();
    assert_eq!(client.unary(hello()).await.unwrap_err().code(), Code::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(1));
    // Waiting, until the deadline.
    let waiting = Request::new(hello()).with_wait_for_ready(true).with_timeout(Duration::from_millis(300));
    assert_eq!(client.unary(waiting).await.unwrap_err().code(), Code::DeadlineExceeded);
    // Waiting while the backend comes up: the call gets through.
    let call = tokio::spawn({
        let client = client.clone();
        async move {
            client.unary(Request::new(hello()).with_wait_for_ready(true).with_timeout(Duration::from_secs(5))).await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let backend = Backend::start_on(addr).await;
    assert_eq!(call.await.unwrap().unwrap().into_inner().message, "hello");
    assert_eq!(backend.calls(), 1);
}

#[tokio::test]
async fn the_service_config_sets_timeouts_limits_and_wait_for_ready_per_method() {
    let backend = Backend::start().await;
    let config = r#"{
      "methodConfig": [
        {"name": [{"service": "rsgrpc.test.echo.Echo", "method": "Unary"}], "timeout": "0.1s",
         "maxRequestMessageBytes": 64},
        {"name": [{"service": "rsgrpc.test.echo.Echo"}], "waitForReady": true, "timeout": "0.2s"}
      ]
    }"#;
    let builder =
        Channel::builder(&format!("http://{}", backend.addr)).unwrap().default_service_config(config).unwrap();
    let client = EchoClient::new(builder.connect().await.unwrap());
    // The method's timeout applies to a call without a deadline, and shortens a longer one.
    let slow = EchoRequest { delay_ms: 1000, ..hello() };
    assert_eq!(client.unary(slow.clone()).await.unwrap_err().code(), Code::DeadlineExceeded);
    let patient = Request::new(slow).with_timeout(Duration::from_secs(10));
    let started = Instant::now();
    assert_eq!(client.unary(patient).await.unwrap_err().code(), Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(1));
    // Its request limit is below the channel's.
    let big = EchoRequest { payload: vec![0; 100], ..hello() };
    assert_eq!(client.unary(big).await.unwrap_err().code(), Code::ResourceExhausted);
    // Another method of the service gets the service-wide entry.
    let streaming = EchoRequest { repeat: 1, delay_ms: 1000, ..hello() };
    let mut stream = client.server_stream(streaming).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap_err().code(), Code::DeadlineExceeded);

    // waitForReady from the config: a call to a backend that is not up waits out its timeout.
    let addr = free_port().await;
    let builder = Channel::builder(&format!("http://{addr}")).unwrap().default_service_config(config).unwrap();
    let client = EchoClient::new(builder.connect_lazy());
    let streaming = EchoRequest { repeat: 1, ..hello() };
    assert_eq!(client.server_stream(streaming).await.unwrap_err().code(), Code::DeadlineExceeded);

    // An invalid config is refused, saying where.
    let error =
        Channel::builder("localhost:1").unwrap().default_service_config(r#"{"methodConfig": [{}]}"#).unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(error.message().contains("methodConfig[0].name"), "{error}");
}

/// A resolver that ends without answering.
struct Silent;

impl Resolver for Silent {
    fn resolve(&self, _target: &TargetUri, _refresh: Refresh) -> Resolutions {
        Box::pin(futures_util::stream::empty())
    }
}

#[tokio::test]
async fn a_resolver_that_ends_without_an_answer_fails_calls_instead_of_hanging() {
    let channel = Channel::builder("silent:///x").unwrap().resolver("silent", Silent).connect_lazy();
    let client = EchoClient::new(channel);
    let status =
        tokio::time::timeout(Duration::from_secs(5), client.unary(hello())).await.expect("no hang").unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("ended without an answer"), "{status}");
}

/// A TCP proxy to `upstream` that waits `delay` before passing anything, like a slow handshake.
async fn slow_proxy(upstream: SocketAddr, delay: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_connection_slower_than_every_call_deadline_still_gets_made() {
    let backend = Backend::start().await;
    let proxy = slow_proxy(backend.addr, Duration::from_millis(400)).await;
    let client = EchoClient::new(Channel::builder(&format!("http://{proxy}")).unwrap().connect_lazy());
    let short = || Request::new(hello()).with_timeout(Duration::from_millis(150));
    // The first calls give up before the handshake is done, but the attempt goes on without them.
    assert_eq!(client.unary(short()).await.unwrap_err().code(), Code::DeadlineExceeded);
    let started = Instant::now();
    loop {
        match client.unary(short()).await {
            Ok(_) => break,
            Err(status) => assert_eq!(status.code(), Code::DeadlineExceeded),
        }
        assert!(started.elapsed() < Duration::from_secs(5), "never connected");
    }
}
