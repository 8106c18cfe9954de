//! Backends for the policy tests: an Echo server (with the health service) on a loopback address of its
//! own, counting the unary calls that reached it, optionally holding them until released (a slow backend
//! whose calls pile up), and killed without a graceful shutdown when a test says so.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsgrpc::client::{Channel, ConnectBackoff};
use rsgrpc::health::HealthReporter;
use rsgrpc::orca::{OrcaService, ServerMetricRecorder};
use rsgrpc::server::{BoxStream, Server};
use rsgrpc::{Request, Response, Status, Streaming};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::common::Money;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::{Echo, EchoServer};
use rsgrpc_tests::gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};
use rsgrpc_tests::rt::well_known::Empty;
use rsgrpc_tests::support::{serve_on, Running};
use tokio::sync::Semaphore;

/// Retries on UNAVAILABLE, so a call caught on a backend as it dies is tried on another.
pub const RETRY_UNAVAILABLE: &str = r#"{"name": [{"service": "rsgrpc.test.echo.Echo"}],
    "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.01s", "maxBackoff": "0.05s",
                    "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}"#;

/// What a backend's Echo handler shares with the test.
#[derive(Clone, Default)]
struct Gated {
    inner: EchoService,
    /// Unary calls that reached the handler.
    arrived: Arc<AtomicUsize>,
    /// When set, unary calls wait for a permit (never returned: a release lets every call through).
    gate: Option<Arc<Semaphore>>,
    /// When set, unary calls fail with INTERNAL (a broken backend).
    failing: bool,
    /// When set, unary calls answer this message (who answered), not the request's.
    name: Option<String>,
}

impl Echo for Gated {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        self.arrived.fetch_add(1, Ordering::SeqCst);
        if self.failing {
            return Err(Status::internal("this backend is broken"));
        }
        if let Some(gate) = &self.gate {
            gate.acquire().await.map_err(|_| Status::unavailable("closed"))?.forget();
        }
        let mut response = self.inner.unary(request).await?;
        if let Some(name) = &self.name {
            response.get_mut().message = name.clone();
        }
        Ok(response)
    }

    async fn server_stream(&self, request: Request<EchoRequest>) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        self.inner.server_stream(request).await
    }

    async fn client_stream(&self, request: Request<Streaming<EchoRequest>>) -> Result<Response<EchoResponse>, Status> {
        self.inner.client_stream(request).await
    }

    async fn bidi(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        self.inner.bidi(request).await
    }

    async fn price(&self, request: Request<Empty>) -> Result<Response<Money>, Status> {
        self.inner.price(request).await
    }
}

/// One backend on `127.0.0.<host>`.
pub struct Backend {
    running: Option<Running>,
    pub addr: SocketAddr,
    service: Gated,
    /// Its health service's statuses (the server as a whole starts SERVING).
    #[allow(dead_code)]
    pub health: HealthReporter,
}

impl Backend {
    /// A backend answering at once, on `127.0.0.<host>` and a free port.
    pub async fn start(host: u8) -> Backend {
        Backend::serve(host, Gated::default()).await
    }

    /// A backend whose unary calls wait until [`Backend::release`].
    pub async fn start_held(host: u8) -> Backend {
        Backend::serve(host, Gated { gate: Some(Arc::new(Semaphore::new(0))), ..Default::default() }).await
    }

    /// A backend whose unary calls all fail with INTERNAL.
    #[allow(dead_code)]
    pub async fn start_failing(host: u8) -> Backend {
        Backend::serve(host, Gated { failing: true, ..Default::default() }).await
    }

    /// A backend without the health service (health checks get UNIMPLEMENTED).
    #[allow(dead_code)]
    pub async fn start_without_health(host: u8) -> Backend {
        let service = Gated::default();
        let server = Server::builder().add_service(EchoServer::new(service.clone())).build();
        let running = serve_on(server, SocketAddr::from(([127, 0, 0, host], 0))).await;
        Backend { addr: running.addr, running: Some(running), service, health: HealthReporter::default() }
    }

    /// A backend reporting `load` (ORCA, gRFC A51): in every call's trailer when `per_call`, and on the
    /// out-of-band service (reports as often as every 10 ms). Its unary calls answer its host number.
    #[allow(dead_code)]
    pub async fn start_reporting(host: u8, load: &ServerMetricRecorder, per_call: bool) -> Backend {
        let service = Gated { name: Some(host.to_string()), ..Default::default() };
        let (health, health_server) = rsgrpc::health::health_service();
        let oob = OrcaService::new(load.clone()).min_report_interval(Duration::from_millis(10));
        let mut builder = Server::builder()
            .add_service(EchoServer::new(service.clone()))
            .add_service(health_server)
            .add_service(oob.into_server());
        if per_call {
            builder = builder.interceptor(rsgrpc::orca::call_metrics().with_server_metrics(load.clone()));
        }
        let running = serve_on(builder.build(), SocketAddr::from(([127, 0, 0, host], 0))).await;
        Backend { addr: running.addr, running: Some(running), service, health }
    }

    async fn serve(host: u8, service: Gated) -> Backend {
        let (health, health_server) = rsgrpc::health::health_service();
        let server = Server::builder().add_service(EchoServer::new(service.clone())).add_service(health_server).build();
        let running = serve_on(server, SocketAddr::from(([127, 0, 0, host], 0))).await;
        Backend { addr: running.addr, running: Some(running), service, health }
    }

    /// Unary calls that reached it.
    pub fn calls(&self) -> usize {
        self.service.arrived.load(Ordering::SeqCst)
    }

    /// Lets every held call (and every later one) through.
    pub fn release(&self) {
        if let Some(gate) = &self.service.gate {
            gate.add_permits(1 << 20);
        }
    }

    /// Kills the server: its listener and connections are dropped, with no GOAWAY and no graceful end.
    pub fn kill(&mut self) {
        drop(self.running.take());
    }
}

/// `ipv4:a:p,b:p,...` for `backends`.
pub fn target(backends: &[Backend]) -> String {
    let addresses: Vec<String> = backends.iter().map(|b| b.addr.to_string()).collect();
    format!("ipv4:{}", addresses.join(","))
}

/// The unary calls each backend received.
pub fn counts(backends: &[Backend]) -> Vec<usize> {
    backends.iter().map(Backend::calls).collect()
}

/// A channel to `backends` under the service config `json`, with quick reconnection attempts (so tests
/// do not wait out gRPC's one-second first backoff).
pub async fn channel(backends: &[Backend], json: &str) -> Channel {
    let backoff = ConnectBackoff {
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        ..Default::default()
    };
    let builder = Channel::builder(&target(backends)).unwrap().connect_backoff(backoff);
    builder.default_service_config(json).unwrap().connect().await.unwrap()
}

/// Waits (up to 10 s, failing the test past that) until `condition` holds.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < Duration::from_secs(10), "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A bound on a whole test phase: a hang fails the test instead of blocking the run.
pub async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future).await.unwrap_or_else(|_| panic!("{what} hung"))
}

pub fn hello() -> EchoRequest {
    EchoRequest { message: "hello".into(), ..Default::default() }
}
