//! The load test: 10,000 calls open at once over 100 connections, and 1000 connections each making a call at
//! once, with the rsgrpc client, against the target with its defaults; every call must succeed, and the
//! server's peak memory is recorded.

use std::time::{Duration, Instant};

use rsgrpc::client::Channel;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use tokio::task::JoinSet;

use super::report;
use super::target::Target;

/// How long each call's handler sleeps, so that every call of a wave is open at the same time.
const HOLD_MS: i32 = 4000;
const LOAD_BOUND_MIB: f64 = 256.0;

fn held(message: String) -> EchoRequest {
    EchoRequest { message, delay_ms: HOLD_MS, ..Default::default() }
}

/// Connects `count` channels (one connection each) to the target at once.
async fn channels(target: &Target, count: usize) -> Vec<EchoClient> {
    let mut connecting = JoinSet::new();
    for _ in 0..count {
        let url = format!("http://{}", target.grpc);
        connecting.spawn(async move { Channel::connect(&url).await });
    }
    let mut clients = Vec::with_capacity(count);
    while let Some(channel) = connecting.join_next().await {
        clients.push(EchoClient::new(channel.expect("a connect task").expect("connect")));
    }
    clients
}

/// How a wave of calls went.
struct Wave {
    failures: Vec<String>,
    /// The longest a call took, from its start to its answer.
    slowest: Duration,
}

/// Makes `per_client` held calls on every client at once.
async fn wave(clients: &[EchoClient], per_client: usize) -> Wave {
    let mut calls = JoinSet::new();
    for (c, client) in clients.iter().enumerate() {
        for n in 0..per_client {
            let client = client.clone();
            let message = format!("{c}/{n}");
            calls.spawn(async move {
                let started = Instant::now();
                let reply = client.unary(held(message.clone())).await.map_err(|s| s.to_string())?;
                let echoed = reply.into_inner().message;
                if echoed == message {
                    Ok(started.elapsed())
                } else {
                    Err(format!("{message} came back as {echoed}"))
                }
            });
        }
    }
    let mut wave = Wave { failures: Vec::new(), slowest: Duration::ZERO };
    while let Some(call) = calls.join_next().await {
        match call.expect("a call task") {
            Ok(took) => wave.slowest = wave.slowest.max(took),
            Err(failure) => wave.failures.push(failure),
        }
    }
    wave
}

async fn load(case: &str, connections: usize, per_connection: usize) {
    let mut target = Target::start(&[]).await;
    let started = Instant::now();
    let clients = channels(&target, connections).await;
    let connected = started.elapsed();
    let wave = tokio::time::timeout(Duration::from_secs(60), wave(&clients, per_connection))
        .await
        .unwrap_or_else(|_| panic!("{case}: the calls did not finish in 60 s"));
    let took = started.elapsed();
    target.assert_alive();
    let memory = target.memory();
    let calls = connections * per_connection;
    report(
        case,
        format_args!(
            "{memory} (bound {LOAD_BOUND_MIB} MiB); {connections} connections in {} ms, {calls} calls each held \
             {HOLD_MS} ms by its handler, {} failed, slowest {} ms, all done in {} ms",
            connected.as_millis(),
            wave.failures.len(),
            wave.slowest.as_millis(),
            took.as_millis()
        ),
    );
    assert!(wave.failures.is_empty(), "{case}: {} calls failed, first: {}", wave.failures.len(), wave.failures[0]);
    // A call that had waited for another to finish before its handler ran would have taken two holds.
    let hold = Duration::from_millis(HOLD_MS as u64);
    assert!(
        wave.slowest < 2 * hold,
        "{case}: a call took {} ms; the calls did not run at once",
        wave.slowest.as_millis()
    );
    assert!(memory.peak < LOAD_BOUND_MIB, "{case}: {memory}, over the bound of {LOAD_BOUND_MIB} MiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_10000_concurrent_streams_over_100_connections() {
    load("load-10000-streams", 100, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_1000_connections_at_once() {
    load("load-1000-connections", 1000, 1).await;
}
