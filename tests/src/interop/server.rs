//! `grpc.testing.TestService` as the gRPC interop test descriptions specify it: echoes payload sizes,
//! statuses and metadata so that any client can check a server.

use std::time::Duration;

use rsgrpc::compression::Encoding;
use rsgrpc::server::BoxStream;
use rsgrpc::{Code, MetadataMap, Request, Response, Status, Streaming};

use crate::echo::async_stream;
use crate::interop_gen::grpc::testing::test_service_server::TestService;
use crate::interop_gen::grpc::testing::{
    EchoStatus, Empty, Payload, ResponseParameters, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
};

/// Metadata the client asks to have echoed in the response headers.
const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
/// Binary metadata the client asks to have echoed in the trailers.
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";

/// The interop test service.
#[derive(Debug, Default, Clone)]
pub struct InteropService;

fn payload(size: i32) -> Result<Option<Payload>, Status> {
    let size = usize::try_from(size).map_err(|_| Status::invalid_argument(format!("negative payload size {size}")))?;
    Ok(Some(Payload { body: vec![0; size], ..Default::default() }))
}

fn requested_status(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(status) if status.code != 0 => Err(Status::new(Code::from_i32(status.code), status.message.clone())),
        _ => Ok(()),
    }
}

/// The echo metadata of a request, copied onto the response.
fn echo_metadata<T>(request: &MetadataMap, mut response: Response<T>) -> Response<T> {
    if let Some(value) = request.get(ECHO_INITIAL) {
        let _ = response.metadata_mut().insert(ECHO_INITIAL, value);
    }
    if let Some(Ok(value)) = request.get_bin(ECHO_TRAILING) {
        let _ = response.trailers_mut().insert_bin(ECHO_TRAILING, &value);
    }
    response
}

/// Errors also carry the echoed trailing metadata.
fn echo_into_status(request: &MetadataMap, mut status: Status) -> Status {
    if let Some(Ok(value)) = request.get_bin(ECHO_TRAILING) {
        let _ = status.metadata_mut().insert_bin(ECHO_TRAILING, &value);
    }
    status
}

async fn responses_for(
    parameters: &[ResponseParameters],
    sender: &tokio::sync::mpsc::Sender<Result<StreamingOutputCallResponse, Status>>,
) -> bool {
    for parameter in parameters {
        if parameter.interval_us > 0 {
            tokio::time::sleep(Duration::from_micros(parameter.interval_us as u64)).await;
        }
        let response =
            payload(parameter.size).map(|payload| StreamingOutputCallResponse { payload, ..Default::default() });
        if sender.send(response).await.is_err() {
            return false;
        }
    }
    true
}

impl TestService for InteropService {
    async fn empty_call(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty::default()))
    }

    async fn unary_call(&self, request: Request<SimpleRequest>) -> Result<Response<SimpleResponse>, Status> {
        let metadata = request.metadata().clone();
        let compressed = request.compression().is_some();
        let message = request.into_inner();
        check_compressed(message.expect_compressed.as_ref(), compressed)?;
        requested_status(message.response_status.as_ref()).map_err(|status| echo_into_status(&metadata, status))?;
        let response = SimpleResponse { payload: payload(message.response_size)?, ..Default::default() };
        let compression = message.response_compressed.as_ref().is_some_and(|c| c.value).then_some(Encoding::Gzip);
        Ok(echo_metadata(&metadata, Response::new(response).with_compression(compression)))
    }

    async fn cacheable_unary_call(&self, request: Request<SimpleRequest>) -> Result<Response<SimpleResponse>, Status> {
        self.unary_call(request).await
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        let metadata = request.metadata().clone();
        let message = request.into_inner();
        // The call is compressed if any message asks for it, and then each message as it asks.
        let wanted: Vec<bool> =
            message.response_parameters.iter().map(|p| p.compressed.as_ref().is_some_and(|c| c.value)).collect();
        let compress = wanted.contains(&true);
        let stream = async_stream(move |sender| async move {
            if responses_for(&message.response_parameters, &sender).await {
                if let Err(status) = requested_status(message.response_status.as_ref()) {
                    let _ = sender.send(Err(status)).await;
                }
            }
        });
        let response = Response::new(stream)
            .with_compression(compress.then_some(Encoding::Gzip))
            .with_compression_per_message(move |index| wanted.get(index).copied().unwrap_or(true));
        Ok(echo_metadata(&metadata, response))
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let compressed = request.compression().is_some();
        let mut stream = request.into_inner();
        let mut total = 0usize;
        while let Some(message) = stream.message().await? {
            check_compressed(message.expect_compressed.as_ref(), compressed)?;
            total += message.payload.map_or(0, |p| p.body.len());
        }
        let aggregated_payload_size = i32::try_from(total).map_err(|_| Status::out_of_range("payload too large"))?;
        Ok(Response::new(StreamingInputCallResponse { aggregated_payload_size, ..Default::default() }))
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        let metadata = request.metadata().clone();
        let echo = metadata.clone();
        let mut incoming = request.into_inner();
        let stream = async_stream(move |sender| async move {
            loop {
                let message = match incoming.message().await {
                    Ok(Some(message)) => message,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = sender.send(Err(status)).await;
                        return;
                    }
                };
                if let Err(status) = requested_status(message.response_status.as_ref()) {
                    let _ = sender.send(Err(echo_into_status(&echo, status))).await;
                    return;
                }
                if !responses_for(&message.response_parameters, &sender).await {
                    return;
                }
            }
        });
        Ok(echo_metadata(&metadata, Response::new(stream)))
    }

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
    ) -> Result<Response<BoxStream<StreamingOutputCallResponse>>, Status> {
        let mut incoming = request.into_inner();
        let mut all = Vec::new();
        while let Some(message) = incoming.message().await? {
            all.push(message);
        }
        let stream = async_stream(move |sender| async move {
            for message in all {
                if !responses_for(&message.response_parameters, &sender).await {
                    return;
                }
            }
        });
        Ok(Response::new(stream))
    }
}

/// `grpc.testing.XdsUpdateHealthService`: flips the server's health between SERVING and NOT_SERVING, so a
/// client can watch the health service follow.
#[derive(Debug, Clone)]
pub struct HealthSwitch {
    /// The reporter of the server's health service.
    pub reporter: rsgrpc::health::HealthReporter,
}

impl HealthSwitch {
    /// The services whose health the switch sets: the server as a whole and the test service.
    pub const SERVICES: [&'static str; 2] = ["", "grpc.testing.TestService"];

    fn set(&self, status: rsgrpc::health::ServingStatus) {
        for service in Self::SERVICES {
            self.reporter.set_serving_status(service, status);
        }
    }
}

impl crate::interop_gen::grpc::testing::xds_update_health_service_server::XdsUpdateHealthService for HealthSwitch {
    async fn set_serving(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        self.set(rsgrpc::health::ServingStatus::Serving);
        Ok(Response::new(Empty::default()))
    }

    async fn set_not_serving(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        self.set(rsgrpc::health::ServingStatus::NotServing);
        Ok(Response::new(Empty::default()))
    }
}

/// The interop server: TestService, the health service (SERVING) with its switch, and reflection.
pub fn interop_server() -> rsgrpc::server::Server {
    use crate::interop_gen::grpc::testing::test_service_server::TestServiceServer;
    use crate::interop_gen::grpc::testing::xds_update_health_service_server::XdsUpdateHealthServiceServer;
    let (reporter, health) = rsgrpc::health::health_service();
    let switch = HealthSwitch { reporter };
    switch.set(rsgrpc::health::ServingStatus::Serving);
    rsgrpc::server::Server::builder()
        .add_service(TestServiceServer::new(InteropService))
        .add_service(health)
        .add_service(XdsUpdateHealthServiceServer::new(switch))
        .with_reflection()
        .build()
}

/// The CompressedRequest feature: a message that asks to have arrived compressed but did not is
/// INVALID_ARGUMENT (judged by the call's `grpc-encoding`; the per-message flag is not visible to handlers).
fn check_compressed(
    expect: Option<&crate::interop_gen::grpc::testing::BoolValue>,
    compressed: bool,
) -> Result<(), Status> {
    match expect {
        Some(expect) if expect.value && !compressed => {
            Err(Status::invalid_argument("expected a compressed message, but the request was not compressed"))
        }
        _ => Ok(()),
    }
}
