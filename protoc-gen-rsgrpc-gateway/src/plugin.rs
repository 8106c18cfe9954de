//! The protoc plugin protocol for the gateway: the request's rules checked and emitted into the package
//! files protoc-gen-rsgrpc wrote earlier in the same run (protoc's insertion points). Problems with the
//! input go in the response's `error`.

use prost_types::compiler::code_generator_response::File;
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};
use prost_types::FileDescriptorProto;
use rsgrpc_codegen::editions::Editions;
use rsgrpc_codegen::emit::layout::{package_file_name, INSERTION_POINT};
use rsgrpc_codegen::emit::Context;
use rsgrpc_codegen::{CodegenError, OutputFile};

use crate::rules::Rules;

/// Answers a request (`raw` is its encoding, for the rules prost-types drops).
pub fn run(request: &CodeGeneratorRequest, raw: &[u8]) -> CodeGeneratorResponse {
    let mut response = CodeGeneratorResponse {
        supported_features: Some(rsgrpc_codegen::plugin::SUPPORTED_FEATURES),
        ..Default::default()
    };
    let result = crate::rules::from_request(raw)
        .and_then(|rules| Editions::from_request(raw).map(|editions| (rules, editions)))
        .map_err(CodegenError::new)
        .and_then(|(rules, editions)| {
            generate_with_editions(
                &request.proto_file,
                &request.file_to_generate,
                &rules,
                request.parameter(),
                &editions,
            )
        });
    match result {
        Ok(files) => {
            response.file = files
                .into_iter()
                .map(|file| File {
                    name: Some(file.name),
                    insertion_point: Some(INSERTION_POINT.to_owned()),
                    content: Some(file.content),
                    ..Default::default()
                })
                .collect()
        }
        Err(error) => response.error = Some(error.to_string()),
    }
    response
}

/// The gateway code to insert into each package file (named as protoc-gen-rsgrpc names them), sorted.
pub fn generate(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    rules: &Rules,
    parameter: &str,
) -> Result<Vec<OutputFile>, CodegenError> {
    generate_with_editions(files, to_generate, rules, parameter, &Editions::unknown())
}

/// [`generate`], with the editions and features of the descriptors' encoding (editions files need them).
pub fn generate_with_editions(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    rules: &Rules,
    parameter: &str,
    editions: &Editions,
) -> Result<Vec<OutputFile>, CodegenError> {
    let (params, options) = crate::params::parse(parameter)?;
    options.validate()?;
    let rules = configured_rules(files, rules, &params)?;
    let bindings = crate::bindings::bindings(files, to_generate, &rules, &params)?;
    let packages = rsgrpc_codegen::lower::lower_with_editions(files, to_generate, &options, editions)?;
    let context = Context::new(&options);
    let mut output = Vec::new();
    for package in &packages {
        if let Some(content) = crate::emit::package_gateway(package, &bindings, &context)? {
            output.push(OutputFile { name: package_file_name(&package.name), content });
        }
    }
    output.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(output)
}

/// The annotations' rules plus those of the `grpc_api_configuration` YAML, if the parameters name one (as
/// in grpc-gateway, a YAML rule adds to a method's annotation: both bind it). Shared with the OpenAPI
/// plugin, so the document describes exactly the routes this plugin generates.
pub fn configured_rules(
    files: &[FileDescriptorProto],
    rules: &Rules,
    params: &crate::params::GatewayParams,
) -> Result<Rules, CodegenError> {
    let mut rules = rules.clone();
    if let Some(path) = &params.grpc_api_configuration {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CodegenError::new(format!("grpc_api_configuration: cannot read {path}: {e}")))?;
        let configured = crate::api_config::rules_from_yaml(&text, path).map_err(CodegenError::new)?;
        for selector in configured.keys() {
            if !has_method(files, selector) {
                return Err(CodegenError::new(format!(
                    "{path}: selector {selector} names no method of the input files"
                )));
            }
        }
        // As in grpc-gateway, a YAML rule adds to the annotation: both bind the method.
        for (selector, mut rule) in configured {
            if let Some(mut annotation) = rules.remove(&selector) {
                let more = std::mem::take(&mut annotation.additional_bindings);
                rule.additional_bindings.push(annotation);
                rule.additional_bindings.extend(more);
            }
            rules.insert(selector, rule);
        }
    }
    Ok(rules)
}

/// Inserts `content` before the insertion point of `file`, as protoc does.
pub fn insert(file: &str, content: &str) -> Result<String, CodegenError> {
    let marker = format!("// @@protoc_insertion_point({INSERTION_POINT})");
    let at = file.find(&marker).ok_or_else(|| {
        CodegenError::new(format!(
            "the package file has no insertion point {marker:?}: was it written by protoc-gen-rsgrpc?"
        ))
    })?;
    Ok(format!("{}{}{}", &file[..at], content, &file[at..]))
}

/// Whether `selector` (`package.Service.Method`) is a method of `files`.
fn has_method(files: &[FileDescriptorProto], selector: &str) -> bool {
    files.iter().any(|file| {
        let prefix = if file.package().is_empty() { String::new() } else { format!("{}.", file.package()) };
        file.service.iter().any(|service| {
            service.method.iter().any(|method| format!("{prefix}{}.{}", service.name(), method.name()) == selector)
        })
    })
}

/// The embedded route: parses `.proto` files without protoc and writes protoc-gen-rsgrpc's files with the
/// gateway inserted, as `protoc --rsgrpc_out --rsgrpc-gateway_out` would.
pub fn generate_embedded(args: &rsgrpc_codegen::embedded::GenerateArgs) -> Result<(), CodegenError> {
    let (descriptors, to_generate, encoded) =
        rsgrpc_codegen::embedded::parse_with_encoding(&args.includes, &args.files)?;
    let rules = crate::rules::from_descriptor_set(&encoded).map_err(CodegenError::new)?;
    let (_, options) = crate::params::parse(&args.parameter)?;
    let mut files = rsgrpc_codegen::generate(&descriptors, &to_generate, &options)?;
    for addition in generate(&descriptors, &to_generate, &rules, &args.parameter)? {
        let file = files.iter_mut().find(|f| f.name == addition.name).ok_or_else(|| {
            CodegenError::new(format!("internal error: no package file {} for the gateway", addition.name))
        })?;
        file.content = insert(&file.content, &addition.content)?;
    }
    rsgrpc_codegen::embedded::write(&args.out, &files)
}
