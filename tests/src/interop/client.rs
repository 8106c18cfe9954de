//! The interop test cases, client side, as the gRPC interop test descriptions specify them. Each returns
//! `Err` with the check that failed.

use std::time::Duration;

use rsgrpc::client::{cancellable, Channel};
use rsgrpc::compression::Encoding;
use rsgrpc::{Code, Request, Status};

use crate::interop_gen::grpc::testing::test_service_client::TestServiceClient;
use crate::interop_gen::grpc::testing::unimplemented_service_client::UnimplementedServiceClient;
use crate::interop_gen::grpc::testing::{
    BoolValue, EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, StreamingInputCallRequest,
    StreamingOutputCallRequest,
};

/// Every case this client runs, in the order of the descriptions.
pub const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
];

/// The result of a case: `Err` describes the failed check.
pub type Outcome = Result<(), String>;

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

fn failed(what: &str) -> impl FnOnce(Status) -> String + '_ {
    move |status| format!("{what} failed: {status}")
}

fn payload(size: usize) -> Option<Payload> {
    Some(Payload { body: vec![0; size], ..Default::default() })
}

fn streaming_request(response_size: i32, payload_size: usize) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: vec![ResponseParameters { size: response_size, ..Default::default() }],
        payload: payload(payload_size),
        ..Default::default()
    }
}

fn body_len(payload: &Option<Payload>) -> usize {
    payload.as_ref().map_or(0, |p| p.body.len())
}

/// Messages sent one after another, a nameable stream type.
pub struct Items<T>(std::vec::IntoIter<T>);

impl<T> Unpin for Items<T> {}

impl<T> rsgrpc::Stream for Items<T> {
    type Item = T;
    fn poll_next(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
        std::task::Poll::Ready(self.get_mut().0.next())
    }
}

fn stream_of<T: Send + 'static>(items: Vec<T>) -> Items<T> {
    Items(items.into_iter())
}

/// Runs one case against `channel`.
pub async fn run(case: &str, channel: &Channel) -> Outcome {
    let client = TestServiceClient::new(channel.clone());
    match case {
        "empty_unary" => empty_unary(&client).await,
        "large_unary" => large_unary(&client).await,
        "client_streaming" => client_streaming(&client).await,
        "server_streaming" => server_streaming(&client).await,
        "ping_pong" => ping_pong(&client).await,
        "empty_stream" => empty_stream(&client).await,
        "custom_metadata" => custom_metadata(&client).await,
        "status_code_and_message" => status_code_and_message(&client, "test status message").await,
        "special_status_message" => {
            status_code_and_message(&client, "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n").await
        }
        "unimplemented_method" => unimplemented_method(&client).await,
        "unimplemented_service" => unimplemented_service(channel).await,
        "cancel_after_begin" => cancel_after_begin(&client).await,
        "cancel_after_first_response" => cancel_after_first_response(&client).await,
        "timeout_on_sleeping_server" => timeout_on_sleeping_server(&client).await,
        "client_compressed_unary" => client_compressed_unary(&client).await,
        "server_compressed_unary" => server_compressed_unary(&client).await,
        "client_compressed_streaming" => client_compressed_streaming(&client).await,
        "server_compressed_streaming" => server_compressed_streaming(&client).await,
        other => Err(format!("unknown test case {other:?}")),
    }
}

async fn empty_unary(client: &TestServiceClient) -> Outcome {
    let response = client.empty_call(Empty::default()).await.map_err(failed("EmptyCall"))?;
    ensure!(*response.get_ref() == Empty::default(), "EmptyCall returned a non-empty message");
    Ok(())
}

async fn large_unary(client: &TestServiceClient) -> Outcome {
    let request = SimpleRequest { response_size: 314_159, payload: payload(271_828), ..Default::default() };
    let response = client.unary_call(request).await.map_err(failed("UnaryCall"))?;
    let size = body_len(&response.get_ref().payload);
    ensure!(size == 314_159, "response payload of {size} bytes, expected 314159");
    Ok(())
}

async fn client_streaming(client: &TestServiceClient) -> Outcome {
    let requests = [27_182, 8, 1_828, 45_904]
        .map(|size| StreamingInputCallRequest { payload: payload(size), ..Default::default() })
        .to_vec();
    let response = client.streaming_input_call(stream_of(requests)).await.map_err(failed("StreamingInputCall"))?;
    let total = response.get_ref().aggregated_payload_size;
    ensure!(total == 74_922, "aggregated payload size {total}, expected 74922");
    Ok(())
}

async fn server_streaming(client: &TestServiceClient) -> Outcome {
    let sizes = [31_415, 9, 2_653, 58_979];
    let request = StreamingOutputCallRequest {
        response_parameters: sizes.iter().map(|&size| ResponseParameters { size, ..Default::default() }).collect(),
        ..Default::default()
    };
    let mut stream = client.streaming_output_call(request).await.map_err(failed("StreamingOutputCall"))?.into_inner();
    let mut received = Vec::new();
    while let Some(response) = stream.message().await.map_err(failed("reading the stream"))? {
        received.push(body_len(&response.payload) as i32);
    }
    ensure!(received == sizes, "response sizes {received:?}, expected {sizes:?}");
    Ok(())
}

async fn ping_pong(client: &TestServiceClient) -> Outcome {
    let (mut sender, mut responses) = client.full_duplex_call(()).await.map_err(failed("FullDuplexCall"))?;
    for (response_size, payload_size) in [(31_415, 27_182), (9, 8), (2_653, 1_828), (58_979, 45_904)] {
        sender.send(streaming_request(response_size, payload_size)).await.map_err(failed("sending"))?;
        let response = responses.message().await.map_err(failed("receiving"))?;
        let size = response.map(|r| body_len(&r.payload));
        ensure!(size == Some(response_size as usize), "response of {size:?} bytes, expected {response_size}");
    }
    sender.close();
    let end = responses.message().await.map_err(failed("ending"))?;
    ensure!(end.is_none(), "a response after the last request");
    Ok(())
}

async fn empty_stream(client: &TestServiceClient) -> Outcome {
    let (mut sender, mut responses) = client.full_duplex_call(()).await.map_err(failed("FullDuplexCall"))?;
    sender.close();
    let end = responses.message().await.map_err(failed("receiving"))?;
    ensure!(end.is_none(), "a response to an empty stream");
    Ok(())
}

const INITIAL_KEY: &str = "x-grpc-test-echo-initial";
const INITIAL_VALUE: &str = "test_initial_metadata_value";
const TRAILING_KEY: &str = "x-grpc-test-echo-trailing-bin";
const TRAILING_VALUE: &[u8] = &[0xab, 0xab, 0xab];

fn with_echo_metadata<T>(mut request: Request<T>) -> Request<T> {
    request.metadata_mut().insert(INITIAL_KEY, INITIAL_VALUE).expect("valid metadata");
    request.metadata_mut().insert_bin(TRAILING_KEY, TRAILING_VALUE).expect("valid metadata");
    request
}

fn check_echo(headers: Option<&rsgrpc::MetadataMap>, trailers: Option<&rsgrpc::MetadataMap>) -> Outcome {
    let initial = headers.and_then(|h| h.get(INITIAL_KEY));
    ensure!(initial == Some(INITIAL_VALUE), "initial metadata {initial:?}, expected {INITIAL_VALUE:?}");
    let trailing = trailers.and_then(|t| t.get_bin(TRAILING_KEY)).and_then(Result::ok);
    ensure!(trailing.as_deref() == Some(TRAILING_VALUE), "trailing metadata {trailing:?}, expected {TRAILING_VALUE:?}");
    Ok(())
}

async fn custom_metadata(client: &TestServiceClient) -> Outcome {
    let request = SimpleRequest { response_size: 314_159, payload: payload(271_828), ..Default::default() };
    let response = client.unary_call(with_echo_metadata(Request::new(request))).await.map_err(failed("UnaryCall"))?;
    check_echo(Some(response.metadata()), Some(response.trailers())).map_err(|e| format!("UnaryCall: {e}"))?;

    let (mut sender, mut responses) =
        client.full_duplex_call(with_echo_metadata(Request::new(()))).await.map_err(failed("FullDuplexCall"))?;
    sender.send(streaming_request(314_159, 271_828)).await.map_err(failed("sending"))?;
    sender.close();
    while responses.message().await.map_err(failed("receiving"))?.is_some() {}
    check_echo(responses.header_metadata(), responses.trailers()).map_err(|e| format!("FullDuplexCall: {e}"))
}

async fn status_code_and_message(client: &TestServiceClient, message: &str) -> Outcome {
    let status = || Some(EchoStatus { code: 2, message: message.to_owned(), ..Default::default() });
    let check = |what: &str, result: Status| -> Outcome {
        ensure!(result.code() == Code::Unknown, "{what}: code {}, expected UNKNOWN", result.code());
        ensure!(result.message() == message, "{what}: message {:?}, expected {message:?}", result.message());
        Ok(())
    };
    let request = SimpleRequest { response_status: status(), ..Default::default() };
    match client.unary_call(request).await {
        Ok(_) => return Err("UnaryCall succeeded, expected UNKNOWN".to_owned()),
        Err(result) => check("UnaryCall", result)?,
    }
    let (mut sender, mut responses) = client.full_duplex_call(()).await.map_err(failed("FullDuplexCall"))?;
    let request = StreamingOutputCallRequest { response_status: status(), ..Default::default() };
    sender.send(request).await.map_err(failed("sending"))?;
    sender.close();
    loop {
        match responses.message().await {
            Ok(Some(_)) => {}
            Ok(None) => return Err("FullDuplexCall ended with OK, expected UNKNOWN".to_owned()),
            Err(result) => return check("FullDuplexCall", result),
        }
    }
}

async fn unimplemented_method(client: &TestServiceClient) -> Outcome {
    let result = client.unimplemented_call(Empty::default()).await;
    let code = result.err().map(|s| s.code());
    ensure!(code == Some(Code::Unimplemented), "UnimplementedCall: {code:?}, expected UNIMPLEMENTED");
    Ok(())
}

async fn unimplemented_service(channel: &Channel) -> Outcome {
    let client = UnimplementedServiceClient::new(channel.clone());
    let result = client.unimplemented_call(Empty::default()).await;
    let code = result.err().map(|s| s.code());
    ensure!(code == Some(Code::Unimplemented), "UnimplementedService: {code:?}, expected UNIMPLEMENTED");
    Ok(())
}

async fn cancel_after_begin(client: &TestServiceClient) -> Outcome {
    // A request stream that never yields: the call has begun and waits for it.
    let client = client.clone();
    let (canceller, call) = cancellable(async move { client.streaming_input_call(Never).await });
    let call = tokio::spawn(call);
    tokio::time::sleep(Duration::from_millis(50)).await;
    canceller.cancel();
    let code = call.await.map_err(|e| e.to_string())?.err().map(|s| s.code());
    ensure!(code == Some(Code::Cancelled), "StreamingInputCall: {code:?}, expected CANCELLED");
    Ok(())
}

async fn cancel_after_first_response(client: &TestServiceClient) -> Outcome {
    let (mut sender, mut responses) = client.full_duplex_call(()).await.map_err(failed("FullDuplexCall"))?;
    sender.send(streaming_request(31_415, 27_182)).await.map_err(failed("sending"))?;
    let first = responses.message().await.map_err(failed("receiving"))?;
    ensure!(first.is_some(), "no first response");
    let (canceller, next) = cancellable(responses.message());
    canceller.cancel();
    let code = next.await.err().map(|s| s.code());
    ensure!(code == Some(Code::Cancelled), "after cancelling: {code:?}, expected CANCELLED");
    drop(sender);
    Ok(())
}

async fn timeout_on_sleeping_server(client: &TestServiceClient) -> Outcome {
    let request = Request::new(()).with_timeout(Duration::from_millis(1));
    let (mut sender, mut responses) = match client.full_duplex_call(request).await {
        Ok(call) => call,
        Err(status) if status.code() == Code::DeadlineExceeded => return Ok(()),
        Err(status) => return Err(format!("FullDuplexCall: {status}, expected DEADLINE_EXCEEDED")),
    };
    // Sending may already fail because the deadline passed; the call's status is what counts.
    let _ = sender.send(StreamingOutputCallRequest { payload: payload(27_182), ..Default::default() }).await;
    loop {
        match responses.message().await {
            Ok(Some(_)) => {}
            Ok(None) => return Err("the call ended with OK, expected DEADLINE_EXCEEDED".to_owned()),
            Err(status) => {
                ensure!(status.code() == Code::DeadlineExceeded, "status {status}, expected DEADLINE_EXCEEDED");
                return Ok(());
            }
        }
    }
}

/// A request stream that never yields, for a call that must stay open.
struct Never;

impl rsgrpc::Stream for Never {
    type Item = StreamingInputCallRequest;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Pending
    }
}

fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value, ..Default::default() })
}

/// The feature probe of the CompressedRequest cases: an uncompressed message that claims to be compressed.
/// A server that checks answers INVALID_ARGUMENT; one that cannot tell (grpcio's handlers do not see the
/// compression of a request) answers OK, and the rest of the case still runs.
fn probe_outcome(result: Result<(), Status>) -> Outcome {
    match result {
        Err(status) if status.code() == Code::InvalidArgument => Ok(()),
        Ok(()) => Ok(()),
        Err(status) => Err(format!("the compression probe failed with {status}, expected INVALID_ARGUMENT")),
    }
}

async fn client_compressed_unary(client: &TestServiceClient) -> Outcome {
    let request = |expect: bool| SimpleRequest {
        expect_compressed: bool_value(expect),
        response_size: 314_159,
        payload: payload(271_828),
        ..Default::default()
    };
    probe_outcome(client.unary_call(request(true)).await.map(drop))?;
    for expect in [true, false] {
        let call = Request::new(request(expect));
        let call = if expect { call.with_compression(Encoding::Gzip) } else { call };
        let response = client.unary_call(call).await.map_err(failed("UnaryCall"))?;
        let size = body_len(&response.get_ref().payload);
        ensure!(size == 314_159, "response payload of {size} bytes, expected 314159 (compressed: {expect})");
    }
    Ok(())
}

async fn server_compressed_unary(client: &TestServiceClient) -> Outcome {
    for compressed in [true, false] {
        let request = SimpleRequest {
            response_compressed: bool_value(compressed),
            response_size: 314_159,
            payload: payload(271_828),
            ..Default::default()
        };
        let response = client.unary_call(request).await.map_err(failed("UnaryCall"))?;
        let size = body_len(&response.get_ref().payload);
        ensure!(size == 314_159, "response payload of {size} bytes, expected 314159 (compressed: {compressed})");
    }
    Ok(())
}

async fn client_compressed_streaming(client: &TestServiceClient) -> Outcome {
    let message = |size: usize| StreamingInputCallRequest {
        expect_compressed: bool_value(true),
        payload: payload(size),
        ..Default::default()
    };
    probe_outcome(client.streaming_input_call(stream_of(vec![message(27_182)])).await.map(drop))?;
    let call = Request::new(stream_of(vec![message(27_182), message(45_904)])).with_compression(Encoding::Gzip);
    // With a `Request` around the stream, the stream type must be named: both it and the request could be
    // what the generic parameter stands for.
    let response = client.streaming_input_call(call).await.map_err(failed("StreamingInputCall"))?;
    let total = response.get_ref().aggregated_payload_size;
    ensure!(total == 73_086, "aggregated payload size {total}, expected 73086");
    Ok(())
}

async fn server_compressed_streaming(client: &TestServiceClient) -> Outcome {
    let request = StreamingOutputCallRequest {
        response_parameters: [(true, 31_415), (false, 92_653)]
            .map(|(compressed, size)| ResponseParameters {
                compressed: bool_value(compressed),
                size,
                ..Default::default()
            })
            .to_vec(),
        ..Default::default()
    };
    let mut stream = client.streaming_output_call(request).await.map_err(failed("StreamingOutputCall"))?.into_inner();
    let mut sizes = Vec::new();
    while let Some(response) = stream.message().await.map_err(failed("reading the responses"))? {
        sizes.push(body_len(&response.payload));
    }
    ensure!(sizes == [31_415, 92_653], "response sizes {sizes:?}, expected [31415, 92653]");
    Ok(())
}
