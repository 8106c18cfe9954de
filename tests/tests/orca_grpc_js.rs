//! ORCA (gRFC A51) and weighted_round_robin (gRFC A58) checked against an independent implementation:
//! grpc-js 1.14.7 (tests/js/orca_peer.js, installed by tests/env/setup.sh), the one peer of ours that has
//! both (grpcio for Python has neither). Both ways:
//! - grpc-js servers report their load, per call (the `endpoint-load-metrics-bin` trailer) or out of
//!   band (`OpenRcaService`); our client decodes the reports exactly and weighs the backends by them;
//! - our servers report theirs, and grpc-js's weighted_round_robin client weighs them by our reports.
//!
//! grpc-js weighs by `application_utilization` only (it does not fall back to the CPU's, as A58 says), so
//! every backend here reports both, equal.

#[path = "balancing_policies/backends.rs"]
#[allow(dead_code)]
mod backends;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rsgrpc::client::Channel;
use rsgrpc::orca::ServerMetricRecorder;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use serde_json::{json, Value};

use backends::{bounded, eventually, hello, Backend};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `node orca_peer.js <mode> <args>`, through the test environment's node.
fn peer(mode: &str, args: &Value) -> Command {
    let env =
        std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"));
    let node = env.join("bin/node");
    assert!(node.exists(), "{} is missing: run `bash tests/env/setup.sh`", node.display());
    let mut command = Command::new(node);
    command.arg(workspace().join("tests/js/orca_peer.js")).arg(mode).arg(args.to_string());
    command
}

/// grpc-js servers, one per backend, until dropped.
struct JsServers {
    child: Child,
    ports: Vec<u16>,
}

impl JsServers {
    fn start(backends: Value, per_call: bool, oob: bool) -> JsServers {
        let args = json!({"backends": backends, "per_call": per_call, "oob": oob});
        // stdin stays a pipe: the peer exits when it closes (when the test drops the child).
        let mut child = peer("server", &args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the peer's ports");
        let answer: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let ports = answer["ports"].as_array().expect("ports").iter().map(|p| p.as_u64().unwrap() as u16).collect();
        JsServers { child, ports }
    }

    fn target(&self) -> String {
        let addresses: Vec<String> = self.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("ipv4:{}", addresses.join(","))
    }
}

impl Drop for JsServers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Backends at utilizations 0.1, 0.2 and 0.4 and 100 queries per second: weights 4 : 2 : 1.
fn three_backends() -> Value {
    json!([
        {"cpu": 0.1, "app": 0.1, "qps": 100, "eps": 0, "named": {"k": 1}},
        {"cpu": 0.2, "app": 0.2, "qps": 100, "eps": 0},
        {"cpu": 0.4, "app": 0.4, "qps": 100, "eps": 0},
    ])
}

/// Whether `got` is within `percent` of `expected`, backend by backend.
fn near(got: &[usize], expected: &[usize], percent: usize) -> bool {
    got.iter().zip(expected).all(|(got, expected)| got.abs_diff(*expected) * 100 <= expected * percent)
}

/// How many of `n` calls each grpc-js backend answered (it answers its index).
async fn spread(client: &EchoClient, n: usize) -> Vec<usize> {
    let mut counts = vec![0; 3];
    for _ in 0..n {
        let response = client.unary(hello()).await.expect("every call succeeds");
        counts[response.get_ref().message.parse::<usize>().expect("the backend's index")] += 1;
    }
    counts
}

async fn our_client_weighs(servers: &JsServers, oob: bool, calls: usize) {
    let config = format!(
        r#"{{"loadBalancingConfig": [{{"weighted_round_robin": {{"enableOobLoadReport": {oob},
            "oobReportingPeriod": "0.05s", "blackoutPeriod": "0.1s", "weightUpdatePeriod": "0.1s"}}}}]}}"#
    );
    let channel = Channel::builder(&servers.target()).unwrap().default_service_config(&config).unwrap();
    let channel = channel.connect().await.unwrap();
    eventually("a connection to every backend", || channel.connected_addresses().len() == 3).await;
    let client = EchoClient::new(channel);
    let learnt = async {
        loop {
            let got = spread(&client, 70).await;
            if near(&got, &[40, 20, 10], 20) {
                return;
            }
        }
    };
    bounded("learning the weights", learnt).await;
    let expected: Vec<usize> = [4, 2, 1].iter().map(|share| share * calls / 7).collect();
    let measured = bounded("the measured calls", spread(&client, calls)).await;
    assert!(near(&measured, &expected, 15), "{calls} calls at grpc-js's weights 4:2:1 went {measured:?}");
}

#[tokio::test]
async fn grpc_js_per_call_reports_decode_exactly_and_weigh_its_backends() {
    let servers = JsServers::start(three_backends(), true, false);
    // One call to the first backend alone: its trailer, field by field.
    let single = Channel::builder(&format!("http://127.0.0.1:{}", servers.ports[0])).unwrap().connect().await.unwrap();
    let response = EchoClient::new(single).unary(hello()).await.unwrap();
    let report = rsgrpc::orca::load_report(response.trailers()).expect("grpc-js sent endpoint-load-metrics-bin");
    assert_eq!((report.cpu_utilization, report.application_utilization), (0.1, 0.1));
    assert_eq!((report.rps_fractional, report.eps), (100.0, 0.0));
    assert_eq!(report.request_cost.get("cost"), Some(&1.5));
    assert_eq!(report.named_metrics.get("k"), Some(&1.0));
    // grpc-js serializes a report per call slowly (about 10 ms): fewer calls than the OOB test.
    our_client_weighs(&servers, false, 350).await;
}

#[tokio::test]
async fn grpc_js_out_of_band_reports_weigh_its_backends() {
    // No per-call trailers: the weights can only come from grpc-js's OpenRcaService.
    let servers = JsServers::start(three_backends(), false, true);
    our_client_weighs(&servers, true, 700).await;
}

/// Our backends at the utilizations of [`three_backends`], reporting per call or out of band.
async fn our_backends(per_call: bool) -> (Vec<Backend>, Vec<ServerMetricRecorder>) {
    let mut backends = Vec::new();
    let mut loads = Vec::new();
    for (i, utilization) in [0.1, 0.2, 0.4].into_iter().enumerate() {
        let load = ServerMetricRecorder::new();
        load.set_cpu_utilization(utilization);
        load.set_application_utilization(utilization);
        load.set_qps(100.0);
        backends.push(Backend::start_reporting(2 + i as u8, &load, per_call).await);
        loads.push(load);
    }
    (backends, loads)
}

/// grpc-js's weighted_round_robin client over `backends` (its config in grpc-js's snake_case names): how
/// many of `calls` each backend answered, after a warm-up that outlasts the blackout.
async fn grpc_js_client(backends: &[Backend], settings: Value, calls: usize) -> Vec<usize> {
    let addresses: Vec<String> = backends.iter().map(|b| b.addr.to_string()).collect();
    let args = json!({
        "target": format!("ipv4:{}", addresses.join(",")),
        "config": {"loadBalancingConfig": [{"weighted_round_robin": settings}]},
        "calls": calls,
        "warmup_ms": 1500,
    });
    let mut command = tokio::process::Command::from(peer("client", &args));
    let output = tokio::time::timeout(Duration::from_secs(60), command.stdin(Stdio::null()).output())
        .await
        .expect("the grpc-js client hung")
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "grpc-js client failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout:?}"));
    assert_eq!(answer["errors"], 0, "{answer}");
    let counts: BTreeMap<String, usize> = serde_json::from_value(answer["counts"].clone()).unwrap();
    // Each backend answers its host number, the last byte of its 127.0.0.x address.
    let host = |backend: &Backend| match backend.addr.ip() {
        std::net::IpAddr::V4(ip) => ip.octets()[3].to_string(),
        std::net::IpAddr::V6(ip) => ip.to_string(),
    };
    backends.iter().map(|b| counts.get(&host(b)).copied().unwrap_or(0)).collect()
}

#[tokio::test]
async fn grpc_js_weighs_our_backends_by_our_per_call_reports() {
    let (backends, _loads) = our_backends(true).await;
    let settings = json!({"blackout_period": "0.2s", "weight_update_period": "0.1s"});
    // grpc-js parses each per-call report slowly: fewer calls.
    let got = grpc_js_client(&backends, settings, 350).await;
    assert!(near(&got, &[200, 100, 50], 20), "grpc-js spread 350 calls at our weights 4:2:1 as {got:?}");
}

#[tokio::test]
async fn grpc_js_weighs_our_backends_by_our_out_of_band_reports() {
    let (backends, _loads) = our_backends(false).await;
    let settings = json!({"enable_oob_load_report": true, "oob_load_reporting_period": "0.1s",
        "blackout_period": "0.2s", "weight_update_period": "0.1s"});
    let got = grpc_js_client(&backends, settings, 700).await;
    assert!(near(&got, &[400, 200, 100], 15), "grpc-js spread 700 calls at our weights 4:2:1 as {got:?}");
}
