//! The protoc plugin protocol: a `CodeGeneratorRequest` in, a `CodeGeneratorResponse` out. Problems with the
//! input go in the response's `error`, which protoc prints; only unreadable input is a process failure.

use prost::Message;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::{CodegenError, Options};

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

/// `CodeGeneratorResponse.Feature.FEATURE_SUPPORTS_EDITIONS`, which prost-types 0.14 does not have.
pub const FEATURE_SUPPORTS_EDITIONS: u64 = 2;

/// What the three plugins declare: proto3 `optional` and editions (2023 to 2024, see [`encode_response`]).
pub const SUPPORTED_FEATURES: u64 = Feature::Proto3Optional as u64 | FEATURE_SUPPORTS_EDITIONS;

/// Answers a request whose encoding is not at hand (re-encoded through prost-types, which drops editions:
/// editions files are then refused). Plugins answer with [`run_raw`].
pub fn run(request: &CodeGeneratorRequest) -> CodeGeneratorResponse {
    run_raw(request, &request.encode_to_vec())
}

/// Answers a request; `raw` is its encoding, for the editions and features prost-types drops.
pub fn run_raw(request: &CodeGeneratorRequest, raw: &[u8]) -> CodeGeneratorResponse {
    let mut response = CodeGeneratorResponse { supported_features: Some(SUPPORTED_FEATURES), ..Default::default() };
    match respond(request, raw) {
        Ok(files) => response.file = files,
        Err(error) => response.error = Some(error.to_string()),
    }
    response
}

/// The response's encoding, with `minimum_edition` and `maximum_edition` (fields 3 and 4, which prost-types
/// 0.14's `CodeGeneratorResponse` lacks) when it declares editions support: protoc refuses editions files
/// for a plugin that declares the feature without the range.
pub fn encode_response(response: &CodeGeneratorResponse) -> Vec<u8> {
    let mut bytes = response.encode_to_vec();
    if response.supported_features() & FEATURE_SUPPORTS_EDITIONS != 0 {
        prost::encoding::int32::encode(3, crate::editions::SUPPORTED.start(), &mut bytes);
        prost::encoding::int32::encode(4, crate::editions::SUPPORTED.end(), &mut bytes);
    }
    bytes
}

fn respond(request: &CodeGeneratorRequest, raw: &[u8]) -> Result<Vec<File>, CodegenError> {
    let options = Options::parse(request.parameter())?;
    let editions = crate::editions::Editions::from_request(raw).map_err(CodegenError::new)?;
    let files = crate::generate_with_editions(&request.proto_file, &request.file_to_generate, &options, &editions)?;
    Ok(files
        .into_iter()
        .map(|file| File { name: Some(file.name), content: Some(file.content), ..Default::default() })
        .collect())
}
