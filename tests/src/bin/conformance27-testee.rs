//! The protobuf 27.1 conformance testee (the proto2, proto3 and editions test messages of
//! tests/env/conformance27.sh's runner), otherwise as `conformance-testee`: `conformance_test_runner` starts it and sends requests on stdin (a
//! little-endian u32 length, then a `ConformanceRequest`), one `ConformanceResponse` back per request on
//! stdout. Binary and JSON are tested; JSPB and text format are answered `skipped`.

use std::io::{Read, Write};

use rsgrpc::json::{from_json_with, to_json_with, JsonMessage, JsonOptions};
use rsgrpc::Message;
use rsgrpc_tests::conformance27_gen::conformance::conformance_request::Payload;
use rsgrpc_tests::conformance27_gen::conformance::conformance_response::Result as Outcome;
use rsgrpc_tests::conformance27_gen::conformance::{ConformanceRequest, ConformanceResponse, TestCategory, WireFormat};
use rsgrpc_tests::conformance27_gen::protobuf_test_messages::editions;
use rsgrpc_tests::conformance27_gen::protobuf_test_messages::{proto2::TestAllTypesProto2, proto3::TestAllTypesProto3};

fn main() {
    // Any in the tests holds the test messages.
    rsgrpc::json::update_global_registry(|registry| {
        rsgrpc_tests::conformance27_gen::protobuf_test_messages::proto3::register_json_types(registry);
        rsgrpc_tests::conformance27_gen::protobuf_test_messages::proto2::register_json_types(registry);
        editions::register_json_types(registry);
        editions::proto2::register_json_types(registry);
        editions::proto3::register_json_types(registry);
    });
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    loop {
        let mut length = [0u8; 4];
        if stdin.read_exact(&mut length).is_err() {
            return; // the runner closed stdin: done
        }
        let mut request = vec![0u8; u32::from_le_bytes(length) as usize];
        if let Err(error) = stdin.read_exact(&mut request) {
            eprintln!("conformance-testee: truncated request: {error}");
            std::process::exit(1);
        }
        let result = match ConformanceRequest::decode(request.as_slice()) {
            Ok(request) => answer(&request),
            Err(error) => Outcome::RuntimeError(format!("cannot decode the ConformanceRequest: {error}")),
        };
        let response = ConformanceResponse { result: Some(result), ..Default::default() }.encode_to_vec();
        let written = stdout
            .write_all(&(response.len() as u32).to_le_bytes())
            .and_then(|()| stdout.write_all(&response))
            .and_then(|()| stdout.flush());
        if let Err(error) = written {
            eprintln!("conformance-testee: cannot answer: {error}");
            std::process::exit(1);
        }
    }
}

fn answer(request: &ConformanceRequest) -> Outcome {
    match request.message_type.as_str() {
        // The first request asks which tests we expect to fail: none beyond the committed failure list.
        "conformance.FailureSet" => Outcome::ProtobufPayload(Vec::new()),
        "protobuf_test_messages.proto3.TestAllTypesProto3" => round_trip::<TestAllTypesProto3>(request),
        "protobuf_test_messages.proto2.TestAllTypesProto2" => round_trip::<TestAllTypesProto2>(request),
        "protobuf_test_messages.editions.proto2.TestAllTypesProto2" => {
            round_trip::<editions::proto2::TestAllTypesProto2>(request)
        }
        "protobuf_test_messages.editions.proto3.TestAllTypesProto3" => {
            round_trip::<editions::proto3::TestAllTypesProto3>(request)
        }
        "protobuf_test_messages.editions.TestAllTypesEdition2023" => {
            round_trip::<editions::TestAllTypesEdition2023>(request)
        }
        other => Outcome::RuntimeError(format!("unknown message type {other}")),
    }
}

/// Parses the payload as `M` and writes it in the requested format.
fn round_trip<M: Message + JsonMessage + Default>(request: &ConformanceRequest) -> Outcome {
    let ignore_unknown = request.test_category == TestCategory::JsonIgnoreUnknownParsingTest as i32;
    let options = JsonOptions { ignore_unknown, ..Default::default() };
    let message: M = match &request.payload {
        Some(Payload::ProtobufPayload(bytes)) => match M::decode(bytes.as_slice()) {
            Ok(message) => message,
            Err(error) => return Outcome::ParseError(error.to_string()),
        },
        Some(Payload::JsonPayload(json)) => match from_json_with(json, &options) {
            Ok(message) => message,
            Err(error) => return Outcome::ParseError(error.to_string()),
        },
        Some(Payload::JspbPayload(_)) => return Outcome::Skipped("JSPB is not supported".into()),
        Some(Payload::TextPayload(_)) => return Outcome::Skipped("text format is not supported".into()),
        None => return Outcome::RuntimeError("the request has no payload".into()),
    };
    match WireFormat::try_from(request.requested_output_format) {
        Ok(WireFormat::Protobuf) => Outcome::ProtobufPayload(message.encode_to_vec()),
        Ok(WireFormat::Json) => match to_json_with(&message, &options) {
            Ok(json) => Outcome::JsonPayload(json),
            Err(error) => Outcome::SerializeError(error.to_string()),
        },
        Ok(WireFormat::Jspb) => Outcome::Skipped("JSPB is not supported".into()),
        Ok(WireFormat::TextFormat) => Outcome::Skipped("text format is not supported".into()),
        _ => Outcome::RuntimeError(format!("unknown output format {}", request.requested_output_format)),
    }
}
