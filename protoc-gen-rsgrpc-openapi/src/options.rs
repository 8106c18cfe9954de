//! The options the document reads besides `google.api.http`: grpc-gateway's `openapiv2_*` annotations
//! (extension 1042 of the file, service, method, message and field options) and `google.api.field_behavior`
//! (field option 1052). prost-types drops extensions, so the descriptors are decoded again from their raw
//! bytes with only the path down to those options, as the gateway plugin does for its rules.

use std::collections::HashMap;

use prost::Message;

/// grpc-gateway's extension number, the same on every options message it extends.
pub const OPENAPIV2_EXTENSION: u32 = 1042;

/// `google.api.FieldBehavior` values this plugin acts on.
pub mod behavior {
    /// Must be set by the client.
    pub const REQUIRED: i32 = 2;
    /// Set by the server; ignored in requests.
    pub const OUTPUT_ONLY: i32 = 3;
    /// Sent in requests, never returned.
    pub const INPUT_ONLY: i32 = 4;
}

/// `Swagger` (file option `openapiv2_swagger`): document-wide settings.
#[derive(Clone, PartialEq, Message)]
pub struct Swagger {
    /// The OpenAPI version (ignored: the `openapi_version` parameter decides).
    #[prost(string, tag = "1")]
    pub swagger: String,
    /// Title, version, description, contact, license.
    #[prost(message, optional, tag = "2")]
    pub info: Option<Info>,
    /// The host serving the API.
    #[prost(string, tag = "3")]
    pub host: String,
    /// The path prefix the API is served under.
    #[prost(string, tag = "4")]
    pub base_path: String,
    /// `Scheme` values.
    #[prost(int32, repeated, tag = "5")]
    pub schemes: Vec<i32>,
    /// Request media types.
    #[prost(string, repeated, tag = "6")]
    pub consumes: Vec<String>,
    /// Response media types.
    #[prost(string, repeated, tag = "7")]
    pub produces: Vec<String>,
    /// Shared responses by name.
    #[prost(map = "string, message", tag = "10")]
    pub responses: HashMap<String, Response>,
    /// Security schemes by name.
    #[prost(message, optional, tag = "11")]
    pub security_definitions: Option<SecurityDefinitions>,
    /// The security requirements of every operation (any one of them suffices).
    #[prost(message, repeated, tag = "12")]
    pub security: Vec<SecurityRequirement>,
    /// Tag descriptions.
    #[prost(message, repeated, tag = "13")]
    pub tags: Vec<Tag>,
    /// A link to more documentation.
    #[prost(message, optional, tag = "14")]
    pub external_docs: Option<ExternalDocumentation>,
    /// `x-` extensions.
    #[prost(map = "string, message", tag = "15")]
    pub extensions: HashMap<String, prost_types::Value>,
}

/// `Info`.
#[derive(Clone, PartialEq, Message)]
pub struct Info {
    /// The API's title.
    #[prost(string, tag = "1")]
    pub title: String,
    /// What the API is.
    #[prost(string, tag = "2")]
    pub description: String,
    /// A URL of the terms of service.
    #[prost(string, tag = "3")]
    pub terms_of_service: String,
    /// Who to ask.
    #[prost(message, optional, tag = "4")]
    pub contact: Option<Contact>,
    /// The API's license.
    #[prost(message, optional, tag = "5")]
    pub license: Option<License>,
    /// The API's version.
    #[prost(string, tag = "6")]
    pub version: String,
    /// `x-` extensions.
    #[prost(map = "string, message", tag = "7")]
    pub extensions: HashMap<String, prost_types::Value>,
}

/// `Contact`.
#[derive(Clone, PartialEq, Message)]
pub struct Contact {
    /// A person or organisation.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Their URL.
    #[prost(string, tag = "2")]
    pub url: String,
    /// Their e-mail address.
    #[prost(string, tag = "3")]
    pub email: String,
}

/// `License`.
#[derive(Clone, PartialEq, Message)]
pub struct License {
    /// The license's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its text's URL.
    #[prost(string, tag = "2")]
    pub url: String,
}

/// `ExternalDocumentation`.
#[derive(Clone, PartialEq, Message)]
pub struct ExternalDocumentation {
    /// What the link leads to.
    #[prost(string, tag = "1")]
    pub description: String,
    /// The link.
    #[prost(string, tag = "2")]
    pub url: String,
}

/// `Operation` (method option `openapiv2_operation`).
#[derive(Clone, PartialEq, Message)]
pub struct Operation {
    /// Replaces the default tag (the service's name).
    #[prost(string, repeated, tag = "1")]
    pub tags: Vec<String>,
    /// Replaces the summary taken from the method's comment.
    #[prost(string, tag = "2")]
    pub summary: String,
    /// Replaces the description taken from the method's comment.
    #[prost(string, tag = "3")]
    pub description: String,
    /// A link to more documentation.
    #[prost(message, optional, tag = "4")]
    pub external_docs: Option<ExternalDocumentation>,
    /// Replaces `Service_Method`.
    #[prost(string, tag = "5")]
    pub operation_id: String,
    /// Request media types (2.0).
    #[prost(string, repeated, tag = "6")]
    pub consumes: Vec<String>,
    /// Response media types (2.0).
    #[prost(string, repeated, tag = "7")]
    pub produces: Vec<String>,
    /// More responses by status code.
    #[prost(map = "string, message", tag = "9")]
    pub responses: HashMap<String, Response>,
    /// `Scheme` values (2.0).
    #[prost(int32, repeated, tag = "10")]
    pub schemes: Vec<i32>,
    /// Marks the operation deprecated (as does the method's own `deprecated` option).
    #[prost(bool, tag = "11")]
    pub deprecated: bool,
    /// Replaces the document's security requirements.
    #[prost(message, repeated, tag = "12")]
    pub security: Vec<SecurityRequirement>,
    /// `x-` extensions.
    #[prost(map = "string, message", tag = "13")]
    pub extensions: HashMap<String, prost_types::Value>,
}

/// `Header`.
#[derive(Clone, PartialEq, Message)]
pub struct Header {
    /// What the header is.
    #[prost(string, tag = "1")]
    pub description: String,
    /// string, number, integer or boolean.
    #[prost(string, tag = "2")]
    pub r#type: String,
    /// The type's format.
    #[prost(string, tag = "3")]
    pub format: String,
    /// The value when none is sent.
    #[prost(string, tag = "6")]
    pub default: String,
    /// A regular expression the value matches.
    #[prost(string, tag = "13")]
    pub pattern: String,
}

/// `Response`.
#[derive(Clone, PartialEq, Message)]
pub struct Response {
    /// What the response means.
    #[prost(string, tag = "1")]
    pub description: String,
    /// Its body.
    #[prost(message, optional, tag = "2")]
    pub schema: Option<Schema>,
    /// Its headers.
    #[prost(map = "string, message", tag = "3")]
    pub headers: HashMap<String, Header>,
    /// Examples by media type.
    #[prost(map = "string, string", tag = "4")]
    pub examples: HashMap<String, String>,
    /// `x-` extensions.
    #[prost(map = "string, message", tag = "5")]
    pub extensions: HashMap<String, prost_types::Value>,
}

/// `Schema` (message option `openapiv2_schema`).
#[derive(Clone, PartialEq, Message)]
pub struct Schema {
    /// The JSON Schema keywords.
    #[prost(message, optional, tag = "1")]
    pub json_schema: Option<JsonSchema>,
    /// The property that tells subtypes apart.
    #[prost(string, tag = "2")]
    pub discriminator: String,
    /// The whole message is output only.
    #[prost(bool, tag = "3")]
    pub read_only: bool,
    /// A link to more documentation.
    #[prost(message, optional, tag = "5")]
    pub external_docs: Option<ExternalDocumentation>,
    /// An example, as JSON text.
    #[prost(string, tag = "6")]
    pub example: String,
}

/// `JSONSchema` (field option `openapiv2_field`, and inside `Schema`).
#[derive(Clone, PartialEq, Message)]
pub struct JsonSchema {
    /// A message full name (`.pkg.Msg`) or a reference used as written.
    #[prost(string, tag = "3")]
    pub r#ref: String,
    /// A title.
    #[prost(string, tag = "5")]
    pub title: String,
    /// Replaces the description taken from the comment.
    #[prost(string, tag = "6")]
    pub description: String,
    /// The default, as JSON text (a bare word is taken as a string).
    #[prost(string, tag = "7")]
    pub default: String,
    /// Output only.
    #[prost(bool, tag = "8")]
    pub read_only: bool,
    /// An example, as JSON text.
    #[prost(string, tag = "9")]
    pub example: String,
    /// The value is a multiple of this (0: unset).
    #[prost(double, tag = "10")]
    pub multiple_of: f64,
    /// Upper bound (0: unset).
    #[prost(double, tag = "11")]
    pub maximum: f64,
    /// Whether the upper bound is excluded.
    #[prost(bool, tag = "12")]
    pub exclusive_maximum: bool,
    /// Lower bound (0: unset).
    #[prost(double, tag = "13")]
    pub minimum: f64,
    /// Whether the lower bound is excluded.
    #[prost(bool, tag = "14")]
    pub exclusive_minimum: bool,
    /// Longest string (0: unset).
    #[prost(uint64, tag = "15")]
    pub max_length: u64,
    /// Shortest string.
    #[prost(uint64, tag = "16")]
    pub min_length: u64,
    /// A regular expression the string matches.
    #[prost(string, tag = "17")]
    pub pattern: String,
    /// Most items (0: unset).
    #[prost(uint64, tag = "20")]
    pub max_items: u64,
    /// Fewest items.
    #[prost(uint64, tag = "21")]
    pub min_items: u64,
    /// Items are unique.
    #[prost(bool, tag = "22")]
    pub unique_items: bool,
    /// Most properties (0: unset).
    #[prost(uint64, tag = "24")]
    pub max_properties: u64,
    /// Fewest properties.
    #[prost(uint64, tag = "25")]
    pub min_properties: u64,
    /// Required properties (message level), by JSON name.
    #[prost(string, repeated, tag = "26")]
    pub required: Vec<String>,
    /// Unused here (grpc-gateway's `array`).
    #[prost(string, repeated, tag = "34")]
    pub array: Vec<String>,
    /// `JSONSchemaSimpleTypes` values replacing the type.
    #[prost(int32, repeated, tag = "35")]
    pub r#type: Vec<i32>,
    /// Replaces the format.
    #[prost(string, tag = "36")]
    pub format: String,
    /// The allowed values, as JSON text each (a bare word is taken as a string).
    #[prost(string, repeated, tag = "46")]
    pub r#enum: Vec<String>,
    /// Generation settings (the path parameter's name).
    #[prost(message, optional, tag = "1001")]
    pub field_configuration: Option<FieldConfiguration>,
    /// `x-` extensions.
    #[prost(map = "string, message", tag = "48")]
    pub extensions: HashMap<String, prost_types::Value>,
}

/// `JSONSchema.FieldConfiguration`.
#[derive(Clone, PartialEq, Message)]
pub struct FieldConfiguration {
    /// The name of the path parameter this field binds (instead of its dotted path).
    #[prost(string, tag = "47")]
    pub path_param_name: String,
}

/// `Tag` (service option `openapiv2_tag`).
#[derive(Clone, PartialEq, Message)]
pub struct Tag {
    /// Replaces the service's name as the tag of its operations.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Replaces the description taken from the service's comment.
    #[prost(string, tag = "2")]
    pub description: String,
    /// A link to more documentation.
    #[prost(message, optional, tag = "3")]
    pub external_docs: Option<ExternalDocumentation>,
}

/// `SecurityDefinitions`.
#[derive(Clone, PartialEq, Message)]
pub struct SecurityDefinitions {
    /// The schemes by name.
    #[prost(map = "string, message", tag = "1")]
    pub security: HashMap<String, SecurityScheme>,
}

/// `SecurityScheme`.
#[derive(Clone, PartialEq, Message)]
pub struct SecurityScheme {
    /// 1 basic, 2 API key, 3 OAuth2.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// What it is.
    #[prost(string, tag = "2")]
    pub description: String,
    /// The API key's header or query parameter.
    #[prost(string, tag = "3")]
    pub name: String,
    /// 1 query, 2 header.
    #[prost(int32, tag = "4")]
    pub r#in: i32,
    /// 1 implicit, 2 password, 3 application, 4 access code.
    #[prost(int32, tag = "5")]
    pub flow: i32,
    /// OAuth2 authorization URL.
    #[prost(string, tag = "6")]
    pub authorization_url: String,
    /// OAuth2 token URL.
    #[prost(string, tag = "7")]
    pub token_url: String,
    /// OAuth2 scopes.
    #[prost(message, optional, tag = "8")]
    pub scopes: Option<Scopes>,
    /// `x-` extensions.
    #[prost(map = "string, message", tag = "9")]
    pub extensions: HashMap<String, prost_types::Value>,
}

/// `Scopes`.
#[derive(Clone, PartialEq, Message)]
pub struct Scopes {
    /// Scope name to description.
    #[prost(map = "string, string", tag = "1")]
    pub scope: HashMap<String, String>,
}

/// `SecurityRequirement`: every named scheme applies at once.
#[derive(Clone, PartialEq, Message)]
pub struct SecurityRequirement {
    /// Scheme name to the OAuth2 scopes needed.
    #[prost(map = "string, message", tag = "1")]
    pub security_requirement: HashMap<String, RequirementScopes>,
}

/// `SecurityRequirement.SecurityRequirementValue`.
#[derive(Clone, PartialEq, Message)]
pub struct RequirementScopes {
    /// The scopes.
    #[prost(string, repeated, tag = "1")]
    pub scope: Vec<String>,
}

/// The options of one field.
#[derive(Debug, Clone, Default)]
pub struct FieldOptions {
    /// `google.api.field_behavior` values.
    pub behavior: Vec<i32>,
    /// `openapiv2_field`.
    pub schema: Option<JsonSchema>,
}

/// Every option of the request this plugin reads, by element.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    /// `openapiv2_swagger` by file name.
    pub files: HashMap<String, Swagger>,
    /// `openapiv2_tag` by service full name (`pkg.Service`).
    pub services: HashMap<String, Tag>,
    /// `openapiv2_operation` by method full name (`pkg.Service.Method`).
    pub methods: HashMap<String, Operation>,
    /// `openapiv2_schema` by message full name with a leading dot.
    pub messages: HashMap<String, Schema>,
    /// Field options by message full name (leading dot) and field name.
    pub fields: HashMap<(String, String), FieldOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct RawRequest {
    #[prost(bytes = "vec", repeated, tag = "15")]
    proto_file: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct RawFileSet {
    #[prost(bytes = "vec", repeated, tag = "1")]
    file: Vec<Vec<u8>>,
}

/// Only the name, decoded first so that a file whose options do not decode can be named.
#[derive(Clone, PartialEq, Message)]
struct RawFileName {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct RawFile {
    #[prost(string, tag = "2")]
    package: String,
    #[prost(message, repeated, tag = "4")]
    message_type: Vec<RawMessage>,
    #[prost(message, repeated, tag = "6")]
    service: Vec<RawService>,
    #[prost(message, optional, tag = "8")]
    options: Option<RawFileOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct RawFileOptions {
    #[prost(message, optional, tag = "1042")]
    swagger: Option<Swagger>,
}

#[derive(Clone, PartialEq, Message)]
struct RawMessage {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    field: Vec<RawField>,
    #[prost(message, repeated, tag = "3")]
    nested_type: Vec<RawMessage>,
    #[prost(message, optional, tag = "7")]
    options: Option<RawMessageOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct RawMessageOptions {
    #[prost(message, optional, tag = "1042")]
    schema: Option<Schema>,
}

#[derive(Clone, PartialEq, Message)]
struct RawField {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "8")]
    options: Option<RawFieldOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct RawFieldOptions {
    #[prost(int32, repeated, tag = "1052")]
    behavior: Vec<i32>,
    #[prost(message, optional, tag = "1042")]
    schema: Option<JsonSchema>,
}

#[derive(Clone, PartialEq, Message)]
struct RawService {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    method: Vec<RawMethod>,
    #[prost(message, optional, tag = "3")]
    options: Option<RawServiceOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct RawServiceOptions {
    #[prost(message, optional, tag = "1042")]
    tag: Option<Tag>,
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
    #[prost(message, optional, tag = "1042")]
    operation: Option<Operation>,
}

fn collect_message(message: RawMessage, scope: &str, out: &mut Annotations) {
    let full = format!("{scope}.{}", message.name);
    if let Some(schema) = message.options.and_then(|o| o.schema) {
        out.messages.insert(full.clone(), schema);
    }
    for field in message.field {
        if let Some(options) = field.options {
            if !options.behavior.is_empty() || options.schema.is_some() {
                out.fields.insert(
                    (full.clone(), field.name),
                    FieldOptions { behavior: options.behavior, schema: options.schema },
                );
            }
        }
    }
    for nested in message.nested_type {
        collect_message(nested, &full, out);
    }
}

fn collect(encoded_files: &[Vec<u8>]) -> Result<Annotations, String> {
    let mut out = Annotations::default();
    for bytes in encoded_files {
        let name = RawFileName::decode(bytes.as_slice()).map(|f| f.name).unwrap_or_default();
        let file = RawFile::decode(bytes.as_slice()).map_err(|e| {
            format!(
                "{name}: an openapiv2 (grpc.gateway.protoc_gen_openapiv2.options, extension {OPENAPIV2_EXTENSION}) or \
                 google.api.field_behavior option does not decode: {e}"
            )
        })?;
        let package = if file.package.is_empty() { String::new() } else { format!("{}.", file.package) };
        if let Some(swagger) = file.options.and_then(|o| o.swagger) {
            out.files.insert(name.clone(), swagger);
        }
        for service in file.service {
            let service_name = format!("{package}{}", service.name);
            if let Some(tag) = service.options.and_then(|o| o.tag) {
                out.services.insert(service_name.clone(), tag);
            }
            for method in service.method {
                if let Some(operation) = method.options.and_then(|o| o.operation) {
                    out.methods.insert(format!("{service_name}.{}", method.name), operation);
                }
            }
        }
        let scope = if file.package.is_empty() { String::new() } else { format!(".{}", file.package) };
        for message in file.message_type {
            collect_message(message, &scope, &mut out);
        }
    }
    Ok(out)
}

/// The options in an encoded `CodeGeneratorRequest`.
pub fn from_request(bytes: &[u8]) -> Result<Annotations, String> {
    let request = RawRequest::decode(bytes).map_err(|e| format!("the request does not decode: {e}"))?;
    collect(&request.proto_file)
}

/// The options in an encoded `FileDescriptorSet` (the embedded parser's output).
pub fn from_descriptor_set(bytes: &[u8]) -> Result<Annotations, String> {
    let set = RawFileSet::decode(bytes).map_err(|e| format!("the descriptor set does not decode: {e}"))?;
    collect(&set.file)
}
