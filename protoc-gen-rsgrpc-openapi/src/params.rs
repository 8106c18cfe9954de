//! The plugin's parameters, parsed once into [`Params`]. The gateway's own parameters that change which
//! routes exist (`generate_unbound_methods`, `allow_delete_body`, `grpc_api_configuration`) are accepted
//! too, so that the document is given the same ones as the gateway and describes the same routes.

use rsgrpc_codegen::CodegenError;
use rsgrpc_gateway_codegen::params::GatewayParams;

/// Which OpenAPI version to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// Swagger 2.0, as protoc-gen-openapiv2 writes (the default, so the plugin can replace it).
    V2,
    /// OpenAPI 3.1 (JSON Schema 2020-12 schemas).
    V31,
}

/// How a document is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON, two-space indented.
    Json,
    /// YAML (the JSON-compatible subset).
    Yaml,
}

/// How a path variable with a pattern (`{name=shelves/*}`) is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternVariables {
    /// Spread over the path, a parameter per `*` (`shelves/{shelves}`): callable by OpenAPI clients,
    /// which percent-encode a parameter's slashes (the default).
    Split,
    /// One parameter with the pattern as a regular expression (`{name}`, `^shelves/[^/]+$`), as
    /// grpc-gateway's protoc-gen-openapiv2 writes it.
    Pattern,
}

/// The parsed parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// The OpenAPI version.
    pub version: Version,
    /// JSON or YAML.
    pub format: Format,
    /// One document named this for all files, instead of one per file.
    pub merge: Option<String>,
    /// How variables with a pattern are documented.
    pub pattern_variables: PatternVariables,
    /// The parameters shared with the gateway plugin.
    pub gateway: GatewayParams,
}

/// The parameters and what they do, for `--help` and the README.
pub const PARAMETERS: &[(&str, &str)] = &[
    ("openapi_version=2|3.1", "Swagger 2.0 (default, as protoc-gen-openapiv2) or OpenAPI 3.1"),
    ("output_format=json|yaml", "the documents' format (default json)"),
    ("merge=NAME", "one document NAME.swagger.json (NAME.openapi.json for 3.1) for all files"),
    (
        "pattern_variables=split|pattern",
        "{name=shelves/*} as shelves/{shelves} (default) or as {name} with a regex (grpc-gateway's form)",
    ),
    ("generate_unbound_methods", "as for the gateway: methods without a rule get POST /package.Service/Method"),
    ("allow_delete_body", "as for the gateway: DELETE rules may have a body"),
    ("grpc_api_configuration=FILE.yaml", "as for the gateway: HTTP rules from a service-config YAML"),
];

/// Parses a comma-separated parameter string; an unknown parameter or a bad value is an error naming it.
pub fn parse(parameter: &str) -> Result<Params, CodegenError> {
    let mut params = Params {
        version: Version::V2,
        format: Format::Json,
        merge: None,
        pattern_variables: PatternVariables::Split,
        gateway: GatewayParams::default(),
    };
    for item in parameter.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let (key, value) = item.split_once('=').map_or((item, None), |(k, v)| (k, Some(v)));
        let bad = |expected: &str| {
            CodegenError::new(format!("parameter {key}: {:?} is not {expected}", value.unwrap_or_default()))
        };
        let flag = |value: Option<&str>| match value {
            None | Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(bad("true or false")),
        };
        match key {
            "openapi_version" => {
                params.version = match value {
                    Some("2" | "2.0") => Version::V2,
                    Some("3.1" | "3.1.0") => Version::V31,
                    _ => return Err(bad("2 or 3.1")),
                }
            }
            "output_format" => {
                params.format = match value {
                    Some("json") => Format::Json,
                    Some("yaml") => Format::Yaml,
                    _ => return Err(bad("json or yaml")),
                }
            }
            "merge" => match value {
                Some(name) if !name.is_empty() && !name.contains("..") => params.merge = Some(name.to_owned()),
                _ => return Err(bad("a file name (merge=apidocs)")),
            },
            "pattern_variables" => {
                params.pattern_variables = match value {
                    Some("split") => PatternVariables::Split,
                    Some("pattern") => PatternVariables::Pattern,
                    _ => return Err(bad("split or pattern")),
                }
            }
            "generate_unbound_methods" => params.gateway.generate_unbound_methods = flag(value)?,
            "allow_delete_body" => params.gateway.allow_delete_body = flag(value)?,
            "grpc_api_configuration" => match value {
                Some(path) if !path.is_empty() => params.gateway.grpc_api_configuration = Some(path.to_owned()),
                _ => return Err(bad("a file (grpc_api_configuration=api.yaml)")),
            },
            _ => {
                let known: Vec<&str> =
                    PARAMETERS.iter().map(|(name, _)| name.split(['=', '|']).next().unwrap_or(name)).collect();
                return Err(CodegenError::new(format!("unknown parameter {key:?}"))
                    .with_hint(format!("the parameters are {}", known.join(", "))));
            }
        }
    }
    Ok(params)
}

impl Params {
    /// The name of a document: `base` with the version's and format's extension, as protoc-gen-openapiv2
    /// names its files (`library.swagger.json`) for 2.0.
    pub fn file_name(&self, base: &str) -> String {
        let kind = match self.version {
            Version::V2 => "swagger",
            Version::V31 => "openapi",
        };
        let ext = match self.format {
            Format::Json => "json",
            Format::Yaml => "yaml",
        };
        format!("{base}.{kind}.{ext}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_values_and_errors() {
        let params = parse("").unwrap();
        assert_eq!((params.version, params.format, params.merge), (Version::V2, Format::Json, None));
        let params = parse("openapi_version=3.1,output_format=yaml,merge=api,allow_delete_body").unwrap();
        assert_eq!((params.version, params.format), (Version::V31, Format::Yaml));
        assert_eq!(params.file_name(params.merge.as_deref().unwrap()), "api.openapi.yaml");
        assert!(params.gateway.allow_delete_body);
        let error = parse("openapi_version=4").unwrap_err().to_string();
        assert!(error.contains("openapi_version") && error.contains("\"4\""), "{error}");
        let error = parse("json_names_for_fields=false").unwrap_err().to_string();
        assert!(error.contains("unknown parameter \"json_names_for_fields\""), "{error}");
    }
}
