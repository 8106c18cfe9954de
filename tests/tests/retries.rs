//! Retries and hedging from the service config (gRFC A6) against a real server that fails on request:
//! a call succeeds within maxAttempts, non-retryable codes and committed calls are not retried, backoff
//! and server pushback are observed, throttling stops retries under sustained failure, client streams are
//! replayed; hedging runs attempts in parallel and the first success wins.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsgrpc::client::Channel;
use rsgrpc::server::{BoxStream, Server};
use rsgrpc::{Code, Request, Response, Status, Streaming};
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::{Echo, EchoServer};
use rsgrpc_tests::gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};
use rsgrpc_tests::support::{serve, Running};

/// One attempt as the server saw it.
#[derive(Debug, Clone)]
struct Attempt {
    /// Its `grpc-previous-rpc-attempts`, if sent.
    previous: Option<String>,
    at: Instant,
}

/// An `Echo` that fails on request. Per call key (the message): the first `x-fail-times` attempts fail
/// with `x-fail-code` (and `x-pushback` as `grpc-retry-pushback-ms` if given); attempts without a previous
/// attempt sleep `x-delay-first-ms`, every attempt sleeps `x-delay-ms`.
#[derive(Clone, Default)]
struct Flaky {
    attempts: Arc<Mutex<HashMap<String, Vec<Attempt>>>>,
}

impl Flaky {
    fn attempts(&self, key: &str) -> Vec<Attempt> {
        self.attempts.lock().unwrap().get(key).cloned().unwrap_or_default()
    }

    /// Records the attempt; its number (from 1), or the failure it should end with.
    async fn attempt(&self, key: &str, metadata: &rsgrpc::MetadataMap) -> Result<usize, Status> {
        let number = {
            let mut attempts = self.attempts.lock().unwrap();
            let list = attempts.entry(key.to_owned()).or_default();
            list.push(Attempt {
                previous: metadata.get("grpc-previous-rpc-attempts").map(str::to_owned),
                at: Instant::now(),
            });
            list.len()
        };
        let number_of = |name: &str| metadata.get(name).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        if metadata.get("grpc-previous-rpc-attempts").is_none() {
            tokio::time::sleep(Duration::from_millis(number_of("x-delay-first-ms"))).await;
        }
        tokio::time::sleep(Duration::from_millis(number_of("x-delay-ms"))).await;
        if (number as u64) <= number_of("x-fail-times") {
            let mut status =
                Status::new(Code::from_i32(number_of("x-fail-code") as i32), format!("attempt {number} fails"));
            if let Some(pushback) = metadata.get("x-pushback") {
                status.metadata_mut().insert("grpc-retry-pushback-ms", pushback).unwrap();
            }
            return Err(status);
        }
        Ok(number)
    }
}

fn reply(message: &str, attempt: usize) -> EchoResponse {
    EchoResponse { message: message.into(), index: attempt as i32, ..Default::default() }
}

impl Echo for Flaky {
    async fn bidi(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        let metadata = request.metadata().clone();
        let mut stream = request.into_inner();
        // Fails after the first message arrived, before answering: a retry must send it again.
        let first = stream.message().await?.ok_or_else(|| Status::invalid_argument("no message"))?;
        let attempt = self.attempt("bidi", &metadata).await?;
        let echoed = futures_util::stream::once(async move { Ok(reply(&first.message, attempt)) });
        let rest = futures_util::StreamExt::map(stream, move |m| m.map(|m| reply(&m.message, attempt)));
        Ok(Response::new(Box::pin(futures_util::StreamExt::chain(echoed, rest))))
    }

    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let key = request.get_ref().message.clone();
        let attempt = self.attempt(&key, request.metadata()).await?;
        Ok(Response::new(reply(&key, attempt)))
    }

    async fn server_stream(&self, request: Request<EchoRequest>) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        let key = request.get_ref().message.clone();
        // x-fail-after-headers: the response starts (headers go out), then fails: the call is committed.
        if request.metadata().get("x-fail-after-headers").is_some() {
            self.attempt(&key, &rsgrpc::MetadataMap::new()).await?;
            let items = vec![Ok(reply(&key, 1)), Err(Status::unavailable("failed after the headers"))];
            return Ok(Response::new(Box::pin(futures_util::stream::iter(items))));
        }
        let attempt = self.attempt(&key, request.metadata()).await?;
        Ok(Response::new(Box::pin(futures_util::stream::iter([Ok(reply(&key, attempt))]))))
    }

    async fn client_stream(&self, request: Request<Streaming<EchoRequest>>) -> Result<Response<EchoResponse>, Status> {
        let metadata = request.metadata().clone();
        let mut stream = request.into_inner();
        let mut messages = Vec::new();
        while let Some(message) = stream.message().await? {
            messages.push(message.message);
        }
        // Fails after reading every message, so a retry must send them all again.
        let attempt = self.attempt("client-stream", &metadata).await?;
        Ok(Response::new(reply(&messages.join(","), attempt)))
    }
}

async fn flaky_server() -> (Running, Flaky) {
    let flaky = Flaky::default();
    (serve(Server::builder().add_service(EchoServer::new(flaky.clone())).build()).await, flaky)
}

fn retry_config(
    max_attempts: u32,
    initial_backoff: &str,
    max_backoff: &str,
    multiplier: f64,
    throttling: &str,
) -> String {
    format!(
        r#"{{"methodConfig": [{{"name": [{{"service": "rsgrpc.test.echo.Echo"}}],
            "retryPolicy": {{"maxAttempts": {max_attempts}, "initialBackoff": "{initial_backoff}",
                             "maxBackoff": "{max_backoff}", "backoffMultiplier": {multiplier},
                             "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]}}}}]
            {throttling}}}"#
    )
}

async fn client_with(server: &Running, config: &str) -> EchoClient {
    let builder = Channel::builder(&server.target()).unwrap().default_service_config(config).unwrap();
    EchoClient::new(builder.connect().await.unwrap())
}

fn failing(key: &str, times: u32, code: Code) -> Request<EchoRequest> {
    Request::new(EchoRequest { message: key.into(), ..Default::default() })
        .with_metadata("x-fail-times", &times.to_string())
        .with_metadata("x-fail-code", &(code as i32).to_string())
}

#[tokio::test]
async fn a_call_that_fails_fewer_than_max_attempts_times_succeeds() {
    let (server, flaky) = flaky_server().await;
    let client = client_with(&server, &retry_config(4, "0.01s", "0.05s", 2.0, "")).await;
    let response = client.unary(failing("three", 3, Code::Unavailable)).await.unwrap();
    assert_eq!(response.get_ref().index, 4, "the fourth attempt answered");
    let previous: Vec<_> = flaky.attempts("three").into_iter().map(|a| a.previous).collect();
    assert_eq!(previous, [None, Some("1".into()), Some("2".into()), Some("3".into())]);

    // One failure more than attempts allowed: the last failure is the call's.
    let status = client.unary(failing("four", 4, Code::ResourceExhausted)).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::ResourceExhausted, "attempt 4 fails"));
    assert_eq!(flaky.attempts("four").len(), 4);

    // A code the policy does not list is not retried.
    let status = client.unary(failing("invalid", 1, Code::InvalidArgument)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(flaky.attempts("invalid").len(), 1);

    // Server streaming: retried while no response headers arrived...
    let response = client.server_stream(failing("stream", 2, Code::Unavailable)).await.unwrap();
    let messages: Vec<_> = collect(response.into_inner()).await.unwrap();
    assert_eq!(messages, [3]);
    // ...but not once they did.
    let committed = failing("committed", 0, Code::Unavailable).with_metadata("x-fail-after-headers", "1");
    let mut stream = client.server_stream(committed).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().index, 1);
    assert_eq!(stream.message().await.unwrap_err().code(), Code::Unavailable);
    assert_eq!(flaky.attempts("committed").len(), 1);
}

async fn collect(mut stream: Streaming<EchoResponse>) -> Result<Vec<i32>, Status> {
    let mut indexes = Vec::new();
    while let Some(message) = stream.message().await? {
        indexes.push(message.index);
    }
    Ok(indexes)
}

fn gaps(attempts: &[Attempt]) -> Vec<Duration> {
    attempts.windows(2).map(|pair| pair[1].at - pair[0].at).collect()
}

#[tokio::test]
async fn backoff_and_server_pushback_space_the_attempts() {
    let (server, flaky) = flaky_server().await;
    // Bounds 100, 200, 400 ms: each wait is random below its bound.
    let client = client_with(&server, &retry_config(5, "0.1s", "0.4s", 2.0, "")).await;
    client.unary(failing("backoff", 4, Code::Unavailable)).await.unwrap();
    let gaps = gaps(&flaky.attempts("backoff"));
    let bounds = [100, 200, 400, 400].map(Duration::from_millis);
    for (gap, bound) in gaps.iter().zip(bounds) {
        assert!(*gap < bound + Duration::from_millis(100), "{gaps:?}");
    }
    assert!(gaps.iter().sum::<Duration>() > Duration::from_millis(20), "no backoff at all: {gaps:?}");

    // A pushback replaces the backoff: exactly that long.
    let pushed = failing("pushback", 2, Code::Unavailable).with_metadata("x-pushback", "300");
    client.unary(pushed).await.unwrap();
    for gap in gaps_of(&flaky, "pushback") {
        assert!(gap >= Duration::from_millis(300) && gap < Duration::from_millis(600), "{gap:?}");
    }
    // A negative pushback means: do not retry.
    let refused = failing("refused", 2, Code::Unavailable).with_metadata("x-pushback", "-1");
    assert_eq!(client.unary(refused).await.unwrap_err().code(), Code::Unavailable);
    assert_eq!(flaky.attempts("refused").len(), 1);
}

fn gaps_of(flaky: &Flaky, key: &str) -> Vec<Duration> {
    gaps(&flaky.attempts(key))
}

#[tokio::test]
async fn throttling_stops_retries_under_sustained_failure() {
    let (server, flaky) = flaky_server().await;
    let throttling = r#", "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.5}"#;
    let client = client_with(&server, &retry_config(5, "0.001s", "0.001s", 1.0, throttling)).await;
    // 10 tokens, one per failed attempt, retries only above 5: the first call makes 5 attempts (down to
    // 5 tokens), then calls get one attempt each.
    for key in ["a", "b", "c"] {
        assert_eq!(client.unary(failing(key, 100, Code::Unavailable)).await.unwrap_err().code(), Code::Unavailable);
    }
    let counts: Vec<usize> = ["a", "b", "c"].iter().map(|key| flaky.attempts(key).len()).collect();
    assert_eq!(counts, [5, 1, 1]);
    // Successes refill the bucket (0.5 each) until retries are allowed again.
    for i in 0..8 {
        client.unary(failing(&format!("ok{i}"), 0, Code::Unavailable)).await.unwrap();
    }
    client.unary(failing("d", 1, Code::Unavailable)).await.unwrap();
    assert_eq!(flaky.attempts("d").len(), 2, "retries resumed");
    // And a channel can turn retries off.
    let builder = Channel::builder(&server.target()).unwrap();
    let builder = builder.default_service_config(&retry_config(5, "0.001s", "0.001s", 1.0, "")).unwrap();
    let client = EchoClient::new(builder.disable_retries().connect().await.unwrap());
    assert!(client.unary(failing("off", 1, Code::Unavailable)).await.is_err());
    assert_eq!(flaky.attempts("off").len(), 1);
}

#[tokio::test]
async fn a_client_stream_is_replayed_by_the_retry() {
    let (server, flaky) = flaky_server().await;
    let client = client_with(&server, &retry_config(3, "0.01s", "0.01s", 1.0, "")).await;
    let messages = ["a", "b", "c"].map(|m| EchoRequest { message: m.into(), ..Default::default() });
    let request = Request::new(futures_util::stream::iter(messages.clone()))
        .with_metadata("x-fail-times", "2")
        .with_metadata("x-fail-code", &(Code::Unavailable as i32).to_string());
    let response = client.client_stream(request).await.unwrap();
    assert_eq!((response.get_ref().message.as_str(), response.get_ref().index), ("a,b,c", 3));

    // Past the retry buffer the messages cannot be sent again: no retry.
    let builder = Channel::builder(&server.target()).unwrap();
    let builder = builder.default_service_config(&retry_config(3, "0.01s", "0.01s", 1.0, "")).unwrap();
    let client = EchoClient::new(builder.retry_buffer_size(4).connect().await.unwrap());
    let request = Request::new(futures_util::stream::iter(messages))
        .with_metadata("x-fail-times", "100")
        .with_metadata("x-fail-code", &(Code::Unavailable as i32).to_string());
    let before = flaky.attempts("client-stream").len();
    assert_eq!(client.client_stream(request).await.unwrap_err().code(), Code::Unavailable);
    assert_eq!(flaky.attempts("client-stream").len(), before + 1);
}

fn hedging_config(max_attempts: u32, delay: &str) -> String {
    format!(
        r#"{{"methodConfig": [{{"name": [{{"service": "rsgrpc.test.echo.Echo"}}],
            "hedgingPolicy": {{"maxAttempts": {max_attempts}, "hedgingDelay": "{delay}",
                               "nonFatalStatusCodes": ["UNAVAILABLE"]}}}}]}}"#
    )
}

fn slow(key: &str, header: &str, ms: u64) -> Request<EchoRequest> {
    Request::new(EchoRequest { message: key.into(), ..Default::default() }).with_metadata(header, &ms.to_string())
}

#[tokio::test]
async fn hedging_sends_parallel_attempts_and_the_first_success_wins() {
    let (server, flaky) = flaky_server().await;
    let client = client_with(&server, &hedging_config(3, "0.1s")).await;
    // The first attempt is slow; the hedge sent 100 ms later answers first.
    let started = Instant::now();
    let response = client.unary(slow("slow-first", "x-delay-first-ms", 3000)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    let attempts = flaky.attempts("slow-first");
    assert_eq!(attempts.len(), 2, "a third attempt was not needed");
    assert_eq!(attempts[1].previous.as_deref(), Some("1"));
    // Measured from the call's start: the first attempt's arrival can lag on a loaded machine.
    assert!(attempts[1].at - started >= Duration::from_millis(100));
    assert_eq!(response.get_ref().index, 2);

    // Every attempt slow: all three run at once, 100 ms apart, and the first to finish wins.
    let response = client.unary(slow("all-slow", "x-delay-ms", 500)).await.unwrap();
    let attempts = flaky.attempts("all-slow");
    assert_eq!(attempts.len(), 3);
    assert!(attempts[2].at - attempts[0].at < Duration::from_millis(400), "not in parallel");
    assert_eq!(response.get_ref().index, 1, "the first attempt finished first");

    // A non-fatal failure starts the next attempt at once; a fatal one ends the call.
    let started = Instant::now();
    client.unary(failing("non-fatal", 1, Code::Unavailable)).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(90), "waited for the hedging delay");
    let status = client.unary(failing("fatal", 1, Code::Internal)).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(flaky.attempts("fatal").len(), 1);
}

#[tokio::test]
async fn hedged_streaming_calls_send_every_message_on_each_attempt() {
    let (server, flaky) = flaky_server().await;
    let client = client_with(&server, &hedging_config(3, "0.1s")).await;
    let messages = ["a", "b", "c"].map(|m| EchoRequest { message: m.into(), ..Default::default() });

    // The first attempt is slow to answer; the hedge, started 100 ms later, gets the messages the first
    // one pulled from the caller's stream, from the retry buffer, and wins.
    let started = Instant::now();
    let request = Request::new(futures_util::stream::iter(messages.clone())).with_metadata("x-delay-first-ms", "3000");
    let response = client.client_stream(request).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!((response.get_ref().message.as_str(), response.get_ref().index), ("a,b,c", 2));
    let attempts = flaky.attempts("client-stream");
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].previous.as_deref(), Some("1"));

    // The same for a bidirectional call: the hedge replays what the caller sent before it started, and
    // once its response headers arrive it is the call and takes the rest.
    let (mut sender, mut responses) =
        client.bidi(Request::new(()).with_metadata("x-delay-first-ms", "3000")).await.unwrap();
    sender.send(messages[0].clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for message in &messages[1..] {
        sender.send(message.clone()).await.unwrap();
    }
    sender.close();
    let mut got = Vec::new();
    while let Some(message) = responses.message().await.unwrap() {
        got.push((message.message, message.index));
    }
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(got, [("a".to_owned(), 2), ("b".to_owned(), 2), ("c".to_owned(), 2)], "the hedge answered all");
}

#[tokio::test]
async fn a_bidirectional_call_is_retried_with_its_messages_replayed() {
    let (server, flaky) = flaky_server().await;
    let client = client_with(&server, &retry_config(3, "0.01s", "0.01s", 1.0, "")).await;
    let request = Request::new(())
        .with_metadata("x-fail-times", "2")
        .with_metadata("x-fail-code", &(Code::Unavailable as i32).to_string());
    let (mut sender, mut responses) = client.bidi(request).await.unwrap();
    for message in ["a", "b", "c"] {
        sender.send(EchoRequest { message: message.into(), ..Default::default() }).await.unwrap();
    }
    sender.close();
    let mut got = Vec::new();
    while let Some(message) = responses.message().await.unwrap() {
        got.push((message.message, message.index));
    }
    assert_eq!(got, [("a".to_owned(), 3), ("b".to_owned(), 3), ("c".to_owned(), 3)], "the third attempt answered all");
    let previous: Vec<_> = flaky.attempts("bidi").into_iter().map(|a| a.previous).collect();
    assert_eq!(previous, [None, Some("1".into()), Some("2".into())]);
}

/// A gRPC server (raw HTTP/2) that answers each call with response headers at once and its message and
/// trailers after `delay`, counting the calls it got.
async fn early_headers_server(
    delay: std::time::Duration,
) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use prost::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut connection = h2::server::handshake(tcp).await.unwrap();
                while let Some(Ok((_request, mut respond))) = connection.accept().await {
                    let number = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    tokio::spawn(async move {
                        let head =
                            http::Response::builder().header("content-type", "application/grpc").body(()).unwrap();
                        let mut send = respond.send_response(head, false).unwrap();
                        tokio::time::sleep(delay).await;
                        let reply = EchoResponse { message: "slow".into(), index: number as i32, ..Default::default() };
                        let body = reply.encode_to_vec();
                        let mut framed = vec![0u8];
                        framed.extend_from_slice(&(body.len() as u32).to_be_bytes());
                        framed.extend_from_slice(&body);
                        let _ = send.send_data(bytes::Bytes::from(framed), false);
                        let mut trailers = http::HeaderMap::new();
                        trailers.insert("grpc-status", "0".parse().unwrap());
                        let _ = send.send_trailers(trailers);
                    });
                }
            });
        }
    });
    (addr, calls)
}

#[tokio::test]
async fn a_hedged_attempt_that_got_response_headers_is_committed() {
    let (addr, calls) = early_headers_server(std::time::Duration::from_millis(500)).await;
    let builder = Channel::builder(&format!("http://{addr}")).unwrap();
    let client =
        EchoClient::new(builder.default_service_config(&hedging_config(3, "0.1s")).unwrap().connect().await.unwrap());
    let response = client.unary(EchoRequest { message: "x".into(), ..Default::default() }).await.unwrap();
    // The first attempt's headers came at once: no hedge was sent, though its message took 500 ms.
    assert_eq!(response.get_ref().index, 1);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}
