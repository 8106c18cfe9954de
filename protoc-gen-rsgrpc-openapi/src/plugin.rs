//! The protoc plugin protocol, and the embedded route without protoc: request in, one document per file
//! (or one merged document) out. Problems with the input go in the response's `error`.

use prost_types::compiler::code_generator_response::File;
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
    let mut response = CodeGeneratorResponse {
        supported_features: Some(rsgrpc_codegen::plugin::SUPPORTED_FEATURES),
        ..Default::default()
    };
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

/// Generation from `build.rs` (or any Rust program) without protoc, as `rsgrpc_codegen::Builder` does for
/// the code:
///
/// ```no_run
/// rsgrpc_openapi_codegen::plugin::Builder::new()
///     .include("protos")
///     .include("googleapis")
///     .parameter("openapi_version=3.1")
///     .out_dir("docs")
///     .compile(&["protos/library.proto"])
///     .unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    includes: Vec<std::path::PathBuf>,
    parameters: Vec<String>,
    out_dir: Option<std::path::PathBuf>,
}

impl Builder {
    /// A builder with no include directories (`.` is used if none is added), default parameters.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Adds an include directory.
    pub fn include(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.includes.push(path.as_ref().to_owned());
        self
    }

    /// Adds parameters (`openapi_version=3.1`, comma-separated as for protoc).
    pub fn parameter(mut self, parameter: impl Into<String>) -> Self {
        self.parameters.push(parameter.into());
        self
    }

    /// Where [`Builder::compile`] writes (default `$OUT_DIR`).
    pub fn out_dir(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.out_dir = Some(path.as_ref().to_owned());
        self
    }

    /// The documents for `files`, without writing them.
    pub fn generate(&self, files: &[impl AsRef<std::path::Path>]) -> Result<Vec<OutputFile>, CodegenError> {
        let includes =
            if self.includes.is_empty() { vec![std::path::PathBuf::from(".")] } else { self.includes.clone() };
        let files: Vec<std::path::PathBuf> = files.iter().map(|f| f.as_ref().to_owned()).collect();
        let (descriptors, to_generate, encoded) = rsgrpc_codegen::embedded::parse_with_encoding(&includes, &files)?;
        let rules = rsgrpc_gateway_codegen::rules::from_descriptor_set(&encoded).map_err(CodegenError::new)?;
        let annotations = crate::options::from_descriptor_set(&encoded).map_err(CodegenError::new)?;
        generate(&descriptors, &to_generate, &rules, &annotations, &self.parameters.join(","))
    }

    /// Writes the documents for `files` under the output directory; in a build script, cargo reruns it
    /// when the protos change.
    pub fn compile(&self, files: &[impl AsRef<std::path::Path>]) -> Result<(), CodegenError> {
        let out = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(std::path::PathBuf::from)
                .ok_or_else(|| CodegenError::new("OUT_DIR is not set: call out_dir() outside build scripts"))?,
        };
        if std::env::var_os("OUT_DIR").is_some() {
            for file in files {
                println!("cargo:rerun-if-changed={}", file.as_ref().display());
            }
        }
        rsgrpc_codegen::embedded::write(&out, &self.generate(files)?)
    }
}
