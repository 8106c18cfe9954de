//! The health and reflection services, seen through our own generated clients (Python's grpcio clients and
//! grpcurl check them too, in services_python.rs).

use std::time::Duration;

use rsgrpc::client::Channel;
use rsgrpc::health::{HealthCheckRequest, HealthClient, ServingStatus};
use rsgrpc::reflection::v1::server_reflection_client::ServerReflectionClient;
use rsgrpc::reflection::v1::server_reflection_request::MessageRequest;
use rsgrpc::reflection::v1::server_reflection_response::MessageResponse;
use rsgrpc::reflection::v1::ServerReflectionRequest;
use rsgrpc::well_known::FileDescriptorProto;
use rsgrpc::{Code, Message};
use rsgrpc_tests::interop::server::interop_server;
use rsgrpc_tests::interop_gen::grpc::testing::xds_update_health_service_client::XdsUpdateHealthServiceClient;
use rsgrpc_tests::interop_gen::grpc::testing::Empty;
use rsgrpc_tests::support::serve;

/// The next status a Watch stream reports (failing after 5 s).
async fn next(watch: &mut rsgrpc::Streaming<rsgrpc::health::HealthCheckResponse>) -> i32 {
    let message = tokio::time::timeout(Duration::from_secs(5), watch.message()).await.expect("an update within 5 s");
    message.unwrap().expect("the stream goes on").status
}

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest { service: service.into(), ..Default::default() }
}

#[tokio::test]
async fn health_check_and_watch() {
    let server = serve(interop_server()).await;
    let channel = Channel::connect(&server.target()).await.unwrap();
    let health = HealthClient::new(channel.clone());
    let status = |response: rsgrpc::Response<rsgrpc::health::HealthCheckResponse>| response.into_inner().status;
    assert_eq!(status(health.check(check("")).await.unwrap()), ServingStatus::Serving as i32);
    assert_eq!(status(health.check(check("grpc.testing.TestService")).await.unwrap()), ServingStatus::Serving as i32);
    assert_eq!(health.check(check("no.such.Service")).await.unwrap_err().code(), Code::NotFound);

    let mut watch = health.watch(check("grpc.testing.TestService")).await.unwrap().into_inner();
    assert_eq!(next(&mut watch).await, ServingStatus::Serving as i32);
    let switch = XdsUpdateHealthServiceClient::new(channel.clone());
    switch.set_not_serving(Empty::default()).await.unwrap();
    assert_eq!(next(&mut watch).await, ServingStatus::NotServing as i32);
    switch.set_serving(Empty::default()).await.unwrap();
    assert_eq!(next(&mut watch).await, ServingStatus::Serving as i32);

    let mut unknown = health.watch(check("no.such.Service")).await.unwrap().into_inner();
    assert_eq!(next(&mut unknown).await, ServingStatus::ServiceUnknown as i32);
}

async fn ask(client: &ServerReflectionClient, question: MessageRequest) -> MessageResponse {
    let (mut sender, mut answers) = client.server_reflection_info(()).await.unwrap();
    let request = ServerReflectionRequest { message_request: Some(question), ..Default::default() };
    sender.send(request).await.unwrap();
    let answer = answers.message().await.unwrap().expect("an answer");
    answer.message_response.expect("a response")
}

#[tokio::test]
async fn reflection_lists_services_and_serves_descriptors() {
    let server = serve(interop_server()).await;
    let client = ServerReflectionClient::new(Channel::connect(&server.target()).await.unwrap());

    let MessageResponse::ListServicesResponse(list) = ask(&client, MessageRequest::ListServices(String::new())).await
    else {
        panic!("not a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.testing.TestService",
        "grpc.testing.XdsUpdateHealthService",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }

    let question = MessageRequest::FileContainingSymbol("grpc.testing.TestService.UnaryCall".into());
    let MessageResponse::FileDescriptorResponse(files) = ask(&client, question).await else {
        panic!("not files");
    };
    let files: Vec<FileDescriptorProto> = files
        .file_descriptor_proto
        .iter()
        .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).unwrap())
        .collect();
    assert_eq!(files[0].name(), "grpc/testing/test.proto");
    let service = files[0].service.iter().find(|s| s.name() == "TestService").expect("TestService");
    assert!(service.method.iter().any(|m| m.name() == "UnaryCall"));
    // The imports come along, so a client can resolve every type.
    let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
    assert!(names.contains(&"grpc/testing/messages.proto") && names.contains(&"grpc/testing/empty.proto"), "{names:?}");

    let MessageResponse::ErrorResponse(error) =
        ask(&client, MessageRequest::FileContainingSymbol("no.Such".into())).await
    else {
        panic!("not an error");
    };
    assert_eq!(error.error_code, Code::NotFound as i32);
}
