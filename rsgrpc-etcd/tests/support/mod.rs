//! What the etcd tests share: a real etcd server on loopback ports with a temporary data directory,
//! `etcdctl` against it, backends that count their calls, and waiting for a condition.

#![allow(dead_code)] // each test file uses part of it

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsgrpc::health::{Health, HealthCheckRequest, HealthCheckResponse, HealthServer, ServingStatus};
use rsgrpc::server::Server;
use rsgrpc::{Request, Response, Status};

/// An etcd process, killed when dropped. Its data directory outlives restarts.
pub struct Etcd {
    child: Option<Child>,
    data: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
}

impl Etcd {
    /// Starts etcd on free loopback ports and waits until it answers.
    pub fn start() -> Etcd {
        let mut etcd = Etcd {
            child: None,
            data: tempfile::tempdir().expect("a temporary directory"),
            client_port: free_port(),
            peer_port: free_port(),
        };
        etcd.spawn();
        etcd
    }

    /// `http://127.0.0.1:<port>`, for clients.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn spawn(&mut self) {
        let client = self.url();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new("etcd")
            .args(["--name", "rsgrpc-test", "--data-dir"])
            .arg(self.data.path().join("etcd"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("rsgrpc-test={peer}"), "--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start etcd ({e}): install Debian's etcd-server and etcd-client (tests/env/setup.sh does)"
                )
            });
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&mut self) {
        for _ in 0..300 {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("etcd exited at start: {status}");
            }
            let health = self.ctl(&["endpoint", "health"]);
            if health.status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("etcd at {} did not become healthy", self.url());
    }

    /// Kills etcd (no graceful shutdown) and starts it again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn ctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url(), "--dial-timeout", "2s"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("etcdctl runs (Debian's etcd-client)")
    }

    /// `etcdctl put key value`.
    pub fn put(&self, key: &str, value: &str) {
        let output = self.ctl(&["put", key, value]);
        assert!(output.status.success(), "etcdctl put: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// `etcdctl del key`.
    pub fn delete(&self, key: &str) {
        let output = self.ctl(&["del", key]);
        assert!(output.status.success(), "etcdctl del: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// The keys under `prefix`, as `etcdctl get --prefix --keys-only` lists them.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let output = self.ctl(&["get", "--prefix", "--keys-only", prefix]);
        assert!(output.status.success(), "etcdctl get: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        let output = self.ctl(&["get", "--print-value-only", key]);
        assert!(output.status.success(), "etcdctl get: {}", String::from_utf8_lossy(&output.stderr));
        let text = String::from_utf8_lossy(&output.stdout).trim_end().to_owned();
        (!text.is_empty()).then_some(text)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port nothing listens on now (the kernel's pick for port 0, released for etcd to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// A backend: a real server on 127.0.0.1 whose health Check counts the calls it serves.
pub struct Backend {
    pub addr: SocketAddr,
    pub calls: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

struct Counting(Arc<AtomicUsize>);

impl Health for Counting {
    async fn check(&self, _request: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(Response::new(HealthCheckResponse { status: ServingStatus::Serving.into(), ..Default::default() }))
    }
}

impl Backend {
    pub async fn start() -> Backend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let server = Server::builder().add_service(HealthServer::new(Counting(calls.clone()))).build();
        let task = tokio::spawn(async move {
            let _ = server.serve_with_shutdown(listener, std::future::pending()).await;
        });
        Backend { addr, calls, task }
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `done` holds, checking every 50 ms, for at most 30 s (a generous bound, not a timing claim).
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The tracing events (INFO and above) logged on this thread while a capture is on (a current-thread
/// runtime's tasks included), as text (`LEVEL message=... field=value`).
///
/// One global subscriber routes each event to the capture of the thread it happens on: with a scoped
/// subscriber per test, tracing's per-callsite interest cache, shared by the test threads, can miss events.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<String>>>);

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Ends a capture when dropped.
pub struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

impl Logs {
    pub fn capture() -> (Logs, CaptureGuard) {
        static GLOBAL: std::sync::Once = std::sync::Once::new();
        GLOBAL.call_once(|| {
            use tracing_subscriber::layer::SubscriberExt;
            let subscriber = tracing_subscriber::registry().with(Router);
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        });
        let logs = Logs::default();
        CAPTURE.with(|c| *c.borrow_mut() = Some(logs.clone()));
        (logs, CaptureGuard)
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Sends each event to the capture of its thread, if any.
struct Router;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Router {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: tracing_subscriber::layer::Context<'_, S>) {
        struct Text(String);
        impl tracing::field::Visit for Text {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                use std::fmt::Write;
                let _ = write!(self.0, " {}={value:?}", field.name());
            }
        }
        if *event.metadata().level() > tracing::Level::INFO {
            return;
        }
        let Some(logs) = CAPTURE.with(|c| c.borrow().clone()) else { return };
        let mut text = Text(format!("{}", event.metadata().level()));
        event.record(&mut text);
        logs.0.lock().unwrap().push(text.0);
    }
}

/// A loopback TCP proxy in front of etcd that the test can cut (every connection dropped, new ones refused)
/// and restore, to take etcd away from one client while etcdctl still reaches it.
pub struct Proxy {
    pub addr: SocketAddr,
    open: tokio::sync::watch::Sender<bool>,
    /// Connections being forwarded now.
    live: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().unwrap();
        let (open, watch) = tokio::sync::watch::channel(true);
        let live = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(listener, upstream, watch, live.clone()));
        Proxy { addr, open, live, task }
    }

    /// `http://<proxy>`, for the client that is to lose etcd.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Cuts the proxy and waits until the connections it had are gone.
    pub async fn cut(&self) {
        self.open.send_replace(false);
        eventually("the proxy dropped its connections", || self.live.load(Ordering::SeqCst) == 0).await;
    }

    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

/// Forwards connections while open; while cut, the port is closed (connections are refused, as by an etcd
/// that is down) and the connections it had are dropped.
async fn serve(
    mut listener: tokio::net::TcpListener,
    upstream: SocketAddr,
    mut watch: tokio::sync::watch::Receiver<bool>,
    live: Arc<AtomicUsize>,
) {
    let addr = listener.local_addr().unwrap();
    let connections = watch.clone();
    loop {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut inbound, _)) = accepted else { return };
                    let mut watch = connections.clone();
                    let live = Live::new(&live);
                    tokio::spawn(async move {
                        let _live = live;
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else { return };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = watch.wait_for(|open| !*open) => {}
                        }
                    });
                }
                cut = watch.wait_for(|open| !*open) => {
                    if cut.is_err() {
                        return;
                    }
                    break;
                }
            }
        }
        drop(listener);
        if watch.wait_for(|open| *open).await.is_err() {
            return;
        }
        listener = tokio::net::TcpListener::bind(addr).await.expect("the proxy's port again");
    }
}

/// Counts a forwarded connection while it lives.
struct Live(Arc<AtomicUsize>);

impl Live {
    fn new(count: &Arc<AtomicUsize>) -> Live {
        count.fetch_add(1, Ordering::SeqCst);
        Live(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.open.send_replace(false);
    }
}

impl Etcd {
    /// The client address, for a proxy.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.client_port))
    }

    /// `etcdctl compact` up to the newest revision, so that no older revision can be watched from.
    pub fn compact(&self) {
        let output = self.ctl(&["get", "--write-out", "json", "compaction-probe"]);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let revision: i64 = text
            .split("\"revision\":")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("no revision in etcdctl's answer: {text}"));
        let output = self.ctl(&["compact", &revision.to_string()]);
        assert!(output.status.success(), "etcdctl compact: {}", String::from_utf8_lossy(&output.stderr));
    }
}
