//! The attacked server: `attack-target` (tests/src/bin/attack-target.rs) as a process of its own, so that
//! its peak resident memory (`VmHWM` in `/proc/<pid>/status`) is the server's alone; and the normal calls
//! that must keep working while and after it is attacked.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use rsgrpc::client::Channel;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// How long a normal call may take, attack or not, before it counts as not working.
pub const NORMAL_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `attack-target`; killed when dropped.
pub struct Target {
    child: Child,
    pid: u32,
    /// The gRPC server's address.
    pub grpc: SocketAddr,
    /// The REST gateway's address.
    pub gateway: SocketAddr,
}

/// Resident memory of the target, in MiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// The highest it has been since the process started (`VmHWM`).
    pub peak: f64,
    /// Now (`VmRSS`).
    pub now: f64,
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "peak RSS {:.0} MiB (now {:.0} MiB)", self.peak, self.now)
    }
}

impl Target {
    /// Starts the target with `flags` (see the binary's doc) and waits until it listens.
    pub async fn start(flags: &[&str]) -> Target {
        // Connections on both sides of an attack need descriptors: the target inherits this limit.
        raise_fd_limit(8192);
        let mut child = Command::new(env!("CARGO_BIN_EXE_attack-target"))
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start attack-target");
        let pid = child.id().expect("a running child has an id");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let mut stdout = tokio::io::BufReader::new(stdout);
        tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
            .await
            .expect("attack-target starts")
            .expect("its stdout");
        let addr = |key: &str| -> SocketAddr {
            let field = line.split_whitespace().find_map(|field| field.strip_prefix(key));
            field.and_then(|a| a.parse().ok()).unwrap_or_else(|| panic!("no {key} in {line:?}"))
        };
        Target { grpc: addr("grpc="), gateway: addr("gateway="), pid, child }
    }

    /// The target's resident memory now and at its peak.
    pub fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).expect("/proc/<pid>/status");
        let mib = |key: &str| -> f64 {
            let line = status.lines().find_map(|line| line.strip_prefix(key)).unwrap_or_else(|| panic!("no {key}"));
            let kib: f64 = line.trim().trim_end_matches("kB").trim().parse().expect("a number of kB");
            kib / 1024.0
        };
        Memory { peak: mib("VmHWM:"), now: mib("VmRSS:") }
    }

    /// Fails when the target has died (a crash under attack is the worst outcome; say so plainly).
    pub fn assert_alive(&mut self) {
        let exited = self.child.try_wait().expect("the target's state");
        assert!(exited.is_none(), "attack-target died: {exited:?}");
    }

    /// A normal call that must work; how long it took.
    pub async fn must_serve(&mut self, case: &str) -> Duration {
        self.assert_alive();
        normal_call(self.grpc).await.unwrap_or_else(|error| panic!("{case}: the normal call failed: {error}"))
    }

    /// A normal REST call through the gateway that must work; how long it took.
    pub async fn must_serve_rest(&mut self, case: &str) -> Duration {
        self.assert_alive();
        normal_rest_call(self.gateway)
            .await
            .unwrap_or_else(|error| panic!("{case}: the normal REST call failed: {error}"))
    }
}

/// A unary call to the gRPC server at `addr` on a new connection; how long it took.
pub async fn normal_call(addr: SocketAddr) -> Result<Duration, String> {
    let started = Instant::now();
    let call = async {
        let channel = Channel::connect(&format!("http://{addr}")).await.map_err(|s| s.to_string())?;
        let request = EchoRequest { message: "normal".into(), ..Default::default() };
        let response = EchoClient::new(channel).unary(request).await.map_err(|s| s.to_string())?;
        match response.into_inner().message.as_str() {
            "normal" => Ok(started.elapsed()),
            other => Err(format!("the echo came back as {other:?}")),
        }
    };
    tokio::time::timeout(NORMAL_CALL_TIMEOUT, call).await.unwrap_or_else(|_| Err("timed out".into()))
}

/// A REST call to the gateway at `addr` over HTTP/1.1 on a new connection; how long it took.
pub async fn normal_rest_call(addr: SocketAddr) -> Result<Duration, String> {
    let started = Instant::now();
    let call = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let io = hyper_util::rt::TokioIo::new(tcp);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::get(format!("http://{addr}/v1/shelves/normal"))
            .header("host", addr.to_string())
            .body(Empty::<Bytes>::new())
            .expect("a valid request");
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        let body = String::from_utf8_lossy(&body);
        match (status.as_u16(), body.contains("theme of normal")) {
            (200, true) => Ok(started.elapsed()),
            _ => Err(format!("{status}: {body}")),
        }
    };
    tokio::time::timeout(NORMAL_CALL_TIMEOUT, call).await.unwrap_or_else(|_| Err("timed out".into()))
}

/// Normal calls made one after another while an attack runs, until stopped.
pub struct NormalCalls {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Vec<Result<Duration, String>>>,
}

/// The figures of the normal calls made during an attack.
pub struct NormalFigures {
    pub made: usize,
    pub failures: Vec<String>,
    pub slowest: Duration,
}

impl std::fmt::Display for NormalFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let failed = self.failures.len();
        write!(f, "{} normal calls during it, {failed} failed, slowest {} ms", self.made, self.slowest.as_millis())
    }
}

impl NormalCalls {
    /// Starts making calls to `target`'s gRPC server (`rest`: to its gateway), `every` apart.
    pub fn start(target: &Target, rest: bool, every: Duration) -> NormalCalls {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let (grpc, gateway) = (target.grpc, target.gateway);
        let task = tokio::spawn(async move {
            let mut results = Vec::new();
            // At least one call, however soon the attack ends (the server may cut a flood off in
            // milliseconds, before this task first runs).
            loop {
                let result = if rest { normal_rest_call(gateway).await } else { normal_call(grpc).await };
                results.push(result);
                let _ = tokio::time::timeout(every, stopped.changed()).await;
                if *stopped.borrow() {
                    return results;
                }
            }
        });
        NormalCalls { stop, task }
    }

    pub async fn stop(self) -> NormalFigures {
        let _ = self.stop.send(true);
        let results = self.task.await.expect("the normal calls' task");
        let slowest = results.iter().filter_map(|r| r.as_ref().ok()).max().copied().unwrap_or_default();
        let failures = results.iter().filter_map(|r| r.as_ref().err().cloned()).collect();
        NormalFigures { made: results.len(), failures, slowest }
    }
}

/// Raises this process's soft limit on open files to `wanted` (capped by the hard limit; children inherit
/// it): 1000 connections need 1000 descriptors on each side, past the common default of 1024.
pub fn raise_fd_limit(wanted: u64) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0, "getrlimit(RLIMIT_NOFILE)");
        if limit.rlim_cur >= wanted as libc::rlim_t {
            return;
        }
        assert!(
            limit.rlim_max >= wanted as libc::rlim_t,
            "the attack suite needs {wanted} open files; the hard limit is {}",
            limit.rlim_max
        );
        limit.rlim_cur = wanted as libc::rlim_t;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0, "setrlimit(RLIMIT_NOFILE, {wanted})");
    }
}
