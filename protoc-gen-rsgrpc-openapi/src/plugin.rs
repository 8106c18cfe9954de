//! The protoc plugin protocol, and the embedded route without protoc: request in, one document per file
//! (or one merged document) out. Problems with the input go in the response's `error`.

use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use prost_types::FileDescriptorProto;
use rsgrpc_codegen::index::DescriptorIndex;
use rsgrpc_codegen::{CodegenError, OutputFile};
use rsgrpc_gateway_codegen::rules::Rules;

use crate::context::{Context, Docs};
use crate::options::Annotations;
use crate::params::Format;

/// The generator's name and version.
pub const GENERATOR: &str = concat!("protoc-gen-rsgrpc-openapi ", env!("CARGO_PKG_VERSION"));

/// Answers a request (`raw` is its encoding, for the options prost-types drops).
pub fn run(request: &CodeGeneratorRequest, raw: &[u8]) -> CodeGeneratorResponse {
    let mut response =
        CodeGeneratorResponse { supported_features: Some(Feature::Proto3Optional as u64), ..Default::default() };
    let result = rsgrpc_gateway_codegen::rules::from_request(raw)
        .and_then(|rules| crate::options::from_request(raw).map(|annotations| (rules, annotations)))
        .map_err(CodegenError::new)
        .and_then(|(rules, annotations)| {
            generate(&request.proto_file, &request.file_to_generate, &rules, &annotations, request.parameter())
        });
    match result {
        Ok(files) => {
            response.file = files
                .into_iter()
                .map(|file| File { name: Some(file.name), content: Some(file.content), ..Default::default() })
                .collect()
        }
        Err(error) => response.error = Some(error.to_string()),
    }
    response
}

/// The documents for `to_generate`, sorted by name.
pub fn generate(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    rules: &Rules,
    annotations: &Annotations,
    parameter: &str,
) -> Result<Vec<OutputFile>, CodegenError> {
    let params = crate::params::parse(parameter)?;
    let rules = rsgrpc_gateway_codegen::plugin::configured_rules(files, rules, &params.gateway)?;
    let bindings = rsgrpc_gateway_codegen::bindings::bindings(files, to_generate, &rules, &params.gateway)?;
    let context = Context {
        files,
        index: DescriptorIndex::new(files),
        annotations,
        docs: Docs::new(files),
        params: &params,
        bindings,
    };
    let selected: Vec<&FileDescriptorProto> =
        to_generate.iter().filter_map(|name| files.iter().find(|f| f.name() == name)).collect();
    let mut output = Vec::new();
    match &params.merge {
        Some(name) => {
            let document = crate::document::document(&context, &selected, name)?;
            output.push(OutputFile { name: params.file_name(name), content: write(&document, params.format) });
        }
        None => {
            for file in selected {
                let document = crate::document::document(&context, &[file], file.name())?;
                let base = file.name().strip_suffix(".proto").unwrap_or(file.name());
                output.push(OutputFile { name: params.file_name(base), content: write(&document, params.format) });
            }
        }
    }
    output.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(output)
}

/// A document's text: JSON pretty-printed (sorted keys: serde_json's maps are ordered), or YAML.
pub fn write(document: &serde_json::Value, format: Format) -> String {
    match format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(document).expect("a JSON value always serializes");
            text.push('\n');
            text
        }
        Format::Yaml => crate::yaml::to_yaml(document),
    }
}

/// The embedded route: parses `.proto` files without protoc and writes the documents under `args.out`.
pub fn generate_embedded(args: &rsgrpc_codegen::embedded::GenerateArgs) -> Result<(), CodegenError> {
    let (descriptors, to_generate, encoded) =
        rsgrpc_codegen::embedded::parse_with_encoding(&args.includes, &args.files)?;
    let rules = rsgrpc_gateway_codegen::rules::from_descriptor_set(&encoded).map_err(CodegenError::new)?;
    let annotations = crate::options::from_descriptor_set(&encoded).map_err(CodegenError::new)?;
    let files = generate(&descriptors, &to_generate, &rules, &annotations, &args.parameter)?;
    rsgrpc_codegen::embedded::write(&args.out, &files)
}
