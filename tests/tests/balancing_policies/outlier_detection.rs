//! `outlier_detection_experimental` around round_robin: a backend whose calls fail is ejected (gets no
//! calls) by the failure-percentage rule and by the success-rate rule, and gets calls again once its
//! ejection time passed.

use rsgrpc::client::Channel;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;

use super::backends::{bounded, channel, counts, eventually, hello, Backend};

/// Judged every 50 ms; ejected for 2 s the first time (the calls checked meanwhile take milliseconds).
fn config(rule: &str) -> String {
    format!(
        r#"{{"loadBalancingConfig": [{{"outlier_detection_experimental": {{
            "interval": "0.05s", "baseEjectionTime": "2s", "maxEjectionPercent": 50, {rule},
            "childPolicy": [{{"round_robin": {{}}}}]}}}}]}}"#
    )
}

/// Calls until the channel leaves one backend out, counting the failures (the broken backend's answers).
async fn until_ejected(client: &EchoClient, channel: &Channel, backends: usize) -> usize {
    let mut failures = 0;
    bounded("the ejection", async {
        while channel.connected_addresses().len() == backends {
            if client.unary(hello()).await.is_err() {
                failures += 1;
            }
        }
    })
    .await;
    failures
}

async fn ejected_then_back(backends: &[Backend], broken: usize, rule: &str) {
    let channel = channel(backends, &config(rule)).await;
    eventually("a connection to every backend", || channel.connected_addresses().len() == backends.len()).await;
    let client = EchoClient::new(channel.clone());
    let failures = until_ejected(&client, &channel, backends.len()).await;
    assert!(failures > 0, "ejected before it failed a call");
    assert!(!channel.connected_addresses().iter().any(|a| a.to_string() == backends[broken].addr.to_string()));

    // Ejected: every call goes elsewhere and succeeds.
    let before = counts(backends);
    for i in 0..40 {
        bounded("a call", client.unary(hello())).await.unwrap_or_else(|s| panic!("call {i} failed: {s}"));
    }
    let after = counts(backends);
    assert_eq!(after[broken], before[broken], "the ejected backend got calls: {before:?} -> {after:?}");

    // Once the ejection time passed it is let back in and gets calls again.
    eventually("the ejected backend is let back in", || channel.connected_addresses().len() == backends.len()).await;
    let before = counts(backends);
    for _ in 0..(2 * backends.len()) {
        let _ = bounded("a call", client.unary(hello())).await;
    }
    assert!(counts(backends)[broken] > before[broken], "the backend let back in got no call");
}

#[tokio::test]
async fn failure_percentage_ejects_a_failing_backend_until_its_time_is_up() {
    let backends = [Backend::start(2).await, Backend::start_failing(3).await, Backend::start(4).await];
    let rule = r#""failurePercentageEjection": {"threshold": 50, "minimumHosts": 3, "requestVolume": 3}"#;
    ejected_then_back(&backends, 1, rule).await;
}

#[tokio::test]
async fn success_rate_ejects_the_backend_far_below_the_others() {
    let backends = [
        Backend::start(2).await,
        Backend::start(3).await,
        Backend::start(4).await,
        Backend::start_failing(5).await,
        Backend::start(6).await,
    ];
    let rule = r#""successRateEjection": {"stdevFactor": 1000, "minimumHosts": 5, "requestVolume": 2}"#;
    ejected_then_back(&backends, 3, rule).await;
}
