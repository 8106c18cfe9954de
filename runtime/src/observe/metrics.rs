//! gRFC A66 metrics through OpenTelemetry (feature `otel`): the instruments grpc-go's OpenTelemetry plugin
//! records, with its names, units, attributes and histogram buckets, so dashboards built for grpc-go
//! work unchanged.

use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider};
use opentelemetry::{InstrumentationScope, KeyValue, Value};

use crate::status::Code;

/// A66's latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 41] = [
    0.0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01,
    0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8,
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0,
];

/// A66's size buckets, in bytes.
const SIZE_BUCKETS: [f64; 14] = [
    0.0,
    1024.0,
    2048.0,
    4096.0,
    16384.0,
    65536.0,
    262144.0,
    1048576.0,
    4194304.0,
    16777216.0,
    67108864.0,
    268435456.0,
    1073741824.0,
    4294967296.0,
];

const METHOD: &str = "grpc.method";
const TARGET: &str = "grpc.target";
const STATUS: &str = "grpc.status";

/// The meter rsgrpc's instruments are created on.
fn meter(provider: &dyn MeterProviderDyn) -> Meter {
    provider.rsgrpc_meter()
}

/// Object-safe access to a user's provider (the trait's generic parts are not).
pub(crate) trait MeterProviderDyn {
    fn rsgrpc_meter(&self) -> Meter;
}

impl<P: MeterProvider> MeterProviderDyn for P {
    fn rsgrpc_meter(&self) -> Meter {
        let scope = InstrumentationScope::builder("rsgrpc").with_version(env!("CARGO_PKG_VERSION")).build();
        self.meter_with_scope(scope)
    }
}

fn latency(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_unit("s")
        .with_description(description)
        .with_boundaries(LATENCY_BUCKETS.to_vec())
        .build()
}

fn size(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<u64> {
    meter
        .u64_histogram(name)
        .with_unit("By")
        .with_description(description)
        .with_boundaries(SIZE_BUCKETS.to_vec())
        .build()
}

/// A channel's client instruments, with its target.
pub(crate) struct ClientMetrics {
    target: Value,
    attempt_started: Counter<u64>,
    attempt_duration: Histogram<f64>,
    attempt_sent: Histogram<u64>,
    attempt_received: Histogram<u64>,
    call_duration: Histogram<f64>,
}

impl std::fmt::Debug for ClientMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientMetrics").field("target", &self.target).finish()
    }
}

impl ClientMetrics {
    pub(crate) fn new(provider: &dyn MeterProviderDyn, target: String) -> ClientMetrics {
        let meter = meter(provider);
        ClientMetrics {
            target: Value::from(target),
            attempt_started: meter
                .u64_counter("grpc.client.attempt.started")
                .with_unit("{attempt}")
                .with_description("The total number of RPC attempts started, including those that have not completed.")
                .build(),
            attempt_duration: latency(
                &meter,
                "grpc.client.attempt.duration",
                "End-to-end time taken to complete an RPC attempt including the time it takes to pick a subchannel.",
            ),
            attempt_sent: size(
                &meter,
                "grpc.client.attempt.sent_total_compressed_message_size",
                "Total bytes (compressed but not encrypted) sent across all request messages (metadata excluded) per RPC attempt; does not include grpc or transport framing bytes.",
            ),
            attempt_received: size(
                &meter,
                "grpc.client.attempt.rcvd_total_compressed_message_size",
                "Total bytes (compressed but not encrypted) received across all response messages (metadata excluded) per RPC attempt; does not include grpc or transport framing bytes.",
            ),
            call_duration: latency(
                &meter,
                "grpc.client.call.duration",
                "Time taken by gRPC to complete an RPC from application's perspective.",
            ),
        }
    }

    fn method(path: &'static str) -> KeyValue {
        KeyValue::new(METHOD, path.trim_start_matches('/'))
    }

    pub(crate) fn attempt_started(&self, path: &'static str) {
        self.attempt_started.add(1, &[Self::method(path), KeyValue::new(TARGET, self.target.clone())]);
    }

    pub(crate) fn attempt_ended(&self, path: &'static str, code: Code, elapsed: Duration, sent: u64, received: u64) {
        let attributes =
            [Self::method(path), KeyValue::new(TARGET, self.target.clone()), KeyValue::new(STATUS, code.as_str())];
        self.attempt_duration.record(elapsed.as_secs_f64(), &attributes);
        self.attempt_sent.record(sent, &attributes);
        self.attempt_received.record(received, &attributes);
    }

    pub(crate) fn call_ended(&self, path: &'static str, code: Code, elapsed: Duration) {
        let attributes =
            [Self::method(path), KeyValue::new(TARGET, self.target.clone()), KeyValue::new(STATUS, code.as_str())];
        self.call_duration.record(elapsed.as_secs_f64(), &attributes);
    }
}

/// A server's instruments.
pub(crate) struct ServerMetrics {
    call_started: Counter<u64>,
    call_duration: Histogram<f64>,
    call_sent: Histogram<u64>,
    call_received: Histogram<u64>,
}

impl std::fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerMetrics")
    }
}

impl ServerMetrics {
    pub(crate) fn new(provider: &dyn MeterProviderDyn) -> ServerMetrics {
        let meter = meter(provider);
        ServerMetrics {
            call_started: meter
                .u64_counter("grpc.server.call.started")
                .with_unit("{call}")
                .with_description("The total number of RPCs started, including those that have not completed.")
                .build(),
            call_duration: latency(
                &meter,
                "grpc.server.call.duration",
                "End-to-end time taken to complete a call from server transport's perspective.",
            ),
            call_sent: size(
                &meter,
                "grpc.server.call.sent_total_compressed_message_size",
                "Total bytes (compressed but not encrypted) sent across all response messages (metadata excluded) per RPC; does not include grpc or transport framing bytes.",
            ),
            call_received: size(
                &meter,
                "grpc.server.call.rcvd_total_compressed_message_size",
                "Total bytes (compressed but not encrypted) received across all request messages (metadata excluded) per RPC; does not include grpc or transport framing bytes.",
            ),
        }
    }

    pub(crate) fn call_started(&self, method: &Value) {
        self.call_started.add(1, &[KeyValue::new(METHOD, method.clone())]);
    }

    pub(crate) fn call_ended(&self, method: &Value, code: Code, elapsed: Duration, sent: u64, received: u64) {
        let attributes = [KeyValue::new(METHOD, method.clone()), KeyValue::new(STATUS, code.as_str())];
        self.call_duration.record(elapsed.as_secs_f64(), &attributes);
        self.call_sent.record(sent, &attributes);
        self.call_received.record(received, &attributes);
    }
}
