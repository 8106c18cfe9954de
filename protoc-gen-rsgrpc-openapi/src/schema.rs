//! Schemas of messages and enums in their proto3 JSON form: lowerCamel names, 64-bit integers as strings,
//! bytes as base64, enums by name, maps as objects, the well-known types in their special forms. Messages
//! and enums become definitions (`#/definitions/pkg.Msg` in 2.0, `#/components/schemas/pkg.Msg` in 3.1)
//! referenced by full name; the ones a document needs are collected as they are referenced.

use std::collections::{BTreeMap, BTreeSet};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FieldDescriptorProto};
use rsgrpc_codegen::CodegenError;
use serde_json::{json, Map, Value};

use crate::context::Context;
use crate::options::{behavior, JsonSchema, Schema};
use crate::params::Version;

/// The definition name of the error body, always present.
pub const STATUS: &str = "google.rpc.Status";
/// The definition name of `google.protobuf.Any`.
pub const ANY: &str = "google.protobuf.Any";

/// Builds schemas and collects the definitions they reference.
pub struct Schemas<'c> {
    context: &'c Context<'c>,
    /// Full names (no leading dot) referenced and not yet written.
    pending: BTreeSet<String>,
    /// The definitions written so far.
    done: BTreeMap<String, Value>,
}

impl<'c> Schemas<'c> {
    /// An empty set of definitions for `context`.
    pub fn new(context: &'c Context<'c>) -> Self {
        Schemas { context, pending: BTreeSet::new(), done: BTreeMap::new() }
    }

    fn version(&self) -> Version {
        self.context.params.version
    }

    /// A `$ref` to the definition `name` (no leading dot), which is then written.
    pub fn reference(&mut self, name: &str) -> Value {
        if !self.done.contains_key(name) {
            self.pending.insert(name.to_owned());
        }
        let prefix = match self.version() {
            Version::V2 => "#/definitions/",
            Version::V31 => "#/components/schemas/",
        };
        json!({ "$ref": format!("{prefix}{name}") })
    }

    /// The schema of a request or response message: its well-known JSON form, or a reference.
    pub fn message_schema(&mut self, type_name: &str) -> Value {
        self.well_known(type_name, false).unwrap_or_else(|| self.reference(type_name.trim_start_matches('.')))
    }

    /// Every definition referenced so far, and those they reference, by name.
    pub fn finish(mut self) -> Result<Map<String, Value>, CodegenError> {
        while let Some(name) = self.pending.pop_first() {
            if self.done.contains_key(&name) {
                continue;
            }
            let schema = self.definition(&name)?;
            self.done.insert(name, schema);
        }
        Ok(self.done.into_iter().collect())
    }

    fn definition(&mut self, name: &str) -> Result<Value, CodegenError> {
        if name == STATUS {
            return Ok(self.status());
        }
        if name == ANY {
            return Ok(any());
        }
        let full = format!(".{name}");
        if let Some(message) = self.context.index.message(&full) {
            return self.message(&full, message);
        }
        if let Some(enumeration) = self.context.index.enumeration(&full) {
            return Ok(self.enumeration(&full, enumeration));
        }
        Err(CodegenError::new(format!("internal error: no type {name} for a definition")))
    }

    /// `google.rpc.Status` as the gateway writes errors (with defaults, so every property is there).
    fn status(&mut self) -> Value {
        let details = json!({ "type": "array", "items": self.reference(ANY) });
        json!({
            "type": "object",
            "description": "An error: the gRPC status code, a message, and the status details.",
            "properties": {
                "code": { "type": "integer", "format": "int32", "description": "The gRPC status code." },
                "message": { "type": "string" },
                "details": details,
            },
        })
    }

    /// A message's schema: an object with a property per field.
    fn message(&mut self, full: &str, message: &DescriptorProto) -> Result<Value, CodegenError> {
        let mut schema = Map::new();
        schema.insert("type".into(), json!("object"));
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in &message.field {
            let property = self.property(full, message, field)?;
            properties.insert(field.json_name().to_owned(), property);
            let options = self.context.annotations.fields.get(&(full.to_owned(), field.name().to_owned()));
            let is_required =
                options.is_some_and(|o| o.behavior.contains(&behavior::REQUIRED)) || field.label() == Label::Required;
            if is_required {
                required.push(json!(field.json_name()));
            }
        }
        if !properties.is_empty() {
            schema.insert("properties".into(), Value::Object(properties));
        }
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        let mut description = self.context.docs.get(full).map(str::to_owned);
        if message.options.as_ref().is_some_and(|o| o.deprecated()) {
            self.deprecate(&mut schema, &mut description);
        }
        if let Some(text) = description {
            schema.insert("description".into(), json!(text));
        }
        if let Some(option) = self.context.annotations.messages.get(full) {
            let element = format!("message {}: option openapiv2_schema", full.trim_start_matches('.'));
            self.apply_schema_option(&mut schema, option, &element)?;
        }
        Ok(Value::Object(schema))
    }

    fn deprecate(&self, schema: &mut Map<String, Value>, description: &mut Option<String>) {
        match self.version() {
            Version::V31 => {
                schema.insert("deprecated".into(), json!(true));
            }
            // 2.0 schemas have no `deprecated`: say it in the description.
            Version::V2 => {
                let text = description.take().map_or("Deprecated.".to_owned(), |d| format!("{d}\n\nDeprecated."));
                *description = Some(text);
            }
        }
    }

    /// The schema of one field as a property of `message` (`full` is its name with a leading dot).
    pub fn property(
        &mut self,
        full: &str,
        message: &DescriptorProto,
        field: &FieldDescriptorProto,
    ) -> Result<Value, CodegenError> {
        let mut schema = match self.map_value(field) {
            Some(value) => {
                let values = self.value_schema(value);
                json!({ "type": "object", "additionalProperties": values })
            }
            None if field.label() == Label::Repeated => {
                json!({ "type": "array", "items": self.value_schema(field) })
            }
            None => self.value_schema(field),
        };
        let Value::Object(map) = &mut schema else { unreachable!("schemas are objects") };
        let mut description = self.context.docs.field(full, field.name()).map(str::to_owned);
        // A real oneof (not a proto3 `optional` field's synthetic one): say which members exclude this one.
        if let Some(index) = field.oneof_index.filter(|_| !field.proto3_optional()) {
            let members: Vec<String> = message
                .field
                .iter()
                .filter(|f| f.oneof_index == Some(index))
                .map(|f| format!("`{}`", f.json_name()))
                .collect();
            let oneof = message.oneof_decl.get(index as usize).map(|o| o.name()).unwrap_or_default();
            let note = format!("Only one of {} is set (oneof `{oneof}`).", members.join(", "));
            description = Some(description.map_or(note.clone(), |d| format!("{d}\n\n{note}")));
        }
        if field.options.as_ref().is_some_and(|o| o.deprecated()) {
            self.deprecate(map, &mut description);
        }
        let options = self.context.annotations.fields.get(&(full.to_owned(), field.name().to_owned()));
        if let Some(options) = options {
            if options.behavior.contains(&behavior::OUTPUT_ONLY) {
                map.insert("readOnly".into(), json!(true));
            }
            if options.behavior.contains(&behavior::INPUT_ONLY) {
                match self.version() {
                    Version::V31 => {
                        map.insert("writeOnly".into(), json!(true));
                    }
                    // 2.0 has readOnly but no writeOnly.
                    Version::V2 => {
                        let note = "Input only: sent in requests, never returned.";
                        description = Some(description.map_or(note.to_owned(), |d| format!("{d}\n\n{note}")));
                    }
                }
            }
        }
        if let Some(text) = description {
            map.insert("description".into(), json!(text));
        }
        if let Some(option) = options.and_then(|o| o.schema.as_ref()) {
            let element = format!("field {}.{}: option openapiv2_field", full.trim_start_matches('.'), field.name());
            self.apply_json_schema(map, option, &element, false)?;
        }
        Ok(schema)
    }

    /// The value field of a map field's entry, if `field` is a map.
    fn map_value(&self, field: &FieldDescriptorProto) -> Option<&'c FieldDescriptorProto> {
        if field.r#type() != Type::Message || field.label() != Label::Repeated {
            return None;
        }
        let entry = self.context.index.message(field.type_name())?;
        if !entry.options.as_ref().is_some_and(|o| o.map_entry()) {
            return None;
        }
        entry.field.iter().find(|f| f.number() == 2)
    }

    /// The schema of one value of `field` (one item if repeated).
    pub fn value_schema(&mut self, field: &FieldDescriptorProto) -> Value {
        match field.r#type() {
            Type::Enum => {
                if field.type_name() == ".google.protobuf.NullValue" {
                    return self.null();
                }
                self.reference(field.type_name().trim_start_matches('.'))
            }
            Type::Message | Type::Group => match self.well_known(field.type_name(), true) {
                Some(schema) => schema,
                None => self.reference(field.type_name().trim_start_matches('.')),
            },
            scalar => scalar_schema(scalar),
        }
    }

    /// The schema of a path or query parameter's value: enums inline, wrappers not nullable.
    pub fn parameter_schema(&mut self, field: &FieldDescriptorProto) -> Value {
        match field.r#type() {
            Type::Enum => match self.context.index.enumeration(field.type_name()) {
                Some(enumeration) => json!({ "type": "string", "enum": enum_names(enumeration) }),
                None => json!({ "type": "string" }),
            },
            Type::Message | Type::Group => {
                self.well_known(field.type_name(), false).unwrap_or_else(|| json!({ "type": "string" }))
            }
            scalar => scalar_schema(scalar),
        }
    }

    fn null(&self) -> Value {
        match self.version() {
            Version::V31 => json!({ "type": "null" }),
            Version::V2 => json!({ "description": "Always null." }),
        }
    }

    /// The JSON form of a well-known type, if `type_name` is one written inline.
    fn well_known(&mut self, type_name: &str, nullable: bool) -> Option<Value> {
        let wrapper = |schema: Value| Some(self.nullable(schema, nullable));
        match type_name {
            ".google.protobuf.Timestamp" => {
                Some(json!({ "type": "string", "format": "date-time", "description": "An RFC 3339 time (UTC, `Z`)." }))
            }
            ".google.protobuf.Duration" => Some(json!({
                "type": "string",
                "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$",
                "description": "Seconds with up to nine fractional digits and an `s` (`1.5s`).",
            })),
            ".google.protobuf.FieldMask" => {
                Some(json!({ "type": "string", "description": "Field paths in lowerCamel, comma-separated." }))
            }
            ".google.protobuf.Empty" => Some(json!({ "type": "object" })),
            ".google.protobuf.Struct" => Some(json!({ "type": "object", "additionalProperties": {} })),
            ".google.protobuf.Value" => Some(json!({ "description": "Any JSON value." })),
            ".google.protobuf.ListValue" => Some(json!({ "type": "array", "items": {} })),
            ".google.protobuf.Any" => Some(self.reference(ANY)),
            ".google.protobuf.DoubleValue" => wrapper(scalar_schema(Type::Double)),
            ".google.protobuf.FloatValue" => wrapper(scalar_schema(Type::Float)),
            ".google.protobuf.Int64Value" => wrapper(scalar_schema(Type::Int64)),
            ".google.protobuf.UInt64Value" => wrapper(scalar_schema(Type::Uint64)),
            ".google.protobuf.Int32Value" => wrapper(scalar_schema(Type::Int32)),
            ".google.protobuf.UInt32Value" => wrapper(scalar_schema(Type::Uint32)),
            ".google.protobuf.BoolValue" => wrapper(scalar_schema(Type::Bool)),
            ".google.protobuf.StringValue" => wrapper(scalar_schema(Type::String)),
            ".google.protobuf.BytesValue" => wrapper(scalar_schema(Type::Bytes)),
            _ => None,
        }
    }

    /// A wrapper's primitive, which JSON may also give as `null` (2.0 has no null type: `x-nullable`,
    /// as go-swagger and grpc-gateway's users read it).
    fn nullable(&self, mut schema: Value, nullable: bool) -> Value {
        if !nullable {
            return schema;
        }
        let Value::Object(map) = &mut schema else { return schema };
        match self.version() {
            Version::V31 => {
                let kind = map.remove("type").unwrap_or(json!("string"));
                map.insert("type".into(), json!([kind, "null"]));
            }
            Version::V2 => {
                map.insert("x-nullable".into(), json!(true));
            }
        }
        schema
    }

    fn enumeration(&self, full: &str, enumeration: &EnumDescriptorProto) -> Value {
        let names = enum_names(enumeration);
        let mut schema = json!({ "type": "string", "enum": names });
        if let Some(first) = names.first() {
            schema["default"] = json!(first);
        }
        let mut lines = Vec::new();
        if let Some(text) = self.context.docs.get(full) {
            lines.push(text.to_owned());
        }
        let values: Vec<String> = enumeration
            .value
            .iter()
            .filter_map(|v| self.context.docs.field(full, v.name()).map(|doc| format!("- `{}`: {doc}", v.name())))
            .collect();
        if !values.is_empty() {
            lines.push(values.join("\n"));
        }
        if !lines.is_empty() {
            schema["description"] = json!(lines.join("\n\n"));
        }
        schema
    }

    /// `openapiv2_schema` on a message: its JSON Schema keywords and the Schema object's own.
    pub fn apply_schema_option(
        &mut self,
        schema: &mut Map<String, Value>,
        option: &Schema,
        element: &str,
    ) -> Result<(), CodegenError> {
        if let Some(json_schema) = &option.json_schema {
            self.apply_json_schema(schema, json_schema, element, true)?;
        }
        if option.read_only {
            schema.insert("readOnly".into(), json!(true));
        }
        if !option.example.is_empty() {
            schema.insert("example".into(), json_text(&option.example, element, "example", false)?);
        }
        if !option.discriminator.is_empty() {
            let value = match self.version() {
                Version::V2 => json!(option.discriminator),
                Version::V31 => json!({ "propertyName": option.discriminator }),
            };
            schema.insert("discriminator".into(), value);
        }
        if let Some(docs) = &option.external_docs {
            schema.insert("externalDocs".into(), external_docs(docs, element)?);
        }
        Ok(())
    }

    /// The keywords a `JSONSchema` option sets, over what the field or message had.
    pub fn apply_json_schema(
        &mut self,
        schema: &mut Map<String, Value>,
        option: &JsonSchema,
        element: &str,
        message_level: bool,
    ) -> Result<(), CodegenError> {
        if !option.r#ref.is_empty() {
            let target = if option.r#ref.starts_with('.') {
                if self.context.index.get(&option.r#ref).is_none() {
                    return Err(CodegenError::at(element, format!("ref {:?} names no message or enum", option.r#ref))
                        .with_hint("a full name with a leading dot, of a type the file imports"));
                }
                self.value_schema(&FieldDescriptorProto {
                    r#type: Some(if self.context.index.message(&option.r#ref).is_some() {
                        Type::Message as i32
                    } else {
                        Type::Enum as i32
                    }),
                    type_name: Some(option.r#ref.clone()),
                    ..Default::default()
                })
            } else {
                json!({ "$ref": option.r#ref })
            };
            schema.retain(|key, _| key == "description");
            if let Value::Object(target) = target {
                schema.extend(target);
            }
        }
        let text = |schema: &mut Map<String, Value>, key: &str, value: &str| {
            if !value.is_empty() {
                schema.insert(key.into(), json!(value));
            }
        };
        text(schema, "title", &option.title);
        text(schema, "description", &option.description);
        text(schema, "pattern", &option.pattern);
        text(schema, "format", &option.format);
        if !option.default.is_empty() {
            schema.insert("default".into(), json_text(&option.default, element, "default", true)?);
        }
        if !option.example.is_empty() {
            schema.insert("example".into(), json_text(&option.example, element, "example", false)?);
        }
        if option.read_only {
            schema.insert("readOnly".into(), json!(true));
        }
        let count = |schema: &mut Map<String, Value>, key: &str, value: u64| {
            if value > 0 {
                schema.insert(key.into(), json!(value));
            }
        };
        count(schema, "maxLength", option.max_length);
        count(schema, "minLength", option.min_length);
        count(schema, "maxItems", option.max_items);
        count(schema, "minItems", option.min_items);
        count(schema, "maxProperties", option.max_properties);
        count(schema, "minProperties", option.min_properties);
        if option.unique_items {
            schema.insert("uniqueItems".into(), json!(true));
        }
        if option.multiple_of > 0.0 {
            schema.insert("multipleOf".into(), number(option.multiple_of));
        }
        self.bound(schema, "maximum", "exclusiveMaximum", option.maximum, option.exclusive_maximum);
        self.bound(schema, "minimum", "exclusiveMinimum", option.minimum, option.exclusive_minimum);
        if !option.required.is_empty() {
            if !message_level {
                return Err(CodegenError::at(element, "required lists properties: set it on the message")
                    .with_hint("use (google.api.field_behavior) = REQUIRED on the field"));
            }
            let mut names: Vec<Value> = schema.get("required").and_then(Value::as_array).cloned().unwrap_or_default();
            for name in &option.required {
                if !names.iter().any(|n| n == name) {
                    names.push(json!(name));
                }
            }
            schema.insert("required".into(), Value::Array(names));
        }
        if !option.r#type.is_empty() {
            self.apply_type(schema, &option.r#type, element)?;
        }
        if !option.r#enum.is_empty() {
            let values: Result<Vec<Value>, CodegenError> =
                option.r#enum.iter().map(|v| json_text(v, element, "enum", true)).collect();
            schema.insert("enum".into(), Value::Array(values?));
        }
        extensions(schema, &option.extensions, element)
    }

    /// A numeric bound; 2.0 marks an exclusive one with a boolean, 3.1 (JSON Schema 2020-12) gives the
    /// exclusive bound as the keyword's value.
    fn bound(&self, schema: &mut Map<String, Value>, key: &str, exclusive_key: &str, value: f64, exclusive: bool) {
        if value == 0.0 && !exclusive {
            return;
        }
        match (self.version(), exclusive) {
            (Version::V31, true) => {
                schema.insert(exclusive_key.into(), number(value));
            }
            (Version::V2, true) => {
                schema.insert(key.into(), number(value));
                schema.insert(exclusive_key.into(), json!(true));
            }
            (_, false) => {
                schema.insert(key.into(), number(value));
            }
        }
    }

    fn apply_type(&self, schema: &mut Map<String, Value>, types: &[i32], element: &str) -> Result<(), CodegenError> {
        let mut names = Vec::new();
        for &kind in types {
            let name = match kind {
                1 => "array",
                2 => "boolean",
                3 => "integer",
                4 => "null",
                5 => "number",
                6 => "object",
                7 => "string",
                other => return Err(CodegenError::at(element, format!("type {other} is not a JSON Schema type"))),
            };
            names.push(name);
        }
        schema.remove("$ref");
        match self.version() {
            Version::V31 if names.len() > 1 => {
                schema.insert("type".into(), json!(names));
            }
            Version::V31 => {
                schema.insert("type".into(), json!(names[0]));
            }
            Version::V2 => {
                // One type in 2.0; a null beside it is x-nullable.
                let mut others: Vec<&str> = names.iter().copied().filter(|n| *n != "null").collect();
                if others.len() < names.len() {
                    schema.insert("x-nullable".into(), json!(true));
                }
                if others.len() > 1 {
                    return Err(CodegenError::at(element, "OpenAPI 2.0 allows one type (besides null)")
                        .with_hint("openapi_version=3.1 allows several"));
                }
                if let Some(name) = others.pop() {
                    schema.insert("type".into(), json!(name));
                }
            }
        }
        Ok(())
    }
}

/// A bound from a `double` option: whole numbers written as integers (`100`, not `100.0`).
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// The names of an enum's values, aliases included once.
fn enum_names(enumeration: &EnumDescriptorProto) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for value in &enumeration.value {
        if !names.iter().any(|n| n == value.name()) {
            names.push(value.name().to_owned());
        }
    }
    names
}

/// A scalar's proto3 JSON form.
pub fn scalar_schema(kind: Type) -> Value {
    match kind {
        Type::Double => json!({ "type": "number", "format": "double" }),
        Type::Float => json!({ "type": "number", "format": "float" }),
        // 64-bit integers are JSON strings (a double cannot hold them all).
        // The pattern is the form the gateway writes (it also reads JSON numbers and exponents).
        Type::Int64 | Type::Sint64 | Type::Sfixed64 => {
            json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" })
        }
        Type::Uint64 | Type::Fixed64 => json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]+$" }),
        Type::Int32 | Type::Sint32 | Type::Sfixed32 => {
            json!({ "type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX })
        }
        // OpenAPI has no uint32 format; int64 with bounds, as grpc-gateway's int64 without them.
        Type::Uint32 | Type::Fixed32 => {
            json!({ "type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX })
        }
        Type::Bool => json!({ "type": "boolean" }),
        Type::Bytes => json!({ "type": "string", "format": "byte" }),
        _ => json!({ "type": "string" }),
    }
}

/// `google.protobuf.Any`: the type URL and the packed message's fields (or `value` for the well-known
/// types with a special JSON form).
fn any() -> Value {
    json!({
        "type": "object",
        "description": "Any message, with its type URL in `@type`.",
        "properties": {
            "@type": {
                "type": "string",
                "description": "The packed message's type URL, `type.googleapis.com/package.Message`.",
            },
        },
        "additionalProperties": {},
    })
}

/// An option's JSON text; with `bare_string`, text that is not JSON is taken as a string (an enum's
/// default written `FICTION` rather than `"FICTION"`).
fn json_text(text: &str, element: &str, what: &str, bare_string: bool) -> Result<Value, CodegenError> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(_) if bare_string => Ok(json!(text)),
        Err(error) => Err(CodegenError::at(element, format!("{what} is not JSON ({error}): {text:?}"))
            .with_hint("quotes in the JSON are escaped in the proto string: example: \"{\\\"id\\\": 1}\"")),
    }
}

/// `ExternalDocumentation` as an object; the URL is required.
pub fn external_docs(docs: &crate::options::ExternalDocumentation, element: &str) -> Result<Value, CodegenError> {
    if docs.url.is_empty() {
        return Err(CodegenError::at(element, "external_docs needs a url"));
    }
    let mut value = json!({ "url": docs.url });
    if !docs.description.is_empty() {
        value["description"] = json!(docs.description);
    }
    Ok(value)
}

/// An option's `extensions` as `x-` keys of `target`.
pub fn extensions(
    target: &mut Map<String, Value>,
    extensions: &std::collections::HashMap<String, prost_types::Value>,
    element: &str,
) -> Result<(), CodegenError> {
    let mut sorted: Vec<_> = extensions.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for (key, value) in sorted {
        if !key.starts_with("x-") {
            return Err(CodegenError::at(element, format!("extension {key:?} does not start with x-")));
        }
        target.insert(key.clone(), proto_value(value));
    }
    Ok(())
}

/// A `google.protobuf.Value` as JSON.
fn proto_value(value: &prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::NumberValue(n)) => json!(n),
        Some(Kind::StringValue(s)) => json!(s),
        Some(Kind::BoolValue(b)) => json!(b),
        Some(Kind::StructValue(s)) => {
            Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), proto_value(v))).collect())
        }
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(proto_value).collect()),
    }
}
