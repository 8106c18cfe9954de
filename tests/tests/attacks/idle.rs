//! Connections that hold a socket and do nothing, or too little: 1000 at a time on the gRPC server (silent,
//! the preface's first 24 bytes only, a whole preface and then nothing) and on the gateway (slowloris
//! headers a byte at a time, silence). The server must keep serving while they are open and close them
//! within its timeout.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::frames::{kind, read_frame, Frame, PREFACE};
use super::report;
use super::target::{NormalCalls, Target};

const IDLE_CONNECTIONS: usize = 1000;
/// The timeouts the target is started with for these cases, short so that the suite stays short; the
/// defaults are 20 s (handshake) and 30 s (gateway reads), the same code path.
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long past its timeout a connection may stay open.
const SLACK: Duration = Duration::from_secs(5);
const IDLE_BOUND_MIB: f64 = 150.0;

/// How one connection ended.
struct Closing {
    /// When the server closed it, since it was opened; `None` if it still was open at the give-up time.
    closed_after: Option<Duration>,
    /// Whether the server sent GOAWAY on it (read only on the gRPC port, whose bytes are all frames).
    goaway: bool,
}

/// Reads until the server closes `tcp` or `give_up`; `http2`: as frames, looking for GOAWAY.
async fn closed_by_server(tcp: TcpStream, opened: Instant, give_up: Instant, http2: bool) -> Closing {
    // The write half stays here until the end: dropping it would send FIN, and the server would close
    // because we did.
    let (mut read, write) = tcp.into_split();
    let mut goaway = false;
    let read_to_end = async {
        // An error is a reset: closed too.
        if http2 {
            while let Ok(Some(frame)) = read_frame(&mut read).await {
                goaway |= frame.kind == kind::GOAWAY;
            }
        } else {
            let mut sink = [0u8; 4096];
            while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {}
        }
    };
    let closed_after = tokio::time::timeout_at(give_up.into(), read_to_end).await.ok().map(|()| opened.elapsed());
    drop(write);
    Closing { closed_after, goaway }
}

/// How closing went for a set of connections.
struct Closings {
    closed: usize,
    /// GOAWAYs seen, on the gRPC port only.
    goaways: Option<usize>,
    first: Duration,
    last: Duration,
}

impl std::fmt::Display for Closings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {IDLE_CONNECTIONS} closed by the server", self.closed)?;
        if self.closed > 0 {
            write!(f, " between {} and {} ms after opening", self.first.as_millis(), self.last.as_millis())?;
        }
        match self.goaways {
            Some(goaways) => write!(f, ", {goaways} sent GOAWAY"),
            None => Ok(()),
        }
    }
}

/// `http2`: the connections were on the gRPC port, so GOAWAYs were looked for.
async fn closings(mut waiting: JoinSet<Closing>, http2: bool) -> Closings {
    let goaways = http2.then_some(0);
    let mut closings = Closings { closed: 0, goaways, first: Duration::MAX, last: Duration::ZERO };
    while let Some(closing) = waiting.join_next().await {
        let closing = closing.expect("a connection task");
        if let Some(goaways) = closings.goaways.as_mut() {
            *goaways += usize::from(closing.goaway);
        }
        if let Some(after) = closing.closed_after {
            closings.closed += 1;
            closings.first = closings.first.min(after);
            closings.last = closings.last.max(after);
        }
    }
    closings
}

/// Opens [`IDLE_CONNECTIONS`] connections to `addr` that send `first` and then nothing; checks a normal call
/// works while they are all open (gRPC, or REST with `rest`), then waits for the server to close them.
async fn idle_connections(case: &str, flags: &[&str], rest: bool, first: &[u8]) {
    let mut target = Target::start(flags).await;
    let addr = if rest { target.gateway } else { target.grpc };
    let started = Instant::now();
    let mut open = Vec::with_capacity(IDLE_CONNECTIONS);
    for _ in 0..IDLE_CONNECTIONS {
        let mut tcp = TcpStream::connect(addr).await.expect("connect to the target");
        let opened = Instant::now();
        if !first.is_empty() {
            tcp.write_all(first).await.expect("write the first bytes");
        }
        open.push((tcp, opened));
    }
    let connected = started.elapsed();
    let normal = if rest { target.must_serve_rest(case).await } else { target.must_serve(case).await };
    let give_up = Instant::now() + TIMEOUT + SLACK;
    let mut waiting = JoinSet::new();
    for (tcp, opened) in open {
        waiting.spawn(closed_by_server(tcp, opened, give_up, !rest));
    }
    let closings = closings(waiting, !rest).await;
    let after = if rest { target.must_serve_rest(case).await } else { target.must_serve(case).await };
    let memory = target.memory();
    report(
        case,
        format_args!(
            "{memory} (bound {IDLE_BOUND_MIB} MiB); {IDLE_CONNECTIONS} connections opened in {} ms; normal call \
             while open ok in {} ms; {closings} (timeout {} ms); normal call after ok in {} ms",
            connected.as_millis(),
            normal.as_millis(),
            TIMEOUT.as_millis(),
            after.as_millis()
        ),
    );
    assert_eq!(closings.closed, IDLE_CONNECTIONS, "{case}: {closings}");
    assert!(memory.peak < IDLE_BOUND_MIB, "{case}: {memory}, over the bound of {IDLE_BOUND_MIB} MiB");
}

fn millis_flag(name: &str) -> String {
    format!("--{name}={}", TIMEOUT.as_millis())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed_by_the_handshake_timeout() {
    let flags = [millis_flag("handshake-timeout-ms")];
    idle_connections("idle-silent", &[flags[0].as_str()], false, b"").await;
}

/// The first 24 bytes of the preface and not the SETTINGS frame that must follow them (RFC 9113 §3.4): the
/// handshake is not done, and its timeout must still apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_stop_inside_the_preface_are_closed_by_the_handshake_timeout() {
    let flags = [millis_flag("handshake-timeout-ms")];
    idle_connections("idle-preface-magic", &[flags[0].as_str()], false, PREFACE).await;
}

/// A whole preface (the 24 bytes and SETTINGS), then nothing, not even the acknowledgement of the server's
/// SETTINGS or PINGs: a client that connected and never calls. The server holds it until
/// `max_connection_idle` (set here; off by default, as in grpc-go) sends it away and closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http2_connections_are_sent_away_by_max_connection_idle() {
    let mut preface = PREFACE.to_vec();
    Frame::settings(&[]).encode(&mut preface);
    let flags = [millis_flag("max-connection-idle-ms")];
    idle_connections("idle-after-preface", &[flags[0].as_str()], false, &preface).await;
}

/// Connections that send nothing to the gateway: hyper's auto builder waits for the first bytes to choose
/// HTTP/1.1 or HTTP/2, outside hyper's header-read timeout, so the gateway needs its own first-read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_gateway_connections_are_closed_by_the_read_timeout() {
    let flags = [millis_flag("gateway-read-timeout-ms")];
    idle_connections("gateway-silent", &[flags[0].as_str()], true, b"").await;
}

/// Slowloris: 1000 HTTP/1.1 requests whose headers arrive a byte every 100 ms and never end. The gateway
/// must close each once the read timeout passes, while REST calls go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_headers_on_the_gateway_are_cut_off_at_the_read_timeout() {
    let case = "gateway-slowloris";
    let mut target = Target::start(&[&millis_flag("gateway-read-timeout-ms")]).await;
    let normal = NormalCalls::start(&target, true, Duration::from_millis(200));
    let started = Instant::now();
    let mut dribbling = JoinSet::new();
    for _ in 0..IDLE_CONNECTIONS {
        let tcp = TcpStream::connect(target.gateway).await.expect("connect to the gateway");
        dribbling.spawn(dribble_headers(tcp));
    }
    let connected = started.elapsed();
    let closings = closings(dribbling, false).await;
    let during = normal.stop().await;
    let after = target.must_serve_rest(case).await;
    let memory = target.memory();
    report(
        case,
        format_args!(
            "{memory} (bound {IDLE_BOUND_MIB} MiB); {IDLE_CONNECTIONS} connections opened in {} ms; {closings} \
             (read timeout {} ms); {during}; REST call after ok in {} ms",
            connected.as_millis(),
            TIMEOUT.as_millis(),
            after.as_millis()
        ),
    );
    assert!(during.failures.is_empty(), "{case}: REST calls failed: {:?}", during.failures);
    assert!(during.made > 0, "{case}: no REST call was made during the attack");
    assert_eq!(closings.closed, IDLE_CONNECTIONS, "{case}: {closings}");
    assert!(memory.peak < IDLE_BOUND_MIB, "{case}: {memory}, over the bound of {IDLE_BOUND_MIB} MiB");
}

/// Writes a request line and then a header a byte at a time, 100 ms apart, until the gateway closes the
/// connection (read side at its end) or the timeout and its slack have passed.
async fn dribble_headers(tcp: TcpStream) -> Closing {
    let opened = Instant::now();
    let give_up = opened + TIMEOUT + SLACK;
    let (mut read, mut write) = tcp.into_split();
    let dribble = async move {
        if write.write_all(b"GET /v1/shelves/slow HTTP/1.1\r\nhost: attack.test\r\nx-slow: ").await.is_err() {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b"a").await.is_err() {
                // Closed; the read side tells when.
                return std::future::pending().await;
            }
        }
    };
    let closed = async move {
        let mut sink = [0u8; 4096];
        while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    let outcome = tokio::time::timeout_at(give_up.into(), async {
        tokio::select! {
            () = closed => {}
            () = dribble => {}
        }
    })
    .await;
    Closing { closed_after: outcome.ok().map(|()| opened.elapsed()), goaway: false }
}
