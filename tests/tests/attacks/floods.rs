//! Floods of frames no well-behaved client sends, written by hand: rapid reset (CVE-2023-44487), CONTINUATION
//! without end (the 2024 CONTINUATION flood), PING and SETTINGS floods. Each runs for a bounded number of
//! frames and seconds while normal calls go on from other connections.

use std::time::{Duration, Instant};

use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;

use super::frames::{code, flag, hpack, setting, Answered, Frame, RawConnection};
use super::target::{NormalCalls, Target};
use super::{grpc_message, report, ECHO_UNARY};

/// How long any flood runs at most.
const FLOOD_TIME: Duration = Duration::from_secs(5);
/// The server's memory must stay under this during a flood (it idles at about 10 MiB in a debug build).
const FLOOD_BOUND_MIB: f64 = 100.0;
/// How often the normal calls beside a flood are made.
const NORMAL_EVERY: Duration = Duration::from_millis(100);

/// How a flood went, for its report line.
struct Flood {
    frames: usize,
    bytes: usize,
    took: Duration,
    answered: Answered,
}

impl std::fmt::Display for Flood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let closed = match self.answered.closed_after {
            Some(after) => format!("closed by the server after {} ms", after.as_millis()),
            None => "left open".to_owned(),
        };
        let goaway = self.answered.goaway.map_or("no GOAWAY".to_owned(), |code| format!("GOAWAY code {code:#x}"));
        let answered = &self.answered;
        write!(
            f,
            "{} frames ({} KiB) in {} ms; the server answered {} frames ({} HEADERS, {} PING acks, {} SETTINGS \
             acks, {} RST_STREAM), {goaway}, {closed}",
            self.frames,
            self.bytes / 1024,
            self.took.as_millis(),
            answered.frames,
            answered.headers,
            answered.ping_acks,
            answered.settings_acks,
            answered.resets
        )
    }
}

/// Writes `batch(i)` for i = 0, 1, ... (each `per_batch` frames) until `max_frames` or [`FLOOD_TIME`], or
/// until the server closes the connection; then waits up to `linger` for it to close.
async fn flood(
    mut connection: RawConnection,
    per_batch: usize,
    max_frames: usize,
    linger: Duration,
    mut batch: impl FnMut(usize) -> Vec<u8>,
) -> Flood {
    let started = Instant::now();
    let mut frames = 0;
    let mut i = 0;
    while frames < max_frames && started.elapsed() < FLOOD_TIME {
        if connection.write(&batch(i)).await.is_err() {
            break;
        }
        frames += per_batch;
        i += 1;
    }
    let took = started.elapsed();
    let bytes = connection.written;
    let answered = connection.finish(linger).await;
    Flood { frames, bytes, took, answered }
}

/// Runs `attack` against a fresh target with normal calls beside it, then one more normal call; checks the
/// normal calls and the memory bound and reports. Returns the flood for case-specific checks.
async fn under_flood<F>(case: &str, flags: &[&str], attack: impl FnOnce(std::net::SocketAddr) -> F) -> Flood
where
    F: std::future::Future<Output = Flood>,
{
    let mut target = Target::start(flags).await;
    let normal = NormalCalls::start(&target, false, NORMAL_EVERY);
    let flood = attack(target.grpc).await;
    let during = normal.stop().await;
    let after = target.must_serve(case).await;
    let memory = target.memory();
    report(
        case,
        format_args!(
            "{memory} (bound {FLOOD_BOUND_MIB} MiB); {flood}; {during}; normal call after ok in {} ms",
            after.as_millis()
        ),
    );
    assert!(during.failures.is_empty(), "{case}: normal calls failed during the flood: {:?}", during.failures);
    assert!(during.made > 0, "{case}: no normal call was made during the flood");
    assert!(memory.peak < FLOOD_BOUND_MIB, "{case}: {memory}, over the bound of {FLOOD_BOUND_MIB} MiB");
    flood
}

/// Streams opened by the rapid-reset attacker at most.
const RESET_STREAMS: usize = 20_000;

/// HEADERS, a complete request message and RST_STREAM(CANCEL), 100 streams (300 frames) per write, up to
/// 20,000 streams: every call is dispatched and cancelled at once (CVE-2023-44487).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_leaves_the_server_serving() {
    let case = "rapid-reset";
    let block = hpack::grpc_request(ECHO_UNARY, &[]);
    let message = grpc_message(&EchoRequest { message: "reset".into(), delay_ms: 1000, ..Default::default() });
    let flood = under_flood(case, &[], |addr| async move {
        let connection = RawConnection::open(addr).await;
        flood(connection, 300, 3 * RESET_STREAMS, Duration::from_secs(3), |i| {
            let mut out = Vec::new();
            for n in 0..100 {
                let stream = 1 + 2 * (100 * i + n) as u32;
                Frame::headers(stream, flag::END_HEADERS, block.clone()).encode(&mut out);
                Frame::data(stream, flag::END_STREAM, message.clone()).encode(&mut out);
                Frame::rst_stream(stream, code::CANCEL).encode(&mut out);
            }
            out
        })
        .await
    })
    .await;
    // Bounded work: the server either keeps up with every stream of the storm within the flood's time, or
    // (h2's limit on streams reset before they are accepted) ends the connection.
    assert!(flood.answered.closed_after.is_some() || flood.frames == 3 * RESET_STREAMS, "{case}: {flood}");
}

/// A HEADERS frame without END_HEADERS, then CONTINUATION frames that never set it: full 16 KiB frames of
/// header fields (up to 64 MiB), and on a second connection empty frames (up to 1,000,000). The server
/// must close each connection long before the attacker is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_flood_is_cut_off() {
    let start = hpack::grpc_request(ECHO_UNARY, &[]);
    let mut full = Vec::new();
    // One header field per frame, 16,384 bytes in all (the default SETTINGS_MAX_FRAME_SIZE).
    hpack::literal("x-flood", &"a".repeat(16_384 - 12), &mut full);
    assert_eq!(full.len(), 16_384);
    for (case, fragment, per_batch, max_frames) in
        [("continuation-flood", full, 64, 4096), ("continuation-flood-empty", Vec::new(), 10_000, 1_000_000)]
    {
        let start = start.clone();
        let flood = under_flood(case, &[], |addr| async move {
            let mut connection = RawConnection::open(addr).await;
            let mut opening = Vec::new();
            Frame::headers(1, 0, start).encode(&mut opening);
            connection.write(&opening).await.expect("the HEADERS frame is accepted");
            flood(connection, per_batch, max_frames, Duration::from_secs(3), |_| {
                let mut out = Vec::new();
                for _ in 0..per_batch {
                    Frame::continuation(1, 0, fragment.clone()).encode(&mut out);
                }
                out
            })
            .await
        })
        .await;
        assert!(flood.answered.closed_after.is_some(), "{case}: the server kept the connection: {flood}");
        assert!(flood.frames < max_frames, "{case}: the server took every frame: {flood}");
    }
}

/// PING after PING, 1000 per write, up to 200,000: with the default keepalive policy the server ends the
/// connection with GOAWAY ENHANCE_YOUR_CALM; with the policy off it answers them all with bounded memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_is_sent_away_or_answered_within_bounds() {
    for (case, flags) in [("ping-flood", &[][..]), ("ping-flood-policy-off", &["--keepalive-enforcement=off"][..])] {
        let flood = under_flood(case, flags, |addr| async move {
            let connection = RawConnection::open(addr).await;
            flood(connection, 1000, 200_000, Duration::from_millis(500), |i| {
                let mut out = Vec::new();
                for n in 0..1000 {
                    Frame::ping((i * 1000 + n) as u64).encode(&mut out);
                }
                out
            })
            .await
        })
        .await;
        if flags.is_empty() {
            // The GOAWAY ENHANCE_YOUR_CALM before the close is often lost: closing a socket with unread
            // PINGs in it resets the connection, and a reset discards what the attacker had yet to read.
            // keepalive.rs checks the GOAWAY with a client that stops after a few PINGs.
            assert!(flood.answered.closed_after.is_some(), "{case}: the server kept the connection: {flood}");
            let goaway = flood.answered.goaway;
            assert!(goaway.is_none() || goaway == Some(code::ENHANCE_YOUR_CALM), "{case}: {flood}");
        } else {
            assert!(flood.answered.ping_acks > 0, "{case}: no PING answered: {flood}");
        }
    }
}

/// 100 streams left open, then SETTINGS frames alternating SETTINGS_INITIAL_WINDOW_SIZE between 0 and 1 MiB
/// (each change applies to every open stream) and MAX_FRAME_SIZE, 500 per write, up to 100,000, never
/// acknowledging the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_flood_leaves_the_server_serving() {
    let case = "settings-flood";
    let block = hpack::grpc_request(ECHO_UNARY, &[]);
    let flood = under_flood(case, &[], |addr| async move {
        let mut connection = RawConnection::open(addr).await;
        let mut open_streams = Vec::new();
        for n in 0..100 {
            Frame::headers(1 + 2 * n, flag::END_HEADERS, block.clone()).encode(&mut open_streams);
        }
        connection.write(&open_streams).await.expect("the streams are accepted");
        flood(connection, 500, 100_000, Duration::from_millis(500), |i| {
            let mut out = Vec::new();
            for n in 0..500 {
                let window = if (i + n) % 2 == 0 { 0 } else { 1 << 20 };
                let settings = [(setting::INITIAL_WINDOW_SIZE, window), (setting::MAX_FRAME_SIZE, 16_384 << (n % 2))];
                Frame::settings(&settings).encode(&mut out);
            }
            out
        })
        .await
    })
    .await;
    // The frames were processed, not only left in socket buffers: the server acknowledged them (RFC 9113
    // §6.5.3), one by one as it read them.
    assert!(flood.answered.settings_acks > 0, "{case}: no SETTINGS acknowledged: {flood}");
}

/// HPACK bomb (CVE-2016-6581's kind): each request's header block adds a 4000-byte field to the dynamic
/// table and then refers to it in one byte, again and again, to the 16 KiB frame limit: about 12,000
/// fields, 48 MB of headers by HPACK's measure, from 16 KiB on the wire; 1000 such requests, 50 per
/// write. The server must refuse each (its header list limit is 16 KiB) without building the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpack_bomb_is_refused_without_growing_memory() {
    let case = "hpack-bomb";
    let mut block = hpack::grpc_request(ECHO_UNARY, &[]);
    hpack::literal_indexed("x-bomb", &"a".repeat(4000), &mut block);
    while block.len() < 16_384 {
        hpack::indexed(hpack::NEWEST_DYNAMIC, &mut block);
    }
    let flood = under_flood(case, &[], |addr| async move {
        let connection = RawConnection::open(addr).await;
        flood(connection, 50, 1000, Duration::from_secs(3), |i| {
            let mut out = Vec::new();
            for n in 0..50 {
                let stream = 1 + 2 * (50 * i + n) as u32;
                Frame::headers(stream, flag::END_HEADERS | flag::END_STREAM, block.clone()).encode(&mut out);
            }
            out
        })
        .await
    })
    .await;
    // Refused: each stream answered (431 headers or RST_STREAM), or the connection ended.
    let answered = flood.answered.headers + flood.answered.resets;
    assert!(answered >= flood.frames || flood.answered.closed_after.is_some(), "{case}: {flood}");
}
