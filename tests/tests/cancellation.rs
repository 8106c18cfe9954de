//! Cancellation is never mistaken for completion: a bidirectional sender dropped without `close()`
//! cancels the call (RST_STREAM CANCEL), so the server never takes a truncated upload for a whole one, with
//! or without a retry policy; and a retried call whose caller went away stops its attempts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rsgrpc::client::Channel;
use rsgrpc::interceptor::{stream_fn, StreamNext};
use rsgrpc::server::Server;
use rsgrpc::{Code, Request};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::{serve, Running};

const RETRY_BIDI: &str = r#"{"methodConfig": [{"name": [{"service": "rsgrpc.test.echo.Echo"}],
  "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.5s", "maxBackoff": "0.5s", "backoffMultiplier": 1,
                  "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#;

/// An echo server counting the streaming calls that reach it.
async fn counting_server() -> (Running, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let server = Server::builder()
        .stream_interceptor(stream_fn(move |request, next: StreamNext| {
            counted.fetch_add(1, Ordering::SeqCst);
            next.run(request)
        }))
        .add_service(EchoServer::new(EchoService::default()))
        .build();
    (serve(server).await, calls)
}

fn message(text: &str) -> EchoRequest {
    EchoRequest { message: text.into(), ..Default::default() }
}

/// Two messages echoed, then the sender dropped without close: the server must see a cancellation, which
/// comes back as the response stream's end. `close` instead ends the stream cleanly.
async fn drop_or_close(channel: Channel, close: bool) -> Result<Option<String>, Code> {
    let echo = EchoClient::new(channel);
    let (mut sender, mut responses) = echo.bidi(Request::new(())).await.expect("opened");
    for text in ["one", "two"] {
        sender.send(message(text)).await.expect("sent");
        let reply = responses.message().await.expect("echoed").expect("a reply");
        assert_eq!(reply.message, text);
    }
    if close {
        sender.close();
    }
    drop(sender);
    let end = tokio::time::timeout(Duration::from_secs(5), responses.message()).await.expect("the call ends");
    end.map(|reply| reply.map(|r| r.message)).map_err(|status| status.code())
}

#[tokio::test]
async fn a_dropped_bidi_sender_cancels_the_call_and_close_completes_it() {
    let (server, _) = counting_server().await;
    let channel = Channel::connect(&server.target()).await.unwrap();
    assert_eq!(drop_or_close(channel.clone(), true).await, Ok(None), "close() ends the request stream cleanly");
    assert_eq!(drop_or_close(channel, false).await, Err(Code::Cancelled), "a dropped sender is a cancellation");
}

#[tokio::test]
async fn under_a_retry_policy_too_a_dropped_sender_cancels_and_close_completes() {
    let (server, _) = counting_server().await;
    let channel = Channel::builder(&server.target()).unwrap().default_service_config(RETRY_BIDI).unwrap();
    let channel = channel.connect().await.unwrap();
    assert_eq!(drop_or_close(channel.clone(), true).await, Ok(None));
    assert_eq!(drop_or_close(channel, false).await, Err(Code::Cancelled));
}

#[tokio::test]
async fn a_retried_call_the_caller_dropped_makes_no_more_attempts() {
    let (server, calls) = counting_server().await;
    let channel = Channel::builder(&server.target()).unwrap().default_service_config(RETRY_BIDI).unwrap();
    let echo = EchoClient::new(channel.connect().await.unwrap());
    let (mut sender, responses) = echo.bidi(Request::new(())).await.expect("opened");
    // Every attempt fails UNAVAILABLE, so without the caller the policy would try five times, 0.5 s apart.
    let failing = EchoRequest { fail_code: Code::Unavailable as i32, ..Default::default() };
    sender.send(failing).await.expect("queued");
    let started = std::time::Instant::now();
    while calls.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "the first attempt never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(responses);
    drop(sender);
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let attempts = calls.load(Ordering::SeqCst);
    assert!(attempts <= 2, "{attempts} attempts reached the server after the caller gave up");
}
