//! The plugin's parameters: its own (`generate_unbound_methods`, `allow_delete_body`) and the code-layout
//! ones it shares with protoc-gen-rsgrpc (`extern_path`, `runtime_crate`, ...), which must match what
//! protoc-gen-rsgrpc was given, since the gateway names the types and modules it generated.

use rsgrpc_codegen::{CodegenError, Options};

/// The gateway's own parameters.
#[derive(Debug, Clone)]
pub struct GatewayParams {
    /// Methods without a rule get `POST /package.Service/Method` with body `*`.
    pub generate_unbound_methods: bool,
    /// DELETE rules may have a body.
    pub allow_delete_body: bool,
    /// A PATCH whose request has an `update_mask` not given in the query gets it filled from the body's
    /// fields (on by default, as in grpc-gateway).
    pub allow_patch_feature: bool,
    /// A service-config YAML with HTTP rules (its path as given, relative to where protoc runs).
    pub grpc_api_configuration: Option<String>,
}

impl Default for GatewayParams {
    fn default() -> Self {
        GatewayParams {
            generate_unbound_methods: false,
            allow_delete_body: false,
            allow_patch_feature: true,
            grpc_api_configuration: None,
        }
    }
}

/// The gateway's descriptions of its own parameters, for `--help`.
pub const GATEWAY_PARAMETERS: &[(&str, &str)] = &[
    ("generate_unbound_methods", "methods without a google.api.http rule get POST /package.Service/Method, body *"),
    ("allow_delete_body", "DELETE rules may have a body"),
    ("allow_patch_feature=false", "do not fill a PATCH's update_mask from the fields of its body"),
    (
        "grpc_api_configuration=FILE.yaml",
        "HTTP rules from a service-config YAML (http: rules:); used besides annotations",
    ),
];

/// Splits a parameter string into the gateway's parameters and the shared options.
pub fn parse(parameter: &str) -> Result<(GatewayParams, Options), CodegenError> {
    let mut gateway = GatewayParams::default();
    let mut shared = Vec::new();
    for item in split(parameter) {
        let (key, value) = item.split_once('=').map_or((item.as_str(), None), |(k, v)| (k, Some(v)));
        let flag = |value: Option<&str>| match value {
            None | Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(CodegenError::new(format!("parameter {key}: {other:?} is not true or false"))),
        };
        match key {
            "generate_unbound_methods" => gateway.generate_unbound_methods = flag(value)?,
            "allow_delete_body" => gateway.allow_delete_body = flag(value)?,
            "allow_patch_feature" => gateway.allow_patch_feature = flag(value)?,
            "grpc_api_configuration" => match value {
                Some(path) if !path.is_empty() => gateway.grpc_api_configuration = Some(path.to_owned()),
                _ => {
                    return Err(CodegenError::new(
                        "parameter grpc_api_configuration needs a file: grpc_api_configuration=api.yaml",
                    ))
                }
            },
            _ => shared.push(item),
        }
    }
    let options = Options::parse(&shared.join(","))?;
    Ok((gateway, options))
}

/// Splits on commas not escaped as `\,` (attribute values contain commas), keeping the escapes for the
/// shared parser.
fn split(parameter: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = parameter.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                current.push('\\');
                current.push(chars.next().expect("peeked"));
            }
            ',' => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    items.into_iter().filter(|item| !item.is_empty()).collect()
}
