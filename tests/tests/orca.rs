//! The server's ORCA API (gRFC A51) end to end, read by our client: what a handler records reaches the
//! call's `endpoint-load-metrics-bin` trailer on success, on failure and at the end of a stream, over the
//! server-wide values; a server without the interceptor sends no report; values out of range never
//! reach the wire.

use std::net::SocketAddr;

use rsgrpc::orca::{CallMetricRecorder, ServerMetricRecorder};
use rsgrpc::server::{BoxStream, Server};
use rsgrpc::{Code, Request, Response, Status, Streaming};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::common::Money;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::{Echo, EchoServer};
use rsgrpc_tests::gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};
use rsgrpc_tests::rt::well_known::Empty;
use rsgrpc_tests::support::serve_on;

/// Echo, with each unary and server-streaming handler recording its call's cost and the load it saw.
#[derive(Clone, Default)]
struct Reporting(EchoService);

fn record<T>(request: &Request<T>) {
    let recorder = CallMetricRecorder::of(request).expect("the server runs orca::call_metrics");
    recorder.record_cpu_utilization(0.75).record_request_cost("rows", 3.0).record_named_metric("queue", 7.0);
    // Out of range: ignored, never sent.
    recorder.record_memory_utilization(1.5).record_qps(-3.0);
}

impl Echo for Reporting {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        record(&request);
        self.0.unary(request).await
    }

    async fn server_stream(&self, request: Request<EchoRequest>) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        record(&request);
        self.0.server_stream(request).await
    }

    async fn client_stream(&self, request: Request<Streaming<EchoRequest>>) -> Result<Response<EchoResponse>, Status> {
        self.0.client_stream(request).await
    }

    async fn bidi(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<BoxStream<EchoResponse>>, Status> {
        self.0.bidi(request).await
    }

    async fn price(&self, request: Request<Empty>) -> Result<Response<Money>, Status> {
        self.0.price(request).await
    }
}

/// A server whose calls report; its server-wide recorder holds a QPS and a named utilization.
async fn client() -> (EchoClient, rsgrpc_tests::support::Running) {
    let server_wide = ServerMetricRecorder::new();
    server_wide.set_qps(250.0);
    server_wide.set_cpu_utilization(0.1);
    server_wide.set_named_utilization("disk", 0.5);
    let server = Server::builder()
        .interceptor(rsgrpc::orca::call_metrics().with_server_metrics(server_wide))
        .add_service(EchoServer::new(Reporting::default()))
        .build();
    let running = serve_on(server, SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let channel = rsgrpc::client::Channel::builder(&running.target()).unwrap().connect().await.unwrap();
    (EchoClient::new(channel), running)
}

fn check(report: rsgrpc::orca::OrcaLoadReport) {
    assert_eq!(report.cpu_utilization, 0.75, "the call's CPU over the server's");
    assert_eq!(report.rps_fractional, 250.0, "the server's QPS where the call's was out of range");
    assert_eq!(report.mem_utilization, 0.0, "out of range: not sent");
    assert_eq!(report.request_cost.get("rows"), Some(&3.0));
    assert_eq!(report.named_metrics.get("queue"), Some(&7.0));
    assert_eq!(report.utilization.get("disk"), Some(&0.5));
}

#[tokio::test]
async fn a_unary_call_reports_what_its_handler_recorded_on_success_and_on_failure() {
    let (client, _server) = client().await;
    let ok = client.unary(EchoRequest { message: "hi".into(), ..Default::default() }).await.unwrap();
    check(rsgrpc::orca::load_report(ok.trailers()).expect("a report on success"));

    let failed = client
        .unary(EchoRequest { fail_code: Code::ResourceExhausted as i32, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(failed.code(), Code::ResourceExhausted);
    check(rsgrpc::orca::load_report(failed.metadata()).expect("a report on failure"));
}

#[tokio::test]
async fn a_stream_reports_at_its_end() {
    let (client, _server) = client().await;
    let mut stream = client
        .server_stream(EchoRequest { message: "s".into(), repeat: 3, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let mut messages = 0;
    while stream.message().await.unwrap().is_some() {
        messages += 1;
    }
    assert_eq!(messages, 3);
    check(rsgrpc::orca::load_report(stream.trailers().expect("trailers")).expect("a report at the end"));
}

#[tokio::test]
async fn without_the_interceptor_there_is_no_report_and_no_recorder() {
    let server = Server::builder().add_service(EchoServer::new(EchoService::default())).build();
    let running = serve_on(server, SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let channel = rsgrpc::client::Channel::builder(&running.target()).unwrap().connect().await.unwrap();
    let response = EchoClient::new(channel).unary(EchoRequest::default()).await.unwrap();
    assert!(rsgrpc::orca::load_report(response.trailers()).is_none());
}
