//! Attacks on the server's memory by well-formed clients (the h2 crate): messages that never complete,
//! responses the client never makes room for, and a compressed message that inflates far past the limit.

use std::collections::BTreeMap;
use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use tokio::task::JoinSet;

use super::bomb::gzip_zeros;
use super::target::Target;
use super::{grpc_frame, grpc_message, grpc_request, grpc_status, h2_client, report, ECHO_SERVER_STREAM, ECHO_UNARY};

const MIB: f64 = 1024.0 * 1024.0;

/// Zeros to send from, without allocating per chunk.
static ZEROS: [u8; 16 * 1024] = [0; 16 * 1024];

/// What the partial-messages attacker saw, shared by its streams.
#[derive(Default)]
struct PartialFigures {
    /// Body bytes the server's flow control let through, over all streams.
    accepted: AtomicUsize,
    /// Calls the server answered (refused) before their message was complete, by `grpc-status` or error.
    answered: Mutex<BTreeMap<String, usize>>,
}

/// Sends `prefix` and then `body_bytes` zeros on `stream`, as fast as flow control allows and never
/// completing the message, until the stream closes; records what the server answers.
async fn partial_message(
    mut stream: h2::SendStream<Bytes>,
    response: h2::client::ResponseFuture,
    prefix: Vec<u8>,
    body_bytes: usize,
    figures: Arc<PartialFigures>,
) {
    let sending = async {
        let mut pending = Bytes::from(prefix);
        let mut left = body_bytes;
        loop {
            if pending.is_empty() {
                if left == 0 {
                    return;
                }
                let n = left.min(ZEROS.len());
                pending = Bytes::from_static(&ZEROS[..n]);
                left -= n;
            }
            stream.reserve_capacity(pending.len());
            let granted = match poll_fn(|cx| stream.poll_capacity(cx)).await {
                Some(Ok(granted)) => granted.min(pending.len()),
                // The stream closed: the server refused or reset the call.
                Some(Err(_)) | None => return,
            };
            if granted == 0 {
                continue;
            }
            if stream.send_data(pending.split_to(granted), false).is_err() {
                return;
            }
            figures.accepted.fetch_add(granted, Ordering::Relaxed);
        }
    };
    let answering = async {
        let answer = grpc_status(response).await.map_or_else(|error| error, |status| format!("grpc-status {status}"));
        *figures.answered.lock().expect("not poisoned").entry(answer).or_default() += 1;
    };
    // Holding `stream` keeps the call open once everything is sent; only the server's answer ends it.
    tokio::join!(sending, answering);
    drop(stream);
}

/// 1000 streams each announcing a 4 MiB message (the default limit) and sending 1 MiB of it: 1 GiB that a
/// server releasing flow control as chunks arrive would buffer on one connection.
const PARTIAL_STREAMS: usize = 1000;
const PARTIAL_ANNOUNCED: u32 = 4 << 20;
const PARTIAL_SENT: usize = 1 << 20;
const PARTIAL_BOUND_MIB: f64 = 300.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_messages_on_many_streams_stay_under_the_memory_bound() {
    let case = "partial-messages";
    let mut target = Target::start(&[]).await;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let figures = Arc::new(PartialFigures::default());
    let mut prefix = vec![0u8];
    prefix.extend_from_slice(&PARTIAL_ANNOUNCED.to_be_bytes());
    let mut send = h2_client(target.grpc, &h2::client::Builder::new()).await;
    let mut streams = JoinSet::new();
    for _ in 0..PARTIAL_STREAMS {
        // Waits while the server's limit on concurrent streams is reached, never past the deadline.
        send = match tokio::time::timeout_at(deadline, send.ready()).await {
            Ok(Ok(send)) => send,
            _ => break,
        };
        let (response, stream) = send.send_request(grpc_request(ECHO_UNARY, &[]), false).expect("open a stream");
        streams.spawn(partial_message(stream, response, prefix.clone(), PARTIAL_SENT, figures.clone()));
    }
    let opened = streams.len();

    // Until the attack stops making progress (the server holds back or refuses), it ends, or the server's
    // memory passes the bound (then there is no point going on: the assertion below fails).
    let mut progress = (0, Instant::now());
    while tokio::time::Instant::now() < deadline && !streams.is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        while streams.try_join_next().is_some() {}
        if target.memory().now >= PARTIAL_BOUND_MIB {
            break;
        }
        let accepted = figures.accepted.load(Ordering::Relaxed);
        if accepted != progress.0 {
            progress = (accepted, Instant::now());
        } else if progress.1.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    // The calls still open hold what they buffered while a normal call is made.
    let normal = target.must_serve(case).await;
    let memory = target.memory();
    let still_open = streams.len();
    streams.abort_all();
    let accepted = figures.accepted.load(Ordering::Relaxed) as f64 / MIB;
    let answered = figures.answered.lock().expect("not poisoned").clone();
    report(
        case,
        format_args!(
            "{memory} (bound {PARTIAL_BOUND_MIB} MiB); {opened} streams opened, {still_open} still open, answered \
             {answered:?}; the server took {accepted:.0} MiB of partial messages; normal call ok in {} ms; {:.1} s",
            normal.as_millis(),
            started.elapsed().as_secs_f64()
        ),
    );
    assert!(
        memory.peak < PARTIAL_BOUND_MIB,
        "{case}: {memory}, over the bound of {PARTIAL_BOUND_MIB} MiB, after the server took {accepted:.0} MiB"
    );
}

/// 1000 server-streaming calls each asking for 256 responses of 16 KiB (4 MiB, 4 GiB in all) from a
/// client whose flow-control window is 0 and never opens.
const CLOSED_WINDOW_STREAMS: usize = 1000;
const CLOSED_WINDOW_PAYLOAD: usize = 16 * 1024;
const CLOSED_WINDOW_REPEAT: i32 = 256;
const CLOSED_WINDOW_BOUND_MIB: f64 = 300.0;

/// A client that never reads: SETTINGS_INITIAL_WINDOW_SIZE 0, and no WINDOW_UPDATE ever (h2 sends one only
/// when the application releases capacity, which this one never does).
fn closed_window_client() -> h2::client::Builder {
    let mut builder = h2::client::Builder::new();
    builder.initial_window_size(0);
    builder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_opens_its_window_cannot_grow_server_memory() {
    let case = "closed-window";
    let mut target = Target::start(&[]).await;
    let started = Instant::now();
    let mut send = h2_client(target.grpc, &closed_window_client()).await;
    let request = EchoRequest {
        message: "never read".into(),
        repeat: CLOSED_WINDOW_REPEAT,
        payload: vec![7; CLOSED_WINDOW_PAYLOAD],
        ..Default::default()
    };
    let message = Bytes::from(grpc_message(&request));
    let mut responses = Vec::new();
    for _ in 0..CLOSED_WINDOW_STREAMS {
        send = match tokio::time::timeout(Duration::from_secs(5), send.ready()).await {
            Ok(Ok(send)) => send,
            _ => break,
        };
        let (response, mut stream) =
            send.send_request(grpc_request(ECHO_SERVER_STREAM, &[]), false).expect("open a stream");
        stream.send_data(message.clone(), true).expect("send the request");
        responses.push(response);
    }
    // Response headers need no window: their arrival shows each handler ran and began to answer. The bodies
    // are held, unread, so the window stays shut.
    let mut bodies = Vec::new();
    for response in responses {
        if let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(10), response).await {
            bodies.push(response.into_body());
        }
    }
    let mut peak_seen: f64 = 0.0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak_seen = peak_seen.max(target.memory().now);
        if peak_seen >= CLOSED_WINDOW_BOUND_MIB {
            break;
        }
    }
    let normal = target.must_serve(case).await;
    let memory = target.memory();
    let asked = CLOSED_WINDOW_STREAMS as f64 * CLOSED_WINDOW_PAYLOAD as f64 * f64::from(CLOSED_WINDOW_REPEAT) / MIB;
    report(
        case,
        format_args!(
            "{memory} (bound {CLOSED_WINDOW_BOUND_MIB} MiB); {} of {CLOSED_WINDOW_STREAMS} streams answered headers, \
             {asked:.0} MiB of responses asked for through a window of 0; normal call ok in {} ms; {:.1} s",
            bodies.len(),
            normal.as_millis(),
            started.elapsed().as_secs_f64()
        ),
    );
    assert_eq!(bodies.len(), CLOSED_WINDOW_STREAMS, "{case}: every call must reach its handler");
    assert!(memory.peak < CLOSED_WINDOW_BOUND_MIB, "{case}: {memory}, over the bound of {CLOSED_WINDOW_BOUND_MIB} MiB");
}

/// Responses stuck behind a window that never opens must not be held past the call's deadline: the server
/// ends each call (DEADLINE_EXCEEDED trailers, or RST_STREAM) and lets go of what it could not send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_stuck_behind_a_closed_window_end_at_the_deadline() {
    let case = "closed-window-deadline";
    let mut target = Target::start(&[]).await;
    let started = Instant::now();
    let mut send = h2_client(target.grpc, &closed_window_client()).await;
    let request = |repeat| EchoRequest { payload: vec![7; 256 * 1024], repeat, ..Default::default() };
    let mut calls = JoinSet::new();
    for (path, repeat) in [(ECHO_UNARY, 0), (ECHO_SERVER_STREAM, 16)] {
        let message = Bytes::from(grpc_message(&request(repeat)));
        for _ in 0..50 {
            send = send.ready().await.expect("the connection stays up");
            let (response, mut stream) =
                send.send_request(grpc_request(path, &[("grpc-timeout", "1S")]), false).expect("open a stream");
            stream.send_data(message.clone(), true).expect("send the request");
            calls.spawn(async move {
                // Reading the body does not open the window: only releasing capacity would.
                let ended = tokio::time::timeout(Duration::from_secs(5), async move {
                    let mut body = response.await.map_err(|e| format!("reset before headers: {e}"))?.into_body();
                    while let Some(chunk) = body.data().await {
                        chunk.map_err(|e| format!("reset: {}", e.reason().map_or(e.to_string(), |r| r.to_string())))?;
                    }
                    let trailers = body.trailers().await.map_err(|e| format!("reset: {e}"))?;
                    let status = trailers.as_ref().and_then(|t| t.get("grpc-status")).map(|v| v.as_bytes().to_vec());
                    Ok::<_, String>(format!("grpc-status {}", String::from_utf8_lossy(&status.unwrap_or_default())))
                })
                .await;
                (path, ended.unwrap_or_else(|_| Ok("still open after 5 s".into())).unwrap_or_else(|e| e))
            });
        }
    }
    let mut endings: BTreeMap<(&str, String), usize> = BTreeMap::new();
    while let Some(ending) = calls.join_next().await {
        *endings.entry(ending.expect("a call task")).or_default() += 1;
    }
    let normal = target.must_serve(case).await;
    let memory = target.memory();
    report(
        case,
        format_args!(
            "{memory}; 100 calls (50 unary, 50 server-streaming) with a 1 s deadline behind a closed window ended \
             as {endings:?}; normal call ok in {} ms; {:.1} s",
            normal.as_millis(),
            started.elapsed().as_secs_f64()
        ),
    );
    for ((path, ending), count) in &endings {
        assert!(
            ending.starts_with("reset") || ending == "grpc-status 4",
            "{case}: {count} calls to {path} ended as {ending:?}, not at their deadline"
        );
    }
}

/// Eight unary calls at once, each one gzip message of about 1 MiB that inflates to 1 GiB of zeros, 256
/// times the default 4 MiB limit.
const BOMBS: usize = 8;
const BOMB_INFLATED: u64 = 1 << 30;
const BOMB_BOUND_MIB: f64 = 128.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_is_resource_exhausted_with_bounded_memory() {
    let case = "zip-bomb";
    let mut target = Target::start(&[]).await;
    let bomb = gzip_zeros(BOMB_INFLATED);
    let message = Bytes::from(grpc_frame(true, &bomb));
    let started = Instant::now();
    let mut send = h2_client(target.grpc, &h2::client::Builder::new()).await;
    let mut calls = JoinSet::new();
    for _ in 0..BOMBS {
        send = send.ready().await.expect("the connection stays up");
        let head = grpc_request(ECHO_UNARY, &[("grpc-encoding", "gzip")]);
        let (response, mut stream) = send.send_request(head, false).expect("open a stream");
        stream.send_data(message.clone(), true).expect("send the bomb");
        calls.spawn(async move {
            let status = tokio::time::timeout(Duration::from_secs(30), grpc_status(response)).await;
            drop(stream);
            status.unwrap_or_else(|_| Err("no answer in 30 s".into()))
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = calls.join_next().await {
        statuses.push(status.expect("a call task"));
    }
    let answered = started.elapsed();
    let normal = target.must_serve(case).await;
    let memory = target.memory();
    report(
        case,
        format_args!(
            "{memory} (bound {BOMB_BOUND_MIB} MiB); {BOMBS} messages of {} KiB inflating to {} MiB each answered \
             {statuses:?} in {} ms; normal call ok in {} ms",
            bomb.len() / 1024,
            BOMB_INFLATED >> 20,
            answered.as_millis(),
            normal.as_millis()
        ),
    );
    // 8 is RESOURCE_EXHAUSTED.
    assert!(statuses.iter().all(|s| s == &Ok(8)), "{case}: {statuses:?}");
    assert!(memory.peak < BOMB_BOUND_MIB, "{case}: {memory}, over the bound of {BOMB_BOUND_MIB} MiB");
}
