//! The proto3 JSON mapping: `JsonMessage` and `JsonFields` for messages (writing field by field, reading
//! through the runtime's kinds), `JsonEnum` for enums, and a package's `register_json_types` for `Any`.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::types::is_set;
use super::{allow_deprecated, Context};
use crate::ident::ident;
use crate::model::{Cardinality, Enum, Field, Item, Message, Oneof, Package, Scalar, ValueType};

/// The well-known types whose JSON form the runtime writes by hand.
const SPECIAL_WELL_KNOWN: &[&str] = &[
    ".google.protobuf.Any",
    ".google.protobuf.Timestamp",
    ".google.protobuf.Duration",
    ".google.protobuf.FieldMask",
    ".google.protobuf.Struct",
    ".google.protobuf.Value",
    ".google.protobuf.ListValue",
    ".google.protobuf.DoubleValue",
    ".google.protobuf.FloatValue",
    ".google.protobuf.Int64Value",
    ".google.protobuf.UInt64Value",
    ".google.protobuf.Int32Value",
    ".google.protobuf.UInt32Value",
    ".google.protobuf.BoolValue",
    ".google.protobuf.StringValue",
    ".google.protobuf.BytesValue",
];

/// `JsonMessage` and `JsonFields` for a message (nothing for the special well-known types).
pub fn message_impls(message: &Message, context: &Context<'_>) -> TokenStream {
    if !context.options.json || SPECIAL_WELL_KNOWN.contains(&message.full_name.as_str()) {
        return TokenStream::new();
    }
    let rt = &context.rt;
    let json = quote!(#rt::json);
    let name = ident(&message.rust_name);
    let writes = message.fields.iter().map(|field| write_field(field, message));
    let oneof_writes = message.oneofs.iter().map(|oneof| write_oneof(oneof, message));
    let mut keys = Vec::new();
    let mut reads = Vec::new();
    for field in &message.fields {
        keys.push(key_arm(field));
        reads.push(read_field(field, message, &json));
    }
    for oneof in &message.oneofs {
        for field in &oneof.fields {
            keys.push(key_arm(field));
            reads.push(read_oneof_member(field, oneof, message, &json));
        }
    }
    let serde = quote!(#json::serde);
    let allow = allow_deprecated(message.uses_deprecated);
    let (write_extensions, extension_fields) = if message.extendable {
        let unknown = ident(&message.unknown_fields);
        let full_name = &message.full_name[1..];
        (
            quote!(#json::write_extensions(writer, #full_name, &self.#unknown);),
            quote! {
                fn extendee() -> ::core::option::Option<&'static str> {
                    ::core::option::Option::Some(#full_name)
                }

                fn extension_fields_mut(&mut self) -> ::core::option::Option<&mut #rt::UnknownFields> {
                    ::core::option::Option::Some(&mut self.#unknown)
                }
            },
        )
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    let field_number_body = if keys.is_empty() {
        quote! {
            let _ = key;
            ::core::option::Option::None
        }
    } else {
        quote! {
            match key {
                #(#keys)*
                _ => ::core::option::Option::None,
            }
        }
    };
    let read_body = if reads.is_empty() {
        quote! {
            let _ = (number, ctx);
            map.next_value::<#serde::de::IgnoredAny>().map(|_| ())
        }
    } else {
        quote! {
            match number {
                #(#reads)*
                _ => map.next_value::<#serde::de::IgnoredAny>().map(|_| ()),
            }
        }
    };
    // A lint attribute on a macro call does not reach what it expands to; a block does.
    let serde_impls = if message.uses_deprecated {
        quote!(#allow const _: () = { #rt::impl_serde!(#name); };)
    } else {
        quote!(#rt::impl_serde!(#name);)
    };
    quote! {
        #allow
        impl #json::JsonMessage for #name {
            fn write_json(&self, writer: &mut #json::JsonWriter<'_>) {
                writer.begin_object();
                #(#writes)*
                #(#oneof_writes)*
                #write_extensions
                writer.end_object();
            }

            fn read_json<'de, D: #serde::de::Deserializer<'de>>(
                deserializer: D,
                ctx: &#json::ReadContext<'_>,
            ) -> ::core::result::Result<Self, D::Error> {
                #json::read_object(deserializer, ctx)
            }
        }

        #allow
        impl #json::JsonFields for #name {
            fn field_number(key: &str) -> ::core::option::Option<u32> {
                #field_number_body
            }

            fn read_field<'de, A: #serde::de::MapAccess<'de>>(
                &mut self,
                number: u32,
                map: &mut A,
                ctx: &#json::ReadContext<'_>,
            ) -> ::core::result::Result<(), A::Error> {
                #read_body
            }

            #extension_fields
        }

        #serde_impls
    }
}

/// `JsonEnum` for an enum.
pub fn enum_impl(enumeration: &Enum, closed: bool, context: &Context<'_>) -> TokenStream {
    if !context.options.json {
        return TokenStream::new();
    }
    let rt = &context.rt;
    let name = ident(&enumeration.rust_name);
    let allow = allow_deprecated(enumeration.uses_deprecated);
    quote! {
        #allow
        impl #rt::json::JsonEnum for #name {
            fn number_of(name: &str) -> ::core::option::Option<i32> {
                Self::from_str_name(name).map(|value| value as i32)
            }

            fn is_known(number: i32) -> bool {
                Self::is_valid(number)
            }

            fn name_of(number: i32) -> ::core::option::Option<&'static str> {
                Self::try_from(number).ok().map(|value| value.as_str_name())
            }

            const CLOSED: bool = #closed;
        }
    }
}

/// `register_json_types` for a package: every message, for `Any`.
pub fn register_function(package: &Package, context: &Context<'_>) -> TokenStream {
    if !context.options.json || package.name == "google.protobuf" {
        return TokenStream::new();
    }
    let rt = &context.rt;
    let mut paths = Vec::new();
    let mut deprecated = false;
    collect_messages(&package.items, &[], &mut paths, &mut deprecated);
    let mut extensions = Vec::new();
    super::extension::registrable_paths(&package.extensions, &package.items, &[], &mut extensions, &mut deprecated);
    let allow = allow_deprecated(deprecated);
    let unused = (paths.is_empty() && extensions.is_empty()).then(|| quote!(let _ = registry;));
    quote! {
        /// Adds this package's messages to a JSON type registry, so an `Any` holding one can be written and
        /// read as JSON, and its extensions, so JSON reads and writes them as `"[full.name]"` members.
        #allow
        pub fn register_json_types(registry: &mut #rt::json::TypeRegistry) {
            #unused
            #(registry.register::<#paths>();)*
            #(#rt::extension::register(registry, &#extensions);)*
        }
    }
}

/// The paths of every message under `items`; `deprecated` is set if one of them is.
fn collect_messages(items: &[Item], modules: &[String], out: &mut Vec<TokenStream>, deprecated: &mut bool) {
    for item in items {
        if let Item::Message(message) = item {
            let segments = modules.iter().map(|m| ident(m)).chain(std::iter::once(ident(&message.rust_name)));
            out.push(quote!(#(#segments)::*));
            *deprecated |= message.deprecated;
            let mut inner = modules.to_vec();
            inner.push(message.module_name.clone());
            collect_messages(&message.nested, &inner, out, deprecated);
        }
    }
}

fn key_arm(field: &Field) -> TokenStream {
    let number = Literal::u32_unsuffixed(field.number);
    let json = &field.json_name;
    let proto = &field.proto_name;
    if json == proto {
        quote!(#json => ::core::option::Option::Some(#number),)
    } else {
        quote!(#json | #proto => ::core::option::Option::Some(#number),)
    }
}

/// Writes the value `v` (a reference) of one element of `field`'s value type.
fn write_value(field: &Field, value: &ValueType, message: &Message) -> TokenStream {
    if field.null_value {
        return quote!({
            let _ = v;
            writer.null()
        });
    }
    match value {
        ValueType::Scalar(scalar) => match scalar {
            Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => quote!(writer.int32(*v)),
            Scalar::Uint32 | Scalar::Fixed32 => quote!(writer.uint32(*v)),
            Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64 => quote!(writer.int64(*v)),
            Scalar::Uint64 | Scalar::Fixed64 => quote!(writer.uint64(*v)),
            Scalar::Float => quote!(writer.float(*v)),
            Scalar::Double => quote!(writer.double(*v)),
            Scalar::Bool => quote!(writer.bool(*v)),
            Scalar::String => quote!(writer.string(v)),
            Scalar::Bytes { .. } => quote!(writer.bytes(&v[..])),
        },
        ValueType::Enum(enumeration) => {
            let path = enumeration.path.tokens(&message.module);
            quote!(writer.enumeration(*v, #path::try_from(*v).ok().map(|e| e.as_str_name())))
        }
        ValueType::Message { .. } => quote!(v.write_json(writer)),
    }
}

fn write_field(field: &Field, message: &Message) -> TokenStream {
    let name = ident(&field.rust_name);
    let (json_name, proto_name) = (&field.json_name, &field.proto_name);
    let key = quote!(writer.key(#json_name, #proto_name););
    match &field.cardinality {
        Cardinality::Implicit => {
            let value = write_value(field, &field.value, message);
            let set = is_set(field, &quote!(self.#name));
            quote! {
                if #set || writer.emit_defaults() {
                    #key
                    let v = &self.#name;
                    #value;
                }
            }
        }
        Cardinality::Required => {
            let value = write_value(field, &field.value, message);
            quote!({ #key let v = &self.#name; #value; })
        }
        Cardinality::Optional => {
            let value = write_value(field, &field.value, message);
            quote! {
                if let ::core::option::Option::Some(v) = &self.#name {
                    #key
                    #value;
                }
            }
        }
        Cardinality::Repeated { .. } => {
            let value = write_value(field, &field.value, message);
            quote! {
                if !self.#name.is_empty() || writer.emit_defaults() {
                    #key
                    writer.begin_array();
                    for v in &self.#name {
                        #value;
                    }
                    writer.end_array();
                }
            }
        }
        Cardinality::Map { key: key_type, value: value_type, .. } => {
            let value = write_value(field, value_type, message);
            let key_text = match key_type {
                Scalar::String => quote!(k),
                _ => quote!(&k.to_string()),
            };
            quote! {
                if !self.#name.is_empty() || writer.emit_defaults() {
                    #key
                    writer.begin_object();
                    for (k, v) in &self.#name {
                        writer.raw_key(#key_text);
                        #value;
                    }
                    writer.end_object();
                }
            }
        }
    }
}

fn write_oneof(oneof: &Oneof, message: &Message) -> TokenStream {
    let name = ident(&oneof.rust_field);
    let module = ident(&message.module_name);
    let enum_name = ident(&oneof.enum_name);
    let arms = oneof.fields.iter().map(|field| {
        let variant = ident(&super::oneof::variant_name(field));
        let (json_name, proto_name) = (&field.json_name, &field.proto_name);
        let value = write_value(field, &field.value, message);
        quote! {
            ::core::option::Option::Some(#module::#enum_name::#variant(v)) => {
                writer.key(#json_name, #proto_name);
                #value;
            }
        }
    });
    quote! {
        match &self.#name {
            #(#arms)*
            ::core::option::Option::None => {}
        }
    }
}

/// The runtime kind that reads one value of `value` (an element, for lists and maps).
fn kind(field: &Field, value: &ValueType, element: bool, message: &Message, json: &TokenStream) -> TokenStream {
    if field.null_value {
        return quote!(#json::NullValue);
    }
    match value {
        ValueType::Scalar(scalar) => match scalar {
            Scalar::Int32 | Scalar::Sint32 | Scalar::Sfixed32 => quote!(#json::Int32),
            Scalar::Uint32 | Scalar::Fixed32 => quote!(#json::Uint32),
            Scalar::Int64 | Scalar::Sint64 | Scalar::Sfixed64 => quote!(#json::Int64),
            Scalar::Uint64 | Scalar::Fixed64 => quote!(#json::Uint64),
            Scalar::Float => quote!(#json::Float),
            Scalar::Double => quote!(#json::Double),
            Scalar::Bool => quote!(#json::Bool),
            Scalar::String => quote!(#json::Str),
            Scalar::Bytes { shared: false } => quote!(#json::Bytes),
            Scalar::Bytes { shared: true } => quote!(#json::SharedBytes),
        },
        ValueType::Enum(enumeration) => {
            let path = enumeration.path.tokens(&message.module);
            quote!(#json::Enum<#path>)
        }
        ValueType::Message { path, .. } => {
            let path = path.tokens(&message.module);
            if element {
                quote!(#json::MsgElement<#path>)
            } else if field.boxed {
                quote!(#json::Boxed<#path>)
            } else {
                quote!(#json::Msg<#path>)
            }
        }
    }
}

fn is_enum(field: &Field, value: &ValueType) -> bool {
    matches!(value, ValueType::Enum(_)) || field.null_value
}

fn read_field(field: &Field, message: &Message, json: &TokenStream) -> TokenStream {
    let name = ident(&field.rust_name);
    let number = Literal::u32_unsuffixed(field.number);
    let body = match &field.cardinality {
        Cardinality::Implicit | Cardinality::Required => {
            let kind = kind(field, &field.value, false, message, json);
            let set = if is_enum(field, &field.value) {
                quote! {
                    match read {
                        ::core::option::Option::Some(::core::option::Option::Some(v)) => self.#name = v,
                        ::core::option::Option::Some(::core::option::Option::None) => {}
                        ::core::option::Option::None => self.#name = ::core::default::Default::default(),
                    }
                }
            } else {
                quote!(self.#name = read.unwrap_or_default();)
            };
            quote! {
                let read = map.next_value_seed(#json::Seed::<#kind>::new(ctx))?;
                #set
            }
        }
        Cardinality::Optional => {
            let kind = kind(field, &field.value, false, message, json);
            let flatten = is_enum(field, &field.value).then(|| quote!(.flatten()));
            quote!(self.#name = map.next_value_seed(#json::Seed::<#kind>::new(ctx))? #flatten;)
        }
        Cardinality::Repeated { .. } => {
            let kind = kind(field, &field.value, true, message, json);
            quote! {
                self.#name = map.next_value_seed(#json::Seed::<#json::Repeated<#kind>>::new(ctx))?.unwrap_or_default();
            }
        }
        Cardinality::Map { key, value, .. } => {
            let key_type = key.rust_type(&TokenStream::new());
            let value_kind = kind(field, value, true, message, json);
            let collection = super::types::field_type(field, &message.module, &json_parent(json));
            quote! {
                self.#name = map
                    .next_value_seed(#json::Seed::<#json::Map<#key_type, #value_kind, #collection>>::new(ctx))?
                    .unwrap_or_default();
            }
        }
    };
    quote!(#number => { #body ::core::result::Result::Ok(()) })
}

/// The runtime path, from `runtime::json` (for field types that name `runtime::bytes`).
fn json_parent(json: &TokenStream) -> TokenStream {
    let tokens: Vec<proc_macro2::TokenTree> = json.clone().into_iter().collect();
    // `rt :: json`: drop the trailing `:: json`.
    tokens[..tokens.len().saturating_sub(3)].iter().cloned().collect()
}

fn read_oneof_member(field: &Field, oneof: &Oneof, message: &Message, json: &TokenStream) -> TokenStream {
    let name = ident(&oneof.rust_field);
    let number = Literal::u32_unsuffixed(field.number);
    let module = ident(&message.module_name);
    let enum_name = ident(&oneof.enum_name);
    let variant = ident(&super::oneof::variant_name(field));
    let kind = kind(field, &field.value, false, message, json);
    let pattern = if is_enum(field, &field.value) {
        quote!(::core::option::Option::Some(::core::option::Option::Some(v)))
    } else {
        quote!(::core::option::Option::Some(v))
    };
    let json_name = &field.json_name;
    quote! {
        #number => {
            if let #pattern = map.next_value_seed(#json::Seed::<#kind>::new(ctx))? {
                if self.#name.is_some() {
                    return ::core::result::Result::Err(#json::oneof_already_set(#json_name));
                }
                self.#name = ::core::option::Option::Some(#module::#enum_name::#variant(v));
            }
            ::core::result::Result::Ok(())
        }
    }
}
