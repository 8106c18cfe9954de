//! Plugin parameters (`--rsgrpc_opt=...`, buf's `opt:`), parsed once into typed [`Options`].

use crate::error::CodegenError;
use crate::path_match::PathMap;

/// Every parameter the plugin understands, for error messages and `--help`.
pub const KNOWN_PARAMETERS: &[(&str, &str)] = &[
    ("extern_path=.pkg=::crate::path", "types of a proto package or type come from another crate"),
    ("type_attribute=PATH=ATTR", "an attribute on matching messages, enums and oneofs"),
    ("message_attribute=PATH=ATTR", "an attribute on matching messages"),
    ("enum_attribute=PATH=ATTR", "an attribute on matching enums and oneofs"),
    ("field_attribute=PATH=ATTR", "an attribute on matching fields"),
    ("bytes=PATH", "bytes fields under PATH use bytes::Bytes instead of Vec<u8>"),
    ("btree_map=PATH", "map fields under PATH use BTreeMap instead of HashMap"),
    ("include_file=NAME", "name of the module tree file (default mod.rs)"),
    ("runtime_crate=PATH", "path of the rsgrpc runtime in generated code (default ::rsgrpc)"),
    ("disable_comments=PATH", "no doc comments on matching items"),
    ("drop_unknown_fields=PATH", "messages under PATH drop unknown fields, as prost does (no unknown_fields field)"),
    ("json=false", "no proto3 JSON code"),
    ("file_descriptor_set=false", "no embedded descriptor set (services are then not listed by reflection)"),
    (
        "descriptor_source_info=true",
        "the embedded descriptor set keeps comments and spans (reflection clients show them)",
    ),
    ("no_client", "no gRPC client code"),
    ("no_server", "no gRPC server code"),
    ("mocks", "a mock client per service (MockGreeter), for tests of code taking the client trait"),
];

/// The generator's options, as parsed from the parameter string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Proto path prefix -> Rust path of the crate or module that provides those types.
    pub extern_paths: Vec<(String, String)>,
    /// Attributes on messages, enums and oneof enums.
    pub type_attributes: PathMap<String>,
    /// Attributes on messages only.
    pub message_attributes: PathMap<String>,
    /// Attributes on enums and oneof enums only.
    pub enum_attributes: PathMap<String>,
    /// Attributes on fields.
    pub field_attributes: PathMap<String>,
    /// Fields whose `bytes` become `bytes::Bytes`.
    pub bytes: PathMap<()>,
    /// Map fields that become `BTreeMap`.
    pub btree_map: PathMap<()>,
    /// Items that get no doc comments.
    pub disable_comments: PathMap<()>,
    /// Messages without an `unknown_fields` field: what they do not know is dropped when read, as prost does.
    pub drop_unknown_fields: PathMap<()>,
    /// File name of the module tree that includes every generated file.
    pub include_file: String,
    /// The runtime crate's path as written in generated code.
    pub runtime_crate: String,
    /// Whether to generate the proto3 JSON mapping.
    pub json: bool,
    /// Whether packages with services (and the packages they import from) embed their descriptor set, for
    /// reflection.
    pub file_descriptor_set: bool,
    /// Whether the embedded descriptor set keeps `source_code_info` (comments and spans, which reflection
    /// clients such as grpcurl show); off by default, as it is most of a descriptor's bytes. The protoc and
    /// embedded-parser routes then embed different bytes: each parser records its spans in its own order.
    pub descriptor_source_info: bool,
    /// Whether to generate gRPC clients.
    pub client: bool,
    /// Whether to generate gRPC server traits.
    pub server: bool,
    /// Whether to generate a mock client per service (with the client).
    pub mocks: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            extern_paths: Vec::new(),
            type_attributes: PathMap::default(),
            message_attributes: PathMap::default(),
            enum_attributes: PathMap::default(),
            field_attributes: PathMap::default(),
            bytes: PathMap::default(),
            btree_map: PathMap::default(),
            disable_comments: PathMap::default(),
            drop_unknown_fields: PathMap::default(),
            include_file: "mod.rs".to_owned(),
            runtime_crate: "::rsgrpc".to_owned(),
            json: true,
            file_descriptor_set: true,
            descriptor_source_info: false,
            client: true,
            server: true,
            mocks: false,
        }
    }
}

impl Options {
    /// Parses a comma-separated parameter string; a literal comma inside a value is written `\,`.
    pub fn parse(parameter: &str) -> Result<Options, CodegenError> {
        let mut options = Options::default();
        options.apply_all(parameter)?;
        Ok(options)
    }

    /// Checks values that [`Options::apply`] checks when parsing, for options built in code.
    pub fn validate(&self) -> Result<(), CodegenError> {
        let err = |what: &str, message: String| CodegenError::at(format!("option {what}"), message);
        check_rust_path(&self.runtime_crate).map_err(|m| err("runtime_crate", m))?;
        check_include_file(&self.include_file).map_err(|m| err("include_file", m))?;
        for (proto, rust) in &self.extern_paths {
            check_rust_path(rust).map_err(|m| err("extern_path", m))?;
            if !proto.starts_with('.') {
                return Err(err("extern_path", format!("`{proto}` must be fully qualified (start with `.`)")));
            }
        }
        let attributes =
            [&self.type_attributes, &self.message_attributes, &self.enum_attributes, &self.field_attributes];
        for (_, attribute) in attributes.iter().flat_map(|map| map.iter()) {
            check_attribute(attribute).map_err(|m| err("attribute", m))?;
        }
        Ok(())
    }

    /// Applies a comma-separated parameter string on top of these options.
    pub fn apply_all(&mut self, parameter: &str) -> Result<(), CodegenError> {
        split_escaped(parameter).iter().try_for_each(|item| self.apply(item))
    }

    /// Applies one `key=value` parameter.
    pub fn apply(&mut self, item: &str) -> Result<(), CodegenError> {
        let item = item.trim();
        if item.is_empty() {
            return Ok(());
        }
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        let err = |message: String| CodegenError::at(format!("parameter `{item}`"), message);
        match key {
            "extern_path" => {
                let (proto, rust) =
                    split_pair(value).ok_or_else(|| err("expected extern_path=.proto.path=::rust::path".into()))?;
                if !proto.starts_with('.') {
                    return Err(err(format!("the proto path `{proto}` must be fully qualified (start with `.`)")));
                }
                check_rust_path(rust).map_err(err)?;
                self.extern_paths.push((proto.to_owned(), rust.to_owned()));
            }
            "type_attribute" | "message_attribute" | "enum_attribute" | "field_attribute" => {
                let (path, attribute) =
                    split_pair(value).ok_or_else(|| err(format!("expected {key}=PATH=#[attribute]")))?;
                check_attribute(attribute).map_err(err)?;
                let map = match key {
                    "type_attribute" => &mut self.type_attributes,
                    "message_attribute" => &mut self.message_attributes,
                    "enum_attribute" => &mut self.enum_attributes,
                    _ => &mut self.field_attributes,
                };
                map.insert(path.to_owned(), attribute.to_owned());
            }
            "bytes" | "btree_map" | "disable_comments" | "drop_unknown_fields" => {
                if value.is_empty() {
                    return Err(err(format!("expected {key}=PATH (`.` for everything)")));
                }
                let map = match key {
                    "bytes" => &mut self.bytes,
                    "btree_map" => &mut self.btree_map,
                    "drop_unknown_fields" => &mut self.drop_unknown_fields,
                    _ => &mut self.disable_comments,
                };
                map.insert(value.to_owned(), ());
            }
            "include_file" => {
                check_include_file(value).map_err(err)?;
                self.include_file = value.to_owned();
            }
            "json" => {
                self.json = match value {
                    "true" | "" => true,
                    "false" => false,
                    _ => return Err(err("expected json=true or json=false".into())),
                };
            }
            "mocks" => {
                self.mocks = match value {
                    "true" | "" => true,
                    "false" => false,
                    _ => return Err(err("expected mocks, mocks=true or mocks=false".into())),
                };
            }
            "file_descriptor_set" | "descriptor_source_info" => {
                let flag = match value {
                    "true" | "" => true,
                    "false" => false,
                    _ => return Err(err(format!("expected {key}=true or {key}=false"))),
                };
                if key == "file_descriptor_set" {
                    self.file_descriptor_set = flag;
                } else {
                    self.descriptor_source_info = flag;
                }
            }
            "no_client" | "no_server" if value.is_empty() || value == "true" => {
                if key == "no_client" {
                    self.client = false;
                } else {
                    self.server = false;
                }
            }
            "runtime_crate" => {
                check_rust_path(value).map_err(err)?;
                self.runtime_crate = value.to_owned();
            }
            _ => {
                let known: Vec<&str> =
                    KNOWN_PARAMETERS.iter().map(|(name, _)| name.split('=').next().unwrap_or(name)).collect();
                return Err(CodegenError::at(format!("parameter `{item}`"), format!("unknown parameter `{key}`"))
                    .with_hint(format!("known parameters: {}", known.join(", "))));
            }
        }
        Ok(())
    }
}

/// Splits on commas not preceded by a backslash, and unescapes `\,`.
fn split_escaped(parameter: &str) -> Vec<String> {
    let mut items = vec![String::new()];
    let mut chars = parameter.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                items.last_mut().expect("never empty").push(',');
            }
            ',' => items.push(String::new()),
            _ => items.last_mut().expect("never empty").push(c),
        }
    }
    items
}

/// Splits `PATH=VALUE` at the first `=`; both parts must be non-empty.
fn split_pair(value: &str) -> Option<(&str, &str)> {
    let (left, right) = value.split_once('=')?;
    (!left.is_empty() && !right.is_empty()).then_some((left, right))
}

fn check_rust_path(path: &str) -> Result<(), String> {
    syn::parse_str::<syn::Path>(path).map(|_| ()).map_err(|e| format!("`{path}` is not a Rust path: {e}"))
}

fn check_include_file(name: &str) -> Result<(), String> {
    if name.ends_with(".rs") && name.len() > 3 && !name.contains('/') && !name.contains('\\') {
        Ok(())
    } else {
        Err("expected a file name ending in .rs, without directories, e.g. include_file=mod.rs".to_owned())
    }
}

fn check_attribute(attribute: &str) -> Result<(), String> {
    parse_attributes(attribute).map(|_| ())
}

/// Parses one or more outer attributes (`#[derive(Eq)]`) from a parameter value.
pub fn parse_attributes(text: &str) -> Result<Vec<syn::Attribute>, String> {
    use syn::parse::Parser;
    let attributes = syn::Attribute::parse_outer
        .parse_str(text)
        .map_err(|e| format!("`{text}` is not an attribute like #[derive(Eq)]: {e}"))?;
    if attributes.is_empty() {
        return Err(format!("`{text}` is not an attribute like #[derive(Eq)]"));
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter() {
        let options = Options::parse(
            "extern_path=.google.protobuf=::pbt,type_attribute=.a.B=#[derive(Eq\\, Hash)],bytes=.,\
             btree_map=.a,include_file=lib.rs,runtime_crate=crate::rt,field_attribute=x=#[allow(dead_code)],\
             descriptor_source_info=true",
        )
        .unwrap();
        assert_eq!(options.extern_paths, vec![(".google.protobuf".to_owned(), "::pbt".to_owned())]);
        assert_eq!(options.type_attributes.all(".a.B").collect::<Vec<_>>(), vec!["#[derive(Eq, Hash)]"]);
        assert!(options.bytes.any(".x.Y.z"));
        assert!(options.btree_map.any(".a.M.f") && !options.btree_map.any(".b.M.f"));
        assert_eq!(options.include_file, "lib.rs");
        assert_eq!(options.runtime_crate, "crate::rt");
        assert!(options.field_attributes.any(".p.M.x"));
        assert!(options.descriptor_source_info && options.file_descriptor_set);
        assert!(!Options::default().descriptor_source_info);
        assert!(!options.mocks && Options::parse("mocks").unwrap().mocks);
        assert!(!Options::parse("mocks=false").unwrap().mocks);
    }

    #[test]
    fn options_built_in_code_are_validated_too() {
        let options = Options { runtime_crate: "not a path".into(), ..Options::default() };
        assert!(options.validate().unwrap_err().to_string().contains("option runtime_crate"));
        let mut options = Options::default();
        options.type_attributes.insert(".".into(), "derive(Eq)".into());
        assert!(options.validate().unwrap_err().to_string().contains("is not an attribute"));
        assert!(Options::default().validate().is_ok());
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            ("nonsense=1", "parameter `nonsense=1`: unknown parameter `nonsense`"),
            ("extern_path=google=::x", "must be fully qualified"),
            ("extern_path=.g=not a path", "is not a Rust path"),
            ("type_attribute=.a=derive(Eq)", "is not an attribute"),
            ("bytes", "expected bytes=PATH"),
            ("include_file=../x.rs", "without directories"),
            ("descriptor_source_info=yes", "expected descriptor_source_info=true or descriptor_source_info=false"),
            ("mocks=yes", "expected mocks, mocks=true or mocks=false"),
        ];
        for (input, expected) in cases {
            let message = Options::parse(input).unwrap_err().to_string();
            assert!(message.contains(expected), "{input}: {message}");
        }
    }
}
