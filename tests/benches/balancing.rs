//! Client CPU per call under each balancing policy, 10 backends, beside round_robin.
//!
//! `cargo bench -p rsgrpc-tests --bench balancing -- [--runs N] [--seconds S]`
//!
//! The 10 backends (rsgrpc servers of the bench proto's echo, on 127.0.0.2 to 127.0.0.11) run in a process
//! of their own pinned to CPU 0 (taskset, when there is one); the client runs in this process on a
//! one-worker tokio runtime, 16 calls in flight, each call carrying an `x-key` header (one of 1,000 keys,
//! which ring_hash hashes; the other policies ignore it). After a second of warm-up, this process's CPU
//! time (utime + stime from /proc/self/stat) over the window divided by the calls made is the client's
//! CPU per call. The policies alternate for N runs; the table gives medians and the ratio to round_robin.
//!
//! weighted_round_robin needs backends that report their load (ORCA), so the servers' process runs three
//! sets of 10 on the same addresses' other ports: the plain ones every other policy is measured against
//! (no load report, so their calls are as before), ones sending a per-call report in every call's
//! trailer (`orca::call_metrics` over backend i's CPU 0.1 + 0.05 i at 100 qps: weights 1000 down to 182),
//! and ones reporting the same load only out of band (the OpenRcaService, every second). Both
//! weighted_round_robin rows have no blackout and recompute weights every 0.5 s, so the weighted schedule
//! is in place before the window opens (at the default 1 s its first one would come as the warm-up
//! ends); after each of their windows the bench checks, from which backend answered 1,000 calls, that
//! calls followed the weights and not the round-robin fallback.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rsgrpc::client::Channel;
use rsgrpc::orca::{OrcaService, ServerMetricRecorder};
use rsgrpc_tests::gen::bench::bench_client::BenchClient;
use rsgrpc_tests::gen::bench::bench_server::{Bench, BenchServer};
use rsgrpc_tests::gen::bench::Payload;

const BACKENDS: u8 = 10;
const IN_FLIGHT: usize = 16;

/// The three sets of backends, in the order the servers' process prints their addresses.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backends {
    /// No load reports.
    Plain,
    /// A load report in every call's trailer.
    PerCall,
    /// Load reports on the out-of-band service only (at most every second).
    OutOfBand,
}

const SETS: [Backends; 3] = [Backends::Plain, Backends::PerCall, Backends::OutOfBand];

/// The policies measured: name, backends and service config.
const POLICIES: &[(&str, Backends, &str)] = &[
    ("round_robin", Backends::Plain, r#"{"loadBalancingConfig": [{"round_robin": {}}]}"#),
    ("pick_first", Backends::Plain, r#"{"loadBalancingConfig": [{"pick_first": {}}]}"#),
    (
        "least_request",
        Backends::Plain,
        r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 2}}]}"#,
    ),
    (
        "ring_hash",
        Backends::Plain,
        r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"requestHashHeader": "x-key"}}]}"#,
    ),
    (
        "outlier_detection(round_robin)",
        Backends::Plain,
        r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"interval": "1s",
            "failurePercentageEjection": {}, "successRateEjection": {}, "childPolicy": [{"round_robin": {}}]}}]}"#,
    ),
    (
        "round_robin + health checking",
        Backends::Plain,
        r#"{"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}}"#,
    ),
    (
        "weighted_round_robin (per-call reports)",
        Backends::PerCall,
        r#"{"loadBalancingConfig": [{"weighted_round_robin": {"blackoutPeriod": "0s",
            "weightUpdatePeriod": "0.5s"}}]}"#,
    ),
    (
        "weighted_round_robin (out-of-band reports)",
        Backends::OutOfBand,
        r#"{"loadBalancingConfig": [{"weighted_round_robin": {"enableOobLoadReport": true,
            "oobReportingPeriod": "1s", "blackoutPeriod": "0s", "weightUpdatePeriod": "0.5s"}}]}"#,
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("servers") {
        return servers();
    }
    let value = |name: &str, default: u64| {
        args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().unwrap())
    };
    let (runs, seconds) = (value("--runs", 3), value("--seconds", 2));
    let mut child = servers_process();
    let stdout = child.stdout.take().expect("servers' stdout");
    let mut stdout = BufReader::new(stdout);
    let targets: Vec<String> = SETS
        .iter()
        .map(|_| {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("servers' addresses");
            format!("ipv4:{}", line.trim())
        })
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); POLICIES.len()];
    for run in 0..runs {
        for (i, (name, backends, config)) in POLICIES.iter().enumerate() {
            let target = &targets[SETS.iter().position(|set| set == backends).expect("a set")];
            let (calls, cpu_us, spread) = measure(target, config, seconds, *backends != Backends::Plain);
            eprintln!("run {run} {name}: {calls} calls, {:.2} us CPU per call", cpu_us / calls as f64);
            if let Some(spread) = spread {
                eprintln!("  then 1000 calls per backend: {spread:?}");
            }
            samples[i].push(cpu_us / calls as f64);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let medians: Vec<f64> = samples.into_iter().map(median).collect();
    println!("| policy (10 backends) | client CPU per call (us) | vs round_robin |");
    println!("|---|---:|---:|");
    for ((name, _, _), median) in POLICIES.iter().zip(&medians) {
        println!("| {name} | {median:.2} | {:.2}x |", median / medians[0]);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn servers_process() -> std::process::Child {
    let exe = std::env::current_exe().expect("this bench");
    let pinned = Command::new("taskset").args(["-c", "0"]).arg(&exe).arg("servers").stdout(Stdio::piped()).spawn();
    pinned.or_else(|_| Command::new(&exe).arg("servers").stdout(Stdio::piped()).spawn()).expect("the servers' process")
}

/// The echo; a reporting backend writes its index over the payload's first byte (the size stays the
/// same), so the client can tell which backend answered.
struct Echo {
    index: Option<u8>,
}

impl Bench for Echo {
    async fn unary(&self, request: rsgrpc::Request<Payload>) -> Result<rsgrpc::Response<Payload>, rsgrpc::Status> {
        let mut payload = request.into_inner();
        if let (Some(index), Some(first)) = (self.index, payload.body.first_mut()) {
            *first = index;
        }
        Ok(rsgrpc::Response::new(payload))
    }

    async fn stream(
        &self,
        request: rsgrpc::Request<rsgrpc::Streaming<Payload>>,
    ) -> Result<rsgrpc::Response<rsgrpc::server::BoxStream<Payload>>, rsgrpc::Status> {
        Ok(rsgrpc::Response::new(Box::pin(request.into_inner())))
    }
}

/// The three sets of backends, each with the health service (SERVING), until killed; prints each set's
/// addresses on a line.
fn servers() {
    one_worker_runtime().block_on(async {
        for set in SETS {
            let mut addresses = Vec::new();
            for index in 0..BACKENDS {
                let host = format!("127.0.0.{}", 2 + index);
                let listener = tokio::net::TcpListener::bind((host, 0)).await.unwrap();
                addresses.push(listener.local_addr().unwrap().to_string());
                let (_, health) = rsgrpc::health::health_service();
                let load = ServerMetricRecorder::new();
                load.set_cpu_utilization(0.1 + 0.05 * f64::from(index));
                load.set_qps(100.0);
                let reporting = (set != Backends::Plain).then_some(index);
                let mut builder =
                    rsgrpc::server::Server::builder().add_service(BenchServer::new(Echo { index: reporting }));
                builder = builder.add_service(health);
                match set {
                    Backends::Plain => {}
                    Backends::PerCall => {
                        builder = builder.interceptor(rsgrpc::orca::call_metrics().with_server_metrics(load));
                    }
                    Backends::OutOfBand => {
                        // The client asks for a report every second; the service's own minimum is 30 s.
                        let service = OrcaService::new(load).min_report_interval(Duration::from_secs(1));
                        builder = builder.add_service(service.into_server());
                    }
                }
                tokio::spawn(builder.build().serve_with_shutdown(listener, std::future::pending()));
            }
            println!("{}", addresses.join(","));
        }
        std::future::pending::<()>().await
    });
}

fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime")
}

/// Calls made and client CPU time (us) in a window of `seconds` after a second of warm-up; with
/// `weighted`, then where 1,000 more calls went, checked to follow the reporting backends' weights.
fn measure(target: &str, config: &str, seconds: u64, weighted: bool) -> (u64, f64, Option<Vec<u32>>) {
    one_worker_runtime().block_on(async {
        let builder = Channel::builder(target).unwrap().default_service_config(config).unwrap();
        let channel = builder.connect().await.expect("a channel to the backends");
        let client = BenchClient::new(channel);
        let calls = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..IN_FLIGHT)
            .map(|worker| {
                let (client, calls, stop) = (client.clone(), calls.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut key = worker * 61;
                    while !stop.load(Ordering::Relaxed) {
                        key = (key + 1) % 1000;
                        let request = rsgrpc::Request::new(Payload { body: vec![7; 16], ..Default::default() })
                            .with_metadata("x-key", &key.to_string());
                        client.unary(request).await.expect("a call");
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (calls_before, cpu_before) = (calls.load(Ordering::Relaxed), cpu_time_us());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let (calls_after, cpu_after) = (calls.load(Ordering::Relaxed), cpu_time_us());
        stop.store(true, Ordering::Relaxed);
        for worker in workers {
            let _ = worker.await;
        }
        let spread = if weighted { Some(check_weighted(&client).await) } else { None };
        (calls_after - calls_before, cpu_after - cpu_before, spread)
    })
}

/// Where 1,000 calls went; panics unless they went by the weights (backend i at CPU 0.1 + 0.05 i: the
/// first gets about 5.5 times the last), not round robin: a bench of the fallback says nothing of the
/// weighted pick.
async fn check_weighted(client: &BenchClient) -> Vec<u32> {
    let mut answered = vec![0u32; usize::from(BACKENDS)];
    for _ in 0..1000 {
        let reply = client.unary(Payload { body: vec![7; 16], ..Default::default() }).await.expect("a call");
        answered[usize::from(reply.into_inner().body[0])] += 1;
    }
    assert!(answered[0] > 3 * answered[9], "not weighted: {answered:?}");
    answered
}

/// utime + stime of this process, in microseconds (from clock ticks of 10 ms).
fn cpu_time_us() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("proc stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks * 1e6 / 100.0
}
