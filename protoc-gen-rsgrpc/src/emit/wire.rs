//! `prost::Message` for generated structs, written out per field so that unknown fields are kept, fields are
//! written in field-number order (oneof members in their place), and wire-type mismatches are treated as
//! unknown fields, as protobuf's reference runtimes do.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::types::{codec, is_set, key_codec, wire_type};
use super::Context;
use crate::ident::ident;
use crate::model::{Cardinality, Field, Message, Oneof, Scalar, ValueType, WireKind};

/// `impl prost::Message for ...`.
pub fn message_impl(message: &Message, context: &Context<'_>) -> TokenStream {
    let rt = &context.rt;
    let name = ident(&message.rust_name);
    let unknown = ident(&message.unknown_fields);
    let encode = encode_body(message, rt);
    let merge = merge_body(message, rt);
    let lengths = message.fields.iter().map(|f| field_len(f, rt));
    let oneof_lengths = message.oneofs.iter().map(|o| oneof_len(message, o, rt));
    let clears = message.fields.iter().map(clear_field);
    let oneof_clears = message.oneofs.iter().map(|o| {
        let field = ident(&o.rust_field);
        quote!(self.#field = ::core::option::Option::None;)
    });
    let allow = super::allow_deprecated(message.uses_deprecated);
    let (encode_unknown, clear_unknown) = if message.keep_unknown {
        (quote!(self.#unknown.encode_raw(buf);), quote!(self.#unknown.clear();))
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    let lengths: Vec<TokenStream> = lengths.chain(oneof_lengths).collect();
    // A sum starting with an `if` would parse as a statement: the first term goes in a binding.
    let length = match lengths.split_first() {
        _ if message.keep_unknown => quote!(self.#unknown.encoded_len() #(+ #lengths)*),
        None => quote!(0),
        Some((only, [])) => only.clone(),
        Some((first, rest)) => quote! {
            let len = #first;
            len #(+ #rest)*
        },
    };
    quote! {
        #allow
        impl #rt::prost::Message for #name {
            fn encode_raw(&self, buf: &mut impl #rt::bytes::BufMut) {
                #encode
                #encode_unknown
            }

            fn merge_field(
                &mut self,
                tag: u32,
                wire_type: #rt::codegen::WireType,
                buf: &mut impl #rt::bytes::Buf,
                ctx: #rt::codegen::DecodeContext,
            ) -> ::core::result::Result<(), #rt::prost::DecodeError> {
                #merge
            }

            fn encoded_len(&self) -> usize {
                #length
            }

            fn clear(&mut self) {
                #(#clears)*
                #(#oneof_clears)*
                #clear_unknown
            }
        }
    }
}

/// One step of encoding: an ordinary field, or a run of members of one oneof that are adjacent by number.
enum Step<'a> {
    Field(&'a Field),
    Oneof(&'a Oneof, Vec<&'a Field>),
}

fn encode_body(message: &Message, rt: &TokenStream) -> TokenStream {
    let mut units: Vec<(u32, Option<&Oneof>, &Field)> = message.fields.iter().map(|f| (f.number, None, f)).collect();
    for oneof in &message.oneofs {
        units.extend(oneof.fields.iter().map(|f| (f.number, Some(oneof), f)));
    }
    units.sort_by_key(|(number, _, _)| *number);
    let mut steps: Vec<Step<'_>> = Vec::new();
    for (_, oneof, field) in units {
        match (oneof, steps.last_mut()) {
            (Some(oneof), Some(Step::Oneof(last, members))) if std::ptr::eq(*last, oneof) => members.push(field),
            (Some(oneof), _) => steps.push(Step::Oneof(oneof, vec![field])),
            (None, _) => steps.push(Step::Field(field)),
        }
    }
    let steps = steps.iter().map(|step| match step {
        Step::Field(field) => encode_field(field, rt),
        Step::Oneof(oneof, members) => encode_oneof_run(message, oneof, members, rt),
    });
    quote!(#(#steps)*)
}

fn encode_field(field: &Field, rt: &TokenStream) -> TokenStream {
    let name = ident(&field.rust_name);
    let number = proc_macro2::Literal::u32_unsuffixed(field.number);
    let codec = codec(&field.value, rt);
    match &field.cardinality {
        Cardinality::Implicit => {
            let condition = is_set(field, &quote!(self.#name));
            quote!(if #condition { #codec::encode(#number, &self.#name, buf); })
        }
        Cardinality::Required => quote!(#codec::encode(#number, &self.#name, buf);),
        Cardinality::Optional => quote! {
            if let ::core::option::Option::Some(value) = &self.#name {
                #codec::encode(#number, value, buf);
            }
        },
        Cardinality::Repeated { packed: true } => quote!(#codec::encode_packed(#number, &self.#name, buf);),
        Cardinality::Repeated { packed: false } => quote!(#codec::encode_repeated(#number, &self.#name, buf);),
        Cardinality::Map { key, value, .. } => {
            let key_codec = key_codec(*key, rt);
            let value_codec = super::types::codec(value, rt);
            quote! {
                #rt::codegen::encode_map(
                    #number,
                    self.#name.iter(),
                    #key_codec::encode,
                    #key_codec::encoded_len,
                    #value_codec::encode,
                    #value_codec::encoded_len,
                    buf,
                );
            }
        }
    }
}

fn variant_path(message: &Message, oneof: &Oneof, field: &Field) -> TokenStream {
    let module = ident(&message.module_name);
    let enum_name = ident(&oneof.enum_name);
    let variant = ident(&super::oneof::variant_name(field));
    quote!(#module::#enum_name::#variant)
}

fn encode_oneof_run(message: &Message, oneof: &Oneof, members: &[&Field], rt: &TokenStream) -> TokenStream {
    let name = ident(&oneof.rust_field);
    let arms: Vec<_> = members
        .iter()
        .map(|field| {
            let variant = variant_path(message, oneof, field);
            let codec = codec(&field.value, rt);
            let number = proc_macro2::Literal::u32_unsuffixed(field.number);
            (quote!(::core::option::Option::Some(#variant(value))), quote!(#codec::encode(#number, value, buf)))
        })
        .collect();
    if let [(pattern, body)] = &arms[..] {
        return quote!(if let #pattern = &self.#name { #body; });
    }
    let arms = arms.iter().map(|(pattern, body)| quote!(#pattern => #body,));
    quote! {
        match &self.#name {
            #(#arms)*
            _ => {}
        }
    }
}

fn field_len(field: &Field, rt: &TokenStream) -> TokenStream {
    let name = ident(&field.rust_name);
    let number = proc_macro2::Literal::u32_unsuffixed(field.number);
    let codec = codec(&field.value, rt);
    match &field.cardinality {
        Cardinality::Implicit => {
            let condition = is_set(field, &quote!(self.#name));
            quote!(if #condition { #codec::encoded_len(#number, &self.#name) } else { 0 })
        }
        Cardinality::Required => quote!(#codec::encoded_len(#number, &self.#name)),
        Cardinality::Optional => quote!(self.#name.as_ref().map_or(0, |value| #codec::encoded_len(#number, value))),
        Cardinality::Repeated { packed: true } => quote!(#codec::encoded_len_packed(#number, &self.#name)),
        Cardinality::Repeated { packed: false } => quote!(#codec::encoded_len_repeated(#number, &self.#name)),
        Cardinality::Map { key, value, .. } => {
            let key_codec = key_codec(*key, rt);
            let value_codec = super::types::codec(value, rt);
            quote! {
                #rt::codegen::encoded_len_map(#number, self.#name.iter(), #key_codec::encoded_len, #value_codec::encoded_len)
            }
        }
    }
}

fn oneof_len(message: &Message, oneof: &Oneof, rt: &TokenStream) -> TokenStream {
    let name = ident(&oneof.rust_field);
    let arms = oneof.fields.iter().map(|field| {
        let variant = variant_path(message, oneof, field);
        let codec = codec(&field.value, rt);
        let number = proc_macro2::Literal::u32_unsuffixed(field.number);
        quote!(#variant(value) => #codec::encoded_len(#number, value),)
    });
    quote!(self.#name.as_ref().map_or(0, |value| match value { #(#arms)* }))
}

fn clear_field(field: &Field) -> TokenStream {
    let name = ident(&field.rust_name);
    match (&field.cardinality, &field.value) {
        (Cardinality::Optional, _) => quote!(self.#name = ::core::option::Option::None;),
        (Cardinality::Repeated { .. } | Cardinality::Map { .. }, _)
        | (Cardinality::Implicit, ValueType::Scalar(Scalar::String | Scalar::Bytes { .. })) => {
            quote!(self.#name.clear();)
        }
        (Cardinality::Implicit, _) => quote!(self.#name = ::core::default::Default::default();),
        (Cardinality::Required, _) => quote!(self.#name = Self::default().#name;),
    }
}

/// The expected wire type check for a field, as a match guard.
fn guard(field: &Field, rt: &TokenStream) -> TokenStream {
    let kind = field.value.wire_type();
    let expected = wire_type(kind, rt);
    let packable = kind != WireKind::LengthDelimited && kind != WireKind::StartGroup;
    match &field.cardinality {
        Cardinality::Repeated { .. } if packable => {
            let delimited = wire_type(WireKind::LengthDelimited, rt);
            quote!(wire_type == #expected || wire_type == #delimited)
        }
        Cardinality::Map { .. } => {
            let delimited = wire_type(WireKind::LengthDelimited, rt);
            quote!(wire_type == #delimited)
        }
        _ => quote!(wire_type == #expected),
    }
}

fn merge_body(message: &Message, rt: &TokenStream) -> TokenStream {
    let unknown = ident(&message.unknown_fields);
    let struct_name = &message.rust_name;
    let mut arms: Vec<TokenStream> = message.fields.iter().map(|f| merge_field(message, f, rt)).collect();
    for oneof in &message.oneofs {
        arms.extend(oneof.fields.iter().map(|f| merge_oneof_member(message, oneof, f, rt)));
    }
    let other = if message.keep_unknown {
        quote!(self.#unknown.merge_field(tag, wire_type, buf, ctx))
    } else {
        quote!(#rt::codegen::skip_field(wire_type, tag, buf, ctx))
    };
    if arms.is_empty() {
        return other;
    }
    quote! {
        const STRUCT_NAME: &str = #struct_name;
        match tag {
            #(#arms)*
            _ => #other,
        }
    }
}

fn field_error(field: &Field, rt: &TokenStream) -> TokenStream {
    let proto = &field.proto_name;
    quote!(#rt::codegen::field_error(STRUCT_NAME, #proto))
}

fn merge_field(message: &Message, field: &Field, rt: &TokenStream) -> TokenStream {
    let name = ident(&field.rust_name);
    let unknown = ident(&message.unknown_fields);
    // Without a field of unknown fields, an undeclared closed-enum value is dropped, as prost drops it.
    let sink =
        if message.keep_unknown { quote!(&mut self.#unknown) } else { quote!(&mut #rt::UnknownFields::default()) };
    let number = proc_macro2::Literal::u32_unsuffixed(field.number);
    let guard = guard(field, rt);
    let codec = codec(&field.value, rt);
    let error = field_error(field, rt);
    let group = matches!(field.value, ValueType::Message { group: true, .. });
    let tag_arg = if group { quote!(tag,) } else { quote!() };
    let body = match (&field.cardinality, &field.value) {
        (Cardinality::Repeated { .. }, ValueType::Enum(e)) if e.closed => {
            let is_valid = is_valid_path(field, message);
            quote! {
                #rt::codegen::merge_closed_enum_repeated(
                    tag, wire_type, &mut self.#name, buf, ctx, #is_valid, #sink,
                )
                .map_err(#error)
            }
        }
        (cardinality, ValueType::Enum(e)) if e.closed && !matches!(cardinality, Cardinality::Map { .. }) => {
            let is_valid = is_valid_path(field, message);
            let store = if matches!(cardinality, Cardinality::Optional) {
                quote!(::core::option::Option::Some(value))
            } else {
                quote!(value)
            };
            quote! {{
                if let ::core::option::Option::Some(value) =
                    #rt::codegen::merge_closed_enum(tag, buf, #is_valid, #sink).map_err(#error)?
                {
                    self.#name = #store;
                }
                ::core::result::Result::Ok(())
            }}
        }
        (Cardinality::Implicit | Cardinality::Required, _) => {
            quote!(#codec::merge(wire_type, &mut self.#name, buf, ctx).map_err(#error))
        }
        (Cardinality::Optional, _) => quote! {
            #codec::merge(#tag_arg wire_type, self.#name.get_or_insert_with(::core::default::Default::default), buf, ctx)
                .map_err(#error)
        },
        (Cardinality::Repeated { .. }, _) => {
            quote!(#codec::merge_repeated(#tag_arg wire_type, &mut self.#name, buf, ctx).map_err(#error))
        }
        (Cardinality::Map { key, value, btree }, _) => {
            let key_codec = key_codec(*key, rt);
            let value_codec = super::types::codec(value, rt);
            let map = if *btree { format_ident!("btree_map") } else { format_ident!("hash_map") };
            quote! {
                #rt::codegen::#map::merge(#key_codec::merge, #value_codec::merge, &mut self.#name, buf, ctx)
                    .map_err(#error)
            }
        }
    };
    quote!(#number if #guard => #body,)
}

fn is_valid_path(field: &Field, message: &Message) -> TokenStream {
    match &field.value {
        ValueType::Enum(e) => {
            let path = e.path.tokens(&message.module);
            quote!(#path::is_valid)
        }
        _ => unreachable!("only enums have is_valid"),
    }
}

fn merge_oneof_member(message: &Message, oneof: &Oneof, field: &Field, rt: &TokenStream) -> TokenStream {
    let name = ident(&oneof.rust_field);
    let unknown = ident(&message.unknown_fields);
    // Without a field of unknown fields, an undeclared closed-enum value is dropped, as prost drops it.
    let sink =
        if message.keep_unknown { quote!(&mut self.#unknown) } else { quote!(&mut #rt::UnknownFields::default()) };
    let number = proc_macro2::Literal::u32_unsuffixed(field.number);
    let guard = guard(field, rt);
    let codec = codec(&field.value, rt);
    let error = field_error(field, rt);
    let variant = variant_path(message, oneof, field);
    let group = matches!(field.value, ValueType::Message { group: true, .. });
    let tag_arg = if group { quote!(tag,) } else { quote!() };
    let body = match &field.value {
        ValueType::Enum(e) if e.closed => {
            let is_valid = is_valid_path(field, message);
            quote! {{
                if let ::core::option::Option::Some(value) =
                    #rt::codegen::merge_closed_enum(tag, buf, #is_valid, #sink).map_err(#error)?
                {
                    self.#name = ::core::option::Option::Some(#variant(value));
                }
                ::core::result::Result::Ok(())
            }}
        }
        _ => quote! {
            match &mut self.#name {
                ::core::option::Option::Some(#variant(value)) => {
                    #codec::merge(#tag_arg wire_type, value, buf, ctx).map_err(#error)
                }
                _ => {
                    let mut value = ::core::default::Default::default();
                    #codec::merge(#tag_arg wire_type, &mut value, buf, ctx).map_err(#error)?;
                    self.#name = ::core::option::Option::Some(#variant(value));
                    ::core::result::Result::Ok(())
                }
            }
        },
    };
    quote!(#number if #guard => #body,)
}
