//! Rust types and codecs of fields, shared by the struct, oneof and wire emitters.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{Cardinality, Field, Scalar, ValueType, WireKind};

/// The Rust type of one value (enums are `i32`), as written in module `from`.
pub fn value_type(value: &ValueType, from: &[String], rt: &TokenStream) -> TokenStream {
    match value {
        ValueType::Scalar(scalar) => scalar.rust_type(rt),
        ValueType::Enum(_) => quote!(i32),
        ValueType::Message { path, .. } => path.tokens(from),
    }
}

/// The value type, boxed when the field is part of a cycle.
pub fn boxed_value_type(field: &Field, from: &[String], rt: &TokenStream) -> TokenStream {
    let inner = value_type(&field.value, from, rt);
    if field.boxed {
        quote!(::std::boxed::Box<#inner>)
    } else {
        inner
    }
}

/// The Rust type of a struct field.
pub fn field_type(field: &Field, from: &[String], rt: &TokenStream) -> TokenStream {
    let value = boxed_value_type(field, from, rt);
    match &field.cardinality {
        Cardinality::Implicit | Cardinality::Required => value,
        Cardinality::Optional => quote!(::core::option::Option<#value>),
        Cardinality::Repeated { .. } => quote!(::std::vec::Vec<#value>),
        Cardinality::Map { key, value, btree } => {
            let key = key.rust_type(rt);
            let value = value_type(value, from, rt);
            if *btree {
                quote!(::std::collections::BTreeMap<#key, #value>)
            } else {
                quote!(::std::collections::HashMap<#key, #value>)
            }
        }
    }
}

/// The runtime module with the encoder for one value.
pub fn codec(value: &ValueType, rt: &TokenStream) -> TokenStream {
    let name = match value {
        ValueType::Scalar(scalar) => scalar.codec(),
        ValueType::Enum(_) => "int32",
        ValueType::Message { group: true, .. } => "group",
        ValueType::Message { group: false, .. } => "message",
    };
    let name = format_ident!("{}", name);
    quote!(#rt::codegen::#name)
}

/// The codec of a map key.
pub fn key_codec(key: Scalar, rt: &TokenStream) -> TokenStream {
    codec(&ValueType::Scalar(key), rt)
}

/// `WireType::X` for a wire kind.
pub fn wire_type(kind: WireKind, rt: &TokenStream) -> TokenStream {
    let name = match kind {
        WireKind::Varint => "Varint",
        WireKind::SixtyFourBit => "SixtyFourBit",
        WireKind::LengthDelimited => "LengthDelimited",
        WireKind::StartGroup => "StartGroup",
        WireKind::ThirtyTwoBit => "ThirtyTwoBit",
    };
    let name = format_ident!("{}", name);
    quote!(#rt::codegen::WireType::#name)
}

/// The condition under which an implicit-presence field is written: it differs from the default. Floats
/// compare bits, so that `-0.0` is written, as protobuf's reference runtimes do.
pub fn is_set(field: &Field, access: &TokenStream) -> TokenStream {
    match &field.value {
        ValueType::Scalar(Scalar::Double | Scalar::Float) => quote!(#access.to_bits() != 0),
        ValueType::Scalar(Scalar::Bool) => quote!(#access),
        ValueType::Scalar(Scalar::String | Scalar::Bytes { .. }) => quote!(!#access.is_empty()),
        _ => quote!(#access != 0),
    }
}
