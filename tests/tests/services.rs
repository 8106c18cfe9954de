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

/// A package embeds its own files once; the files they import come from the constants of the packages that
/// hold them, joined when reflection asks: here `rsgrpc.test.common`'s (generated in the same run) and the
/// runtime's well-known types (`google/protobuf/empty.proto`).
#[tokio::test]
async fn reflection_serves_files_imported_from_other_packages() {
    use rsgrpc::server::Server;
    use rsgrpc::well_known::FileDescriptorSet;
    use rsgrpc_tests::echo::EchoService;
    use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
    use rsgrpc_tests::gen::rsgrpc::test::echo::{FILE_DESCRIPTOR_SET, FILE_DESCRIPTOR_SETS};

    let names = |set: &[u8]| -> Vec<String> {
        FileDescriptorSet::decode(set).unwrap().file.iter().map(|file| file.name().to_owned()).collect()
    };
    use rsgrpc_tests::gen::rsgrpc::test::common;
    assert_eq!(names(FILE_DESCRIPTOR_SET), ["rsgrpc/test/services/echo.proto"]);
    assert_eq!(names(common::FILE_DESCRIPTOR_SET), ["rsgrpc/test/common/common.proto"]);
    let sets = [FILE_DESCRIPTOR_SET, common::FILE_DESCRIPTOR_SET, rsgrpc::well_known::FILE_DESCRIPTOR_SET];
    assert_eq!(FILE_DESCRIPTOR_SETS, sets);
    assert!(names(rsgrpc::well_known::FILE_DESCRIPTOR_SET).iter().any(|name| name == "google/protobuf/empty.proto"));
    // Source info is left out unless asked for.
    assert!(FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap().file.iter().all(|f| f.source_code_info.is_none()));

    let server = Server::builder().add_service(EchoServer::new(EchoService::default())).with_reflection().build();
    let server = serve(server).await;
    let client = ServerReflectionClient::new(Channel::connect(&server.target()).await.unwrap());
    for question in [
        MessageRequest::FileContainingSymbol("rsgrpc.test.echo.Echo.Price".into()),
        MessageRequest::FileByFilename("rsgrpc/test/services/echo.proto".into()),
    ] {
        let MessageResponse::FileDescriptorResponse(files) = ask(&client, question).await else {
            panic!("not files");
        };
        let mut names: Vec<String> = files
            .file_descriptor_proto
            .iter()
            .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).unwrap().name().to_owned())
            .collect();
        assert_eq!(names.remove(0), "rsgrpc/test/services/echo.proto");
        names.sort();
        assert_eq!(names, ["google/protobuf/empty.proto", "rsgrpc/test/common/common.proto"]);
    }
}
