//! Protobuf editions (2023, 2024): each file's edition and the features its elements set, and their
//! resolution (edition defaults, then file, enclosing messages, oneof, element: the innermost setting wins).
//!
//! prost-types 0.14's descriptors predate editions: they drop `FileDescriptorProto.edition` and every
//! `features` option. protoc sends the features as written (unresolved), so the descriptors are decoded a
//! second time from the request's bytes with the few fields that matter here.

use std::collections::HashMap;

use prost::Message;

/// `Edition.EDITION_2023`.
pub const EDITION_2023: i32 = 1000;
/// `Edition.EDITION_2024`.
pub const EDITION_2024: i32 = 1001;

/// The editions the generator supports, as the plugin declares them to protoc.
pub const SUPPORTED: std::ops::RangeInclusive<i32> = EDITION_2023..=EDITION_2024;

/// The name protoc gives an edition number (`2023`), for messages.
pub fn edition_name(edition: i32) -> String {
    match edition {
        998 => "proto2".to_owned(),
        999 => "proto3".to_owned(),
        EDITION_2023 => "2023".to_owned(),
        EDITION_2024 => "2024".to_owned(),
        other => format!("#{other}"),
    }
}

#[derive(Clone, PartialEq, Message)]
struct RawRequest {
    #[prost(message, repeated, tag = "15")]
    proto_file: Vec<RawFile>,
}

/// A request's files as bytes, to embed editions files as protoc sent them.
#[derive(Clone, PartialEq, Message)]
struct RawRequestFiles {
    #[prost(bytes = "vec", repeated, tag = "15")]
    proto_file: Vec<Vec<u8>>,
}

#[derive(Clone, PartialEq, Message)]
struct RawFile {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(string, optional, tag = "2")]
    package: Option<String>,
    #[prost(message, repeated, tag = "4")]
    message_type: Vec<RawMessage>,
    #[prost(message, repeated, tag = "5")]
    enum_type: Vec<RawEnum>,
    #[prost(message, repeated, tag = "7")]
    extension: Vec<RawField>,
    #[prost(message, optional, tag = "8")]
    options: Option<FileOptions>,
    #[prost(int32, optional, tag = "14")]
    edition: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
struct RawMessage {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, repeated, tag = "2")]
    field: Vec<RawField>,
    #[prost(message, repeated, tag = "3")]
    nested_type: Vec<RawMessage>,
    #[prost(message, repeated, tag = "4")]
    enum_type: Vec<RawEnum>,
    #[prost(message, repeated, tag = "6")]
    extension: Vec<RawField>,
    #[prost(message, optional, tag = "7")]
    options: Option<MessageOptions>,
    #[prost(message, repeated, tag = "8")]
    oneof_decl: Vec<RawOneof>,
}

#[derive(Clone, PartialEq, Message)]
struct RawField {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, optional, tag = "8")]
    options: Option<FieldOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct RawOneof {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, optional, tag = "2")]
    options: Option<OneofOptions>,
}

#[derive(Clone, PartialEq, Message)]
struct RawEnum {
    #[prost(string, optional, tag = "1")]
    name: Option<String>,
    #[prost(message, optional, tag = "3")]
    options: Option<EnumOptions>,
}

macro_rules! options_with_features {
    ($($name:ident = $tag:literal),*) => {
        $(
            #[derive(Clone, PartialEq, Message)]
            struct $name {
                #[prost(message, optional, tag = $tag)]
                features: Option<RawFeatures>,
            }
        )*
    };
}

options_with_features!(
    FileOptions = "50",
    MessageOptions = "12",
    FieldOptions = "21",
    OneofOptions = "1",
    EnumOptions = "7"
);

/// The features of descriptor.proto's `FeatureSet` that change generated code, as set (not resolved).
#[derive(Clone, Copy, PartialEq, Message)]
struct RawFeatures {
    #[prost(int32, optional, tag = "1")]
    field_presence: Option<i32>,
    #[prost(int32, optional, tag = "2")]
    enum_type: Option<i32>,
    #[prost(int32, optional, tag = "3")]
    repeated_field_encoding: Option<i32>,
    #[prost(int32, optional, tag = "4")]
    utf8_validation: Option<i32>,
    #[prost(int32, optional, tag = "5")]
    message_encoding: Option<i32>,
    #[prost(int32, optional, tag = "6")]
    json_format: Option<i32>,
}

impl RawFeatures {
    /// `self` with what `inner` sets on top.
    fn overridden_by(self, inner: &RawFeatures) -> RawFeatures {
        RawFeatures {
            field_presence: inner.field_presence.or(self.field_presence),
            enum_type: inner.enum_type.or(self.enum_type),
            repeated_field_encoding: inner.repeated_field_encoding.or(self.repeated_field_encoding),
            utf8_validation: inner.utf8_validation.or(self.utf8_validation),
            message_encoding: inner.message_encoding.or(self.message_encoding),
            json_format: inner.json_format.or(self.json_format),
        }
    }
}

/// A field's presence (`FeatureSet.FieldPresence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// `EXPLICIT`: `Option<T>`.
    Explicit,
    /// `IMPLICIT`: the default value means unset.
    Implicit,
    /// `LEGACY_REQUIRED`: proto2's `required`.
    LegacyRequired,
}

/// The resolved features of one element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `field_presence`.
    pub presence: Presence,
    /// `enum_type = CLOSED`.
    pub closed_enum: bool,
    /// `repeated_field_encoding = PACKED`.
    pub packed: bool,
    /// `utf8_validation = VERIFY`.
    pub verify_utf8: bool,
    /// `message_encoding = DELIMITED` (the group wire format).
    pub delimited: bool,
    /// `json_format = LEGACY_BEST_EFFORT`.
    pub legacy_json: bool,
}

impl Features {
    /// The defaults of an edition: 2023 and 2024 agree on every feature that changes generated code.
    fn defaults() -> RawFeatures {
        RawFeatures {
            field_presence: Some(1),
            enum_type: Some(1),
            repeated_field_encoding: Some(1),
            utf8_validation: Some(2),
            message_encoding: Some(1),
            json_format: Some(1),
        }
    }

    fn from_raw(raw: RawFeatures) -> Features {
        Features {
            presence: match raw.field_presence {
                Some(2) => Presence::Implicit,
                Some(3) => Presence::LegacyRequired,
                _ => Presence::Explicit,
            },
            closed_enum: raw.enum_type == Some(2),
            packed: raw.repeated_field_encoding != Some(2),
            verify_utf8: raw.utf8_validation != Some(3),
            delimited: raw.message_encoding == Some(2),
            legacy_json: raw.json_format == Some(2),
        }
    }
}

/// One editions file: its edition, and the features set on it and on its elements.
#[derive(Debug, Default)]
struct FileFeatures {
    edition: Option<i32>,
    package: String,
    /// Set on the file itself.
    file: Option<RawFeatures>,
    /// The file's encoding, as the request holds it.
    raw: Vec<u8>,
    /// By element: fully qualified name with a leading dot (`.pkg.Message`, `.pkg.Message.field`,
    /// `.pkg.Message.oneof`, `.pkg.Enum`, `.pkg.extension`).
    elements: HashMap<String, RawFeatures>,
}

/// The editions and features of every file of a request.
#[derive(Debug, Default)]
pub struct Editions {
    files: HashMap<String, FileFeatures>,
    /// Whether the features were read from the request's bytes (otherwise none are known).
    known: bool,
}

impl Editions {
    /// Nothing known: descriptors that came without their encoding (editions files are then refused).
    pub fn unknown() -> Self {
        Editions::default()
    }

    /// Reads a `CodeGeneratorRequest`'s encoding.
    pub fn from_request(raw: &[u8]) -> Result<Self, String> {
        let request = RawRequest::decode(raw).map_err(|e| format!("reading the request's editions: {e}"))?;
        let bytes = RawRequestFiles::decode(raw).map_err(|e| format!("reading the request's files: {e}"))?;
        Ok(Self::from_files(request.proto_file.into_iter().zip(bytes.proto_file).collect()))
    }

    /// Reads a `FileDescriptorSet`'s encoding (its files are field 1, as a request's are field 15).
    pub fn from_file_set(raw: &[u8]) -> Result<Self, String> {
        #[derive(Clone, PartialEq, Message)]
        struct RawSet {
            #[prost(message, repeated, tag = "1")]
            file: Vec<RawFile>,
        }
        #[derive(Clone, PartialEq, Message)]
        struct RawSetFiles {
            #[prost(bytes = "vec", repeated, tag = "1")]
            file: Vec<Vec<u8>>,
        }
        let set = RawSet::decode(raw).map_err(|e| format!("reading the descriptor set's editions: {e}"))?;
        let bytes = RawSetFiles::decode(raw).map_err(|e| format!("reading the descriptor set's files: {e}"))?;
        Ok(Self::from_files(set.file.into_iter().zip(bytes.file).collect()))
    }

    fn from_files(files: Vec<(RawFile, Vec<u8>)>) -> Self {
        let mut editions = Editions { files: HashMap::new(), known: true };
        for (file, raw) in files {
            let package = file.package.clone().unwrap_or_default();
            let mut entry = FileFeatures {
                edition: file.edition,
                file: file.options.and_then(|o| o.features),
                package: package.clone(),
                raw,
                elements: HashMap::new(),
            };
            let prefix = if package.is_empty() { String::new() } else { format!(".{package}") };
            for message in &file.message_type {
                collect_message(&mut entry.elements, &prefix, message);
            }
            for enumeration in &file.enum_type {
                collect_enum(&mut entry.elements, &prefix, enumeration);
            }
            collect_fields(&mut entry.elements, &prefix, &file.extension);
            editions.files.insert(file.name.unwrap_or_default(), entry);
        }
        editions
    }

    /// Whether the features were read from the request's encoding.
    pub fn known(&self) -> bool {
        self.known
    }

    /// A file's encoding as the request held it.
    pub fn raw_file(&self, file: &str) -> Option<&[u8]> {
        self.files.get(file).map(|f| f.raw.as_slice())
    }

    /// The edition of a file, if it has one.
    pub fn edition(&self, file: &str) -> Option<i32> {
        self.files.get(file).and_then(|f| f.edition)
    }

    /// The resolved features of the element `full_name` (leading dot) of `file`; `oneof` is the full name of
    /// the oneof a field belongs to, which sits between the field and its message.
    pub fn resolve(&self, file: &str, full_name: &str, oneof: Option<&str>) -> Features {
        let mut raw = Features::defaults();
        let Some(entry) = self.files.get(file) else { return Features::from_raw(raw) };
        if let Some(features) = &entry.file {
            raw = raw.overridden_by(features);
        }
        // The enclosing scopes after the package, outermost first: `.pkg.A`, `.pkg.A.B`, then the element.
        let prefix_len = if entry.package.is_empty() { 0 } else { entry.package.len() + 1 };
        let relative = full_name.get(prefix_len + 1..).unwrap_or("");
        let mut scope = full_name[..prefix_len].to_owned();
        let segments: Vec<&str> = relative.split('.').collect();
        for (i, segment) in segments.iter().enumerate() {
            scope.push('.');
            scope.push_str(segment);
            if i + 1 == segments.len() {
                if let Some(features) = oneof.and_then(|o| entry.elements.get(o)) {
                    raw = raw.overridden_by(features);
                }
            }
            if let Some(features) = entry.elements.get(&scope) {
                raw = raw.overridden_by(features);
            }
        }
        Features::from_raw(raw)
    }
}

fn collect_message(out: &mut HashMap<String, RawFeatures>, prefix: &str, message: &RawMessage) {
    let name = format!("{prefix}.{}", message.name.as_deref().unwrap_or(""));
    if let Some(features) = message.options.as_ref().and_then(|o| o.features) {
        out.insert(name.clone(), features);
    }
    collect_fields(out, &name, &message.field);
    collect_fields(out, &name, &message.extension);
    for oneof in &message.oneof_decl {
        if let Some(features) = oneof.options.as_ref().and_then(|o| o.features) {
            out.insert(format!("{name}.{}", oneof.name.as_deref().unwrap_or("")), features);
        }
    }
    for nested in &message.nested_type {
        collect_message(out, &name, nested);
    }
    for enumeration in &message.enum_type {
        collect_enum(out, &name, enumeration);
    }
}

fn collect_fields(out: &mut HashMap<String, RawFeatures>, scope: &str, fields: &[RawField]) {
    for field in fields {
        if let Some(features) = field.options.as_ref().and_then(|o| o.features) {
            out.insert(format!("{scope}.{}", field.name.as_deref().unwrap_or("")), features);
        }
    }
}

fn collect_enum(out: &mut HashMap<String, RawFeatures>, scope: &str, enumeration: &RawEnum) {
    if let Some(features) = enumeration.options.as_ref().and_then(|o| o.features) {
        out.insert(format!("{scope}.{}", enumeration.name.as_deref().unwrap_or("")), features);
    }
}
