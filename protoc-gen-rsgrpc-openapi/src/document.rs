//! One OpenAPI document: a path and operation per gateway binding (additional bindings included), with the
//! path, query and body parameters the gateway binds, the responses it writes (a message, a stream of
//! `{"result": ...}` lines or Server-Sent Events, or a `google.rpc.Status` error), and the definitions
//! those reference.

use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MethodDescriptorProto};
use rsgrpc_codegen::CodegenError;
use rsgrpc_gateway_codegen::bindings::{Binding, Body};
use serde_json::{json, Map, Value};

use crate::context::Context;
use crate::options::{behavior, Operation, Response, SecurityRequirement, Swagger};
use crate::params::{PatternVariables, Version};
use crate::schema::{self, Schemas, STATUS};

/// grpc-gateway's info version when the file sets none.
const NO_VERSION: &str = "version not set";

/// The HTTP methods an OpenAPI path item can hold; a binding with another (a custom rule's `SEARCH`)
/// cannot be described and is left out.
const OPENAPI_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// The document for the services of `files`, titled `title` unless a file's `openapiv2_swagger` says.
pub fn document(context: &Context<'_>, files: &[&FileDescriptorProto], title: &str) -> Result<Value, CodegenError> {
    let mut schemas = Schemas::new(context);
    let swagger = files.iter().find_map(|f| context.annotations.files.get(f.name()).map(|s| (f.name(), s)));
    let mut paths = Map::new();
    let mut tags: Vec<Value> = Vec::new();
    let mut operation_ids = std::collections::BTreeSet::new();
    for file in files {
        let package = if file.package().is_empty() { String::new() } else { format!("{}.", file.package()) };
        for service in &file.service {
            let service_name = format!("{package}{}", service.name());
            let tag_option = context.annotations.services.get(&service_name);
            let tag = tag_option.map(|t| t.name.clone()).filter(|n| !n.is_empty()).unwrap_or(service.name().to_owned());
            let mut tag_value = json!({ "name": tag });
            let description = tag_option
                .map(|t| t.description.clone())
                .filter(|d| !d.is_empty())
                .or_else(|| context.docs.get(&format!(".{service_name}")).map(str::to_owned));
            if let Some(description) = description {
                tag_value["description"] = json!(description);
            }
            if let Some(docs) = tag_option.and_then(|t| t.external_docs.as_ref()) {
                let element = format!("{}: service {service_name}: option openapiv2_tag", file.name());
                tag_value["externalDocs"] = schema::external_docs(docs, &element)?;
            }
            let mut bound = false;
            for method in &service.method {
                let full = format!("{service_name}.{}", method.name());
                let Some(bindings) = context.bindings.get(&full) else { continue };
                bound = true;
                let element = format!("{}: method {full}", file.name());
                for (i, binding) in bindings.iter().enumerate() {
                    let http_method = binding.http_method.to_ascii_lowercase();
                    if !OPENAPI_METHODS.contains(&http_method.as_str()) {
                        continue;
                    }
                    let split = context.params.pattern_variables == PatternVariables::Split;
                    let (mut path, mut path_params) = openapi_path(&binding.template, split);
                    rename_path_params(context, method.input_type(), &mut path, &mut path_params);
                    let operation = OperationBuilder { context, schemas: &mut schemas, element: &element }.build(
                        service.name(),
                        &full,
                        method,
                        binding,
                        i,
                        &tag,
                        &path_params,
                    )?;
                    let (path, operation) = same_shape_path(&paths, path, operation);
                    let item = paths.entry(path.clone()).or_insert_with(|| json!({}));
                    if item.get(&http_method).is_some() {
                        return Err(CodegenError::at(
                            &element,
                            format!("{} {path} is already described by another binding", binding.http_method),
                        )
                        .with_hint("OpenAPI tells paths apart by their literal parts only: templates that differ only in their variables' names or patterns share one path"));
                    }
                    let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
                    if !operation_ids.insert(id.clone()) {
                        return Err(CodegenError::at(&element, format!("operation id {id:?} is already used"))
                            .with_hint("two services of the same name (merged documents) need openapiv2_operation operation_id on one"));
                    }
                    item[http_method.as_str()] = operation;
                }
            }
            if bound && !tags.iter().any(|t| t["name"] == tag_value["name"]) {
                tags.push(tag_value);
            }
        }
    }
    if let Some((_, swagger)) = swagger {
        for tag in &swagger.tags {
            let mut value = json!({ "name": tag.name });
            if !tag.description.is_empty() {
                value["description"] = json!(tag.description);
            }
            match tags.iter_mut().find(|t| t["name"] == value["name"]) {
                Some(existing) => {
                    if let Some(description) = value.get("description") {
                        existing["description"] = description.clone();
                    }
                }
                None => tags.push(value),
            }
        }
    }
    // The error body is always described: every operation's `default` response refers to it.
    schemas.reference(STATUS);
    let definitions = schemas.finish()?;
    let mut document = Map::new();
    let version = context.params.version;
    match version {
        Version::V2 => {
            document.insert("swagger".into(), json!("2.0"));
            document.insert("consumes".into(), json!(["application/json"]));
            document.insert("produces".into(), json!(["application/json"]));
            document.insert("definitions".into(), Value::Object(definitions));
        }
        Version::V31 => {
            document.insert("openapi".into(), json!("3.1.0"));
            document.insert("components".into(), json!({ "schemas": definitions }));
        }
    }
    document.insert("info".into(), json!({ "title": title, "version": NO_VERSION }));
    document.insert("paths".into(), Value::Object(paths));
    if !tags.is_empty() {
        document.insert("tags".into(), Value::Array(tags));
    }
    if let Some((file, swagger)) = swagger {
        apply_swagger(&mut document, swagger, version, &format!("{file}: option openapiv2_swagger"))?;
    }
    Ok(Value::Object(document))
}

/// A parameter of an OpenAPI path: a whole field, or one `*` segment of a field's pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathParam {
    /// The parameter's name in the OpenAPI path.
    pub name: String,
    /// The field it binds, proto names dotted.
    pub field: String,
    /// For a segment of a pattern: the field's whole pattern with every segment's parameter in it
    /// (`shelves/{shelves}/books/{books}`).
    pub part_of: Option<String>,
    /// With `pattern_variables=pattern`: the regular expression a whole field's value matches
    /// (`shelves/[^/]+`), as grpc-gateway documents a variable with a pattern.
    pub pattern: Option<String>,
}

/// The OpenAPI form of a template and its parameters. A variable with a pattern is spread over the path
/// (`{name=shelves/*}` becomes `shelves/{shelves}`, the segment named after the literal before it), so that
/// OpenAPI clients, which percent-encode a parameter's slashes, send paths the gateway matches: it keeps
/// `%2F` encoded and so would not match `/v1/shelves%2Fs1`. A `**` stays one parameter.
pub fn openapi_path(template: &str, split: bool) -> (String, Vec<PathParam>) {
    let mut path = String::new();
    let mut params: Vec<PathParam> = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    let mut unique = |wanted: &str| {
        let mut name = wanted.to_owned();
        let mut n = 2;
        while !used.insert(name.clone()) {
            name = format!("{wanted}_{n}");
            n += 1;
        }
        name
    };
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let inner = &rest[open + 1..close];
        let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
        if pattern == "*" || pattern == "**" || !split {
            let name = unique(field);
            path.push_str(&format!("{{{name}}}"));
            let regex = (pattern != "*" && pattern != "**").then(|| pattern_regex(pattern));
            params.push(PathParam { name, field: field.to_owned(), part_of: None, pattern: regex });
        } else {
            let mut parts = Vec::new();
            let mut previous: Option<&str> = None;
            let first = params.len();
            for segment in pattern.split('/') {
                match segment {
                    "*" | "**" => {
                        let name = unique(previous.unwrap_or(field));
                        parts.push(format!("{{{name}}}"));
                        params.push(PathParam { name, field: field.to_owned(), part_of: None, pattern: None });
                    }
                    literal => parts.push(literal.to_owned()),
                }
                previous = Some(segment).filter(|s| !s.contains('*'));
            }
            let joined = parts.join("/");
            for param in &mut params[first..] {
                param.part_of = Some(joined.clone());
            }
            path.push_str(&joined);
        }
        rest = rest.get(close + 1..).unwrap_or("");
    }
    path.push_str(rest);
    (path, params)
}

/// The names of a path's parameters, in order.
fn parameter_names(path: &str) -> Vec<&str> {
    path.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name)).collect()
}

/// The path an operation goes under: an existing one of the same shape if there is one (`/v1/shelves/{id}`
/// and `/v1/shelves/{shelf_id}` are the same path to OpenAPI, which forbids writing both), with the
/// operation's path parameters renamed to that path's names and each saying which field it sets.
fn same_shape_path(paths: &Map<String, Value>, path: String, mut operation: Value) -> (String, Value) {
    let shape = |p: &str| {
        let mut out = String::new();
        for (i, part) in p.split('{').enumerate() {
            match (i, part.split_once('}')) {
                (0, _) | (_, None) => out.push_str(part),
                (_, Some((_, rest))) => {
                    out.push_str("{}");
                    out.push_str(rest);
                }
            }
        }
        out
    };
    let wanted = shape(&path);
    let Some(existing) = paths.keys().find(|p| **p != path && shape(p) == wanted).cloned() else {
        return (path, operation);
    };
    let renames: Vec<(String, String)> = parameter_names(&path)
        .into_iter()
        .zip(parameter_names(&existing))
        .filter(|(ours, theirs)| ours != theirs)
        .map(|(ours, theirs)| (ours.to_owned(), theirs.to_owned()))
        .collect();
    if let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) {
        for parameter in parameters.iter_mut().filter(|p| p["in"] == "path") {
            let Some((from, to)) = renames.iter().find(|(from, _)| parameter["name"] == from.as_str()) else {
                continue;
            };
            let note = format!("Sets `{from}`.");
            let description = match parameter.get("description").and_then(Value::as_str) {
                Some(text) => format!("{note} {text}"),
                None => note,
            };
            parameter["description"] = json!(description);
            parameter["name"] = json!(to);
        }
    }
    (existing, operation)
}

/// A path pattern (`shelves/*/books/**`) as a regular expression (`shelves/[^/]+/books/.+`).
fn pattern_regex(pattern: &str) -> String {
    let segments: Vec<String> = pattern
        .split('/')
        .map(|segment| match segment {
            "*" => "[^/]+".to_owned(),
            "**" => ".+".to_owned(),
            literal => literal
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~') {
                        c.to_string()
                    } else {
                        format!("\\{c}")
                    }
                })
                .collect(),
        })
        .collect();
    segments.join("/")
}

/// Applies `openapiv2_field`'s `field_configuration.path_param_name` to the parameters that bind a whole
/// field (grpc-gateway's way to tell apart paths that would otherwise share a parameter name).
fn rename_path_params(context: &Context<'_>, input_type: &str, path: &mut String, params: &mut [PathParam]) {
    for param in params.iter_mut().filter(|p| p.part_of.is_none()) {
        let mut parent = input_type.to_owned();
        let names: Vec<&str> = param.field.split('.').collect();
        for (i, name) in names.iter().enumerate() {
            let Some(message) = context.index.message(&parent) else { break };
            let Some(field) = message.field.iter().find(|f| f.name() == *name) else { break };
            if i + 1 < names.len() {
                parent = field.type_name().to_owned();
                continue;
            }
            let renamed = context
                .annotations
                .fields
                .get(&(parent.clone(), field.name().to_owned()))
                .and_then(|o| o.schema.as_ref())
                .and_then(|s| s.field_configuration.as_ref())
                .map(|c| c.path_param_name.clone())
                .filter(|n| !n.is_empty());
            if let Some(renamed) = renamed {
                *path = path.replace(&format!("{{{}}}", param.name), &format!("{{{renamed}}}"));
                param.name = renamed;
            }
        }
    }
}

struct OperationBuilder<'s, 'c> {
    context: &'c Context<'c>,
    schemas: &'s mut Schemas<'c>,
    element: &'s str,
}

impl<'c> OperationBuilder<'_, 'c> {
    fn version(&self) -> Version {
        self.context.params.version
    }

    #[allow(clippy::too_many_arguments)] // one call site; the parts of one binding
    fn build(
        mut self,
        service: &str,
        full: &str,
        method: &MethodDescriptorProto,
        binding: &Binding,
        index: usize,
        tag: &str,
        path_params: &[PathParam],
    ) -> Result<Value, CodegenError> {
        let option = self.context.annotations.methods.get(full);
        let base_id = option
            .map(|o| o.operation_id.clone())
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("{service}_{}", method.name()));
        // Additional bindings are numbered from 2, as grpc-gateway numbers them.
        let id = if index == 0 { base_id } else { format!("{base_id}{}", index + 1) };
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(id));
        operation.insert("tags".into(), json!([tag]));
        if let Some(comment) = self.context.docs.get(&format!(".{full}")) {
            let (summary, description) = split_comment(comment);
            operation.insert("summary".into(), json!(summary));
            if let Some(description) = description {
                operation.insert("description".into(), json!(description));
            }
        }
        if method.options.as_ref().is_some_and(|o| o.deprecated()) {
            operation.insert("deprecated".into(), json!(true));
        }
        let input = self.message(method.input_type())?;
        let mut parameters = Vec::new();
        for param in path_params {
            parameters.push(self.path_parameter(method.input_type(), input, param)?);
        }
        // Map fields (`labels[key]=value`) are not described, as protoc-gen-openapiv2 leaves them out: OpenAPI
        // 2.0 cannot say it.
        for field in binding.query_fields.iter().filter(|f| !f.map) {
            parameters.push(self.query_parameter(method.input_type(), input, &field.path, &field.json_path)?);
        }
        if binding.body != Body::None {
            let body = if binding.http_body_request { self.raw_body() } else { self.body(method, input, binding)? };
            match self.version() {
                Version::V2 => parameters.push(body),
                Version::V31 => {
                    operation.insert("requestBody".into(), body);
                }
            }
        }
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        let responses = self.responses(method, binding)?;
        operation.insert("responses".into(), responses);
        if self.version() == Version::V2 {
            // A google.api.HttpBody is sent and answered as raw bytes of any type.
            if binding.http_body_request {
                operation.insert("consumes".into(), json!(["*/*"]));
            }
            if binding.http_body_response {
                operation.insert("produces".into(), json!(["*/*"]));
            }
        }
        if let Some(option) = option {
            self.apply_operation(&mut operation, option)?;
        }
        Ok(Value::Object(operation))
    }

    fn message(&self, type_name: &str) -> Result<&'c DescriptorProto, CodegenError> {
        self.context
            .index
            .message(type_name)
            .ok_or_else(|| CodegenError::at(self.element, format!("unknown message type {type_name}")))
    }

    /// The field at a dotted proto path from `input`, and the full name of the message that holds it.
    fn field_at(
        &self,
        input_name: &str,
        input: &DescriptorProto,
        path: &str,
    ) -> Result<(String, FieldDescriptorProto), CodegenError> {
        let mut message = input;
        let mut parent = input_name.to_owned();
        let names: Vec<&str> = path.split('.').collect();
        for (i, name) in names.iter().enumerate() {
            let field = message.field.iter().find(|f| f.name() == *name).ok_or_else(|| {
                CodegenError::at(self.element, format!("internal error: no field {path} in {input_name}"))
            })?;
            if i + 1 == names.len() {
                return Ok((parent, field.clone()));
            }
            parent = field.type_name().to_owned();
            message = self.message(field.type_name())?;
        }
        unreachable!("a path has at least one name")
    }

    /// A parameter: 2.0 flattens its schema into it (no `$ref` allowed there), 3.1 nests it.
    fn parameter(&self, name: &str, location: &str, required: bool, schema: Value, description: Option<&str>) -> Value {
        let mut parameter = json!({ "name": name, "in": location, "required": required });
        if let Some(description) = description {
            parameter["description"] = json!(description);
        }
        match (self.version(), schema) {
            (Version::V2, Value::Object(schema)) => {
                let repeated = schema.get("type") == Some(&json!("array"));
                for (key, value) in schema {
                    // The schema's own description is the field's type note; the parameter has the comment.
                    if key != "description" || parameter.get("description").is_none() {
                        parameter[key.as_str()] = value;
                    }
                }
                if repeated {
                    // Repeated query parameters are given once per value, as the gateway reads them.
                    parameter["collectionFormat"] = json!("multi");
                }
            }
            (_, schema) => {
                let repeated = schema.get("type") == Some(&json!("array"));
                parameter["schema"] = schema;
                if repeated {
                    parameter["style"] = json!("form");
                    parameter["explode"] = json!(true);
                }
            }
        }
        parameter
    }

    fn path_parameter(
        &mut self,
        input_name: &str,
        input: &DescriptorProto,
        param: &PathParam,
    ) -> Result<Value, CodegenError> {
        let (parent, field) = self.field_at(input_name, input, &param.field)?;
        let comment = self.context.docs.field(&parent, field.name());
        let (schema, description) = match &param.part_of {
            None => {
                let mut schema = self.schemas.parameter_schema(&field);
                if let Some(pattern) = &param.pattern {
                    schema["pattern"] = json!(format!("^{pattern}$"));
                }
                (schema, comment.map(str::to_owned))
            }
            Some(whole) => {
                let note = format!("A segment of `{}`, which the gateway sets to `{whole}`.", param.field);
                let description = comment.map_or(note.clone(), |c| format!("{c}\n\n{note}"));
                (json!({ "type": "string" }), Some(description))
            }
        };
        Ok(self.parameter(&param.name, "path", true, schema, description.as_deref()))
    }

    fn query_parameter(
        &mut self,
        input_name: &str,
        input: &DescriptorProto,
        path: &str,
        json_path: &str,
    ) -> Result<Value, CodegenError> {
        let (parent, field) = self.field_at(input_name, input, path)?;
        let item = self.schemas.parameter_schema(&field);
        let schema = if field.label() == prost_types::field_descriptor_proto::Label::Repeated {
            json!({ "type": "array", "items": item })
        } else {
            item
        };
        let options = self.context.annotations.fields.get(&(parent.clone(), field.name().to_owned()));
        // Only a top-level field can be required on its own: a nested one is needed only if its parent is set.
        let required = !path.contains('.') && options.is_some_and(|o| o.behavior.contains(&behavior::REQUIRED));
        let description = self.context.docs.field(&parent, field.name()).map(str::to_owned);
        Ok(self.parameter(json_path, "query", required, schema, description.as_deref()))
    }

    /// The request body: the whole message (`*`) or one field, without the fields the path binds (the
    /// gateway's path values win over the body's).
    fn body(
        &mut self,
        method: &MethodDescriptorProto,
        input: &DescriptorProto,
        binding: &Binding,
    ) -> Result<Value, CodegenError> {
        let top_level =
            |paths: Vec<String>| -> Vec<String> { paths.into_iter().filter(|p| !p.contains('.')).collect() };
        let (name, schema) = match &binding.body {
            Body::All => {
                let bound = top_level(binding.path_fields.iter().map(|f| f.path.clone()).collect());
                let schema = match self.context.index.message(method.input_type()) {
                    Some(message) if !bound.is_empty() => self.without(method.input_type(), message, &bound)?,
                    _ => self.schemas.message_schema(method.input_type()),
                };
                ("body".to_owned(), schema)
            }
            Body::Field(field_name) => {
                let field = input.field.iter().find(|f| f.name() == field_name).ok_or_else(|| {
                    CodegenError::at(self.element, format!("internal error: no body field {field_name}"))
                })?;
                let prefix = format!("{field_name}.");
                let bound = top_level(
                    binding
                        .path_fields
                        .iter()
                        .filter_map(|f| f.path.strip_prefix(&prefix).map(str::to_owned))
                        .collect(),
                );
                let mut schema = self.schemas.property(method.input_type(), input, field)?;
                let message = self.context.index.message(field.type_name()).filter(|_| field.r#type() == Type::Message);
                if let (Some(message), false, true) = (message, bound.is_empty(), schema.get("$ref").is_some()) {
                    let description = schema.get("description").cloned();
                    schema = self.without(field.type_name(), message, &bound)?;
                    if let Some(description) = description {
                        schema["description"] = description;
                    }
                }
                (field.json_name().to_owned(), schema)
            }
            Body::None => unreachable!("only called with a body"),
        };
        let description = method.client_streaming().then_some(
            "A stream: the JSON objects of the messages one after another (newline-delimited JSON reads as one).",
        );
        Ok(match self.version() {
            Version::V2 => {
                let mut parameter = json!({ "name": name, "in": "body", "required": false, "schema": schema });
                if let Some(description) = description {
                    parameter["description"] = json!(description);
                }
                parameter
            }
            Version::V31 => {
                let mut body = json!({ "required": false, "content": { "application/json": { "schema": schema } } });
                if let Some(description) = description {
                    body["description"] = json!(description);
                }
                body
            }
        })
    }

    /// `message`'s schema without the top-level fields `bound` (proto names), inline: the body a client
    /// sends when the path gives those fields.
    fn without(&mut self, full: &str, message: &DescriptorProto, bound: &[String]) -> Result<Value, CodegenError> {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in message.field.iter().filter(|f| !bound.iter().any(|b| b == f.name())) {
            properties.insert(field.json_name().to_owned(), self.schemas.property(full, message, field)?);
            let options = self.context.annotations.fields.get(&(full.to_owned(), field.name().to_owned()));
            if options.is_some_and(|o| o.behavior.contains(&behavior::REQUIRED)) {
                required.push(json!(field.json_name()));
            }
        }
        let mut schema = json!({ "type": "object", "properties": properties });
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        if let Some(description) = self.context.docs.get(full) {
            schema["description"] = json!(description);
        }
        Ok(schema)
    }

    /// The schema of a successful response's body: the message, or its `response_body` field.
    fn response_schema(&mut self, method: &MethodDescriptorProto, binding: &Binding) -> Result<Value, CodegenError> {
        let output = self.message(method.output_type())?;
        let Some((name, _)) = &binding.response_body else {
            return Ok(self.schemas.message_schema(method.output_type()));
        };
        let field = output
            .field
            .iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| CodegenError::at(self.element, format!("internal error: no response field {name}")))?;
        let mut schema = self.schemas.property(method.output_type(), output, field)?;
        // An unset message field is written as `null` when it is the whole body.
        if field.r#type() == Type::Message && self.version() == Version::V31 && schema.get("$ref").is_some() {
            schema = json!({ "anyOf": [schema, { "type": "null" }] });
        }
        Ok(schema)
    }

    /// A `google.api.HttpBody` request body: raw bytes, of the type its `Content-Type` says.
    fn raw_body(&self) -> Value {
        let description = "The raw body (a google.api.HttpBody): its bytes and Content-Type as they are.";
        let schema = json!({ "type": "string", "format": "binary" });
        match self.version() {
            Version::V2 => {
                json!({ "name": "body", "in": "body", "required": false, "description": description, "schema": schema })
            }
            Version::V31 => {
                json!({ "required": false, "description": description, "content": { "*/*": { "schema": schema } } })
            }
        }
    }

    fn responses(&mut self, method: &MethodDescriptorProto, binding: &Binding) -> Result<Value, CodegenError> {
        let message = self.response_schema(method, binding)?;
        let status = self.schemas.reference(STATUS);
        let success = if binding.http_body_response {
            let description = if method.server_streaming() {
                "The raw body (a stream of google.api.HttpBody): every message's data in turn, under the first one's \
                 Content-Type; a failure after the first message aborts the body."
            } else {
                "The raw body (a google.api.HttpBody): its data, under its Content-Type."
            };
            let schema = json!({ "type": "string", "format": "binary" });
            match self.version() {
                Version::V2 => json!({ "description": description, "schema": schema }),
                Version::V31 => json!({ "description": description, "content": { "*/*": { "schema": schema } } }),
            }
        } else if method.server_streaming() {
            let output = method.output_type().trim_start_matches('.');
            let line = json!({
                "type": "object",
                "title": format!("Stream result of {output}"),
                "description": "One line of the stream: a message in `result`, or the error that ended the stream in `error`.",
                "properties": { "result": message, "error": status.clone() },
            });
            let description = "A stream of messages, as newline-delimited JSON: one `{\"result\": ...}` object per line, \
                and a last `{\"error\": ...}` line if the call fails after the first message. With `Accept: text/event-stream`, \
                Server-Sent Events instead: `data: <message>` per message, `event: error` with the status at a failure.";
            match self.version() {
                Version::V2 => json!({ "description": description, "schema": line }),
                Version::V31 => json!({
                    "description": description,
                    "content": {
                        "application/json": { "schema": line },
                        "text/event-stream": { "schema": { "type": "string" } },
                    },
                }),
            }
        } else {
            self.body_response("A successful response.", message)
        };
        let error = self.body_response(
            "An error: the gRPC status as JSON, with the HTTP status grpc-gateway maps its code to.",
            status,
        );
        Ok(json!({ "200": success, "default": error }))
    }

    fn body_response(&self, description: &str, schema: Value) -> Value {
        match self.version() {
            Version::V2 => json!({ "description": description, "schema": schema }),
            Version::V31 => {
                json!({ "description": description, "content": { "application/json": { "schema": schema } } })
            }
        }
    }

    /// `openapiv2_operation`: its settings over the defaults.
    fn apply_operation(&mut self, operation: &mut Map<String, Value>, option: &Operation) -> Result<(), CodegenError> {
        let element = format!("{}: option openapiv2_operation", self.element);
        if !option.tags.is_empty() {
            operation.insert("tags".into(), json!(option.tags));
        }
        if !option.summary.is_empty() {
            operation.insert("summary".into(), json!(option.summary));
        }
        if !option.description.is_empty() {
            operation.insert("description".into(), json!(option.description));
        }
        if option.deprecated {
            operation.insert("deprecated".into(), json!(true));
        }
        if let Some(docs) = &option.external_docs {
            operation.insert("externalDocs".into(), schema::external_docs(docs, &element)?);
        }
        if self.version() == Version::V2 {
            if !option.consumes.is_empty() {
                operation.insert("consumes".into(), json!(option.consumes));
            }
            if !option.produces.is_empty() {
                operation.insert("produces".into(), json!(option.produces));
            }
            if !option.schemes.is_empty() {
                operation.insert("schemes".into(), schemes(&option.schemes, &element)?);
            }
        }
        if !option.security.is_empty() {
            operation.insert("security".into(), security(&option.security));
        }
        let mut codes: Vec<(&String, &Response)> = option.responses.iter().collect();
        codes.sort_by(|a, b| a.0.cmp(b.0));
        for (code, response) in codes {
            if code != "default" && !(code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit())) {
                return Err(CodegenError::at(
                    &element,
                    format!("response {code:?} is not an HTTP status code or default"),
                ));
            }
            let existing = operation["responses"].get(code.as_str()).cloned();
            let value = self.option_response(response, existing, &format!("{element}: response {code}"))?;
            operation["responses"][code.as_str()] = value;
        }
        schema::extensions(operation, &option.extensions, &element)
    }

    /// A response from `openapiv2_operation`: over the generated one of the same code, if any, its
    /// description and (when given) its schema replace theirs, so a "200" with a description alone keeps
    /// the message schema.
    fn option_response(
        &mut self,
        response: &Response,
        existing: Option<Value>,
        element: &str,
    ) -> Result<Value, CodegenError> {
        let mut value = existing.unwrap_or_else(|| json!({ "description": "A response." }));
        if let Some(option) = &response.schema {
            let mut schema = Map::new();
            self.schemas.apply_schema_option(&mut schema, option, element)?;
            let description = value["description"].clone();
            value = self.body_response("", Value::Object(schema));
            value["description"] = description;
        }
        if !response.description.is_empty() {
            value["description"] = json!(response.description);
        }
        if let Value::Object(map) = &mut value {
            schema::extensions(map, &response.extensions, element)?;
        }
        Ok(value)
    }
}

/// A method comment as grpc-gateway splits it: the first paragraph is the summary, the rest the description.
fn split_comment(comment: &str) -> (String, Option<String>) {
    match comment.split_once("\n\n") {
        Some((summary, rest)) => (summary.trim().to_owned(), Some(rest.trim().to_owned())),
        None => (comment.to_owned(), None),
    }
}

fn schemes(values: &[i32], element: &str) -> Result<Value, CodegenError> {
    let names: Result<Vec<&str>, CodegenError> = values
        .iter()
        .map(|v| match v {
            1 => Ok("http"),
            2 => Ok("https"),
            3 => Ok("ws"),
            4 => Ok("wss"),
            other => Err(CodegenError::at(element, format!("scheme {other} is not HTTP, HTTPS, WS or WSS"))),
        })
        .collect();
    Ok(json!(names?))
}

fn security(requirements: &[SecurityRequirement]) -> Value {
    let list: Vec<Value> = requirements
        .iter()
        .map(|requirement| {
            let map: Map<String, Value> = requirement
                .security_requirement
                .iter()
                .map(|(name, scopes)| (name.clone(), json!(scopes.scope)))
                .collect();
            Value::Object(map)
        })
        .collect();
    Value::Array(list)
}

/// `openapiv2_swagger`: info, schemes, media types, security, external docs.
fn apply_swagger(
    document: &mut Map<String, Value>,
    swagger: &Swagger,
    version: Version,
    element: &str,
) -> Result<(), CodegenError> {
    if let Some(info) = &swagger.info {
        let target = document.get_mut("info").and_then(Value::as_object_mut).expect("info was written");
        let mut set = |key: &str, value: &str| {
            if !value.is_empty() {
                target.insert(key.into(), json!(value));
            }
        };
        set("title", &info.title);
        set("version", &info.version);
        set("description", &info.description);
        set("termsOfService", &info.terms_of_service);
        if let Some(contact) = &info.contact {
            let mut value = Map::new();
            for (key, text) in [("name", &contact.name), ("url", &contact.url), ("email", &contact.email)] {
                if !text.is_empty() {
                    value.insert(key.into(), json!(text));
                }
            }
            target.insert("contact".into(), Value::Object(value));
        }
        if let Some(license) = &info.license {
            if license.name.is_empty() {
                return Err(CodegenError::at(element, "info.license needs a name"));
            }
            let mut value = json!({ "name": license.name });
            if !license.url.is_empty() {
                value["url"] = json!(license.url);
            }
            target.insert("license".into(), value);
        }
        schema::extensions(target, &info.extensions, element)?;
    }
    let mut schemes_list = Vec::new();
    if !swagger.schemes.is_empty() {
        schemes_list = schemes(&swagger.schemes, element)?.as_array().cloned().unwrap_or_default();
    }
    match version {
        Version::V2 => {
            if !schemes_list.is_empty() {
                document.insert("schemes".into(), Value::Array(schemes_list));
            }
            if !swagger.host.is_empty() {
                document.insert("host".into(), json!(swagger.host));
            }
            if !swagger.base_path.is_empty() {
                document.insert("basePath".into(), json!(swagger.base_path));
            }
            if !swagger.consumes.is_empty() {
                document.insert("consumes".into(), json!(swagger.consumes));
            }
            if !swagger.produces.is_empty() {
                document.insert("produces".into(), json!(swagger.produces));
            }
        }
        Version::V31 => {
            // 3.1 has servers instead of host, base path and schemes.
            if !swagger.host.is_empty() {
                let schemes = if schemes_list.is_empty() { vec![json!("https")] } else { schemes_list };
                let servers: Vec<Value> = schemes
                    .iter()
                    .map(|s| json!({ "url": format!("{}://{}{}", s.as_str().unwrap_or("https"), swagger.host, swagger.base_path) }))
                    .collect();
                document.insert("servers".into(), Value::Array(servers));
            } else if !swagger.base_path.is_empty() {
                document.insert("servers".into(), json!([{ "url": swagger.base_path }]));
            }
        }
    }
    let definitions = swagger.security_definitions.as_ref().map(|d| &d.security);
    if let Some(definitions) = definitions.filter(|d| !d.is_empty()) {
        let mut names: Vec<&String> = definitions.keys().collect();
        names.sort();
        let mut schemes = Map::new();
        for name in names {
            let scheme_element = format!("{element}: security_definitions {name}");
            schemes.insert(name.clone(), security_scheme(&definitions[name], version, &scheme_element)?);
        }
        match version {
            Version::V2 => {
                document.insert("securityDefinitions".into(), Value::Object(schemes));
            }
            Version::V31 => {
                document["components"]["securitySchemes"] = Value::Object(schemes);
            }
        }
    }
    if !swagger.security.is_empty() {
        for requirement in &swagger.security {
            for name in requirement.security_requirement.keys() {
                if !definitions.is_some_and(|d| d.contains_key(name)) {
                    return Err(CodegenError::at(
                        element,
                        format!("security names {name:?}, which security_definitions does not define"),
                    ));
                }
            }
        }
        document.insert("security".into(), security(&swagger.security));
    }
    if let Some(docs) = &swagger.external_docs {
        document.insert("externalDocs".into(), schema::external_docs(docs, element)?);
    }
    schema::extensions(document, &swagger.extensions, element)
}

fn security_scheme(
    scheme: &crate::options::SecurityScheme,
    version: Version,
    element: &str,
) -> Result<Value, CodegenError> {
    let location = match scheme.r#in {
        1 => "query",
        2 => "header",
        _ => "",
    };
    let mut scopes: Vec<(&String, &String)> = scheme.scopes.iter().flat_map(|s| s.scope.iter()).collect();
    scopes.sort();
    let scopes: Map<String, Value> = scopes.into_iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let mut value = match (scheme.r#type, version) {
        (1, Version::V2) => json!({ "type": "basic" }),
        (1, Version::V31) => json!({ "type": "http", "scheme": "basic" }),
        (2, _) => {
            if scheme.name.is_empty() || location.is_empty() {
                return Err(CodegenError::at(element, "an API key needs a name and in (IN_QUERY or IN_HEADER)"));
            }
            json!({ "type": "apiKey", "name": scheme.name, "in": location })
        }
        (3, Version::V2) => {
            let flow = match scheme.flow {
                1 => "implicit",
                2 => "password",
                3 => "application",
                4 => "accessCode",
                _ => return Err(CodegenError::at(element, "an OAuth2 scheme needs a flow")),
            };
            let mut value = json!({ "type": "oauth2", "flow": flow, "scopes": scopes });
            if !scheme.authorization_url.is_empty() {
                value["authorizationUrl"] = json!(scheme.authorization_url);
            }
            if !scheme.token_url.is_empty() {
                value["tokenUrl"] = json!(scheme.token_url);
            }
            value
        }
        (3, Version::V31) => {
            let (flow, urls): (&str, &[(&str, &str)]) = match scheme.flow {
                1 => ("implicit", &[("authorizationUrl", &scheme.authorization_url)]),
                2 => ("password", &[("tokenUrl", &scheme.token_url)]),
                3 => ("clientCredentials", &[("tokenUrl", &scheme.token_url)]),
                4 => (
                    "authorizationCode",
                    &[("authorizationUrl", &scheme.authorization_url), ("tokenUrl", &scheme.token_url)],
                ),
                _ => return Err(CodegenError::at(element, "an OAuth2 scheme needs a flow")),
            };
            let mut flow_value = json!({ "scopes": scopes });
            for (key, url) in urls {
                if url.is_empty() {
                    return Err(CodegenError::at(element, format!("the {flow} flow needs {key}")));
                }
                flow_value[*key] = json!(url);
            }
            json!({ "type": "oauth2", "flows": { flow: flow_value } })
        }
        (other, _) => {
            return Err(CodegenError::at(
                element,
                format!("security scheme type {other} is not basic, API key or OAuth2"),
            ))
        }
    };
    if !scheme.description.is_empty() {
        value["description"] = json!(scheme.description);
    }
    if let Value::Object(map) = &mut value {
        schema::extensions(map, &scheme.extensions, element)?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_paths_with_a_parameter_per_segment() {
        let param = |name: &str, field: &str, part_of: Option<&str>| PathParam {
            name: name.to_owned(),
            field: field.to_owned(),
            part_of: part_of.map(str::to_owned),
            pattern: None,
        };
        assert_eq!(
            openapi_path("/v1/shelves/{shelf_id}", true),
            ("/v1/shelves/{shelf_id}".to_owned(), vec![param("shelf_id", "shelf_id", None)])
        );
        let whole = "shelves/{shelves}/books/{books}";
        assert_eq!(
            openapi_path("/v1/{name=shelves/*/books/*}:archive", true),
            (
                format!("/v1/{whole}:archive"),
                vec![param("shelves", "name", Some(whole)), param("books", "name", Some(whole))]
            )
        );
        // A segment without a literal before it is named after the field; names stay unique.
        assert_eq!(openapi_path("/v1/{book.name=*/x/*}/{id}", true).0, "/v1/{book.name}/x/{x}/{id}".to_owned());
        assert_eq!(openapi_path("/v1/{a=x/*}/{b=x/*}", true).0, "/v1/x/{x}/x/{x_2}".to_owned());
        assert_eq!(
            openapi_path("/v1/by-path/{name=**}", true),
            ("/v1/by-path/{name}".to_owned(), vec![param("name", "name", None)])
        );

        // grpc-gateway's form: the variable stays whole, its pattern a regular expression.
        let (path, params) = openapi_path("/v1/{name=shelves/*/books/**}:x.y", false);
        assert_eq!(path, "/v1/{name}:x.y");
        assert_eq!(params[0].pattern.as_deref(), Some("shelves/[^/]+/books/.+"));
        assert_eq!(pattern_regex("a.b/*"), "a\\.b/[^/]+");
    }
}
