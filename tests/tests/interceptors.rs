//! Interceptors of the four kinds (client and server, unary and streaming) over real calls: the order of a
//! chain, answering without calling on (short-circuit), rewriting messages and metadata, rewriting the
//! status, wrapping every message of a stream; the ready-made auth, recovery and logging interceptors; and a
//! panicking handler failing its call alone.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rsgrpc::client::Channel;
use rsgrpc::interceptor::{
    auth_fn, bearer_token, logging, recovery_with, stream_fn, unary_fn, BoxMessage, MessageStream, MethodKind,
    StreamNext, UnaryNext,
};
use rsgrpc::server::{BoxStream, Server, ServerBuilder};
use rsgrpc::{Code, Request, Response, Status};
use rsgrpc_tests::echo::{EchoService, Identity};
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::{Echo, EchoServer};
use rsgrpc_tests::gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};
use rsgrpc_tests::support::{serve, Running};

type Log = Arc<Mutex<Vec<String>>>;

fn request(message: &str) -> EchoRequest {
    EchoRequest { message: message.into(), ..Default::default() }
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn note(log: &Log, entry: impl Into<String>) {
    log.lock().unwrap().push(entry.into());
}

async fn echo_server(configure: impl FnOnce(ServerBuilder) -> ServerBuilder) -> (Running, EchoService) {
    let service = EchoService::default();
    let server = configure(Server::builder().add_service(EchoServer::new(service.clone()))).build();
    (serve(server).await, service)
}

async fn plain_client(server: &Running) -> EchoClient {
    EchoClient::connect(&server.target()).await.unwrap()
}

/// A unary interceptor that logs `name>` on the way in and `name<` on the way out.
fn unary_logger(log: &Log, name: &'static str) -> impl rsgrpc::interceptor::UnaryInterceptor {
    let log = log.clone();
    unary_fn(move |request, next: UnaryNext| {
        let log = log.clone();
        async move {
            note(&log, format!("{name}>"));
            let result = next.run(request).await;
            note(&log, format!("{name}<"));
            result
        }
    })
}

/// A stream interceptor that logs `name>` when the call starts and `name<` when its response stream ends.
fn stream_logger(log: &Log, name: &'static str) -> impl rsgrpc::interceptor::StreamInterceptor {
    let log = log.clone();
    stream_fn(move |request, next: StreamNext| {
        let log = log.clone();
        async move {
            note(&log, format!("{name}>"));
            let response = next.run(request).await?;
            Ok(response.map(move |stream| {
                stream.map_end(move |end| {
                    note(&log, format!("{name}<"));
                    end
                })
            }))
        }
    })
}

fn echo_request_mut(message: &mut BoxMessage) -> &mut EchoRequest {
    message.downcast_mut::<EchoRequest>().expect("an EchoRequest")
}

fn echo_response_mut(message: &mut BoxMessage) -> &mut EchoResponse {
    message.downcast_mut::<EchoResponse>().expect("an EchoResponse")
}

/// Rewrites the request message and metadata on the way in and the response message on the way out.
fn unary_rewriter() -> impl rsgrpc::interceptor::UnaryInterceptor {
    unary_fn(|mut request: Request<BoxMessage>, next: UnaryNext| async move {
        let message = echo_request_mut(request.get_mut());
        message.message = format!("<{}>", message.message);
        request.metadata_mut().insert("x-echo", "added").unwrap();
        let mut response = next.run(request).await?;
        echo_response_mut(response.get_mut()).message.push('!');
        Ok(response)
    })
}

/// Wraps both streams: each request message gets a `req:` prefix, each response message a `res:` one.
fn stream_rewriter() -> impl rsgrpc::interceptor::StreamInterceptor {
    stream_fn(|request: Request<MessageStream>, next: StreamNext| async move {
        let request = request.map(|stream| {
            stream.map_messages(|mut message| {
                let message_ref = echo_request_mut(&mut message);
                message_ref.message = format!("req:{}", message_ref.message);
                Ok(message)
            })
        });
        let response = next.run(request).await?;
        Ok(response.map(|stream| {
            stream.map_messages(|mut message| {
                let message_ref = echo_response_mut(&mut message);
                message_ref.message = format!("res:{}", message_ref.message);
                Ok(message)
            })
        }))
    })
}

/// Turns NOT_FOUND from the rest of the chain into ALREADY_EXISTS, for unary calls and at the end of
/// streams.
fn status_rewriter() -> (impl rsgrpc::interceptor::UnaryInterceptor, impl rsgrpc::interceptor::StreamInterceptor) {
    fn rewrite(status: Status) -> Status {
        if status.code() == Code::NotFound {
            Status::already_exists(format!("rewritten: {}", status.message()))
        } else {
            status
        }
    }
    let unary = unary_fn(|request, next: UnaryNext| async move { next.run(request).await.map_err(rewrite) });
    let stream = stream_fn(|request, next: StreamNext| async move {
        let response = next.run(request).await.map_err(rewrite)?;
        Ok(response.map(|stream| stream.map_end(|end| end.map(rewrite))))
    });
    (unary, stream)
}

async fn collect(mut stream: rsgrpc::Streaming<EchoResponse>) -> Result<Vec<String>, Status> {
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message.message);
    }
    Ok(messages)
}

async fn bidi(client: &EchoClient, messages: &[&str]) -> Result<Vec<String>, Status> {
    let (mut sender, responses) = client.bidi(()).await?;
    for message in messages {
        sender.send(request(message)).await?;
    }
    sender.close();
    collect(responses).await
}

fn stream_of(messages: &[&str]) -> impl rsgrpc::Stream<Item = EchoRequest> + Send + 'static {
    futures_util::stream::iter(messages.iter().map(|message| request(message)).collect::<Vec<_>>())
}

// ---- server side ----

#[tokio::test]
async fn server_unary_chain_runs_in_order_and_rewrites_both_ways() {
    let log = Log::default();
    let (server, _) = echo_server(|builder| {
        builder
            .unary_interceptor(unary_logger(&log, "a"))
            .unary_interceptor(unary_rewriter())
            .unary_interceptor(unary_logger(&log, "b"))
    })
    .await;
    let client = plain_client(&server).await;
    let response = client.unary(request("hi")).await.unwrap();
    // The handler saw the rewritten message and metadata (it echoes both); the response was rewritten after.
    assert_eq!(response.get_ref().message, "<hi>!");
    assert_eq!(response.metadata().get_all("x-echo"), ["added"]);
    assert_eq!(entries(&log), ["a>", "b>", "b<", "a<"]);
}

#[tokio::test]
async fn server_unary_interceptor_can_answer_without_the_handler() {
    let (server, service) = echo_server(|builder| {
        builder.unary_interceptor(unary_fn(|request: Request<BoxMessage>, next: UnaryNext| async move {
            let message = request.get_ref().downcast_ref::<EchoRequest>().expect("an EchoRequest");
            match message.message.as_str() {
                "deny" => Err(Status::permission_denied("denied by the interceptor")),
                "cached" => {
                    Ok(Response::new(
                        Box::new(EchoResponse { message: "from cache".into(), ..Default::default() }) as BoxMessage
                    ))
                }
                _ => next.run(request).await,
            }
        }))
    })
    .await;
    let client = plain_client(&server).await;
    let status = client.unary(request("deny")).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::PermissionDenied, "denied by the interceptor"));
    assert_eq!(client.unary(request("cached")).await.unwrap().get_ref().message, "from cache");
    assert_eq!(service.observed.started.load(Ordering::SeqCst), 0, "the handler never ran");
    assert_eq!(client.unary(request("through")).await.unwrap().get_ref().message, "through");
    assert_eq!(service.observed.started.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn server_interceptors_rewrite_the_status() {
    let (unary, stream) = status_rewriter();
    let (server, _) = echo_server(|builder| builder.unary_interceptor(unary).stream_interceptor(stream)).await;
    let client = plain_client(&server).await;
    let failing =
        EchoRequest { message: "gone".into(), fail_code: Code::NotFound as i32, repeat: 2, ..Default::default() };
    let status = client.unary(failing.clone()).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::AlreadyExists, "rewritten: gone"));
    // A streaming call fails at the end of its stream, after two messages: the end is rewritten.
    let mut stream = client.server_stream(failing.clone()).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().index, 0);
    assert_eq!(stream.message().await.unwrap().unwrap().index, 1);
    let status = stream.message().await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::AlreadyExists, "rewritten: gone"));
    // Other codes pass unchanged.
    let other = EchoRequest { fail_code: Code::Aborted as i32, ..failing };
    assert_eq!(client.unary(other).await.unwrap_err().code(), Code::Aborted);
}

#[tokio::test]
async fn server_stream_interceptors_wrap_every_message_of_the_three_streaming_kinds() {
    let log = Log::default();
    let (server, _) = echo_server(|builder| {
        builder
            .stream_interceptor(stream_logger(&log, "a"))
            .stream_interceptor(stream_rewriter())
            .stream_interceptor(stream_logger(&log, "b"))
    })
    .await;
    let client = plain_client(&server).await;

    let server_streaming = EchoRequest { message: "s".into(), repeat: 2, ..Default::default() };
    let messages = collect(client.server_stream(server_streaming).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(messages, ["res:req:s", "res:req:s"]);
    // b sits inside a: it starts after a and its response stream ends before a's.
    assert_eq!(entries(&log), ["a>", "b>", "b<", "a<"]);

    let response = client.client_stream(stream_of(&["x", "y"])).await.unwrap();
    assert_eq!(response.get_ref().message, "res:req:x,req:y");

    let messages = bidi(&client, &["p", "q", "r"]).await.unwrap();
    assert_eq!(messages, ["res:req:p", "res:req:q", "res:req:r"]);
    assert_eq!(entries(&log).len(), 12, "every streaming call went through both loggers: {:?}", entries(&log));
}

#[tokio::test]
async fn server_stream_interceptor_can_refuse_or_end_a_call() {
    let (server, service) = echo_server(|builder| {
        builder.stream_interceptor(stream_fn(|request: Request<MessageStream>, next: StreamNext| async move {
            if request.metadata().get("x-deny").is_some() {
                return Err(Status::unauthenticated("no streams for you"));
            }
            if next.method().kind() == MethodKind::BidiStreaming {
                // Stop the request stream after its first message and fail it.
                let mut seen = 0;
                let request = request.map(|stream| {
                    stream.map_messages(move |message| {
                        seen += 1;
                        if seen > 1 {
                            Err(Status::resource_exhausted("one message per call"))
                        } else {
                            Ok(message)
                        }
                    })
                });
                return next.run(request).await;
            }
            next.run(request).await
        }))
    })
    .await;
    let client = plain_client(&server).await;
    let denied = Request::new(EchoRequest { repeat: 1, ..Default::default() }).with_metadata("x-deny", "1");
    let status = client.server_stream(denied).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unauthenticated, "no streams for you"));
    assert_eq!(service.observed.started.load(Ordering::SeqCst), 0, "the handler never ran");
    // The handler gets the interceptor's error from its request stream and ends the call with it.
    let status = bidi(&client, &["one", "two"]).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::ResourceExhausted, "one message per call"));
}

#[tokio::test]
async fn a_replaced_message_of_another_type_fails_the_call_clearly() {
    let (server, _) = echo_server(|builder| {
        builder.unary_interceptor(unary_fn(|request: Request<BoxMessage>, next: UnaryNext| async move {
            next.run(request.map(|_| Box::new(EchoResponse::default()) as BoxMessage)).await
        }))
    })
    .await;
    let status = plain_client(&server).await.unary(request("x")).await.unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert!(status.message().contains("/rsgrpc.test.echo.Echo/Unary"), "{}", status.message());
    assert!(
        status.message().contains("EchoRequest") && status.message().contains("EchoResponse"),
        "{}",
        status.message()
    );
}

// ---- ready-made interceptors ----

#[tokio::test]
async fn auth_fn_admits_known_tokens_and_hands_the_identity_to_the_handler() {
    let (server, service) = echo_server(|builder| {
        builder.interceptor(auth_fn(|metadata, _method| {
            let token = bearer_token(metadata).map(str::to_owned);
            async move {
                match token?.as_str() {
                    "secret-alice" => Ok(Identity("alice".into())),
                    _ => Err(Status::unauthenticated("unknown token")),
                }
            }
        }))
    })
    .await;
    let client = plain_client(&server).await;
    let status = client.unary(request("x")).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unauthenticated, "no authorization metadata"));
    let wrong = Request::new(request("x")).with_metadata("authorization", "Bearer nope");
    assert_eq!(client.unary(wrong).await.unwrap_err().message(), "unknown token");
    let basic = Request::new(request("x")).with_metadata("authorization", "Basic YTpi");
    assert_eq!(client.unary(basic).await.unwrap_err().code(), Code::Unauthenticated);
    let streaming = client.server_stream(EchoRequest { repeat: 1, ..Default::default() }).await.unwrap_err();
    assert_eq!(streaming.code(), Code::Unauthenticated);
    assert_eq!(service.observed.started.load(Ordering::SeqCst), 0);

    let good = Request::new(request("x")).with_metadata("authorization", "Bearer secret-alice");
    let response = client.unary(good).await.unwrap();
    assert_eq!(response.trailers().get("x-identity"), Some("alice"));
}

/// An `Echo` whose handlers panic on request.
struct Panicking;

impl Echo for Panicking {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        if request.get_ref().message == "panic" {
            panic!("the handler gave up");
        }
        Ok(Response::new(EchoResponse { message: request.into_inner().message, ..Default::default() }))
    }

    async fn server_stream(&self, _request: Request<EchoRequest>) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        let mut sent = false;
        let stream = futures_util::stream::poll_fn(move |_| {
            if sent {
                panic!("the stream gave up");
            }
            sent = true;
            std::task::Poll::Ready(Some(Ok(EchoResponse { message: "first".into(), ..Default::default() })))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[tokio::test]
async fn a_panicking_handler_fails_its_call_with_internal_and_the_server_goes_on() {
    let server = serve(Server::builder().add_service(EchoServer::new(Panicking)).build()).await;
    let client = plain_client(&server).await;
    for _ in 0..3 {
        let status = client.unary(request("panic")).await.unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(client.unary(request("fine")).await.unwrap().get_ref().message, "fine");
    }
    let mut stream = client.server_stream(request("")).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().message, "first");
    assert_eq!(stream.message().await.unwrap_err().code(), Code::Internal);
    assert_eq!(client.unary(request("after")).await.unwrap().get_ref().message, "after");
}

#[tokio::test]
async fn recovery_makes_the_status_the_user_chooses_of_a_panic() {
    let panics = Log::default();
    let seen = panics.clone();
    let recovery = recovery_with(move |message: &str| {
        note(&seen, message);
        Status::unavailable(format!("recovered: {message}"))
    });
    let server = serve(Server::builder().add_service(EchoServer::new(Panicking)).interceptor(recovery).build()).await;
    let client = plain_client(&server).await;
    let status = client.unary(request("panic")).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unavailable, "recovered: the handler gave up"));
    let mut stream = client.server_stream(request("")).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().message, "first");
    let status = stream.message().await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unavailable, "recovered: the stream gave up"));
    assert_eq!(entries(&panics), ["the handler gave up", "the stream gave up"]);
    assert_eq!(client.unary(request("fine")).await.unwrap().get_ref().message, "fine");
}

/// Collects the events of the logging interceptor.
struct Capture(Log);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("rsgrpc::interceptor::logging")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(format!("{} ", event.metadata().level()));
        event.record(&mut fields);
        note(&self.0, fields.0.trim_end().to_owned());
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn logging_reports_each_call_with_its_code_and_message_counts() {
    let events = Log::default();
    // The test's runtime is single-threaded: server and client log on this thread.
    let _guard = tracing::subscriber::set_default(Capture(events.clone()));
    let (server, _) = echo_server(|builder| builder.interceptor(logging())).await;
    let client = plain_client(&server).await;
    client.unary(request("x")).await.unwrap();
    let failing = EchoRequest { fail_code: Code::Internal as i32, ..Default::default() };
    client.unary(failing).await.unwrap_err();
    bidi(&client, &["a", "b"]).await.unwrap();
    let finished: Vec<String> = entries(&events).into_iter().filter(|e| e.contains("finished call")).collect();
    assert_eq!(finished.len(), 3, "{finished:?}");
    assert!(finished[0].starts_with("INFO ") && finished[0].contains("grpc.code=\"OK\""), "{}", finished[0]);
    assert!(
        finished[0].contains("grpc.method=\"Unary\"") && finished[0].contains("peer=127.0.0.1:"),
        "{}",
        finished[0]
    );
    assert!(finished[1].starts_with("ERROR ") && finished[1].contains("grpc.code=\"INTERNAL\""), "{}", finished[1]);
    assert!(finished[2].contains("grpc.method_type=\"bidi_stream\""), "{}", finished[2]);
    assert!(
        finished[2].contains("grpc.request_messages=2") && finished[2].contains("grpc.response_messages=2"),
        "{}",
        finished[2]
    );
    assert_eq!(entries(&events).iter().filter(|e| e.contains("started call")).count(), 3);
}

// ---- client side ----

async fn intercepted_client(
    server: &Running,
    configure: impl FnOnce(rsgrpc::client::ChannelBuilder) -> rsgrpc::client::ChannelBuilder,
) -> EchoClient {
    let channel = configure(Channel::builder(&server.target()).unwrap()).connect().await.unwrap();
    EchoClient::new(channel)
}

#[tokio::test]
async fn client_unary_chain_runs_in_order_and_rewrites_both_ways() {
    let log = Log::default();
    let (server, _) = echo_server(|builder| builder).await;
    let client = intercepted_client(&server, |builder| {
        builder
            .unary_interceptor(unary_logger(&log, "a"))
            .unary_interceptor(unary_rewriter())
            .unary_interceptor(unary_logger(&log, "b"))
    })
    .await;
    let response = client.unary(request("hi")).await.unwrap();
    assert_eq!(response.get_ref().message, "<hi>!");
    // The server echoed the metadata the interceptor added, and the response keeps its trailers.
    assert_eq!(response.metadata().get_all("x-echo"), ["added"]);
    assert_eq!(response.trailers().get_all("x-echo-trailer"), ["added"]);
    assert_eq!(entries(&log), ["a>", "b>", "b<", "a<"]);
}

#[tokio::test]
async fn client_interceptors_short_circuit_and_rewrite_the_status() {
    let (server, service) = echo_server(|builder| builder).await;
    let (unary_status, stream_status) = status_rewriter();
    let client = intercepted_client(&server, |builder| {
        builder
            .unary_interceptor(unary_status)
            .stream_interceptor(stream_status)
            .unary_interceptor(unary_fn(|request: Request<BoxMessage>, next: UnaryNext| async move {
                if request.get_ref().downcast_ref::<EchoRequest>().is_some_and(|m| m.message == "offline") {
                    return Err(Status::not_found("answered locally"));
                }
                next.run(request).await
            }))
            .stream_interceptor(stream_fn(|request: Request<MessageStream>, next: StreamNext| async move {
                if request.metadata().get("x-local").is_some() {
                    let reply = EchoResponse { message: "local".into(), ..Default::default() };
                    return Ok(Response::new(MessageStream::once(Box::new(reply))));
                }
                next.run(request).await
            }))
    })
    .await;
    // Short-circuited, and the outer interceptor rewrote the inner one's status: no call reached the server.
    let status = client.unary(request("offline")).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::AlreadyExists, "rewritten: answered locally"));
    let local = Request::new(EchoRequest { repeat: 5, ..Default::default() }).with_metadata("x-local", "1");
    let messages = collect(client.server_stream(local).await.unwrap().into_inner()).await.unwrap();
    assert_eq!(messages, ["local"]);
    assert_eq!(service.observed.started.load(Ordering::SeqCst), 0);
    // A real call's failure at the end of its stream is rewritten too.
    let failing =
        EchoRequest { message: "gone".into(), fail_code: Code::NotFound as i32, repeat: 1, ..Default::default() };
    let mut stream = client.server_stream(failing).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().index, 0);
    let status = stream.message().await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::AlreadyExists, "rewritten: gone"));
}

#[tokio::test]
async fn client_stream_interceptors_wrap_what_is_sent_and_received() {
    let log = Log::default();
    let (server, _) = echo_server(|builder| builder).await;
    let client = intercepted_client(&server, |builder| {
        builder
            .stream_interceptor(stream_logger(&log, "a"))
            .stream_interceptor(stream_rewriter())
            .stream_interceptor(stream_logger(&log, "b"))
    })
    .await;
    // Server streaming: the one request and every response pass through the interceptor.
    let stream = client.server_stream(EchoRequest { message: "s".into(), repeat: 2, ..Default::default() }).await;
    let mut stream = stream.unwrap().into_inner();
    assert_eq!(collect_from(&mut stream).await.unwrap(), ["res:req:s", "res:req:s"]);
    assert!(stream.trailers().is_some(), "the trailers of the real stream reach the caller");
    // Client streaming: every message sent was rewritten; the one response too.
    let response = client.client_stream(stream_of(&["x", "y"])).await.unwrap();
    assert_eq!(response.get_ref().message, "res:req:x,req:y");
    // Bidirectional: the sender's messages go through the interceptor before the network.
    assert_eq!(bidi(&client, &["p", "q"]).await.unwrap(), ["res:req:p", "res:req:q"]);
    let nested = ["a>", "b>", "b<", "a<"];
    assert_eq!(entries(&log), [nested, nested, nested].concat());
}

async fn collect_from(stream: &mut rsgrpc::Streaming<EchoResponse>) -> Result<Vec<String>, Status> {
    let mut messages = Vec::new();
    while let Some(message) = stream.message().await? {
        messages.push(message.message);
    }
    Ok(messages)
}

#[tokio::test]
async fn client_and_server_stream_interceptors_compose() {
    let (server, _) = echo_server(|builder| builder.interceptor(logging()).stream_interceptor(stream_rewriter())).await;
    let client = intercepted_client(&server, |builder| {
        builder.stream_interceptor(stream_fn(|mut request: Request<MessageStream>, next: StreamNext| async move {
            request.metadata_mut().insert("x-echo", "from-client-interceptor").unwrap();
            next.run(request).await
        }))
    })
    .await;
    let response = client.server_stream(EchoRequest { message: "m".into(), repeat: 1, ..Default::default() }).await;
    let response = response.unwrap();
    let messages = collect(response.into_inner()).await.unwrap();
    assert_eq!(messages, ["res:req:m"]);
}
