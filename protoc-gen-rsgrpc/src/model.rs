//! The normalised model: descriptors turned into what the emitters need (Rust names, Rust types, presence,
//! boxing, defaults, docs), so that emitters never look at a descriptor again.

use proc_macro2::TokenStream;
use quote::quote;

/// The scalar field types; each maps to one of prost's encoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    /// `double`
    Double,
    /// `float`
    Float,
    /// `int32`
    Int32,
    /// `int64`
    Int64,
    /// `uint32`
    Uint32,
    /// `uint64`
    Uint64,
    /// `sint32`
    Sint32,
    /// `sint64`
    Sint64,
    /// `fixed32`
    Fixed32,
    /// `fixed64`
    Fixed64,
    /// `sfixed32`
    Sfixed32,
    /// `sfixed64`
    Sfixed64,
    /// `bool`
    Bool,
    /// `string`
    String,
    /// `bytes`, as `Vec<u8>` or, with the `bytes` parameter, `bytes::Bytes`.
    Bytes {
        /// Whether the field uses `bytes::Bytes`.
        shared: bool,
    },
}

impl Scalar {
    /// The name of prost's encoder module for this type.
    pub fn codec(self) -> &'static str {
        match self {
            Scalar::Double => "double",
            Scalar::Float => "float",
            Scalar::Int32 => "int32",
            Scalar::Int64 => "int64",
            Scalar::Uint32 => "uint32",
            Scalar::Uint64 => "uint64",
            Scalar::Sint32 => "sint32",
            Scalar::Sint64 => "sint64",
            Scalar::Fixed32 => "fixed32",
            Scalar::Fixed64 => "fixed64",
            Scalar::Sfixed32 => "sfixed32",
            Scalar::Sfixed64 => "sfixed64",
            Scalar::Bool => "bool",
            Scalar::String => "string",
            Scalar::Bytes { .. } => "bytes",
        }
    }

    /// The Rust type.
    pub fn rust_type(self, rt: &TokenStream) -> TokenStream {
        match self {
            Scalar::Double => quote!(f64),
            Scalar::Float => quote!(f32),
            Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => quote!(i32),
            Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64 => quote!(i64),
            Scalar::Uint32 | Scalar::Fixed32 => quote!(u32),
            Scalar::Uint64 | Scalar::Fixed64 => quote!(u64),
            Scalar::Bool => quote!(bool),
            Scalar::String => quote!(::std::string::String),
            Scalar::Bytes { shared: false } => quote!(::std::vec::Vec<u8>),
            Scalar::Bytes { shared: true } => quote!(#rt::bytes::Bytes),
        }
    }

    /// The wire type of one value.
    pub fn wire_type(self) -> WireKind {
        match self {
            Scalar::Double | Scalar::Fixed64 | Scalar::Sfixed64 => WireKind::SixtyFourBit,
            Scalar::Float | Scalar::Fixed32 | Scalar::Sfixed32 => WireKind::ThirtyTwoBit,
            Scalar::String | Scalar::Bytes { .. } => WireKind::LengthDelimited,
            _ => WireKind::Varint,
        }
    }

    /// Whether repeated values of this type may be packed.
    pub fn packable(self) -> bool {
        self.wire_type() != WireKind::LengthDelimited
    }

    /// Whether the Rust type is `Copy` (accessors return it by value).
    pub fn is_copy(self) -> bool {
        self.packable()
    }
}

/// The wire types a field value can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireKind {
    /// Varint.
    Varint,
    /// Fixed 64-bit.
    SixtyFourBit,
    /// Length-delimited.
    LengthDelimited,
    /// Start of a group.
    StartGroup,
    /// Fixed 32-bit.
    ThirtyTwoBit,
}

/// Where a type lives, as seen from generated code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypePath {
    /// Provided by another crate (`extern_path`) or the runtime: an absolute Rust path.
    Extern(String),
    /// Generated: module segments from the root of the generated tree, and the type name.
    Local {
        /// Module segments (package, then enclosing messages' modules), already escaped.
        modules: Vec<String>,
        /// The type's Rust name.
        name: String,
    },
}

impl TypePath {
    /// The path to write in a module at `from` (segments from the root of the generated tree).
    pub fn tokens(&self, from: &[String]) -> TokenStream {
        match self {
            TypePath::Extern(path) => path.parse().expect("extern paths are validated as Rust paths"),
            TypePath::Local { modules, name } => {
                let common = from.iter().zip(modules).take_while(|(a, b)| a == b).count();
                let mut segments: Vec<String> = vec!["super".to_owned(); from.len() - common];
                segments.extend(modules[common..].iter().cloned());
                segments.push(name.clone());
                let idents = segments.iter().map(|s| crate::ident::ident(s));
                quote!(#(#idents)::*)
            }
        }
    }
}

/// A field's value type.
#[derive(Debug, Clone)]
pub enum ValueType {
    /// A scalar.
    Scalar(Scalar),
    /// An enum, stored as `i32`.
    Enum(EnumRef),
    /// A message (`group` is true for a proto2 group, which is encoded between start and end keys).
    Message {
        /// The message type.
        path: TypePath,
        /// Whether it is encoded as a group.
        group: bool,
    },
}

/// A reference to an enum type.
#[derive(Debug, Clone)]
pub struct EnumRef {
    /// The enum type.
    pub path: TypePath,
    /// Whether the enum is closed (proto2): undeclared values are kept as unknown fields.
    pub closed: bool,
    /// The Rust name of the enum's default variant (its first value).
    pub first_variant: String,
}

impl ValueType {
    /// The wire type of one value.
    pub fn wire_type(&self) -> WireKind {
        match self {
            ValueType::Scalar(scalar) => scalar.wire_type(),
            ValueType::Enum(_) => WireKind::Varint,
            ValueType::Message { group: true, .. } => WireKind::StartGroup,
            ValueType::Message { group: false, .. } => WireKind::LengthDelimited,
        }
    }
}

/// How many values a field holds, and how presence is tracked.
#[derive(Debug, Clone)]
pub enum Cardinality {
    /// Proto3 singular field without `optional`: the default value means "not set".
    Implicit,
    /// A field with explicit presence: `Option<T>` (and every singular message field).
    Optional,
    /// A proto2 `required` scalar: always written.
    Required,
    /// A repeated field.
    Repeated {
        /// Whether it is written packed.
        packed: bool,
    },
    /// A map field.
    Map {
        /// The key type.
        key: Scalar,
        /// The value type.
        value: Box<ValueType>,
        /// Whether it is a `BTreeMap`.
        btree: bool,
    },
}

/// One field of a message or a oneof.
#[derive(Debug, Clone)]
pub struct Field {
    /// The proto field name.
    pub proto_name: String,
    /// The field number.
    pub number: u32,
    /// The Rust field (or oneof variant) name, escaped.
    pub rust_name: String,
    /// The name in proto3 JSON (`json_name`, lowerCamelCase by default).
    pub json_name: String,
    /// The comment, if any.
    pub docs: Option<String>,
    /// Whether the field is deprecated.
    pub deprecated: bool,
    /// Attributes from `field_attribute`.
    pub attributes: Vec<String>,
    /// The value type.
    pub value: ValueType,
    /// How many values and how presence works.
    pub cardinality: Cardinality,
    /// Whether the value is boxed (the field is part of a cycle of singular message fields).
    pub boxed: bool,
    /// Whether the field's type is `google.protobuf.NullValue`, whose JSON form is `null`.
    pub null_value: bool,
    /// The explicit proto2 default (`[default = ...]`), if any.
    pub default: Option<crate::defaults::DefaultValue>,
}

/// A oneof: an `Option` of an enum with one variant per member.
#[derive(Debug, Clone)]
pub struct Oneof {
    /// The proto oneof name.
    pub proto_name: String,
    /// The struct field name, escaped.
    pub rust_field: String,
    /// The enum's name (in the message's module).
    pub enum_name: String,
    /// The comment, if any.
    pub docs: Option<String>,
    /// Attributes for the enum, and for the struct field.
    pub attributes: Vec<String>,
    /// Attributes on the struct field.
    pub field_attributes: Vec<String>,
    /// The members.
    pub fields: Vec<Field>,
}

/// A message.
#[derive(Debug, Clone)]
pub struct Message {
    /// The fully qualified proto name, with a leading dot.
    pub full_name: String,
    /// The name within the package (`Outer.Inner`), as `prost::Name::NAME`.
    pub name_in_package: String,
    /// The proto package.
    pub package: String,
    /// The Rust struct name.
    pub rust_name: String,
    /// The name of the module holding its nested types and oneofs.
    pub module_name: String,
    /// Module segments of the module the struct is declared in.
    pub module: Vec<String>,
    /// The comment, if any.
    pub docs: Option<String>,
    /// Whether the message is deprecated.
    pub deprecated: bool,
    /// Whether its code names something deprecated (itself, a field, a field's type or enum values): its
    /// items then carry `#[allow(deprecated)]`, and only then.
    pub uses_deprecated: bool,
    /// Whether the struct derives `Eq` and `Hash` (as prost does where every field allows it: no floats, no
    /// `HashMap`, no type of another crate, here or in any message it holds).
    pub eq_hash: bool,
    /// Attributes from `type_attribute` and `message_attribute`.
    pub attributes: Vec<String>,
    /// Ordinary fields, in declaration order.
    pub fields: Vec<Field>,
    /// Oneofs (not proto3 `optional`'s synthetic ones), in declaration order.
    pub oneofs: Vec<Oneof>,
    /// Nested messages and enums (not map entries).
    pub nested: Vec<Item>,
    /// The name of the unknown-fields field (usually `unknown_fields`).
    pub unknown_fields: String,
    /// Whether the struct has that field (`drop_unknown_fields` leaves it out).
    pub keep_unknown: bool,
    /// Whether the struct derives `Copy`: no unknown fields, and every field a number, bool or enum.
    pub copy: bool,
    /// Whether the message declares extension ranges and keeps unknown fields: it then implements the
    /// runtime's `Extendable`, its extensions stored in its unknown fields.
    pub extendable: bool,
    /// Extensions declared inside the message (`message M { extend Other { ... } }`), as constants of its
    /// module.
    pub extensions: Vec<Extension>,
}

/// An extension field (`extend Extendee { T name = N; }`): a constant describing it.
#[derive(Debug, Clone)]
pub struct Extension {
    /// The full proto name without leading dot (`pkg.name`, `pkg.Message.name`).
    pub full_name: String,
    /// The constant's name (SHOUTY_SNAKE_CASE of the field name).
    pub rust_name: String,
    /// The field number.
    pub number: u32,
    /// The extended message.
    pub extendee: TypePath,
    /// Whether the extendee is known to implement `Extendable` (a generated message that keeps unknown
    /// fields, or one of the runtime's well-known types): only then is the extension registered for JSON.
    pub extendee_extendable: bool,
    /// The value type.
    pub value: ValueType,
    /// `None` for a singular extension, else whether the list is written packed.
    pub repeated: Option<bool>,
    /// The comment, if any.
    pub docs: Option<String>,
    /// Whether the extension is deprecated.
    pub deprecated: bool,
}

/// One value of an enum.
#[derive(Debug, Clone)]
pub struct EnumValue {
    /// The proto name.
    pub proto_name: String,
    /// The Rust variant name.
    pub rust_name: String,
    /// The number.
    pub number: i32,
    /// The comment, if any.
    pub docs: Option<String>,
    /// Whether the value is deprecated.
    pub deprecated: bool,
}

/// An enum.
#[derive(Debug, Clone)]
pub struct Enum {
    /// The fully qualified proto name, with a leading dot.
    pub full_name: String,
    /// The Rust name.
    pub rust_name: String,
    /// The comment, if any.
    pub docs: Option<String>,
    /// Whether the enum is deprecated.
    pub deprecated: bool,
    /// Whether the enum or one of its values is deprecated.
    pub uses_deprecated: bool,
    /// Attributes from `type_attribute` and `enum_attribute`.
    pub attributes: Vec<String>,
    /// Values that become variants (the first value of each number).
    pub values: Vec<EnumValue>,
    /// Values whose number an earlier value already has: `(alias, variant it stands for)`.
    pub aliases: Vec<(EnumValue, String)>,
    /// Whether the enum is closed (declared in a proto2 file).
    pub closed: bool,
}

/// A message or enum, in declaration order.
#[derive(Debug, Clone)]
pub enum Item {
    /// A message.
    Message(Box<Message>),
    /// An enum.
    Enum(Enum),
}

/// One RPC of a service.
#[derive(Debug, Clone)]
pub struct Method {
    /// The proto name (`SayHello`).
    pub proto_name: String,
    /// The Rust method name (`say_hello`), escaped.
    pub rust_name: String,
    /// The HTTP/2 path, `/package.Service/Method`.
    pub path: String,
    /// The request message.
    pub input: TypePath,
    /// The response message.
    pub output: TypePath,
    /// Whether the client sends a stream.
    pub client_streaming: bool,
    /// Whether the server sends a stream.
    pub server_streaming: bool,
    /// The comment, if any.
    pub docs: Option<String>,
    /// Whether the method is deprecated.
    pub deprecated: bool,
}

/// A service.
#[derive(Debug, Clone)]
pub struct Service {
    /// The fully qualified name without leading dot (`package.Service`).
    pub full_name: String,
    /// The Rust name of the service (`Greeter`): the server trait's name.
    pub rust_name: String,
    /// The snake-case base of the client and server modules (`greeter`).
    pub module_base: String,
    /// The comment, if any.
    pub docs: Option<String>,
    /// Whether the service is deprecated.
    pub deprecated: bool,
    /// Whether the service, a method, or a method's request or response type is deprecated.
    pub uses_deprecated: bool,
    /// The methods, in declaration order.
    pub methods: Vec<Method>,
}

/// Everything generated for one proto package: one output file.
#[derive(Debug, Clone)]
pub struct Package {
    /// The proto package (empty for files without one).
    pub name: String,
    /// The proto files it comes from, sorted.
    pub files: Vec<String>,
    /// Module segments of the package, escaped.
    pub module: Vec<String>,
    /// Top-level messages and enums, files in sorted order, declaration order within a file.
    pub items: Vec<Item>,
    /// Services, files in sorted order, declaration order within a file.
    pub services: Vec<Service>,
    /// Extensions declared at file level, files in sorted order.
    pub extensions: Vec<Extension>,
    /// What the package embeds for reflection, when it embeds anything (see [`crate::descriptors`]).
    pub descriptors: Option<Descriptors>,
}

/// A package's embedded descriptors.
#[derive(Debug, Clone)]
pub struct Descriptors {
    /// The encoded `FileDescriptorSet` of the package's files (and of imported files no other constant
    /// provides), in dependency order.
    pub set: Vec<u8>,
    /// The constants of the other packages that hold the files its files import, transitively, sorted.
    pub imports: Vec<TypePath>,
}
