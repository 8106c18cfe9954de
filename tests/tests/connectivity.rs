//! A channel's connectivity state (grpc-go's `GetState` / `WaitForStateChange`): idle until asked, connecting,
//! ready, idle again when its server goes away, transient failure while it is down, ready once it is back,
//! shutdown after `close`.

use std::time::Duration;

use rsgrpc::client::{Channel, ConnectBackoff, ConnectivityState as State};
use rsgrpc::server::Server;
use rsgrpc::Code;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::{serve, serve_on};

fn server() -> Server {
    Server::builder().add_service(EchoServer::new(EchoService::default())).build()
}

/// Waits (up to 5 s) until the channel's state is `want`, following every change; the states seen on the
/// way, for the failure message.
async fn reach(channel: &Channel, want: State) -> Vec<State> {
    let mut seen = vec![channel.state(false)];
    let wait = async {
        while *seen.last().unwrap() != want {
            let from = *seen.last().unwrap();
            seen.push(channel.wait_for_state_change(from).await);
        }
    };
    let reached = tokio::time::timeout(Duration::from_secs(5), wait).await;
    assert!(reached.is_ok(), "never reached {want}: {seen:?}");
    seen
}

#[tokio::test]
async fn the_state_follows_a_server_that_goes_away_and_comes_back() {
    let running = serve(server()).await;
    let addr = running.addr;
    let backoff = ConnectBackoff {
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(100),
        ..Default::default()
    };
    let channel = Channel::builder(&running.target()).unwrap().connect_backoff(backoff).connect_lazy();

    // Lazy: nothing happens until asked.
    assert_eq!(channel.state(false), State::Idle);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(channel.state(false), State::Idle, "state(false) does not connect");

    assert_eq!(channel.state(true), State::Idle, "state(true) reports the state before it starts connecting");
    let seen = reach(&channel, State::Ready).await;
    assert!(seen.contains(&State::Connecting) || seen.len() == 2, "{seen:?}");
    let client = EchoClient::new(channel.clone());
    let request = || EchoRequest { message: "hi".into(), ..Default::default() };
    assert_eq!(client.unary(request()).await.unwrap().into_inner().message, "hi");

    // The server goes away: its connection is lost, and with pick_first the channel is idle again.
    // (`stop` returns once the connections closed, so the change may already have happened.)
    let lost = tokio::spawn({
        let channel = channel.clone();
        async move { channel.wait_for_state_change(State::Ready).await }
    });
    running.stop().await;
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), lost).await.unwrap().unwrap(), State::Idle);
    reach(&channel, State::Idle).await;

    // Asked to connect while nothing listens: connecting, then transient failure.
    channel.state(true);
    let seen = reach(&channel, State::TransientFailure).await;
    assert!(!seen.contains(&State::Ready), "{seen:?}");
    let down = client.unary(request()).await.unwrap_err();
    assert_eq!(down.code(), Code::Unavailable, "{down}");

    // Back on the same port: the next attempt after the backoff connects.
    let _back = serve_on(server(), addr).await;
    let ready = async {
        loop {
            if channel.state(true) == State::Ready {
                return;
            }
            let _ =
                tokio::time::timeout(Duration::from_millis(100), channel.wait_for_state_change(channel.state(false)))
                    .await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), ready).await.expect("ready again once the server is back");
    assert_eq!(client.unary(request()).await.unwrap().into_inner().message, "hi");

    // Closed: shutdown for good, calls fail, and waiting for a change does not hang.
    channel.close();
    assert_eq!(channel.state(true), State::Shutdown);
    assert_eq!(channel.wait_for_state_change(State::Ready).await, State::Shutdown);
    assert_eq!(channel.wait_for_state_change(State::Shutdown).await, State::Shutdown);
    let closed = client.unary(request()).await.unwrap_err();
    assert_eq!(closed.code(), Code::Unavailable, "{closed}");
    assert!(closed.message().contains("closed"), "{closed}");
}

#[tokio::test]
async fn a_target_that_never_answers_is_a_transient_failure_and_a_waiter_sees_it() {
    // A port nothing listens on: bind one, note it, close it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let channel = Channel::lazy(&format!("http://{addr}")).unwrap();
    assert_eq!(channel.state(true), State::Idle);
    let seen = reach(&channel, State::TransientFailure).await;
    assert_eq!(seen.first(), Some(&State::Idle), "{seen:?}");
    assert!(!seen.contains(&State::Ready), "{seen:?}");
}
