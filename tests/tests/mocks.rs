//! Generated mock clients (parameter `mocks`; the `wire` golden case has it) and the client trait: code
//! under test takes `&impl EchoApi`, and runs against a `MockEcho` with expectations and against a real
//! server over the in-memory transport, in all four call kinds; failures read as what was expected.

use std::panic::{catch_unwind, AssertUnwindSafe};

use futures_util::{stream, StreamExt};
use rsgrpc::mock::Replies;
use rsgrpc::server::Server;
use rsgrpc::testing::InMemoryServer;
use rsgrpc::{Code, Status};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::wire_gen::rsgrpc::test::echo::echo_client::{EchoApi, EchoClient, MockEcho};
use rsgrpc_tests::wire_gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};

fn request(message: &str) -> EchoRequest {
    EchoRequest { message: message.into(), ..Default::default() }
}

fn response(message: &str) -> EchoResponse {
    EchoResponse { message: message.into(), ..Default::default() }
}

/// The code under test, written against the client trait: it uses every call kind of the service.
async fn summarize(api: &impl EchoApi, words: &[&str]) -> Result<String, Status> {
    let first = api.unary(request(words[0])).await?.into_inner().message;

    let mut repeated = api.server_stream(EchoRequest { repeat: 2, ..request(&first) }).await?.into_inner();
    let mut count = 0;
    while repeated.message().await?.is_some() {
        count += 1;
    }

    let all = words.iter().map(|word| request(word)).collect::<Vec<_>>();
    let joined = api.client_stream(stream::iter(all)).await?.into_inner().message;

    let (mut sender, mut echoes) = api.bidi(()).await?;
    let mut echoed = Vec::new();
    for word in words {
        sender.send(request(word)).await?;
        let echo = echoes.message().await?.ok_or_else(|| Status::data_loss("the echo stream ended early"))?;
        echoed.push(echo.message);
    }
    sender.close();
    Ok(format!("{first} x{count} [{joined}] {}", echoed.join("+")))
}

/// A mock answering as the real Echo service does.
fn echoing_mock() -> MockEcho {
    let mock = MockEcho::new();
    mock.expect_unary().with(|request| request.message == "a").returning(|request| Ok(response(&request.message)));
    mock.expect_server_stream()
        .returning(|request| Ok(Replies::messages(vec![response(&request.message); request.repeat as usize])));
    mock.expect_client_stream().with(|requests| requests.len() == 2).returning(|requests| {
        let words: Vec<String> = requests.into_iter().map(|request| request.message).collect();
        Ok(response(&words.join(",")))
    });
    mock.expect_bidi().returning(|requests| {
        Ok(Replies::from_stream(requests.map(|request| request.map(|request| response(&request.message)))))
    });
    mock
}

#[tokio::test]
async fn the_code_under_test_with_a_mock() {
    let mock = echoing_mock();
    assert_eq!(summarize(&mock, &["a", "b"]).await.unwrap(), "a x2 [a,b] a+b");
    mock.verify().expect("every expectation met");
}

#[tokio::test]
async fn the_same_code_against_a_real_server_in_memory() {
    let server = Server::builder().add_service(EchoServer::new(EchoService::default())).build();
    let running = InMemoryServer::start(server);
    let client = EchoClient::new(running.channel());
    assert_eq!(summarize(&client, &["a", "b"]).await.unwrap(), "a x2 [a,b] a+b");
    running.shutdown().await;
}

#[tokio::test]
async fn an_unexpected_request_fails_the_call_and_the_verification_saying_what_was_expected() {
    let mock = MockEcho::new();
    mock.expect_unary().with_request(request("hello"));
    let status = summarize(&mock, &["bye"]).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(
        status.message().starts_with("unexpected call of /rsgrpc.test.echo.Echo/Unary with EchoRequest {"),
        "{status}"
    );
    assert!(status.message().contains(r#"message: "bye""#), "{status}");

    let report = mock.verify().unwrap_err().to_string();
    let expected = r#"#1 a request equal to EchoRequest { message: "hello""#;
    assert!(
        report.starts_with("MockEcho: 2 problems\n  - unexpected call of /rsgrpc.test.echo.Echo/Unary"),
        "{report}"
    );
    assert!(report.contains(&format!("it matches none of the expectations ({expected}")), "{report}");
    assert!(
        report.contains(
            r#"/rsgrpc.test.echo.Echo/Unary: expectation #1 (a request equal to EchoRequest { message: "hello""#
        ) && report.contains("wants exactly 1 call, and got 0"),
        "{report}"
    );
    // Verifying cleared the expectations: the mock drops quietly now.
}

#[tokio::test]
async fn a_mock_dropped_with_an_unmet_expectation_panics_naming_it() {
    let mock = MockEcho::new();
    mock.expect_server_stream().at_least(1);
    let panic = catch_unwind(AssertUnwindSafe(|| drop(mock))).unwrap_err();
    let message = panic.downcast_ref::<String>().expect("a formatted panic message");
    assert_eq!(
        message,
        "MockEcho: 1 problem\n  - /rsgrpc.test.echo.Echo/ServerStream: expectation #1 (any request) wants at least 1 \
         call, and got 0"
    );
}

#[tokio::test]
async fn calls_beyond_times_fail_and_expectations_are_tried_in_order() {
    let mock = MockEcho::new();
    mock.expect_unary().times(2).returning(|_| Ok(response("first")));
    mock.expect_unary().with(|request| request.message == "special").returning(|_| Err(Status::not_found("no")));
    assert_eq!(mock.unary(request("x")).await.unwrap().get_ref().message, "first");
    assert_eq!(mock.unary(request("y")).await.unwrap().get_ref().message, "first");
    // The first is used up: "special" falls to the second, anything else to nothing.
    assert_eq!(mock.unary(request("special")).await.unwrap_err().code(), Code::NotFound);
    let status = mock.unary(request("z")).await.unwrap_err();
    assert!(
        status.message().contains("more often than expected: expectation #1 (any request) wants exactly 2 calls"),
        "{status}"
    );
    let report = mock.verify().unwrap_err();
    assert_eq!(report.problems().len(), 1, "{report}");
    // After verify, the mock starts afresh: a new expectation, met, verifies clean.
    mock.expect_unary();
    assert_eq!(mock.unary(request("default")).await.unwrap().into_inner(), EchoResponse::default());
    mock.checkpoint();
}

#[tokio::test]
async fn a_bidi_sender_dropped_without_close_reads_as_cancelled_to_the_expectation() {
    let mock = MockEcho::new();
    let (seen, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    mock.expect_bidi().times(2).returning(move |mut requests| {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut received = 0;
            let end = loop {
                match requests.message().await {
                    Ok(Some(_)) => received += 1,
                    end => break end,
                }
            };
            let _ = seen.send((received, end));
        });
        Ok(Replies::default())
    });
    let (mut sender, _responses) = mock.bidi(()).await.unwrap();
    sender.send(request("one")).await.unwrap();
    drop(sender);
    let (received, end) = seen_rx.recv().await.unwrap();
    assert_eq!(received, 1);
    // Not a clean end: a server would see the call cancelled, never a complete request stream.
    assert_eq!(end.unwrap_err().code(), Code::Cancelled);

    // Closed, the stream ends cleanly.
    let (mut sender, _responses) = mock.bidi(()).await.unwrap();
    sender.close();
    let (received, end) = seen_rx.recv().await.unwrap();
    assert_eq!((received, end.unwrap()), (0, None));
    mock.verify().unwrap();
}

#[tokio::test]
async fn a_status_mid_stream_reaches_the_caller() {
    let mock = MockEcho::new();
    mock.expect_server_stream()
        .returning(|_| Ok(Replies::then_error([response("one")], Status::aborted("mid-stream"))));
    let mut stream = mock.server_stream(request("x")).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().message, "one");
    let status = stream.message().await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Aborted, "mid-stream"));
}
