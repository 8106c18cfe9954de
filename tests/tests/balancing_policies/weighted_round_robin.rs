//! `weighted_round_robin` (gRFC A58) over backends reporting their load with ORCA (gRFC A51): calls
//! follow the weights (queries per second over utilization) learnt from the trailers or from the
//! out-of-band stream, a change in a backend's load moves its share, backends that report nothing get
//! round robin, and a backend killed mid-load loses no call.

use std::time::Duration;

use rsgrpc::orca::ServerMetricRecorder;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;

use super::backends::{bounded, channel, counts, eventually, hello, Backend, RETRY_UNAVAILABLE};

fn config(oob: bool) -> String {
    format!(
        r#"{{"loadBalancingConfig": [{{"weighted_round_robin": {{"enableOobLoadReport": {oob},
            "oobReportingPeriod": "0.02s", "blackoutPeriod": "0.1s", "weightUpdatePeriod": "0.1s"}}}}],
            "methodConfig": [{RETRY_UNAVAILABLE}]}}"#
    )
}

/// A backend's load: `qps` queries per second at `cpu` utilization.
fn load(cpu: f64, qps: f64) -> ServerMetricRecorder {
    let recorder = ServerMetricRecorder::new();
    recorder.set_cpu_utilization(cpu);
    recorder.set_qps(qps);
    recorder
}

/// The calls each backend got out of `n` sent one after another.
async fn spread(client: &EchoClient, backends: &[Backend], n: usize) -> Vec<usize> {
    let before = counts(backends);
    for _ in 0..n {
        client.unary(hello()).await.expect("every call succeeds");
    }
    counts(backends).iter().zip(before).map(|(after, before)| after - before).collect()
}

/// Whether `got` is within 15% of `expected`, backend by backend.
fn near(got: &[usize], expected: &[usize]) -> bool {
    got.iter().zip(expected).all(|(got, expected)| got.abs_diff(*expected) * 100 <= expected * 15)
}

/// Sends calls until the spread over `n` of them is near `expected` (the weights are learnt and past the
/// blackout period), within 10 s.
async fn until_spread(client: &EchoClient, backends: &[Backend], n: usize, expected: &[usize]) -> Vec<usize> {
    let started = std::time::Instant::now();
    loop {
        let got = spread(client, backends, n).await;
        if near(&got, expected) {
            return got;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the spread never came near {expected:?}: {got:?}");
    }
}

async fn weighted_by(oob: bool) {
    let loads = [load(0.1, 100.0), load(0.2, 100.0), load(0.4, 100.0)];
    let mut backends = Vec::new();
    for (i, load) in loads.iter().enumerate() {
        backends.push(Backend::start_reporting(2 + i as u8, load, !oob).await);
    }
    let channel = channel(&backends, &config(oob)).await;
    eventually("a connection to every backend", || channel.connected_addresses().len() == 3).await;
    let client = EchoClient::new(channel);
    // Weights 1000, 500 and 250: 4 : 2 : 1.
    bounded("learning the weights", until_spread(&client, &backends, 70, &[40, 20, 10])).await;
    let measured = bounded("the measured calls", spread(&client, &backends, 700)).await;
    assert!(near(&measured, &[400, 200, 100]), "700 calls at weights 4:2:1 went {measured:?}");

    // The first backend gets busy (cpu 0.4: weight 250) and the last one idle (0.1: 1000): 1 : 2 : 4.
    loads[0].set_cpu_utilization(0.4);
    loads[2].set_cpu_utilization(0.1);
    bounded("following the new load", until_spread(&client, &backends, 70, &[10, 20, 40])).await;
}

#[tokio::test]
async fn calls_follow_the_weights_of_the_per_call_reports_and_their_changes() {
    weighted_by(false).await;
}

#[tokio::test]
async fn calls_follow_the_weights_of_the_out_of_band_reports_and_their_changes() {
    weighted_by(true).await;
}

#[tokio::test]
async fn backends_that_report_nothing_get_round_robin() {
    let backends = [Backend::start(2).await, Backend::start(3).await, Backend::start(4).await];
    let channel = channel(&backends, &config(false)).await;
    eventually("a connection to every backend", || channel.connected_addresses().len() == 3).await;
    let client = EchoClient::new(channel);
    // Longer than the blackout and several weight updates: still nothing to weigh.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = bounded("the calls", spread(&client, &backends, 300)).await;
    assert_eq!(got, [100, 100, 100], "round robin, exactly");
}

#[tokio::test]
async fn a_weighted_backend_killed_mid_load_loses_no_call() {
    let loads = [load(0.1, 100.0), load(0.2, 100.0), load(0.2, 100.0)];
    let mut backends = Vec::new();
    for (i, load) in loads.iter().enumerate() {
        backends.push(Backend::start_reporting(2 + i as u8, load, true).await);
    }
    let channel = channel(&backends, &config(false)).await;
    eventually("a connection to every backend", || channel.connected_addresses().len() == 3).await;
    let client = EchoClient::new(channel.clone());
    bounded("learning the weights", until_spread(&client, &backends, 80, &[40, 20, 20])).await;
    let load = {
        let client = client.clone();
        tokio::spawn(bounded("the load", async move {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        for _ in 0..100 {
                            client.unary(hello()).await?;
                        }
                        Ok::<_, rsgrpc::Status>(())
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap().expect("no call fails: UNAVAILABLE ones are retried elsewhere");
            }
        }))
    };
    let start = counts(&backends).iter().sum::<usize>();
    eventually("the load is under way", || counts(&backends).iter().sum::<usize>() >= start + 60).await;
    // The heaviest backend goes: its share must move to the others.
    backends[0].kill();
    let at_kill = counts(&backends);
    load.await.unwrap();
    let after = counts(&backends);
    assert!(after[0] <= at_kill[0] + 4, "a killed backend takes no calls: {at_kill:?} -> {after:?}");
    assert!(after[1] - at_kill[1] >= 50 && after[2] - at_kill[2] >= 50, "{at_kill:?} -> {after:?}");
    eventually("the killed backend's connection is dropped", || channel.connected_addresses().len() == 2).await;
    // With one backend gone the other two weigh the same: an even spread.
    let got = bounded("calls after the kill", spread(&client, &backends, 200)).await;
    assert!(got[0] == 0 && near(&got[1..], &[100, 100]), "{got:?}");
}
