//! `ring_hash_experimental` with the key in a request header (gRFC A76): each key sticks to one backend;
//! when its backend is killed the key moves on to one other backend and sticks there, and keys of the
//! surviving backends stay where they were.

use std::collections::{BTreeMap, BTreeSet};

use rsgrpc::Request;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;

use super::backends::{bounded, channel, counts, eventually, hello, Backend, RETRY_UNAVAILABLE};

const CALLS_PER_KEY: usize = 5;

fn config() -> String {
    format!(
        r#"{{"loadBalancingConfig": [{{"ring_hash_experimental": {{"requestHashHeader": "x-user"}}}}],
            "methodConfig": [{RETRY_UNAVAILABLE}]}}"#
    )
}

/// Makes `CALLS_PER_KEY` calls for each key, one after another, and returns the backend each key's calls
/// went to, failing if a key's calls went to more than one.
async fn owners(client: &EchoClient, backends: &[Backend], keys: &[String]) -> BTreeMap<String, usize> {
    let mut owners = BTreeMap::new();
    for key in keys {
        let before = counts(backends);
        for _ in 0..CALLS_PER_KEY {
            client.unary(Request::new(hello()).with_metadata("x-user", key)).await.expect("the call succeeds");
        }
        let after = counts(backends);
        let moved: Vec<(usize, usize)> =
            after.iter().zip(&before).enumerate().filter(|(_, (a, b))| a > b).map(|(i, (a, b))| (i, a - b)).collect();
        assert_eq!(moved.len(), 1, "the calls of {key} went to more than one backend: {before:?} -> {after:?}");
        assert_eq!(moved[0].1, CALLS_PER_KEY, "{key}: {before:?} -> {after:?}");
        owners.insert(key.clone(), moved[0].0);
    }
    owners
}

#[tokio::test]
async fn each_key_sticks_to_one_backend_and_moves_on_only_when_its_backend_is_killed() {
    let mut backends =
        [Backend::start(2).await, Backend::start(3).await, Backend::start(4).await, Backend::start(5).await];
    let channel = channel(&backends, &config()).await;
    let client = EchoClient::new(channel.clone());
    let keys: Vec<String> = (0..24).map(|i| format!("user-{i}")).collect();
    let first = bounded("the first round", owners(&client, &backends, &keys)).await;
    let used: BTreeSet<usize> = first.values().copied().collect();
    // 24 keys over 4 equal shares of the ring: all four used, all but surely.
    assert!(used.len() >= 3, "keys landed on {used:?} only");
    let again = bounded("the second round", owners(&client, &backends, &keys)).await;
    assert_eq!(again, first, "a key changed backends while none changed");

    // Kill the backend with the most keys; its keys must find another, the others must not move.
    let victim = (0..backends.len()).max_by_key(|b| first.values().filter(|o| *o == b).count()).unwrap();
    let victim_addr = backends[victim].addr;
    backends[victim].kill();
    eventually("the killed backend's connection is dropped", || {
        !channel.connected_addresses().iter().any(|a| a.to_string() == victim_addr.to_string())
    })
    .await;
    let after = bounded("the round after the kill", owners(&client, &backends, &keys)).await;
    for (key, owner) in &first {
        if *owner == victim {
            assert_ne!(after[key], victim, "{key} still went to the killed backend");
        } else {
            assert_eq!(after[key], *owner, "{key} moved although its backend is up");
        }
    }
    let again = bounded("the round after that", owners(&client, &backends, &keys)).await;
    assert_eq!(again, after, "a key that moved does not stick to its new backend");
}

#[tokio::test]
async fn calls_without_the_key_spread_over_the_backends() {
    let backends = [Backend::start(2).await, Backend::start(3).await, Backend::start(4).await];
    let client = EchoClient::new(channel(&backends, &config()).await);
    for _ in 0..60 {
        bounded("a call", client.unary(hello())).await.expect("the call succeeds");
    }
    let spread = counts(&backends);
    // A random hash per call: about 20 each; 5 or fewer would be a broken draw.
    assert!(spread.iter().all(|&n| n > 5), "{spread:?}");
}
