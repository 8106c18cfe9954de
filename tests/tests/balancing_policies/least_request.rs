//! `least_request_experimental`: calls steer away from a backend whose calls pile up, and move on when a
//! backend is killed mid-load.

use std::sync::Arc;

use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;

use super::backends::{bounded, channel, counts, eventually, hello, Backend, RETRY_UNAVAILABLE};

fn config() -> String {
    format!(
        r#"{{"loadBalancingConfig": [{{"least_request_experimental": {{"choiceCount": 2}}}}],
            "methodConfig": [{RETRY_UNAVAILABLE}]}}"#
    )
}

#[tokio::test]
async fn calls_steer_away_from_a_backend_whose_calls_pile_up() {
    let backends = [Backend::start_held(2).await, Backend::start(3).await, Backend::start(4).await];
    let channel = channel(&backends, &config()).await;
    eventually("a connection to every backend", || channel.connected_addresses().len() == 3).await;
    let client = Arc::new(EchoClient::new(channel));
    let mut calls = Vec::new();
    for i in 0..60 {
        let client = client.clone();
        calls.push(tokio::spawn(async move { client.unary(hello()).await }));
        // One call at a time reaches a backend, so every pick sees the calls held before it.
        eventually("the call reached a backend", || counts(&backends).iter().sum::<usize>() == i + 1).await;
    }
    let spread = counts(&backends);
    // Round robin would send the held backend 20. Once it holds a call, least_request sends it one only
    // when both draws name it (1 in 9): about 7, and 15 or more is far out of reach.
    assert!(spread[0] < 15, "the held backend got {spread:?}");
    assert!(spread[1] >= 18 && spread[2] >= 18, "{spread:?}");
    backends[0].release();
    for call in calls {
        bounded("a held call", call).await.unwrap().expect("every call succeeds once released");
    }
}

#[tokio::test]
async fn a_backend_killed_mid_load_loses_no_call_and_the_rest_take_its_share() {
    let mut backends = [Backend::start(2).await, Backend::start(3).await, Backend::start(4).await];
    let channel = channel(&backends, &config()).await;
    eventually("a connection to every backend", || channel.connected_addresses().len() == 3).await;
    let client = EchoClient::new(channel.clone());
    let workers = |n: usize| {
        let client = client.clone();
        async move {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        for _ in 0..n {
                            client.unary(hello()).await?;
                        }
                        Ok::<_, rsgrpc::Status>(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().expect("no call fails: UNAVAILABLE ones are retried elsewhere");
            }
        }
    };
    let load = tokio::spawn(bounded("the load", workers(50)));
    eventually("the load is under way", || counts(&backends).iter().sum::<usize>() >= 40).await;
    backends[1].kill();
    let at_kill = counts(&backends);
    load.await.unwrap();
    let after = counts(&backends);
    // A call the dying server had read just before the kill may still start its handler (one per worker).
    assert!(after[1] <= at_kill[1] + 4, "a killed backend takes no calls: {at_kill:?} -> {after:?}");
    // Every call reached a backend at least once (retried ones may have reached the killed one first).
    assert!(after.iter().sum::<usize>() >= 200, "{after:?}");
    assert!(after[0] - at_kill[0] >= 30 && after[2] - at_kill[2] >= 30, "{at_kill:?} -> {after:?}");
    eventually("the killed backend's connection is dropped", || channel.connected_addresses().len() == 2).await;
    bounded("calls after the kill", workers(5)).await;
}
