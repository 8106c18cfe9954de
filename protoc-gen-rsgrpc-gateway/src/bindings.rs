//! From rules to bindings: each method's `google.api.http` rule (and its additional bindings) checked
//! against the request and response messages, with what the path and query can set. Rules that cannot
//! work are errors naming the file, the method and the problem.

use std::collections::HashMap;

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto};
use rsgrpc::gateway::PathTemplate;
use rsgrpc_codegen::index::DescriptorIndex;
use rsgrpc_codegen::CodegenError;

use crate::params::GatewayParams;
use crate::rules::{HttpRule, Rules};

/// Which part of the request the body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// The whole request (`*`).
    All,
    /// One top-level field.
    Field(String),
}

/// What JSON a path or query value becomes (see the runtime's `FieldKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A JSON string.
    Text,
    /// A JSON bool.
    Bool,
    /// An enum name or number.
    Enum,
}

/// A field the path or the query sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Proto names, dotted.
    pub path: String,
    /// JSON names, dotted.
    pub json_path: String,
    /// Its kind.
    pub kind: Kind,
    /// Whether it is repeated.
    pub repeated: bool,
    /// Whether it is a map, set by `name[key]=value` (then `kind` is its values' kind).
    pub map: bool,
}

/// One HTTP binding of a method.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The HTTP method.
    pub http_method: String,
    /// The template.
    pub template: String,
    /// The body rule.
    pub body: Body,
    /// The response field that is the body: proto name and JSON name.
    pub response_body: Option<(String, String)>,
    /// Fields bound by path variables.
    pub path_fields: Vec<FieldInfo>,
    /// Fields query parameters may set.
    pub query_fields: Vec<FieldInfo>,
    /// A PATCH with a body field and a top-level `google.protobuf.FieldMask update_mask`: the mask's proto
    /// name, and the message fields under the body field (dotted, relative to it) whose keys the gateway
    /// descends into when it fills the mask from the body (grpc-gateway's PATCH feature).
    pub update_mask: Option<(String, Vec<String>)>,
    /// The body (the whole request or its body field) is a `google.api.HttpBody`: raw bytes with their
    /// content type, not JSON.
    pub http_body_request: bool,
    /// The response is a `google.api.HttpBody`: its bytes are the answer, with its content type.
    pub http_body_response: bool,
}

/// The message whose bytes and content type stand for a raw HTTP body.
const HTTP_BODY: &str = ".google.api.HttpBody";

/// The bindings of every method that has any, by `package.Service.Method`.
pub type Bindings = HashMap<String, Vec<Binding>>;

/// Well-known message types with a string (or bool) JSON form, usable in a path or query.
fn scalar_message_kind(type_name: &str) -> Option<Kind> {
    match type_name {
        ".google.protobuf.BoolValue" => Some(Kind::Bool),
        ".google.protobuf.Timestamp"
        | ".google.protobuf.Duration"
        | ".google.protobuf.FieldMask"
        | ".google.protobuf.DoubleValue"
        | ".google.protobuf.FloatValue"
        | ".google.protobuf.Int64Value"
        | ".google.protobuf.UInt64Value"
        | ".google.protobuf.Int32Value"
        | ".google.protobuf.UInt32Value"
        | ".google.protobuf.StringValue"
        | ".google.protobuf.BytesValue" => Some(Kind::Text),
        _ => None,
    }
}

/// How deep query parameters reach into nested messages.
const MAX_QUERY_DEPTH: usize = 8;

struct Checker<'a> {
    index: DescriptorIndex<'a>,
    params: &'a GatewayParams,
}

impl<'a> Checker<'a> {
    fn message(&self, type_name: &str, element: &str) -> Result<&'a DescriptorProto, CodegenError> {
        self.index
            .message(type_name)
            .ok_or_else(|| CodegenError::at(element, format!("unknown message type {type_name}")))
    }

    fn is_map(&self, field: &FieldDescriptorProto) -> bool {
        field.r#type() == Type::Message
            && field.label() == Label::Repeated
            && self.index.message(field.type_name()).is_some_and(|m| m.options.as_ref().is_some_and(|o| o.map_entry()))
    }

    fn kind(field: &FieldDescriptorProto) -> Option<Kind> {
        match field.r#type() {
            Type::Bool => Some(Kind::Bool),
            Type::Enum => Some(Kind::Enum),
            Type::Message | Type::Group => scalar_message_kind(field.type_name()),
            _ => Some(Kind::Text),
        }
    }

    /// The field a path variable binds: every step must exist, the last be a non-repeated scalar.
    fn path_field(&self, input: &'a DescriptorProto, input_name: &str, path: &str) -> Result<FieldInfo, String> {
        let mut message = input;
        let mut message_name = input_name.trim_start_matches('.').to_owned();
        let mut json = Vec::new();
        let names: Vec<&str> = path.split('.').collect();
        for (i, name) in names.iter().enumerate() {
            let Some(field) = message.field.iter().find(|f| f.name() == *name) else {
                return Err(format!("path variable {{{path}}}: {message_name} has no field {name:?}"));
            };
            json.push(field.json_name().to_owned());
            if self.is_map(field) {
                return Err(format!("path variable {{{path}}}: field {name:?} is a map"));
            }
            if field.label() == Label::Repeated {
                return Err(format!("path variable {{{path}}}: field {name:?} is repeated"));
            }
            if i + 1 == names.len() {
                let kind = Self::kind(field)
                    .ok_or_else(|| format!("path variable {{{path}}}: field {name:?} is a message, not a value"))?;
                return Ok(FieldInfo {
                    path: path.to_owned(),
                    json_path: json.join("."),
                    kind,
                    repeated: false,
                    map: false,
                });
            }
            if field.r#type() != Type::Message || scalar_message_kind(field.type_name()).is_some() {
                return Err(format!(
                    "path variable {{{path}}}: field {name:?} is not a message, so it has no field {:?}",
                    names[i + 1]
                ));
            }
            message_name = field.type_name().trim_start_matches('.').to_owned();
            message = self
                .index
                .message(field.type_name())
                .ok_or_else(|| format!("unknown message type {}", field.type_name()))?;
        }
        unreachable!("a path has at least one name")
    }

    /// The fields query parameters can set: leaves reachable without crossing a repeated or map field.
    fn query_fields(
        &self,
        message: &DescriptorProto,
        prefix: (&str, &str),
        stack: &mut Vec<String>,
        out: &mut Vec<FieldInfo>,
    ) {
        if stack.len() > MAX_QUERY_DEPTH {
            return;
        }
        for field in &message.field {
            let path =
                if prefix.0.is_empty() { field.name().to_owned() } else { format!("{}.{}", prefix.0, field.name()) };
            let json_path = if prefix.1.is_empty() {
                field.json_name().to_owned()
            } else {
                format!("{}.{}", prefix.1, field.json_name())
            };
            if self.is_map(field) {
                // `labels[key]=value`, for maps of values (as grpc-gateway; not of messages).
                let entry = self.index.message(field.type_name());
                let value = entry.and_then(|entry| entry.field.iter().find(|f| f.number() == 2));
                if let Some(kind) = value.and_then(Self::kind) {
                    out.push(FieldInfo { path, json_path, kind, repeated: false, map: true });
                }
                continue;
            }
            let repeated = field.label() == Label::Repeated;
            match Self::kind(field) {
                Some(kind) => out.push(FieldInfo { path, json_path, kind, repeated, map: false }),
                None if !repeated && !stack.iter().any(|t| t == field.type_name()) => {
                    if let Some(nested) = self.index.message(field.type_name()) {
                        stack.push(field.type_name().to_owned());
                        self.query_fields(nested, (&path, &json_path), stack, out);
                        stack.pop();
                    }
                }
                None => {}
            }
        }
    }

    /// The non-repeated, non-map, non-well-known message fields under `message`, dotted (the JSON objects
    /// a field mask descends into).
    fn message_fields(&self, message: &DescriptorProto, prefix: &str, stack: &mut Vec<String>, out: &mut Vec<String>) {
        if stack.len() > MAX_QUERY_DEPTH {
            return;
        }
        for field in &message.field {
            let is_message = field.r#type() == Type::Message
                && field.label() != Label::Repeated
                && !field.type_name().starts_with(".google.protobuf.");
            if !is_message || stack.iter().any(|t| t == field.type_name()) {
                continue;
            }
            let path = if prefix.is_empty() { field.name().to_owned() } else { format!("{prefix}.{}", field.name()) };
            out.push(path.clone());
            if let Some(nested) = self.index.message(field.type_name()) {
                stack.push(field.type_name().to_owned());
                self.message_fields(nested, &path, stack, out);
                stack.pop();
            }
        }
    }

    fn binding(
        &self,
        rule: &HttpRule,
        method: &prost_types::MethodDescriptorProto,
        element: &str,
    ) -> Result<Binding, CodegenError> {
        let fail = |message: String| CodegenError::at(element, message);
        let (http_method, template) = rule.method_and_template().ok_or_else(|| {
            fail("the google.api.http rule has no method and path (get, put, post, delete, patch or custom)".into())
        })?;
        if http_method.is_empty() || !http_method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
            return Err(fail(format!("{http_method:?} is not an HTTP method (a custom rule's kind)")));
        }
        let parsed = PathTemplate::parse(template).map_err(|e| fail(e.to_string()))?;
        let input = self.message(method.input_type(), element)?;
        let output = self.message(method.output_type(), element)?;
        let body = match rule.body.as_str() {
            "" => Body::None,
            "*" => Body::All,
            name => {
                if !input.field.iter().any(|f| f.name() == name) {
                    return Err(fail(format!(
                        "body field {name:?} is not a field of {}",
                        method.input_type().trim_start_matches('.')
                    )));
                }
                Body::Field(name.to_owned())
            }
        };
        if body != Body::None && http_method == "GET" {
            return Err(fail("a GET rule cannot have a body".into()));
        }
        if body != Body::None && http_method == "DELETE" && !self.params.allow_delete_body {
            return Err(fail("a DELETE rule cannot have a body (the allow_delete_body parameter allows it)".into()));
        }
        if method.client_streaming() && body != Body::All {
            return Err(fail(
                "a client-streaming method's rule needs body: \"*\" (each JSON object in the body is a message)".into(),
            ));
        }
        if method.client_streaming() && !parsed.variables().is_empty() {
            return Err(fail("path variables cannot bind fields of a client-streaming request".into()));
        }
        let mut path_fields = Vec::new();
        for variable in parsed.variables() {
            path_fields.push(self.path_field(input, method.input_type(), &variable.name()).map_err(fail)?);
        }
        let response_body = match rule.response_body.as_str() {
            "" => None,
            name => {
                let field = output.field.iter().find(|f| f.name() == name).ok_or_else(|| {
                    fail(format!(
                        "response_body field {name:?} is not a field of {}",
                        method.output_type().trim_start_matches('.')
                    ))
                })?;
                Some((name.to_owned(), field.json_name().to_owned()))
            }
        };
        let mut query_fields = Vec::new();
        if body != Body::All && !method.client_streaming() {
            let mut all = Vec::new();
            self.query_fields(input, ("", ""), &mut vec![method.input_type().to_owned()], &mut all);
            let bound = |path: &str, other: &str| path == other || path.starts_with(&format!("{other}."));
            query_fields = all
                .into_iter()
                .filter(|f| !path_fields.iter().any(|p| bound(&f.path, &p.path) || bound(&p.path, &f.path)))
                .filter(|f| match &body {
                    Body::Field(name) => !bound(&f.path, name),
                    _ => true,
                })
                .collect();
        }
        let update_mask = match &body {
            Body::Field(name) if http_method == "PATCH" && self.params.allow_patch_feature => input
                .field
                .iter()
                .find(|f| f.name() == "update_mask" && f.type_name() == ".google.protobuf.FieldMask")
                .map(|mask| {
                    let body_field = input.field.iter().find(|f| f.name() == name);
                    let mut nested = Vec::new();
                    if let Some(message) = body_field.and_then(|f| self.index.message(f.type_name())) {
                        self.message_fields(
                            message,
                            "",
                            &mut vec![body_field.map(|f| f.type_name().to_owned()).unwrap_or_default()],
                            &mut nested,
                        );
                    }
                    (mask.name().to_owned(), nested)
                }),
            _ => None,
        };
        // A client-streaming method's body is a stream of JSON messages, whatever their type.
        let http_body_request = !method.client_streaming()
            && match &body {
                Body::None => false,
                Body::All => method.input_type() == HTTP_BODY,
                Body::Field(name) => input.field.iter().any(|f| f.name() == name && f.type_name() == HTTP_BODY),
            };
        let http_body_response = response_body.is_none() && method.output_type() == HTTP_BODY;
        Ok(Binding {
            http_method,
            template: template.to_owned(),
            body,
            response_body,
            path_fields,
            query_fields,
            update_mask,
            http_body_request,
            http_body_response,
        })
    }
}

/// The bindings of the methods in `to_generate`'s services.
pub fn bindings(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    rules: &Rules,
    params: &GatewayParams,
) -> Result<Bindings, CodegenError> {
    let checker = Checker { index: DescriptorIndex::new(files), params };
    let mut result = Bindings::new();
    // (HTTP method, template, method) of every binding so far, to find two for the same requests.
    let mut seen: Vec<(String, PathTemplate, String)> = Vec::new();
    for file in files.iter().filter(|f| to_generate.iter().any(|name| name == f.name())) {
        let prefix = if file.package().is_empty() { String::new() } else { format!("{}.", file.package()) };
        for service in &file.service {
            for method in &service.method {
                let full = format!("{prefix}{}.{}", service.name(), method.name());
                let element = format!("{}: method {full}", file.name());
                let rule = match rules.get(&full) {
                    Some(rule) => rule.clone(),
                    None if params.generate_unbound_methods => HttpRule {
                        pattern: Some(crate::rules::Pattern::Post(format!(
                            "/{prefix}{}/{}",
                            service.name(),
                            method.name()
                        ))),
                        body: "*".into(),
                        ..Default::default()
                    },
                    None => continue,
                };
                let mut rules = vec![rule.clone()];
                for additional in &rule.additional_bindings {
                    if !additional.additional_bindings.is_empty() {
                        return Err(CodegenError::at(
                            &element,
                            "an additional binding cannot have additional bindings",
                        ));
                    }
                    rules.push(additional.clone());
                }
                let mut list = Vec::new();
                for rule in &rules {
                    let binding = checker.binding(rule, method, &element)?;
                    let template = PathTemplate::parse(&binding.template).expect("checked by binding()");
                    if let Some((_, _, other)) =
                        seen.iter().find(|(m, t, _)| *m == binding.http_method && t.same_shape(&template))
                    {
                        return Err(CodegenError::at(
                            &element,
                            format!("{} {} is already bound to {other}", binding.http_method, binding.template),
                        )
                        .with_hint("two rules with the same method and template shape cannot be told apart"));
                    }
                    seen.push((binding.http_method.clone(), template, full.clone()));
                    list.push(binding);
                }
                result.insert(full, list);
            }
        }
    }
    Ok(result)
}
