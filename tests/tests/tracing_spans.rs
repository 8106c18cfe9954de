//! One `tracing` span per call on both sides, captured by a small Layer: the fields a call's span carries
//! (method, peer, status, message counts, duration) for unary and streaming calls, an error status and a
//! deadline, and W3C `traceparent` propagation from a client to a server that both opt in.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::{Code, Request};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::{serve, Running};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// A closed span: its name and its fields as text.
#[derive(Clone, Debug)]
struct Captured {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

impl Captured {
    fn get(&self, field: &str) -> &str {
        self.fields.get(field).map(String::as_str).unwrap_or_else(|| panic!("no field {field} in {self:?}"))
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// Keeps every span's fields while it is open, and the span once it closes.
#[derive(Clone, Default)]
struct Capture {
    closed: Arc<Mutex<Vec<Captured>>>,
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    /// rsgrpc's spans and events only (h2's trace spans would be most of the work otherwise).
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.target().starts_with("rsgrpc")
    }
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let span = ctx.span(id).expect("a new span");
        span.extensions_mut().insert(Captured { name: attrs.metadata().name(), fields });
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("a span");
        let mut extensions = span.extensions_mut();
        if let Some(captured) = extensions.get_mut::<Captured>() {
            values.record(&mut Fields(&mut captured.fields));
        }
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).expect("a span");
        let captured = span.extensions_mut().remove::<Captured>();
        if let Some(captured) = captured {
            self.closed.lock().unwrap_or_else(|e| e.into_inner()).push(captured);
        }
    }
}

impl Capture {
    /// Installs the capture for this thread (the tests run on a current-thread runtime, so every task of
    /// the test, the server's included, reports here).
    fn install() -> (Capture, tracing::subscriber::DefaultGuard) {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        (capture, tracing::subscriber::set_default(subscriber))
    }

    /// Waits for the next closed span named `name` for `method` and takes it.
    async fn take(&self, name: &str, method: &str) -> Captured {
        for _ in 0..500 {
            {
                let mut closed = self.closed.lock().unwrap_or_else(|e| e.into_inner());
                let found = closed
                    .iter()
                    .position(|s| s.name == name && s.fields.get("rpc.method").map(String::as_str) == Some(method));
                if let Some(index) = found {
                    return closed.remove(index);
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no {name} span for {method}: {:?}", self.closed.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

fn server() -> Server {
    Server::builder().add_service(EchoServer::new(EchoService::default())).build()
}

async fn client(server: &Running) -> EchoClient {
    EchoClient::new(Channel::connect(&server.target()).await.unwrap())
}

fn request(message: &str) -> EchoRequest {
    EchoRequest { message: message.into(), ..Default::default() }
}

/// The fields every finished call span has.
fn assert_common(span: &Captured, method: &str, code: Code, sent: u64, received: u64) {
    assert_eq!(span.get("rpc.system"), "grpc", "{span:?}");
    assert_eq!(span.get("rpc.service"), "rsgrpc.test.echo.Echo", "{span:?}");
    assert_eq!(span.get("rpc.method"), method, "{span:?}");
    assert_eq!(span.get("rpc.grpc.status_code"), (code as i32).to_string(), "{span:?}");
    assert_eq!(span.get("grpc.status"), code.as_str(), "{span:?}");
    assert_eq!(span.get("rpc.messages_sent"), sent.to_string(), "{span:?}");
    assert_eq!(span.get("rpc.messages_received"), received.to_string(), "{span:?}");
    let duration: f64 = span.get("grpc.duration_ms").parse().unwrap();
    assert!(duration > 0.0 && duration < 10_000.0, "{span:?}");
}

#[tokio::test]
async fn a_unary_call_has_a_client_and_a_server_span_with_method_peer_status_and_counts() {
    let (capture, _guard) = Capture::install();
    let running = serve(server()).await;
    let client = client(&running).await;
    client.unary(request("hi")).await.unwrap();

    let span = capture.take("grpc.client", "Unary").await;
    assert_common(&span, "Unary", Code::Ok, 1, 1);
    assert_eq!(span.get("otel.name"), "rsgrpc.test.echo.Echo/Unary");
    assert_eq!(span.get("otel.kind"), "client");
    assert_eq!(span.get("server.address"), running.addr.to_string());
    assert_eq!(span.get("grpc.attempts"), "1");
    assert!(!span.fields.contains_key("trace_id"), "no trace context without propagation: {span:?}");

    let span = capture.take("grpc.server", "Unary").await;
    assert_common(&span, "Unary", Code::Ok, 1, 1);
    assert_eq!(span.get("otel.kind"), "server");
    assert_eq!(span.get("network.peer.address"), "127.0.0.1");
    assert!(span.get("network.peer.port").parse::<u16>().unwrap() > 0);
}

#[tokio::test]
async fn streaming_spans_count_every_message_and_end_with_the_stream() {
    let (capture, _guard) = Capture::install();
    let running = serve(server()).await;
    let client = client(&running).await;

    let mut stream = client.server_stream(EchoRequest { repeat: 3, ..request("s") }).await.unwrap().into_inner();
    while stream.message().await.unwrap().is_some() {}
    assert_common(&capture.take("grpc.client", "ServerStream").await, "ServerStream", Code::Ok, 1, 3);
    assert_common(&capture.take("grpc.server", "ServerStream").await, "ServerStream", Code::Ok, 3, 1);

    let requests = futures_util::stream::iter((0..4).map(|i| request(&i.to_string())));
    client.client_stream(requests).await.unwrap();
    assert_common(&capture.take("grpc.client", "ClientStream").await, "ClientStream", Code::Ok, 4, 1);
    assert_common(&capture.take("grpc.server", "ClientStream").await, "ClientStream", Code::Ok, 1, 4);

    let (mut sender, mut responses) = client.bidi(Request::new(())).await.unwrap();
    for i in 0..2 {
        sender.send(request(&i.to_string())).await.unwrap();
        responses.message().await.unwrap().unwrap();
    }
    sender.close();
    assert!(responses.message().await.unwrap().is_none());
    assert_common(&capture.take("grpc.client", "Bidi").await, "Bidi", Code::Ok, 2, 2);
    assert_common(&capture.take("grpc.server", "Bidi").await, "Bidi", Code::Ok, 2, 2);
}

#[tokio::test]
async fn an_error_status_and_a_passed_deadline_are_the_spans_status() {
    let (capture, _guard) = Capture::install();
    let running = serve(server()).await;
    let client = client(&running).await;

    let failing = EchoRequest { fail_code: Code::NotFound as i32, ..request("no such thing") };
    assert_eq!(client.unary(failing).await.unwrap_err().code(), Code::NotFound);
    let span = capture.take("grpc.client", "Unary").await;
    assert_common(&span, "Unary", Code::NotFound, 1, 0);
    assert_eq!(span.get("grpc.message"), "no such thing");
    assert_common(&capture.take("grpc.server", "Unary").await, "Unary", Code::NotFound, 0, 1);

    let slow = Request::new(EchoRequest { delay_ms: 2_000, ..request("slow") }).with_timeout(Duration::from_millis(50));
    assert_eq!(client.unary(slow).await.unwrap_err().code(), Code::DeadlineExceeded);
    let span = capture.take("grpc.client", "Unary").await;
    assert_eq!(span.get("grpc.status"), "DEADLINE_EXCEEDED", "{span:?}");
    let span = capture.take("grpc.server", "Unary").await;
    assert_eq!(span.get("grpc.status"), "DEADLINE_EXCEEDED", "{span:?}");
    assert_eq!(span.get("rpc.messages_sent"), "0", "{span:?}");

    // A streaming call whose stream ends in an error.
    let mut stream = client.server_stream(EchoRequest { fail_code: Code::Aborted as i32, ..request("x") }).await;
    if let Ok(stream) = stream.as_mut() {
        assert_eq!(stream.get_mut().message().await.unwrap_err().code(), Code::Aborted);
    }
    assert_eq!(capture.take("grpc.client", "ServerStream").await.get("grpc.status"), "ABORTED");
}

#[tokio::test]
async fn with_propagation_on_both_ends_the_server_span_continues_the_client_trace() {
    let (capture, _guard) = Capture::install();
    let traced = Server::builder().add_service(EchoServer::new(EchoService::default())).trace_propagation(true).build();
    let running = serve(traced).await;
    let channel = Channel::builder(&running.target()).unwrap().trace_propagation(true).connect().await.unwrap();
    EchoClient::new(channel).unary(request("traced")).await.unwrap();

    let client_span = capture.take("grpc.client", "Unary").await;
    let server_span = capture.take("grpc.server", "Unary").await;
    let trace_id = client_span.get("trace_id");
    assert_eq!(trace_id.len(), 32, "{client_span:?}");
    assert_ne!(trace_id, "0".repeat(32));
    assert_eq!(server_span.get("trace_id"), trace_id, "the server's span is in the client's trace");
    assert_eq!(server_span.get("parent_span_id"), client_span.get("span_id"), "its remote parent is the client's span");
    assert_ne!(server_span.get("span_id"), client_span.get("span_id"));

    // A caller's own traceparent (from an OpenTelemetry propagator, say) goes as it is.
    let channel = Channel::builder(&running.target()).unwrap().trace_propagation(true).connect().await.unwrap();
    let mut own = Request::new(request("mine"));
    own.metadata_mut().insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    EchoClient::new(channel).unary(own).await.unwrap();
    let server_span = capture.take("grpc.server", "Unary").await;
    assert_eq!(server_span.get("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(server_span.get("parent_span_id"), "00f067aa0ba902b7");

    // A server without propagation ignores the header: its span starts a trace of its own.
    let plain = serve(server()).await;
    let channel = Channel::builder(&plain.target()).unwrap().trace_propagation(true).connect().await.unwrap();
    EchoClient::new(channel).unary(request("x")).await.unwrap();
    let server_span = capture.take("grpc.server", "Unary").await;
    assert!(!server_span.fields.contains_key("trace_id"), "{server_span:?}");
}
