//! Reading `google.api.http` rules. They are extension field 72295728 of `MethodOptions`, which
//! prost-types' descriptors drop, so the descriptors are decoded a second time from their raw bytes with
//! just the path to that field (file, service, method, options) and `HttpRule` itself.

use std::collections::HashMap;

use prost::Message;

/// `google.api.HttpRule`.
#[derive(Clone, PartialEq, Message)]
pub struct HttpRule {
    /// The method the rule is for (service config rules only).
    #[prost(string, tag = "1")]
    pub selector: String,
    /// The method and path.
    #[prost(oneof = "Pattern", tags = "2, 3, 4, 5, 6, 8")]
    pub pattern: Option<Pattern>,
    /// The request field the body maps to, `*` for the whole request, empty for none.
    #[prost(string, tag = "7")]
    pub body: String,
    /// The response field that is the body, empty for the whole response.
    #[prost(string, tag = "12")]
    pub response_body: String,
    /// More bindings of the same method.
    #[prost(message, repeated, tag = "11")]
    pub additional_bindings: Vec<HttpRule>,
}

/// The HTTP method and path template of a rule.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Pattern {
    /// GET.
    #[prost(string, tag = "2")]
    Get(String),
    /// PUT.
    #[prost(string, tag = "3")]
    Put(String),
    /// POST.
    #[prost(string, tag = "4")]
    Post(String),
    /// DELETE.
    #[prost(string, tag = "5")]
    Delete(String),
    /// PATCH.
    #[prost(string, tag = "6")]
    Patch(String),
    /// Another method.
    #[prost(message, tag = "8")]
    Custom(CustomPattern),
}

/// `google.api.CustomHttpPattern`.
#[derive(Clone, PartialEq, Message)]
pub struct CustomPattern {
    /// The HTTP method.
    #[prost(string, tag = "1")]
    pub kind: String,
    /// The path template.
    #[prost(string, tag = "2")]
    pub path: String,
}

impl HttpRule {
    /// The HTTP method and template, if the rule has a pattern.
    pub fn method_and_template(&self) -> Option<(String, &str)> {
        Some(match self.pattern.as_ref()? {
            Pattern::Get(path) => ("GET".to_owned(), path.as_str()),
            Pattern::Put(path) => ("PUT".to_owned(), path.as_str()),
            Pattern::Post(path) => ("POST".to_owned(), path.as_str()),
            Pattern::Delete(path) => ("DELETE".to_owned(), path.as_str()),
            Pattern::Patch(path) => ("PATCH".to_owned(), path.as_str()),
            Pattern::Custom(custom) => (custom.kind.clone(), custom.path.as_str()),
        })
    }
}

#[derive(Clone, PartialEq, Message)]
struct RawRequest {
    #[prost(message, repeated, tag = "15")]
    proto_file: Vec<RawFile>,
}

#[derive(Clone, PartialEq, Message)]
struct RawFileSet {
    #[prost(message, repeated, tag = "1")]
    file: Vec<RawFile>,
}

#[derive(Clone, PartialEq, Message)]
struct RawFile {
    #[prost(string, tag = "2")]
    package: String,
    #[prost(message, repeated, tag = "6")]
    service: Vec<RawService>,
}

#[derive(Clone, PartialEq, Message)]
struct RawService {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    method: Vec<RawMethod>,
}

#[derive(Clone, PartialEq, Message)]
struct RawMethod {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "4")]
    options: Option<RawMethodOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct RawMethodOptions {
    #[prost(message, optional, tag = "72295728")]
    http: Option<HttpRule>,
}

/// The rules by method, `package.Service.Method`.
pub type Rules = HashMap<String, HttpRule>;

fn collect(files: Vec<RawFile>) -> Rules {
    let mut rules = HashMap::new();
    for file in files {
        for service in file.service {
            for method in service.method {
                if let Some(rule) = method.options.and_then(|options| options.http) {
                    let prefix = if file.package.is_empty() { String::new() } else { format!("{}.", file.package) };
                    rules.insert(format!("{prefix}{}.{}", service.name, method.name), rule);
                }
            }
        }
    }
    rules
}

/// The rules in an encoded `CodeGeneratorRequest`.
pub fn from_request(bytes: &[u8]) -> Result<Rules, String> {
    let request = RawRequest::decode(bytes).map_err(|e| format!("the google.api.http options do not decode: {e}"))?;
    Ok(collect(request.proto_file))
}

/// The rules in an encoded `FileDescriptorSet` (the embedded parser's output).
pub fn from_descriptor_set(bytes: &[u8]) -> Result<Rules, String> {
    let set = RawFileSet::decode(bytes).map_err(|e| format!("the google.api.http options do not decode: {e}"))?;
    Ok(collect(set.file))
}
