//! rsgrpc's server against tonic's, side by side, on the same proto and payloads, driven by the same load
//! generator (a raw h2 client with pre-encoded requests, so neither side's client code is measured).
//!
//! `cargo bench -p rsgrpc-tests --features bench --bench grpc -- [--runs N] [--seconds S]`
//!
//! Each server runs in its own process pinned to CPU 0 (taskset) with a one-worker multi-thread tokio
//! runtime; the load generator runs pinned to CPU 1. For each payload size and connections x streams, the two
//! servers alternate for N runs; the table gives medians of requests/s, server CPU time per request (from
//! /proc/<pid>/stat), p50/p99 latency and peak RSS, and the rsgrpc/tonic ratios.
//!
//! `-- --cases unary,stream,client` picks the cases (all three by default; `--quick` runs only the unary
//! cases the issue-12 targets name: small at 10x10 and 50x20, 256 KiB at 10x10):
//! - `unary`: the table above;
//! - `stream`: one bidirectional stream per connection x stream slot, small messages sent with up to 64 in
//!   flight and echoed one by one; messages per second and server CPU per message;
//! - `client`: rsgrpc's and tonic's generated clients calling the same (rsgrpc) server, each client in its
//!   own process pinned to CPU 1 with a one-worker runtime: client CPU per call, calls per second.
//!
//! - `observe`: rsgrpc's server with tracing and metrics off, with a tracing subscriber listening to its
//!   spans, with A66 metrics into an OpenTelemetry SDK, and with both (small unary calls at 1x1 and 10x10).
//!
//! `-- --instructions [--calls M]` instead counts the instructions a server spends per small unary call,
//! under `valgrind --tool=callgrind` (repeatable, unlike time on a shared machine): each server serves N and
//! then N + M calls in two runs (one connection, one call at a time), and the difference over M is per call,
//! with start-up and shutdown cancelled out. `--instructions --observe` counts rsgrpc's server with
//! tracing and metrics off and on instead of tonic's.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;

mod tonic_bench {
    tonic::include_proto!("bench");
}

const PATH: &str = "/bench.Bench/Unary";
/// Flow-control windows of both servers and the load generator.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 4 << 20;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    match args.first().map(String::as_str) {
        Some("server") => serve(&args[1]),
        Some("server-until-eof") => {
            // Exits when its standard input closes, so that callgrind writes its counts.
            std::thread::spawn(|| {
                let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
                std::process::exit(0);
            });
            serve(&args[1])
        }
        Some("load") => load(&args[1..]),
        Some("load-count") => load(&args[1..]),
        Some("stream-load") => stream_load(&args[1..]),
        Some("client-load") => client_load(&args[1..]),
        _ => drive(&args),
    }
}

// ------------------------------------------------------------------------------------------------ servers

fn one_worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime")
}

fn serve(implementation: &str) {
    one_worker_runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("{}", listener.local_addr().expect("address").port());
        match implementation {
            "rsgrpc" => serve_rsgrpc(listener, None).await,
            "rsgrpc-tracing" => {
                observe::listen_to_spans();
                serve_rsgrpc(listener, None).await
            }
            "rsgrpc-metrics" => serve_rsgrpc(listener, Some(observe::meter_provider())).await,
            "rsgrpc-both" => {
                observe::listen_to_spans();
                serve_rsgrpc(listener, Some(observe::meter_provider())).await
            }
            "tonic" => serve_tonic(listener).await,
            other => panic!("unknown server {other}"),
        }
    });
}

struct RsgrpcBench;

impl rsgrpc_tests::gen::bench::bench_server::Bench for RsgrpcBench {
    async fn unary(
        &self,
        request: rsgrpc::Request<rsgrpc_tests::gen::bench::Payload>,
    ) -> Result<rsgrpc::Response<rsgrpc_tests::gen::bench::Payload>, rsgrpc::Status> {
        Ok(rsgrpc::Response::new(request.into_inner()))
    }

    async fn stream(
        &self,
        request: rsgrpc::Request<rsgrpc::Streaming<rsgrpc_tests::gen::bench::Payload>>,
    ) -> Result<rsgrpc::Response<rsgrpc::server::BoxStream<rsgrpc_tests::gen::bench::Payload>>, rsgrpc::Status> {
        Ok(rsgrpc::Response::new(Box::pin(request.into_inner())))
    }
}

async fn serve_rsgrpc(
    listener: tokio::net::TcpListener,
    metrics: Option<opentelemetry_sdk::metrics::SdkMeterProvider>,
) {
    let mut builder = rsgrpc::server::Server::builder()
        .add_service(rsgrpc_tests::gen::bench::bench_server::BenchServer::new(RsgrpcBench))
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_receive_message_size(16 << 20);
    if let Some(provider) = &metrics {
        builder = builder.meter_provider(provider);
    }
    let server = builder.build();
    server.serve_with_shutdown(listener, std::future::pending()).await.expect("rsgrpc server");
}

/// What the `observe` servers turn on: a subscriber taking rsgrpc's spans, an SDK aggregating its metrics.
mod observe {
    use std::sync::atomic::{AtomicU64, Ordering};

    use tracing_subscriber::layer::SubscriberExt;

    /// Counts the spans that close: the least a subscriber does, so what is measured is rsgrpc's side.
    struct Closed(AtomicU64);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Closed {
        fn enabled(&self, metadata: &tracing::Metadata<'_>, _: tracing_subscriber::layer::Context<'_, S>) -> bool {
            // INFO and above, as a service's filter usually is (h2's own spans are TRACE).
            *metadata.level() <= tracing::Level::INFO
        }
        fn on_close(&self, _: tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn listen_to_spans() {
        let subscriber = tracing_subscriber::registry().with(Closed(AtomicU64::new(0)));
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
    }

    /// An SDK provider aggregating for a reader that exports once an hour, so that no export falls in a
    /// measurement: what is measured is recording.
    pub(super) fn meter_provider() -> opentelemetry_sdk::metrics::SdkMeterProvider {
        let exporter = opentelemetry_sdk::metrics::InMemoryMetricExporter::default();
        let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
            .with_interval(std::time::Duration::from_secs(3600))
            .build();
        opentelemetry_sdk::metrics::SdkMeterProvider::builder().with_reader(reader).build()
    }
}

struct TonicBench;

#[tonic::async_trait]
impl tonic_bench::bench_server::Bench for TonicBench {
    async fn unary(
        &self,
        request: tonic::Request<tonic_bench::Payload>,
    ) -> Result<tonic::Response<tonic_bench::Payload>, tonic::Status> {
        Ok(tonic::Response::new(request.into_inner()))
    }

    type StreamStream =
        std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<tonic_bench::Payload, tonic::Status>> + Send>>;

    async fn stream(
        &self,
        request: tonic::Request<tonic::Streaming<tonic_bench::Payload>>,
    ) -> Result<tonic::Response<Self::StreamStream>, tonic::Status> {
        Ok(tonic::Response::new(Box::pin(request.into_inner())))
    }
}

async fn serve_tonic(listener: tokio::net::TcpListener) {
    let incoming = tokio_stream_from(listener);
    let service = tonic_bench::bench_server::BenchServer::new(TonicBench).max_decoding_message_size(16 << 20);
    tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .add_service(service)
        .serve_with_incoming(incoming)
        .await
        .expect("tonic server");
}

/// The listener as the stream of connections tonic takes.
fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures_util::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures_util::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| {
            let _ = stream.set_nodelay(true);
            stream
        });
        Some((accepted, listener))
    })
}

// --------------------------------------------------------------------------------------- load generator

/// `load PORT CONNECTIONS STREAMS SIZE SECONDS [CALLS]`: prints `requests errors p50_us p99_us seconds`.
/// With CALLS, stops after that many calls (or the seconds, whichever comes first).
fn load(args: &[String]) {
    let number = |i: usize| args[i].parse::<u64>().expect("numeric argument");
    let (port, connections, streams, size, seconds) = (number(0), number(1), number(2), number(3), number(4));
    let calls = args.get(5).map_or(u64::MAX, |_| number(5));
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(calls));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let (requests, errors, mut latencies, elapsed) = runtime.block_on(async move {
        let body = request_body(size as usize);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port as u16)).await.expect("connect");
            let _ = tcp.set_nodelay(true);
            let mut builder = h2::client::Builder::new();
            builder.initial_window_size(STREAM_WINDOW).initial_connection_window_size(CONNECTION_WINDOW);
            let (send, connection) = builder.handshake::<_, Bytes>(tcp).await.expect("handshake");
            tokio::spawn(async move {
                let _ = connection.await;
            });
            for _ in 0..streams {
                let budget = budget.clone();
                tasks.push(tokio::spawn(call_loop(send.clone(), body.clone(), port as u16, deadline, budget)));
            }
        }
        let (mut requests, mut errors, mut latencies) = (0u64, 0u64, Vec::new());
        for task in tasks {
            let (ok, failed, times) = task.await.expect("load task");
            requests += ok;
            errors += failed;
            latencies.extend(times);
        }
        (requests, errors, latencies, started.elapsed())
    });
    latencies.sort_unstable();
    let percentile = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0);
    println!("{requests} {errors} {} {} {:.3}", percentile(0.5), percentile(0.99), elapsed.as_secs_f64());
}

fn request_body(size: usize) -> Bytes {
    let message = rsgrpc_tests::gen::bench::Payload { body: vec![0x5a; size], ..Default::default() };
    rsgrpc::codec::encode(&message, usize::MAX).expect("encodes")
}

/// One stream's loop: call, wait for the whole response, record the latency in microseconds.
async fn call_loop(
    send: h2::client::SendRequest<Bytes>,
    body: Bytes,
    port: u16,
    deadline: Instant,
    budget: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> (u64, u64, Vec<u64>) {
    use std::sync::atomic::Ordering;
    let (mut ok, mut failed, mut times) = (0, 0, Vec::new());
    let uri: http::Uri = format!("http://127.0.0.1:{port}{PATH}").parse().expect("uri");
    let take = || budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(1)).is_ok();
    while Instant::now() < deadline && take() {
        let started = Instant::now();
        let request = http::Request::post(uri.clone())
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .expect("request");
        match one_call(send.clone(), request, body.clone()).await {
            true => {
                ok += 1;
                times.push(started.elapsed().as_micros() as u64);
            }
            false => failed += 1,
        }
    }
    (ok, failed, times)
}

async fn one_call(send: h2::client::SendRequest<Bytes>, request: http::Request<()>, body: Bytes) -> bool {
    let Ok(mut send) = send.ready().await else { return false };
    let Ok((response, mut stream)) = send.send_request(request, false) else { return false };
    if stream.send_data(body, true).is_err() {
        return false;
    }
    let Ok(response) = response.await else { return false };
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else { return false };
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    matches!(body.trailers().await, Ok(Some(trailers)) if trailers.get("grpc-status").is_some_and(|s| s == "0"))
}

// ------------------------------------------------------------------------------------------------ driver

/// One measured run of one server.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    requests_per_second: f64,
    cpu_us_per_request: f64,
    p50_us: f64,
    p99_us: f64,
    peak_rss_mib: f64,
    errors: u64,
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(implementation: &str) -> Server {
    let exe = std::env::current_exe().expect("own executable");
    let mut child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(exe)
        .args(["server", implementation])
        .stdout(Stdio::piped())
        .spawn()
        .expect("taskset runs the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("port line");
    Server { child, port: line.trim().parse().expect("port") }
}

/// utime + stime of a process, in microseconds (from clock ticks of 10 ms).
fn cpu_time_us(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks * 1e6 / 100.0
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run_load(port: u16, connections: u32, streams: u32, size: usize, seconds: u64) -> (u64, u64, f64, f64, f64) {
    let exe = std::env::current_exe().expect("own executable");
    let output = Command::new("taskset")
        .args(["-c", "1"])
        .arg(exe)
        .arg("load")
        .args([port.to_string(), connections.to_string(), streams.to_string(), size.to_string(), seconds.to_string()])
        .output()
        .expect("load generator runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let values: Vec<f64> = text.split_whitespace().map(|v| v.parse().expect("load output")).collect();
    assert_eq!(values.len(), 5, "load generator said {text:?} {}", String::from_utf8_lossy(&output.stderr));
    (values[0] as u64, values[1] as u64, values[2], values[3], values[4])
}

fn measure(implementation: &str, connections: u32, streams: u32, size: usize, seconds: u64) -> Sample {
    let server = start_server(implementation);
    let pid = server.child.id();
    // Warm-up: connections, allocator and caches.
    run_load(server.port, connections, streams, size, 1);
    let before = cpu_time_us(pid);
    let (requests, errors, p50, p99, elapsed) = run_load(server.port, connections, streams, size, seconds);
    let cpu = cpu_time_us(pid) - before;
    Sample {
        requests_per_second: requests as f64 / elapsed,
        cpu_us_per_request: cpu / requests.max(1) as f64,
        p50_us: p50,
        p99_us: p99,
        peak_rss_mib: peak_rss_mib(pid),
        errors,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn summarize(samples: &[Sample]) -> Sample {
    let pick = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
    Sample {
        requests_per_second: pick(|s| s.requests_per_second),
        cpu_us_per_request: pick(|s| s.cpu_us_per_request),
        p50_us: pick(|s| s.p50_us),
        p99_us: pick(|s| s.p99_us),
        peak_rss_mib: pick(|s| s.peak_rss_mib),
        errors: samples.iter().map(|s| s.errors).sum(),
    }
}

fn drive(args: &[String]) {
    let option = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("number"))
    };
    let (runs, seconds) = (option("--runs", 3), option("--seconds", 3));
    if args.iter().any(|a| a == "--instructions") {
        let servers: &[&str] = if args.iter().any(|a| a == "--observe") {
            &["rsgrpc", "rsgrpc-tracing", "rsgrpc-metrics", "rsgrpc-both"]
        } else {
            &["rsgrpc", "tonic"]
        };
        return instructions(option("--calls", 2000), servers);
    }
    let cases = args
        .iter()
        .position(|a| a == "--cases")
        .and_then(|i| args.get(i + 1))
        .map_or("unary,stream,client", String::as_str);
    let quick = args.iter().any(|a| a == "--quick");
    println!("{runs} alternating runs of {seconds} s per implementation and case; medians. Server on CPU 0, load on CPU 1.\n");
    if cases.split(',').any(|c| c == "unary") {
        unary_table(runs, seconds, quick);
    }
    if cases.split(',').any(|c| c == "stream") {
        stream_table(runs, seconds);
    }
    if cases.split(',').any(|c| c == "client") {
        client_table(runs, seconds);
    }
    if cases.split(',').any(|c| c == "observe") {
        observe_table(runs, seconds);
    }
}

/// rsgrpc's server with tracing and metrics off and on, small unary calls; the variants take turns
/// (rotating which goes first) so drift hits them all.
fn observe_table(runs: u64, seconds: u64) {
    const VARIANTS: [&str; 4] = ["rsgrpc", "rsgrpc-tracing", "rsgrpc-metrics", "rsgrpc-both"];
    println!("Small (16 B) unary calls, rsgrpc's server with observability off and on.\n");
    println!("| conns x streams | server | req/s | CPU µs/req | p50 µs | p99 µs | CPU / off |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (connections, streams) in [(1u32, 1u32), (10, 10)] {
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); VARIANTS.len()];
        for run in 0..runs as usize {
            for turn in 0..VARIANTS.len() {
                let index = (run + turn) % VARIANTS.len();
                samples[index].push(measure(VARIANTS[index], connections, streams, 16, seconds));
            }
        }
        let medians: Vec<Sample> = samples.iter().map(|s| summarize(s)).collect();
        for (name, s) in VARIANTS.iter().zip(&medians) {
            println!(
                "| {connections}x{streams} | {name} | {:.0} | {:.2} | {:.0} | {:.0} | {:.2} |",
                s.requests_per_second,
                s.cpu_us_per_request,
                s.p50_us,
                s.p99_us,
                s.cpu_us_per_request / medians[0].cpu_us_per_request
            );
        }
    }
    println!();
}

/// Runs `measure` for both implementations, `runs` times each, alternating which goes first so that drift
/// on a shared machine hits both; returns the medians.
fn alternate<T: Copy>(runs: u64, mut measure: impl FnMut(&str) -> T, summarize: impl Fn(&[T]) -> T) -> (T, T) {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let order = if run % 2 == 0 { ["rsgrpc", "tonic"] } else { ["tonic", "rsgrpc"] };
        for implementation in order {
            let sample = measure(implementation);
            if implementation == "rsgrpc" {
                ours.push(sample)
            } else {
                theirs.push(sample)
            }
        }
    }
    (summarize(&ours), summarize(&theirs))
}

/// Small and large unary calls at three shapes (with `quick`, only the shapes the issue-12 targets name).
fn unary_table(runs: u64, seconds: u64, quick: bool) {
    let sizes = [("small (16 B)", 16usize), ("64 KiB", 64 << 10), ("256 KiB", 256 << 10)];
    let shapes = [(1u32, 1u32), (10, 10), (50, 20)];
    let wanted = |size: usize, shape: (u32, u32)| {
        !quick || (size == 16 && shape != (1, 1)) || (size == 256 << 10 && shape == (10, 10))
    };
    println!("Unary calls: server CPU per call.\n");
    println!("| payload | conns x streams | server | req/s | CPU µs/req | p50 µs | p99 µs | peak RSS MiB | errors |");
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for (label, size) in sizes {
        for (connections, streams) in shapes {
            if !wanted(size, (connections, streams)) {
                continue;
            }
            let (ours, theirs) = alternate(
                runs,
                |implementation| measure(implementation, connections, streams, size, seconds),
                summarize,
            );
            for (name, s) in [("rsgrpc", ours), ("tonic", theirs)] {
                println!(
                    "| {label} | {connections}x{streams} | {name} | {:.0} | {:.2} | {:.0} | {:.0} | {:.1} | {} |",
                    s.requests_per_second, s.cpu_us_per_request, s.p50_us, s.p99_us, s.peak_rss_mib, s.errors
                );
            }
            ratios.push((label, connections, streams, ours, theirs));
        }
    }
    println!("\nrsgrpc / tonic (below 1 is better for CPU and latency, above 1 for req/s):\n");
    println!("| payload | conns x streams | CPU/req | p99 | req/s | peak RSS |");
    println!("|---|---|---:|---:|---:|---:|");
    for (label, connections, streams, ours, theirs) in ratios {
        println!(
            "| {label} | {connections}x{streams} | {:.2} | {:.2} | {:.2} | {:.2} |",
            ours.cpu_us_per_request / theirs.cpu_us_per_request,
            ours.p99_us / theirs.p99_us,
            ours.requests_per_second / theirs.requests_per_second,
            ours.peak_rss_mib / theirs.peak_rss_mib
        );
    }
    println!();
}

// ------------------------------------------------------------------------------------ bidirectional streams

const STREAM_PATH: &str = "/bench.Bench/Stream";
/// Messages a stream has sent and not yet had echoed.
const IN_FLIGHT: usize = 64;
/// The payload of a streamed message.
const STREAM_PAYLOAD: usize = 16;

/// `stream-load PORT CONNECTIONS STREAMS SECONDS`: prints `messages errors seconds`, the messages echoed
/// back in the window.
fn stream_load(args: &[String]) {
    let number = |i: usize| args[i].parse::<u64>().expect("numeric argument");
    let (port, connections, streams, seconds) = (number(0), number(1), number(2), number(3));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let (messages, errors, elapsed) = runtime.block_on(async move {
        let message = request_body(STREAM_PAYLOAD);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let send = h2_connect(port as u16).await;
            for _ in 0..streams {
                tasks.push(tokio::spawn(stream_loop(send.clone(), message.clone(), port as u16, deadline)));
            }
        }
        let (mut messages, mut errors) = (0u64, 0u64);
        for task in tasks {
            match task.await.expect("stream task") {
                Some(count) => messages += count,
                None => errors += 1,
            }
        }
        (messages, errors, started.elapsed())
    });
    println!("{messages} {errors} {:.3}", elapsed.as_secs_f64());
}

async fn h2_connect(port: u16) -> h2::client::SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let _ = tcp.set_nodelay(true);
    let mut builder = h2::client::Builder::new();
    builder.initial_window_size(STREAM_WINDOW).initial_connection_window_size(CONNECTION_WINDOW);
    let (send, connection) = builder.handshake::<_, Bytes>(tcp).await.expect("handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    send
}

/// One bidirectional stream until the deadline: sends the message while fewer than [`IN_FLIGHT`] are
/// unanswered, counts the echoes; `None` if the stream failed.
async fn stream_loop(
    send: h2::client::SendRequest<Bytes>,
    message: Bytes,
    port: u16,
    deadline: tokio::time::Instant,
) -> Option<u64> {
    let uri: http::Uri = format!("http://127.0.0.1:{port}{STREAM_PATH}").parse().expect("uri");
    let request = http::Request::post(uri)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let mut send = send.ready().await.ok()?;
    let (response, mut outgoing) = send.send_request(request, false).ok()?;
    let credit = std::sync::Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let sender = {
        let (credit, message) = (credit.clone(), message.clone());
        tokio::spawn(async move {
            while tokio::time::Instant::now() < deadline {
                let Ok(permit) = tokio::time::timeout_at(deadline, credit.acquire()).await else { break };
                permit.expect("never closed").forget();
                if outgoing.send_data(message.clone(), false).is_err() {
                    return;
                }
            }
            let _ = outgoing.send_data(Bytes::new(), true);
        })
    };
    let mut body = response.await.ok()?.into_body();
    let (mut bytes, mut counted) = (0usize, 0u64);
    while let Some(chunk) = body.data().await {
        let chunk = chunk.ok()?;
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes += chunk.len();
        let whole = bytes / message.len();
        bytes %= message.len();
        credit.add_permits(whole);
        if tokio::time::Instant::now() <= deadline {
            counted += whole as u64;
        }
    }
    let _ = sender.await;
    let ok =
        matches!(body.trailers().await, Ok(Some(trailers)) if trailers.get("grpc-status").is_some_and(|s| s == "0"));
    ok.then_some(counted)
}

/// A case measured as a rate: items (messages or calls) per second and CPU per item, of the server or the
/// client as the case says.
#[derive(Clone, Copy, Debug, Default)]
struct RateSample {
    per_second: f64,
    cpu_us_per_item: f64,
    peak_rss_mib: f64,
    errors: u64,
}

fn summarize_rates(samples: &[RateSample]) -> RateSample {
    RateSample {
        per_second: median(samples.iter().map(|s| s.per_second).collect()),
        cpu_us_per_item: median(samples.iter().map(|s| s.cpu_us_per_item).collect()),
        peak_rss_mib: median(samples.iter().map(|s| s.peak_rss_mib).collect()),
        errors: samples.iter().map(|s| s.errors).sum(),
    }
}

/// Both implementations at each shape, then their ratios. `columns`: the shape's name and the item's
/// (`conns x streams`, `msgs`).
fn rate_table(runs: u64, columns: (&str, &str), side: &str, mut measure: impl FnMut(&str, u32, u32) -> RateSample) {
    let (shape, item) = columns;
    println!("| {shape} | {side} | {item}/s | CPU µs/{item} | peak RSS MiB | errors |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for (a, b) in [(1u32, 1u32), (10, 10)] {
        let (ours, theirs) = alternate(runs, |implementation| measure(implementation, a, b), summarize_rates);
        for (name, s) in [("rsgrpc", ours), ("tonic", theirs)] {
            println!(
                "| {a}x{b} | {name} | {:.0} | {:.3} | {:.1} | {} |",
                s.per_second, s.cpu_us_per_item, s.peak_rss_mib, s.errors
            );
        }
        ratios.push((a, b, ours, theirs));
    }
    println!("\nrsgrpc / tonic:\n");
    println!("| {shape} | {item}/s | CPU/{item} | peak RSS |");
    println!("|---|---:|---:|---:|");
    for (a, b, ours, theirs) in ratios {
        println!(
            "| {a}x{b} | {:.2} | {:.2} | {:.2} |",
            ours.per_second / theirs.per_second,
            ours.cpu_us_per_item / theirs.cpu_us_per_item,
            ours.peak_rss_mib / theirs.peak_rss_mib
        );
    }
    println!();
}

fn measure_stream(implementation: &str, connections: u32, streams: u32, seconds: u64) -> RateSample {
    let server = start_server(implementation);
    let pid = server.child.id();
    let run = |seconds: u64| {
        let exe = std::env::current_exe().expect("own executable");
        let output = Command::new("taskset")
            .args(["-c", "1"])
            .arg(exe)
            .arg("stream-load")
            .args([server.port.to_string(), connections.to_string(), streams.to_string(), seconds.to_string()])
            .output()
            .expect("load generator runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let values: Vec<f64> = text.split_whitespace().map(|v| v.parse().expect("load output")).collect();
        assert_eq!(values.len(), 3, "stream load said {text:?} {}", String::from_utf8_lossy(&output.stderr));
        (values[0], values[1] as u64, values[2])
    };
    run(1);
    let before = cpu_time_us(pid);
    let (messages, errors, elapsed) = run(seconds);
    let cpu = cpu_time_us(pid) - before;
    RateSample {
        per_second: messages / elapsed,
        cpu_us_per_item: cpu / messages.max(1.0),
        peak_rss_mib: peak_rss_mib(pid),
        errors,
    }
}

fn stream_table(runs: u64, seconds: u64) {
    println!("Bidirectional streams of small ({STREAM_PAYLOAD} B) messages, up to {IN_FLIGHT} in flight per stream (errors: failed streams):\n");
    rate_table(runs, ("conns x streams", "msg"), "server", |implementation, connections, streams| {
        measure_stream(implementation, connections, streams, seconds)
    });
}

// ------------------------------------------------------------------------------------------------ clients

/// `client-load IMPLEMENTATION PORT CHANNELS CONCURRENCY SECONDS`: calls the server with that client for
/// a second of warm-up and then the window; prints `calls errors cpu_us seconds peak_rss_mib` of this
/// process over the window.
fn client_load(args: &[String]) {
    let implementation = args[0].clone();
    let number = |i: usize| args[i].parse::<u64>().expect("numeric argument");
    let (port, channels, concurrency, seconds) = (number(1) as u16, number(2), number(3), number(4));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let target = format!("http://127.0.0.1:{port}");
        let mut clients = Vec::new();
        for _ in 0..channels {
            clients.push(match implementation.as_str() {
                "rsgrpc" => {
                    let channel = rsgrpc::client::Channel::builder(&target)
                        .expect("target")
                        .initial_stream_window_size(STREAM_WINDOW)
                        .initial_connection_window_size(CONNECTION_WINDOW)
                        .connect()
                        .await
                        .expect("rsgrpc channel");
                    AnyClient::Rsgrpc(rsgrpc_tests::gen::bench::bench_client::BenchClient::new(channel))
                }
                "tonic" => {
                    let channel = tonic::transport::Endpoint::from_shared(target.clone())
                        .expect("target")
                        .initial_stream_window_size(STREAM_WINDOW)
                        .initial_connection_window_size(CONNECTION_WINDOW)
                        .tcp_nodelay(true)
                        .connect()
                        .await
                        .expect("tonic channel");
                    AnyClient::Tonic(tonic_bench::bench_client::BenchClient::new(channel))
                }
                other => panic!("unknown client {other}"),
            });
        }
        let window = |seconds: u64| {
            let clients = clients.clone();
            async move {
                let deadline = Instant::now() + Duration::from_secs(seconds);
                let mut tasks = Vec::new();
                for client in &clients {
                    for _ in 0..concurrency {
                        tasks.push(tokio::spawn(client.clone().call_until(deadline)));
                    }
                }
                let (mut calls, mut errors) = (0u64, 0u64);
                for task in tasks {
                    let (ok, failed) = task.await.expect("client task");
                    calls += ok;
                    errors += failed;
                }
                (calls, errors)
            }
        };
        window(1).await;
        let pid = std::process::id();
        let (before, started) = (cpu_time_us(pid), Instant::now());
        let (calls, errors) = window(seconds).await;
        let (cpu, elapsed) = (cpu_time_us(pid) - before, started.elapsed());
        println!("{calls} {errors} {cpu:.0} {:.3} {:.1}", elapsed.as_secs_f64(), peak_rss_mib(pid));
    });
}

#[derive(Clone)]
enum AnyClient {
    Rsgrpc(rsgrpc_tests::gen::bench::bench_client::BenchClient),
    Tonic(tonic_bench::bench_client::BenchClient<tonic::transport::Channel>),
}

impl AnyClient {
    /// Small unary calls one after another until the deadline: `(succeeded, failed)`.
    async fn call_until(self, deadline: Instant) -> (u64, u64) {
        let (mut ok, mut failed) = (0, 0);
        let body = vec![0x5a; 16];
        match self {
            AnyClient::Rsgrpc(client) => {
                while Instant::now() < deadline {
                    let request = rsgrpc_tests::gen::bench::Payload { body: body.clone(), ..Default::default() };
                    match client.unary(request).await {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
            }
            AnyClient::Tonic(mut client) => {
                while Instant::now() < deadline {
                    match client.unary(tonic_bench::Payload { body: body.clone() }).await {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
            }
        }
        (ok, failed)
    }
}

fn measure_client(implementation: &str, channels: u32, concurrency: u32, seconds: u64) -> RateSample {
    let server = start_server("rsgrpc");
    let exe = std::env::current_exe().expect("own executable");
    let output = Command::new("taskset")
        .args(["-c", "1"])
        .arg(exe)
        .arg("client-load")
        .arg(implementation)
        .args([server.port.to_string(), channels.to_string(), concurrency.to_string(), seconds.to_string()])
        .output()
        .expect("client runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let values: Vec<f64> = text.split_whitespace().map(|v| v.parse().expect("client output")).collect();
    assert_eq!(values.len(), 5, "client said {text:?} {}", String::from_utf8_lossy(&output.stderr));
    RateSample {
        per_second: values[0] / values[3],
        cpu_us_per_item: values[2] / values[0].max(1.0),
        peak_rss_mib: values[4],
        errors: values[1] as u64,
    }
}

fn client_table(runs: u64, seconds: u64) {
    println!("Clients: rsgrpc's and tonic's generated clients calling the same rsgrpc server, small unary calls:\n");
    rate_table(runs, ("channels x concurrent calls", "call"), "client", |implementation, channels, concurrency| {
        measure_client(implementation, channels, concurrency, seconds)
    });
}

// ------------------------------------------------------------------------------------ instruction counts

/// The instructions `implementation`'s server executes while serving `calls` small unary calls (and
/// starting and stopping), counted by callgrind.
fn server_instructions(implementation: &str, calls: u64) -> u64 {
    let exe = std::env::current_exe().expect("own executable");
    let out =
        std::env::temp_dir().join(format!("rsgrpc-bench-callgrind-{}-{implementation}-{calls}", std::process::id()));
    let mut child = Command::new("valgrind")
        .args(["--tool=callgrind", "--quiet"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["server-until-eof", implementation])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("valgrind runs the server (is valgrind installed?)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("port line");
    let port: u16 = line.trim().parse().expect("port");
    let exe = std::env::current_exe().expect("own executable");
    let output = Command::new(exe)
        .arg("load-count")
        .args([port.to_string(), "1".into(), "1".into(), "16".into(), "600".into(), calls.to_string()])
        .output()
        .expect("load generator runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let served: u64 = text.split_whitespace().next().and_then(|v| v.parse().ok()).expect("load output");
    assert_eq!(served, calls, "every call succeeded: {text}");
    drop(child.stdin.take());
    let status = child.wait().expect("server exits");
    assert!(status.success(), "the server under valgrind exited with {status}");
    let counts = std::fs::read_to_string(&out).expect("callgrind output");
    let _ = std::fs::remove_file(&out);
    counts
        .lines()
        .find_map(|line| line.strip_prefix("summary:").or_else(|| line.strip_prefix("totals:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("callgrind's total")
}

fn instructions(extra: u64, servers: &[&str]) {
    let base = 500;
    println!(
        "Server instructions per small unary call (callgrind; {base} and {} calls, the difference / {extra}):\n",
        base + extra
    );
    println!("| server | instructions per call |");
    println!("|---|---:|");
    let mut per_call = Vec::new();
    for implementation in servers {
        let few = server_instructions(implementation, base);
        let many = server_instructions(implementation, base + extra);
        let value = many.saturating_sub(few) / extra;
        println!("| {implementation} | {value} |");
        per_call.push(value);
    }
    if servers[1] == "tonic" {
        println!("\nrsgrpc / tonic: {:.2}", per_call[0] as f64 / per_call[1] as f64);
        return;
    }
    for (implementation, value) in servers.iter().zip(&per_call).skip(1) {
        println!("\n{implementation} / {}: {:.2}", servers[0], *value as f64 / per_call[0] as f64);
    }
}
