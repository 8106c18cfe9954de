//! The protoc plugin protocol: a `CodeGeneratorRequest` in, a `CodeGeneratorResponse` out. Problems with the
//! input go in the response's `error`, which protoc prints; only unreadable input is a process failure.

use prost::Message;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::{generate, CodegenError, Options};

/// Decodes a request, refusing input that is not one (protoc never sends a request without files).
pub fn decode_request(bytes: &[u8]) -> Result<CodeGeneratorRequest, String> {
    if bytes.is_empty() {
        return Err("no CodeGeneratorRequest on stdin (the input is empty)".to_owned());
    }
    let request =
        CodeGeneratorRequest::decode(bytes).map_err(|e| format!("stdin does not hold a CodeGeneratorRequest: {e}"))?;
    if request.file_to_generate.is_empty() || request.proto_file.is_empty() {
        return Err("stdin does not hold a CodeGeneratorRequest (it names no files to generate)".to_owned());
    }
    Ok(request)
}

/// Answers a request.
pub fn run(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    let mut response =
        CodeGeneratorResponse { supported_features: Some(Feature::Proto3Optional as u64), ..Default::default() };
    match respond(request) {
        Ok(files) => response.file = files,
        Err(error) => response.error = Some(error.to_string()),
    }
    response
}

fn respond(request: &CodeGeneratorRequest) -> Result<Vec<File>, CodegenError> {
    let options = Options::parse(request.parameter())?;
    let files = generate(&request.proto_file, &request.file_to_generate, &options)?;
    Ok(files
        .into_iter()
        .map(|file| File { name: Some(file.name), content: Some(file.content), ..Default::default() })
        .collect())
}
