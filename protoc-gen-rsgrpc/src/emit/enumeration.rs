//! Enums: a `#[repr(i32)]` Rust enum with conversions from and to `i32` and the proto names.

use proc_macro2::TokenStream;
use quote::quote;

use super::{allow_deprecated, attributes, deprecated, Context, Parts};
use crate::comments::doc_attributes;
use crate::ident::ident;
use crate::model::Enum;

/// Everything generated for one enum, declared in module `_module`: the type, then its impls.
pub fn enumeration(enumeration: &Enum, _module: &[String], context: &Context<'_>) -> Parts {
    let rt = &context.rt;
    let name = ident(&enumeration.rust_name);
    let docs = doc_attributes(enumeration.docs.as_deref());
    let deprecated_attr = deprecated(enumeration.deprecated);
    let attributes = attributes(&enumeration.attributes);

    let variants = enumeration.values.iter().enumerate().map(|(i, value)| {
        let docs = doc_attributes(value.docs.as_deref());
        let deprecated = deprecated(value.deprecated);
        let variant = ident(&value.rust_name);
        let number = literal(value.number);
        // The first value is the default, in proto2 and proto3 alike.
        let default = (i == 0).then(|| quote!(#[default]));
        quote!(#docs #deprecated #default #variant = #number,)
    });
    let aliases = enumeration.aliases.iter().map(|(alias, target)| {
        let docs = doc_attributes(alias.docs.as_deref());
        let deprecated = deprecated(alias.deprecated);
        let alias_name = ident(&alias.rust_name);
        let target = ident(target);
        let doc = format!(" `{}`: an alias of [`Self::{}`].", alias.proto_name, target);
        quote! {
            #docs
            #[doc = #doc]
            #deprecated
            #[allow(non_upper_case_globals)]
            pub const #alias_name: #name = #name::#target;
        }
    });
    let to_name = enumeration.values.iter().map(|value| {
        let variant = ident(&value.rust_name);
        let proto = &value.proto_name;
        quote!(#name::#variant => #proto,)
    });
    let from_name = enumeration
        .values
        .iter()
        .map(|value| (&value.proto_name, &value.rust_name))
        .chain(enumeration.aliases.iter().map(|(alias, target)| (&alias.proto_name, target)))
        .map(|(proto, variant)| {
            let variant = ident(variant);
            quote!(#proto => ::core::option::Option::Some(#name::#variant),)
        });
    let from_number = enumeration.values.iter().map(|value| {
        let variant = ident(&value.rust_name);
        let number = literal(value.number);
        quote!(#number => ::core::result::Result::Ok(#name::#variant),)
    });
    let allow = allow_deprecated(enumeration.uses_deprecated);
    let numbers = number_ranges(enumeration.values.iter().map(|value| value.number));
    let json = super::json::enum_impl(enumeration, enumeration.closed, context);

    let types = quote! {
        #docs
        #deprecated_attr
        #attributes
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i32)]
        #allow
        pub enum #name {
            #(#variants)*
        }
    };
    let impls = quote! {
        #allow
        impl #name {
            #(#aliases)*

            /// The value's name as written in the .proto file.
            pub fn as_str_name(&self) -> &'static str {
                match self {
                    #(#to_name)*
                }
            }

            /// The value with this name in the .proto file (aliases included).
            pub fn from_str_name(value: &str) -> ::core::option::Option<Self> {
                match value {
                    #(#from_name)*
                    _ => ::core::option::Option::None,
                }
            }

            /// Whether `value` is a number this enum declares.
            pub fn is_valid(value: i32) -> bool {
                matches!(value, #numbers)
            }
        }

        #json

        #allow
        impl ::core::convert::From<#name> for i32 {
            fn from(value: #name) -> i32 {
                value as i32
            }
        }

        #allow
        impl ::core::convert::TryFrom<i32> for #name {
            type Error = #rt::prost::UnknownEnumValue;

            fn try_from(value: i32) -> ::core::result::Result<#name, #rt::prost::UnknownEnumValue> {
                match value {
                    #(#from_number)*
                    _ => ::core::result::Result::Err(#rt::prost::UnknownEnumValue(value)),
                }
            }
        }
    };
    Parts { types, impls }
}

/// The numbers as a pattern of ranges (`-1..=3 | 7`), which is what clippy asks for and reads better.
fn number_ranges(numbers: impl Iterator<Item = i32>) -> TokenStream {
    let mut sorted: Vec<i32> = numbers.collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut runs: Vec<(i32, i32)> = Vec::new();
    for number in sorted {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(number) => *end = number,
            _ => runs.push((number, number)),
        }
    }
    let patterns = runs.iter().map(|&(start, end)| {
        let (start, end) = (literal(start), literal(end));
        if start.to_string() == end.to_string() {
            start
        } else {
            quote!(#start..=#end)
        }
    });
    quote!(#(#patterns)|*)
}

fn literal(number: i32) -> TokenStream {
    let magnitude = proc_macro2::Literal::u32_unsuffixed(number.unsigned_abs());
    if number < 0 {
        quote!(-#magnitude)
    } else {
        quote!(#magnitude)
    }
}
