//! The proto3 JSON mapping for generated messages: [`to_json`] and [`from_json`], with per-call
//! [`JsonOptions`], errors that name the path of the problem, and a [`TypeRegistry`] for `Any`.
//!
//! Writing goes straight from the message into a string ([`JsonWriter`]); reading goes straight from the
//! text into the message (serde_json with generated visitors), without an intermediate JSON tree, except
//! inside `Any`, whose `@type` may come after the fields it describes.

pub(crate) mod read;
mod registry;
#[cfg(feature = "serde")]
pub mod serde_support;
pub(crate) mod time;
pub(crate) mod writer;

use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer};

pub use read::{
    oneof_already_set, read_object, Bool, Boxed, Bytes, Double, Enum, Float, Int32, Int64, IntoElements, IntoMapValue,
    JsonEnum, JsonFields, Map, MapCollection, MapKey, MessageElement, Msg, MsgElement, NullValue, ReadKind, Repeated,
    Seed, SharedBytes, Str, Uint32, Uint64,
};
pub use registry::{global_registry, register, update_global_registry, ExtensionEntry, TypeRegistry};
/// serde, as generated code names it.
pub use serde;
pub use writer::JsonWriter;

/// Writes the extensions of a message named `extendee` that the registry knows and `fields` holds, as
/// `"[full.name]": value` members, by field number (generated `write_json` of extendable messages call it).
pub fn write_extensions(writer: &mut JsonWriter<'_>, extendee: &str, fields: &crate::UnknownFields) {
    if fields.is_empty() {
        return;
    }
    let registry = writer.options().registry.clone().unwrap_or_else(global_registry);
    for entry in registry.extensions_of(extendee) {
        let encoded = fields.fields_with(entry.number);
        if encoded.is_empty() {
            continue;
        }
        writer.raw_key(&format!("[{}]", entry.full_name));
        (entry.write)(&encoded, writer);
    }
}

/// How JSON is written and read.
#[derive(Clone, Default)]
pub struct JsonOptions {
    /// Write fields without presence even when they hold their default value (`0`, `""`, `[]`, ...).
    pub emit_defaults: bool,
    /// Write the proto field names (`user_id`) instead of the JSON names (`userId`).
    pub proto_names: bool,
    /// When reading, skip fields and enum value names this code does not know instead of failing.
    pub ignore_unknown: bool,
    /// When writing, enum values as their numbers (`2`) instead of their names (`"HISTORY"`), as
    /// protojson's `UseEnumNumbers` and Envoy's `always_print_enums_as_ints`.
    pub use_enum_numbers: bool,
    /// When reading, an enum name that matches no value is tried again upper-cased (`history` reads as
    /// `HISTORY`), as Envoy's transcoder's `case_insensitive_enum_parsing`: proto style names values in
    /// upper case, while hand-written JSON and query strings often are not.
    pub case_insensitive_enums: bool,
    /// The types `Any` can hold; the process-wide [`global_registry`] when `None`.
    pub registry: Option<Arc<TypeRegistry>>,
}

impl fmt::Debug for JsonOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonOptions")
            .field("emit_defaults", &self.emit_defaults)
            .field("proto_names", &self.proto_names)
            .field("ignore_unknown", &self.ignore_unknown)
            .field("use_enum_numbers", &self.use_enum_numbers)
            .field("case_insensitive_enums", &self.case_insensitive_enums)
            .finish_non_exhaustive()
    }
}

/// What readers need besides the input.
pub struct ReadContext<'a> {
    /// Skip unknown fields and enum names.
    pub ignore_unknown: bool,
    /// Try enum names that match no value again upper-cased.
    pub case_insensitive_enums: bool,
    /// The types `Any` can hold.
    pub registry: &'a TypeRegistry,
}

/// A message with a proto3 JSON form; generated messages implement it.
pub trait JsonMessage: Default + Sized {
    /// Writes the message as one JSON value.
    fn write_json(&self, writer: &mut JsonWriter<'_>);

    /// Reads the message from one JSON value.
    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error>;

    /// What JSON `null` means for a field of this type: unset, except for `google.protobuf.Value`.
    fn json_null() -> Option<Self> {
        None
    }
}

/// A JSON error: where in the document, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    path: String,
    message: String,
}

impl JsonError {
    /// The path of the problem (`user.birthDate`, `items[2]`); empty for the document itself.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field \"{}\": {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

impl From<JsonError> for crate::Status {
    fn from(error: JsonError) -> crate::Status {
        crate::Status::invalid_argument(error.to_string())
    }
}

/// The message as JSON, with default options.
pub fn to_json<M: JsonMessage>(message: &M) -> Result<String, JsonError> {
    to_json_with(message, &JsonOptions::default())
}

/// The message as JSON.
pub fn to_json_with<M: JsonMessage>(message: &M, options: &JsonOptions) -> Result<String, JsonError> {
    let mut out = String::with_capacity(128);
    let mut writer = JsonWriter::new(&mut out, options);
    message.write_json(&mut writer);
    match writer.take_error() {
        None => Ok(out),
        Some(message) => Err(JsonError { path: String::new(), message }),
    }
}

/// A message from JSON, with default options.
pub fn from_json<M: JsonMessage>(json: &str) -> Result<M, JsonError> {
    from_json_with(json, &JsonOptions::default())
}

/// A message from JSON.
pub fn from_json_with<M: JsonMessage>(json: &str, options: &JsonOptions) -> Result<M, JsonError> {
    let global;
    let registry: &TypeRegistry = match &options.registry {
        Some(registry) => registry,
        None => {
            global = global_registry();
            &global
        }
    };
    let ctx = ReadContext {
        ignore_unknown: options.ignore_unknown,
        case_insensitive_enums: options.case_insensitive_enums,
        registry,
    };
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut deserializer, &mut track);
    let result = Seed::<Msg<M>>::new(&ctx).deserialize(tracked);
    let message = match result {
        Ok(Some(message)) => message,
        Ok(None) => {
            return Err(JsonError { path: String::new(), message: "the document is null, not a message".into() })
        }
        Err(error) => {
            // serde_path_to_error writes the document itself as ".".
            let path = track.path().to_string();
            let path = if path == "." { String::new() } else { path };
            return Err(JsonError { path, message: error.to_string() });
        }
    };
    deserializer.end().map_err(|e| JsonError { path: String::new(), message: e.to_string() })?;
    Ok(message)
}
