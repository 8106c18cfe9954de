//! The plugin on requests built from the fuzzer's bytes (rather than mutated encodings): packages,
//! messages, fields, enums, oneofs, services and options drawn from palettes of awkward names (keywords,
//! `_`, names that collide after case conversion, non-identifiers) and awkward numbers, with type
//! references that may dangle. Properties: no panic; an error or files; every file parses as Rust.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use prost_types::compiler::CodeGeneratorRequest;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto, FieldOptions,
    FileDescriptorProto, MessageOptions, MethodDescriptorProto, OneofDescriptorProto, ServiceDescriptorProto,
};
use rsgrpc_codegen::plugin;

const NAMES: &[&str] = &[
    "a",
    "A",
    "foo_bar",
    "fooBar",
    "FooBar",
    "FOO_BAR",
    "_",
    "__",
    "_1",
    "type",
    "Self",
    "self",
    "super",
    "crate",
    "r#x",
    "Option",
    "String",
    "Box",
    "unknown_fields",
    "new",
    "connect",
    "clone",
    "into",
    "FooServer",
    "foo_server",
    "FooClient",
    "Foo",
    "foo",
    "Default",
    "A²",
    "",
    "1a",
    "a.b",
    "a::b",
    "é",
    "M",
    "Inner",
    "Value",
];
const PACKAGES: &[&str] = &["", "p", "P", "p.q", "p.Q", "foo", "a.b.c", "self", "google.protobuf", "p..q", "1p"];
const NUMBERS: &[i32] = &[1, 2, 3, 15, 16, 0, -1, 19000, 19999, 20000, 536_870_911, 536_870_912, i32::MAX, 1, 2];
const DEFAULTS: &[&str] =
    &["0", "-1", "1.5", "inf", "-inf", "nan", "true", "x", "\\001\\x", "0x10", "-0x8000000000000000", "1e400", "A"];
const SYNTAXES: &[&str] = &["proto3", "proto2", "", "editions", "proto4"];
const PARAMETERS: &[&str] =
    &["", "btree_map=.", "bytes=.", "json=false", "no_client", "no_server", "extern_path=.p=::x", "disable_comments=."];

fn pick<T: Copy>(palette: &[T], index: u8) -> T {
    palette[usize::from(index) % palette.len()]
}

#[derive(Debug, Arbitrary)]
struct Field {
    name: u8,
    number: u8,
    kind: u8,
    label: u8,
    /// Which type a message or enum field refers to (may be none of the request's).
    target: u8,
    oneof: Option<u8>,
    default: Option<u8>,
    json_name: Option<u8>,
    packed: Option<bool>,
    proto3_optional: bool,
}

#[derive(Debug, Arbitrary)]
struct Message {
    name: u8,
    fields: Vec<Field>,
    oneofs: Vec<u8>,
    nested: Vec<Message>,
    enums: Vec<Enum>,
    map_entry: bool,
}

#[derive(Debug, Arbitrary)]
struct Enum {
    name: u8,
    values: Vec<(u8, i8)>,
}

#[derive(Debug, Arbitrary)]
struct Service {
    name: u8,
    methods: Vec<(u8, u8, u8, bool, bool)>,
}

#[derive(Debug, Arbitrary)]
struct File {
    package: u8,
    syntax: u8,
    messages: Vec<Message>,
    enums: Vec<Enum>,
    services: Vec<Service>,
    dependencies: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct Request {
    files: Vec<File>,
    generate: Vec<u8>,
    parameter: u8,
}

/// Every type name a field could refer to: the request's own (as the builder goes) plus some that dangle.
struct Names {
    types: Vec<String>,
}

impl Names {
    fn target(&self, index: u8) -> String {
        let dangling = [".nope.Missing", "Relative", "", ".p"];
        let all = self.types.len() + dangling.len();
        let i = usize::from(index) % all;
        self.types.get(i).cloned().unwrap_or_else(|| dangling[i - self.types.len()].to_owned())
    }
}

fn collect(prefix: &str, message: &Message, out: &mut Vec<String>, depth: usize) {
    let full = format!("{prefix}.{}", pick(NAMES, message.name));
    for enumeration in &message.enums {
        out.push(format!("{full}.{}", pick(NAMES, enumeration.name)));
    }
    if depth < 3 {
        message.nested.iter().for_each(|inner| collect(&full, inner, out, depth + 1));
    }
    out.push(full);
}

fn field(field: &Field, names: &Names) -> FieldDescriptorProto {
    let kinds = [
        Type::Int32,
        Type::String,
        Type::Message,
        Type::Enum,
        Type::Bytes,
        Type::Double,
        Type::Bool,
        Type::Sint64,
        Type::Fixed32,
        Type::Group,
        Type::Uint64,
        Type::Float,
    ];
    let kind = pick(&kinds, field.kind);
    let labels = [Label::Optional, Label::Repeated, Label::Required];
    FieldDescriptorProto {
        name: Some(pick(NAMES, field.name).to_owned()),
        number: Some(pick(NUMBERS, field.number)),
        label: Some(pick(&labels, field.label) as i32),
        r#type: Some(kind as i32),
        type_name: matches!(kind, Type::Message | Type::Enum | Type::Group).then(|| names.target(field.target)),
        oneof_index: field.oneof.map(|i| i32::from(i % 4)),
        default_value: field.default.map(|d| pick(DEFAULTS, d).to_owned()),
        json_name: field.json_name.map(|j| pick(NAMES, j).to_owned()),
        options: field.packed.map(|packed| FieldOptions { packed: Some(packed), ..Default::default() }),
        proto3_optional: field.proto3_optional.then_some(true),
        ..Default::default()
    }
}

fn enumeration(enumeration: &Enum) -> EnumDescriptorProto {
    EnumDescriptorProto {
        name: Some(pick(NAMES, enumeration.name).to_owned()),
        value: enumeration
            .values
            .iter()
            .map(|&(name, number)| EnumValueDescriptorProto {
                name: Some(pick(NAMES, name).to_uppercase()),
                number: Some(i32::from(number)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn message(message: &Message, names: &Names, depth: usize) -> DescriptorProto {
    DescriptorProto {
        name: Some(pick(NAMES, message.name).to_owned()),
        field: message.fields.iter().take(12).map(|f| field(f, names)).collect(),
        oneof_decl: message
            .oneofs
            .iter()
            .take(3)
            .map(|&name| OneofDescriptorProto { name: Some(pick(NAMES, name).to_owned()), ..Default::default() })
            .collect(),
        nested_type: if depth < 3 {
            message.nested.iter().map(|m| self::message(m, names, depth + 1)).collect()
        } else {
            Vec::new()
        },
        enum_type: message.enums.iter().map(enumeration).collect(),
        options: message.map_entry.then(|| MessageOptions { map_entry: Some(true), ..Default::default() }),
        ..Default::default()
    }
}

fn request(input: &Request) -> CodeGeneratorRequest {
    let files = &input.files[..input.files.len().min(4)];
    let mut names = Names { types: Vec::new() };
    for file in files {
        let package = pick(PACKAGES, file.package);
        let prefix = if package.is_empty() { String::new() } else { format!(".{package}") };
        file.messages.iter().for_each(|m| collect(&prefix, m, &mut names.types, 0));
        names.types.extend(file.enums.iter().map(|e| format!("{prefix}.{}", pick(NAMES, e.name))));
    }
    let file_name = |i: usize| format!("f{i}.proto");
    let proto_file: Vec<FileDescriptorProto> = files
        .iter()
        .enumerate()
        .map(|(i, file)| FileDescriptorProto {
            name: Some(file_name(i)),
            package: Some(pick(PACKAGES, file.package).to_owned()).filter(|p| !p.is_empty()),
            syntax: Some(pick(SYNTAXES, file.syntax).to_owned()),
            dependency: file.dependencies.iter().map(|&d| file_name(usize::from(d) % (files.len() + 1))).collect(),
            message_type: file.messages.iter().take(6).map(|m| message(m, &names, 0)).collect(),
            enum_type: file.enums.iter().map(enumeration).collect(),
            service: file
                .services
                .iter()
                .map(|service| ServiceDescriptorProto {
                    name: Some(pick(NAMES, service.name).to_owned()),
                    method: service
                        .methods
                        .iter()
                        .map(|&(name, input, output, client, server)| MethodDescriptorProto {
                            name: Some(pick(NAMES, name).to_owned()),
                            input_type: Some(names.target(input)),
                            output_type: Some(names.target(output)),
                            client_streaming: Some(client),
                            server_streaming: Some(server),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let mut file_to_generate: Vec<String> =
        input.generate.iter().map(|&g| file_name(usize::from(g) % (files.len() + 1))).collect();
    if file_to_generate.is_empty() && !proto_file.is_empty() {
        file_to_generate.push(file_name(0));
    }
    CodeGeneratorRequest {
        file_to_generate,
        parameter: Some(pick(PARAMETERS, input.parameter).to_owned()),
        proto_file,
        ..Default::default()
    }
}

fuzz_target!(|input: Request| {
    let request = request(&input);
    if request.proto_file.is_empty() {
        return;
    }
    let response = plugin::run(&request);
    match &response.error {
        Some(_) => assert!(response.file.is_empty(), "an error and files"),
        None => {
            assert!(!response.file.is_empty(), "neither an error nor files");
            for file in &response.file {
                if let Err(e) = syn::parse_file(file.content()) {
                    panic!("{} does not parse as Rust: {e}\n{request:#?}\n{}", file.name(), file.content());
                }
            }
        }
    }
});
