//! gRFC A66 metrics (grpc-go's names, units, attributes and buckets), read back from the OpenTelemetry
//! SDK's in-memory exporter: per-attempt and per-call instruments on the client (several attempts under
//! one call when it is retried), per-call instruments on the server, `other` for methods the server does
//! not have.

use std::collections::BTreeMap;

use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use rsgrpc::client::{Channel, Client};
use rsgrpc::server::Server;
use rsgrpc::{Code, Request};
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::counter_client::CounterClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::{EchoRequest, EchoResponse};
use rsgrpc_tests::rt::well_known::Empty;
use rsgrpc_tests::support::{serve, Running};

/// One data point: the instrument, its unit, its attributes, and the count (histogram) or value (counter)
/// with the histogram's sum and bounds.
#[derive(Debug, Clone)]
struct Point {
    name: String,
    unit: String,
    attributes: BTreeMap<String, String>,
    count: u64,
    sum: f64,
    bounds: Vec<f64>,
}

struct Meters {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

impl Meters {
    fn new() -> Meters {
        let exporter = InMemoryMetricExporter::default();
        let provider =
            SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
        Meters { provider, exporter }
    }

    /// Every point exported so far (cumulative: the last export has the totals).
    fn points(&self) -> Vec<Point> {
        self.provider.force_flush().unwrap();
        let exported = self.exporter.get_finished_metrics().unwrap();
        let Some(last) = exported.last() else { return Vec::new() };
        let mut points = Vec::new();
        for scope in last.scope_metrics() {
            assert_eq!(scope.scope().name(), "rsgrpc");
            for metric in scope.metrics() {
                let point =
                    |attributes: &mut dyn Iterator<Item = &opentelemetry::KeyValue>, count, sum, bounds| Point {
                        name: metric.name().to_owned(),
                        unit: metric.unit().to_owned(),
                        attributes: attributes.map(|kv| (kv.key.to_string(), kv.value.to_string())).collect(),
                        count,
                        sum,
                        bounds,
                    };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for p in sum.data_points() {
                            points.push(point(&mut p.attributes(), p.value(), 0.0, Vec::new()));
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(histogram)) => {
                        for p in histogram.data_points() {
                            points.push(point(&mut p.attributes(), p.count(), p.sum() as f64, p.bounds().collect()));
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        for p in histogram.data_points() {
                            points.push(point(&mut p.attributes(), p.count(), p.sum(), p.bounds().collect()));
                        }
                    }
                    other => panic!("unexpected data for {}: {other:?}", metric.name()),
                }
            }
        }
        points
    }
}

/// The points of `name` whose attributes include `attributes`.
fn find(points: &[Point], name: &str, attributes: &[(&str, &str)]) -> Vec<Point> {
    points
        .iter()
        .filter(|p| p.name == name)
        .filter(|p| attributes.iter().all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v)))
        .cloned()
        .collect()
}

/// The one point of `name` with exactly these attributes.
fn one(points: &[Point], name: &str, attributes: &[(&str, &str)]) -> Point {
    let found = find(points, name, attributes);
    assert_eq!(found.len(), 1, "{name} {attributes:?} in {points:#?}");
    let point = found.into_iter().next().unwrap();
    let keys: Vec<&str> = point.attributes.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = attributes.iter().map(|(k, _)| *k).collect();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{name}: exactly these attributes");
    point
}

const LATENCY: [f64; 41] = [
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01,
    0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8,
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

fn served(meters: &Meters) -> Server {
    Server::builder().add_service(EchoServer::new(EchoService::default())).meter_provider(&meters.provider).build()
}

async fn channel(meters: &Meters, server: &Running, config: Option<&str>) -> Channel {
    let mut builder = Channel::builder(&server.target()).unwrap().meter_provider(&meters.provider);
    if let Some(config) = config {
        builder = builder.default_service_config(config).unwrap();
    }
    builder.connect().await.unwrap()
}

/// Waits until the server recorded `calls` ended calls (its end comes just after the client's).
async fn server_calls(meters: &Meters, calls: u64) -> Vec<Point> {
    for _ in 0..200 {
        let points = meters.points();
        let ended: u64 = find(&points, "grpc.server.call.duration", &[]).iter().map(|p| p.count).sum();
        if ended >= calls {
            return points;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the server did not record {calls} calls: {:#?}", meters.points());
}

#[tokio::test]
async fn calls_record_a66_instruments_with_grpc_gos_names_attributes_units_and_buckets() {
    let meters = Meters::new();
    let running = serve(served(&meters)).await;
    let client = EchoClient::new(channel(&meters, &running, None).await);
    let target = format!("dns:///{}", running.addr);
    let hello = EchoRequest { message: "hello".into(), ..Default::default() };
    client.unary(hello.clone()).await.unwrap();
    client.unary(hello.clone()).await.unwrap();
    let failing = EchoRequest { fail_code: Code::NotFound as i32, ..hello.clone() };
    assert_eq!(client.unary(failing).await.unwrap_err().code(), Code::NotFound);
    let mut stream = client.server_stream(EchoRequest { repeat: 3, ..hello.clone() }).await.unwrap().into_inner();
    while stream.message().await.unwrap().is_some() {}

    let points = server_calls(&meters, 4).await;
    let unary = "rsgrpc.test.echo.Echo/Unary";
    let request_size = prost::Message::encoded_len(&hello) as f64;
    let response_size =
        prost::Message::encoded_len(&EchoResponse { message: "hello".into(), ..Default::default() }) as f64;

    // Client, per attempt.
    let started = one(&points, "grpc.client.attempt.started", &[("grpc.method", unary), ("grpc.target", &target)]);
    assert_eq!((started.count, started.unit.as_str()), (3, "{attempt}"));
    let ok = [("grpc.method", unary), ("grpc.target", target.as_str()), ("grpc.status", "OK")];
    let duration = one(&points, "grpc.client.attempt.duration", &ok);
    assert_eq!((duration.count, duration.unit.as_str()), (2, "s"));
    assert_eq!(duration.bounds, LATENCY);
    assert!(duration.sum > 0.0 && duration.sum < 10.0, "{duration:?}");
    let sent = one(&points, "grpc.client.attempt.sent_total_compressed_message_size", &ok);
    assert_eq!((sent.count, sent.sum, sent.unit.as_str()), (2, 2.0 * request_size, "By"));
    assert_eq!(sent.bounds[..4], [0.0, 1024.0, 2048.0, 4096.0]);
    assert_eq!((sent.bounds.len(), sent.bounds[13]), (14, 4294967296.0));
    let received = one(&points, "grpc.client.attempt.rcvd_total_compressed_message_size", &ok);
    assert_eq!((received.count, received.sum), (2, 2.0 * response_size));
    let not_found = [("grpc.method", unary), ("grpc.target", target.as_str()), ("grpc.status", "NOT_FOUND")];
    assert_eq!(one(&points, "grpc.client.attempt.duration", &not_found).count, 1);
    assert_eq!(one(&points, "grpc.client.attempt.rcvd_total_compressed_message_size", &not_found).sum, 0.0);

    // Client, per call.
    assert_eq!(one(&points, "grpc.client.call.duration", &ok).count, 2);
    assert_eq!(one(&points, "grpc.client.call.duration", &not_found).count, 1);
    let stream_ok = [
        ("grpc.method", "rsgrpc.test.echo.Echo/ServerStream"),
        ("grpc.target", target.as_str()),
        ("grpc.status", "OK"),
    ];
    assert_eq!(one(&points, "grpc.client.call.duration", &stream_ok).count, 1);
    let streamed = one(&points, "grpc.client.attempt.rcvd_total_compressed_message_size", &stream_ok);
    assert!(streamed.sum >= 3.0 * response_size, "three responses: {streamed:?}");

    // Server, per call: no target.
    let started = one(&points, "grpc.server.call.started", &[("grpc.method", unary)]);
    assert_eq!((started.count, started.unit.as_str()), (3, "{call}"));
    let ok = [("grpc.method", unary), ("grpc.status", "OK")];
    let duration = one(&points, "grpc.server.call.duration", &ok);
    assert_eq!((duration.count, duration.unit.as_str(), duration.bounds.len()), (2, "s", 41));
    let received = one(&points, "grpc.server.call.rcvd_total_compressed_message_size", &ok);
    assert_eq!((received.count, received.sum, received.unit.as_str()), (2, 2.0 * request_size, "By"));
    let sent = one(&points, "grpc.server.call.sent_total_compressed_message_size", &ok);
    assert_eq!((sent.count, sent.sum), (2, 2.0 * response_size));
    assert_eq!(
        one(&points, "grpc.server.call.duration", &[("grpc.method", unary), ("grpc.status", "NOT_FOUND")]).count,
        1
    );
    let stream_ok = [("grpc.method", "rsgrpc.test.echo.Echo/ServerStream"), ("grpc.status", "OK")];
    assert!(one(&points, "grpc.server.call.sent_total_compressed_message_size", &stream_ok).sum >= 3.0 * response_size);
}

#[tokio::test]
async fn a_retried_call_records_every_attempt_under_one_call() {
    let meters = Meters::new();
    let running = serve(served(&meters)).await;
    let config = r#"{"methodConfig": [{"name": [{"service": "rsgrpc.test.echo.Echo"}],
        "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.001s", "maxBackoff": "0.002s",
                        "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#;
    let client = EchoClient::new(channel(&meters, &running, Some(config)).await);
    let target = format!("dns:///{}", running.addr);
    let failing = EchoRequest { fail_code: Code::Unavailable as i32, message: "down".into(), ..Default::default() };
    assert_eq!(client.unary(failing).await.unwrap_err().code(), Code::Unavailable);

    let points = server_calls(&meters, 3).await;
    let unary = "rsgrpc.test.echo.Echo/Unary";
    let attributes = [("grpc.method", unary), ("grpc.target", target.as_str()), ("grpc.status", "UNAVAILABLE")];
    assert_eq!(one(&points, "grpc.client.attempt.started", &attributes[..2]).count, 3);
    assert_eq!(one(&points, "grpc.client.attempt.duration", &attributes).count, 3);
    assert_eq!(one(&points, "grpc.client.call.duration", &attributes).count, 1, "one call of three attempts");
    assert_eq!(one(&points, "grpc.server.call.started", &[("grpc.method", unary)]).count, 3);
}

#[tokio::test]
async fn methods_the_server_does_not_have_are_recorded_as_other() {
    let meters = Meters::new();
    let running = serve(served(&meters)).await;
    let channel = channel(&meters, &running, None).await;
    // A service the server does not have, and a method its service does not have.
    let unknown_service = CounterClient::new(channel.clone()).next(Empty::default()).await.unwrap_err();
    assert_eq!(unknown_service.code(), Code::Unimplemented);
    let raw = Client::new(channel);
    let request = Request::new(EchoRequest::default());
    let unknown_method =
        raw.unary::<_, EchoResponse>("/rsgrpc.test.echo.Echo/NoSuchMethod", request).await.unwrap_err();
    assert_eq!(unknown_method.code(), Code::Unimplemented);

    let points = server_calls(&meters, 2).await;
    assert_eq!(one(&points, "grpc.server.call.started", &[("grpc.method", "other")]).count, 2);
    let other = [("grpc.method", "other"), ("grpc.status", "UNIMPLEMENTED")];
    assert_eq!(one(&points, "grpc.server.call.duration", &other).count, 2);
    assert!(
        find(&points, "grpc.server.call.started", &[("grpc.method", "rsgrpc.test.echo.Echo/NoSuchMethod")]).is_empty()
    );
    // The client names the methods it called (they come from generated code or the caller's own path).
    let client_side = find(&points, "grpc.client.call.duration", &[("grpc.status", "UNIMPLEMENTED")]);
    let mut methods: Vec<&str> = client_side.iter().map(|p| p.attributes["grpc.method"].as_str()).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["rsgrpc.test.echo.Counter/Next", "rsgrpc.test.echo.Echo/NoSuchMethod"]);
}
