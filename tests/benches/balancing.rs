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

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rsgrpc::client::Channel;
use rsgrpc_tests::gen::bench::bench_client::BenchClient;
use rsgrpc_tests::gen::bench::bench_server::{Bench, BenchServer};
use rsgrpc_tests::gen::bench::Payload;

const BACKENDS: u8 = 10;
const IN_FLIGHT: usize = 16;

/// The policies measured, by name and service config.
const POLICIES: &[(&str, &str)] = &[
    ("round_robin", r#"{"loadBalancingConfig": [{"round_robin": {}}]}"#),
    ("pick_first", r#"{"loadBalancingConfig": [{"pick_first": {}}]}"#),
    ("least_request", r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 2}}]}"#),
    ("ring_hash", r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"requestHashHeader": "x-key"}}]}"#),
    (
        "outlier_detection(round_robin)",
        r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"interval": "1s",
            "failurePercentageEjection": {}, "successRateEjection": {}, "childPolicy": [{"round_robin": {}}]}}]}"#,
    ),
    (
        "round_robin + health checking",
        r#"{"loadBalancingConfig": [{"round_robin": {}}], "healthCheckConfig": {"serviceName": ""}}"#,
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
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("servers' addresses");
    let target = format!("ipv4:{}", line.trim());
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); POLICIES.len()];
    for run in 0..runs {
        for (i, (name, config)) in POLICIES.iter().enumerate() {
            let (calls, cpu_us) = measure(&target, config, seconds);
            eprintln!("run {run} {name}: {calls} calls, {:.2} us CPU per call", cpu_us / calls as f64);
            samples[i].push(cpu_us / calls as f64);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let medians: Vec<f64> = samples.into_iter().map(median).collect();
    println!("| policy (10 backends) | client CPU per call (us) | vs round_robin |");
    println!("|---|---:|---:|");
    for ((name, _), median) in POLICIES.iter().zip(&medians) {
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

struct Echo;

impl Bench for Echo {
    async fn unary(&self, request: rsgrpc::Request<Payload>) -> Result<rsgrpc::Response<Payload>, rsgrpc::Status> {
        Ok(rsgrpc::Response::new(request.into_inner()))
    }

    async fn stream(
        &self,
        request: rsgrpc::Request<rsgrpc::Streaming<Payload>>,
    ) -> Result<rsgrpc::Response<rsgrpc::server::BoxStream<Payload>>, rsgrpc::Status> {
        Ok(rsgrpc::Response::new(Box::pin(request.into_inner())))
    }
}

/// The backends, each with the health service (SERVING), until killed; prints their addresses.
fn servers() {
    one_worker_runtime().block_on(async {
        let mut addresses = Vec::new();
        for host in 2..2 + BACKENDS {
            let listener = tokio::net::TcpListener::bind(("127.0.0.".to_owned() + &host.to_string(), 0)).await.unwrap();
            addresses.push(listener.local_addr().unwrap().to_string());
            let (_, health) = rsgrpc::health::health_service();
            let server =
                rsgrpc::server::Server::builder().add_service(BenchServer::new(Echo)).add_service(health).build();
            tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));
        }
        println!("{}", addresses.join(","));
        std::future::pending::<()>().await
    });
}

fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime")
}

/// Calls made and client CPU time (us) in a window of `seconds` after a second of warm-up.
fn measure(target: &str, config: &str, seconds: u64) -> (u64, f64) {
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
        (calls_after - calls_before, cpu_after - cpu_before)
    })
}

/// utime + stime of this process, in microseconds (from clock ticks of 10 ms).
fn cpu_time_us() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("proc stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks * 1e6 / 100.0
}
