//! Message structs: the struct, `Default`, `prost::Name`, accessors, and the module of nested items.

use std::collections::BTreeSet;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::types::field_type;
use super::{allow_deprecated, attributes, deprecated, enumeration, oneof, wire, Context, Parts};
use crate::comments::doc_attributes;
use crate::defaults::DefaultValue;
use crate::ident::ident;
use crate::model::{Cardinality, EnumRef, Field, Item, Message, Scalar, ValueType};

/// Everything generated for one message: the struct and the module of its nested types, then its impls.
pub fn message(message: &Message, context: &Context<'_>) -> Parts {
    let rt = &context.rt;
    let name = ident(&message.rust_name);
    let docs = doc_attributes(message.docs.as_deref());
    let deprecated = deprecated(message.deprecated);
    let attributes = attributes(&message.attributes);
    let from = &message.module;
    let inner_module = ident(&message.module_name);

    let fields = message.fields.iter().map(|field| {
        let docs = doc_attributes(field.docs.as_deref());
        let deprecated = super::deprecated(field.deprecated);
        let attributes = super::attributes(&field.attributes);
        let name = ident(&field.rust_name);
        let ty = field_type(field, from, rt);
        quote!(#docs #deprecated #attributes pub #name: #ty,)
    });
    let oneofs = message.oneofs.iter().map(|oneof| {
        let docs = doc_attributes(oneof.docs.as_deref());
        let attributes = super::attributes(&oneof.field_attributes);
        let name = ident(&oneof.rust_field);
        let ty = ident(&oneof.enum_name);
        quote!(#docs #attributes pub #name: ::core::option::Option<#inner_module::#ty>,)
    });
    let unknown = ident(&message.unknown_fields);

    let needs_default_impl = message.fields.iter().any(|f| default_expr(f, from, rt).is_some());
    let derive_default = if needs_default_impl { quote!() } else { quote!(Default,) };
    let allow = allow_deprecated(message.uses_deprecated);
    let eq_hash = super::eq_hash(message.eq_hash, &message.attributes);
    let copy = message.copy.then(|| quote!(Copy,));
    let unknown_field = message.keep_unknown.then(|| {
        quote! {
            /// Fields this code does not know, kept so they are written back unchanged.
            pub #unknown: #rt::UnknownFields,
        }
    });
    let debug_impl = debug_impl(message, rt);
    let derive_debug = if debug_impl.is_some() { quote!() } else { quote!(Debug) };
    let default_impl = needs_default_impl.then(|| default_impl(message, rt));
    let name_impl = name_impl(message, rt);
    let accessors = accessors(message);
    let wire_impl = wire::message_impl(message, context);
    let json_impls = super::json::message_impls(message, context);
    let extendable_impl = super::extension::extendable_impl(message, context);
    let nested = nested_module(message, context);

    let types = quote! {
        #docs
        #deprecated
        #attributes
        #[derive(Clone, #copy PartialEq, #eq_hash #derive_default #derive_debug)]
        #allow
        pub struct #name {
            #(#fields)*
            #(#oneofs)*
            #unknown_field
        }
        #nested
    };
    let impls = quote! {
        #default_impl
        #debug_impl
        #wire_impl
        #json_impls
        #extendable_impl
        #name_impl
        #accessors
    };
    Parts { types, impls }
}

/// A field's initial value when it is not the type's `Default`: required fields with an explicit default,
/// and required enums whose first value is not zero.
fn default_expr(field: &Field, from: &[String], rt: &TokenStream) -> Option<TokenStream> {
    if !matches!(field.cardinality, Cardinality::Required) {
        return None;
    }
    match (&field.value, &field.default) {
        (ValueType::Enum(enumeration), default) => {
            let variant = match default {
                Some(DefaultValue::Enum(variant)) => variant.as_str(),
                _ => enumeration.first_variant.as_str(),
            };
            Some(enum_value_i32(enumeration, variant, from))
        }
        (ValueType::Scalar(scalar), Some(default)) => Some(owned_default(*scalar, default, rt)),
        _ => None,
    }
}

/// `Enum::Variant as i32`, resolved from the module the struct is declared in.
fn enum_value_i32(enumeration: &EnumRef, variant: &str, from: &[String]) -> TokenStream {
    let path = enumeration.path.tokens(from);
    let variant = ident(variant);
    quote!(#path::#variant as i32)
}

/// The default as an owned value of the field's type.
fn owned_default(scalar: Scalar, default: &DefaultValue, rt: &TokenStream) -> TokenStream {
    match default {
        DefaultValue::Copy(tokens) => tokens.clone(),
        DefaultValue::Str(text) => quote!(::std::string::String::from(#text)),
        DefaultValue::Bytes(bytes) => {
            let literal = Literal::byte_string(bytes);
            match scalar {
                Scalar::Bytes { shared: true } => quote!(#rt::bytes::Bytes::from_static(#literal)),
                _ => quote!(#literal.to_vec()),
            }
        }
        DefaultValue::Enum(_) => unreachable!("enum defaults are handled by default_expr"),
    }
}

fn default_impl(message: &Message, rt: &TokenStream) -> TokenStream {
    let name = ident(&message.rust_name);
    let fields = message.fields.iter().map(|field| {
        let field_name = ident(&field.rust_name);
        let value =
            default_expr(field, &message.module, rt).unwrap_or_else(|| quote!(::core::default::Default::default()));
        quote!(#field_name: #value,)
    });
    let oneofs = message.oneofs.iter().map(|oneof| {
        let field_name = ident(&oneof.rust_field);
        quote!(#field_name: ::core::option::Option::None,)
    });
    let unknown = ident(&message.unknown_fields);
    let unknown = message.keep_unknown.then(|| quote!(#unknown: ::core::default::Default::default(),));
    let allow = allow_deprecated(message.uses_deprecated);
    quote! {
        #allow
        impl ::core::default::Default for #name {
            fn default() -> Self {
                #name {
                    #(#fields)*
                    #(#oneofs)*
                    #unknown
                }
            }
        }
    }
}

/// The enum a field's `i32`s hold, if it holds enums (singular, optional, repeated, or as map values).
fn enum_of(field: &Field) -> Option<&EnumRef> {
    match (&field.value, &field.cardinality) {
        (_, Cardinality::Map { value, .. }) => match value.as_ref() {
            ValueType::Enum(enumeration) => Some(enumeration),
            _ => None,
        },
        (ValueType::Enum(enumeration), _) => Some(enumeration),
        _ => None,
    }
}

/// `Debug` written out for a message with enum fields, so they print by name (`Red`, not `1`) as prost's
/// do; `None` (and the derive) for the others.
fn debug_impl(message: &Message, rt: &TokenStream) -> Option<TokenStream> {
    if !message.fields.iter().any(|field| enum_of(field).is_some()) {
        return None;
    }
    let name = ident(&message.rust_name);
    let label = message.rust_name.trim_start_matches("r#");
    let fields = message.fields.iter().map(|field| {
        let member = ident(&field.rust_name);
        let label = field.rust_name.trim_start_matches("r#");
        match enum_of(field) {
            Some(enumeration) => {
                let ty = enumeration.path.tokens(&message.module);
                quote!(.field(#label, &#rt::codegen::debug_enum::<#ty, _>(&self.#member)))
            }
            None => quote!(.field(#label, &self.#member)),
        }
    });
    let oneofs = message.oneofs.iter().map(|oneof| {
        let member = ident(&oneof.rust_field);
        let label = oneof.rust_field.trim_start_matches("r#");
        quote!(.field(#label, &self.#member))
    });
    let unknown = ident(&message.unknown_fields);
    let unknown_label = &message.unknown_fields;
    let unknown = message.keep_unknown.then(|| quote!(.field(#unknown_label, &self.#unknown)));
    let allow = allow_deprecated(message.uses_deprecated);
    Some(quote! {
        #allow
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#label)
                    #(#fields)*
                    #(#oneofs)*
                    #unknown
                    .finish()
            }
        }
    })
}

fn name_impl(message: &Message, rt: &TokenStream) -> TokenStream {
    let name = ident(&message.rust_name);
    let short = &message.name_in_package;
    let package = &message.package;
    let full = &message.full_name[1..];
    let url = format!("type.googleapis.com/{full}");
    let allow = allow_deprecated(message.deprecated);
    quote! {
        #allow
        impl #rt::prost::Name for #name {
            const NAME: &'static str = #short;
            const PACKAGE: &'static str = #package;
            fn full_name() -> ::std::string::String {
                #full.into()
            }
            fn type_url() -> ::std::string::String {
                #url.into()
            }
        }
    }
}

/// prost-style accessors: getters that apply defaults to optional scalars, and typed getters and setters for
/// enum fields. A name that two accessors would share is generated once (for the first field).
fn accessors(message: &Message) -> TokenStream {
    let mut taken = BTreeSet::new();
    let mut methods = Vec::new();
    for field in &message.fields {
        for (method_name, tokens) in field_accessors(field, &message.module) {
            if taken.insert(method_name) {
                methods.push(tokens);
            }
        }
    }
    if methods.is_empty() {
        return TokenStream::new();
    }
    let name = ident(&message.rust_name);
    let allow = allow_deprecated(message.uses_deprecated);
    quote! {
        #allow
        impl #name {
            #(#methods)*
        }
    }
}

fn field_accessors(field: &Field, from: &[String]) -> Vec<(String, TokenStream)> {
    let name = ident(&field.rust_name);
    let bare = field.rust_name.trim_start_matches("r#");
    let proto = &field.proto_name;
    match (&field.value, &field.cardinality) {
        (ValueType::Enum(enumeration), Cardinality::Repeated { .. }) => {
            let ty = enumeration.path.tokens(from);
            let push = format_ident!("push_{}", bare);
            let getter_doc = format!(" The values of `{proto}` that this code knows, as enums.");
            let push_doc = format!(" Appends a value to `{proto}`.");
            vec![
                (
                    field.rust_name.clone(),
                    quote! {
                        #[doc = #getter_doc]
                        pub fn #name(&self) -> impl ::core::iter::Iterator<Item = #ty> + '_ {
                            self.#name.iter().filter_map(|&value| #ty::try_from(value).ok())
                        }
                    },
                ),
                (
                    push.to_string(),
                    quote! {
                        #[doc = #push_doc]
                        pub fn #push(&mut self, value: #ty) {
                            self.#name.push(value as i32);
                        }
                    },
                ),
            ]
        }
        (ValueType::Enum(enumeration), Cardinality::Implicit | Cardinality::Required | Cardinality::Optional) => {
            let ty = enumeration.path.tokens(from);
            let default_variant = ident(match &field.default {
                Some(DefaultValue::Enum(variant)) => variant,
                _ => &enumeration.first_variant,
            });
            let setter = format_ident!("set_{}", bare);
            let optional = matches!(field.cardinality, Cardinality::Optional);
            let read = if optional {
                quote!(self.#name.and_then(|value| #ty::try_from(value).ok()))
            } else {
                quote!(#ty::try_from(self.#name).ok())
            };
            let store =
                if optional { quote!(::core::option::Option::Some(value as i32)) } else { quote!(value as i32) };
            let getter_doc = format!(" `{proto}` as an enum; its default if unset or unknown to this code.");
            let setter_doc = format!(" Sets `{proto}`.");
            vec![
                (
                    field.rust_name.clone(),
                    quote! {
                        #[doc = #getter_doc]
                        pub fn #name(&self) -> #ty {
                            #read.unwrap_or(#ty::#default_variant)
                        }
                    },
                ),
                (
                    setter.to_string(),
                    quote! {
                        #[doc = #setter_doc]
                        pub fn #setter(&mut self, value: #ty) {
                            self.#name = #store;
                        }
                    },
                ),
            ]
        }
        (ValueType::Scalar(scalar), Cardinality::Optional) => {
            let doc = format!(" `{proto}`, or its default if unset.");
            let (ty, some, none) = optional_getter_parts(*scalar, field.default.as_ref());
            vec![(
                field.rust_name.clone(),
                quote! {
                    #[doc = #doc]
                    pub fn #name(&self) -> #ty {
                        match &self.#name {
                            ::core::option::Option::Some(value) => #some,
                            ::core::option::Option::None => #none,
                        }
                    }
                },
            )]
        }
        _ => Vec::new(),
    }
}

/// Return type, expression for a set value, and expression for the default, of an optional scalar's getter.
fn optional_getter_parts(scalar: Scalar, default: Option<&DefaultValue>) -> (TokenStream, TokenStream, TokenStream) {
    match scalar {
        Scalar::String => {
            let none = match default {
                Some(DefaultValue::Str(text)) => quote!(#text),
                _ => quote!(""),
            };
            (quote!(&str), quote!(value.as_str()), none)
        }
        Scalar::Bytes { .. } => {
            let none = match default {
                Some(DefaultValue::Bytes(bytes)) => {
                    let literal = Literal::byte_string(bytes);
                    quote!(#literal)
                }
                _ => quote!(&[]),
            };
            (quote!(&[u8]), quote!(&value[..]), none)
        }
        _ => {
            let ty = scalar.rust_type(&TokenStream::new());
            let none = match default {
                Some(DefaultValue::Copy(tokens)) => tokens.clone(),
                _ => quote!(::core::default::Default::default()),
            };
            (ty, quote!(*value), none)
        }
    }
}

/// `pub mod name { nested messages, enums and oneof enums }`, when there are any.
fn nested_module(message: &Message, context: &Context<'_>) -> TokenStream {
    if message.nested.is_empty() && message.oneofs.is_empty() && message.extensions.is_empty() {
        return TokenStream::new();
    }
    let module_name = ident(&message.module_name);
    let mut module = message.module.clone();
    module.push(message.module_name.clone());
    let items: Vec<Parts> = message
        .nested
        .iter()
        .map(|item| match item {
            Item::Message(inner) => super::message::message(inner, context),
            Item::Enum(inner) => enumeration::enumeration(inner, &module, context),
        })
        .collect();
    let types = items.iter().map(|parts| &parts.types);
    let impls = items.iter().map(|parts| &parts.impls);
    let (oneofs, oneof_impls): (Vec<_>, Vec<_>) =
        message.oneofs.iter().map(|o| oneof::oneof(o, &module, &context.rt, message)).unzip();
    let extensions = super::extension::constants(&message.extensions, &module, context);
    let doc = format!(" Nested types and oneofs of [`{}`].", message.rust_name);
    quote! {
        #[doc = #doc]
        pub mod #module_name {
            #(#types)*
            #(#oneofs)*
            #extensions
            #(#impls)*
            #(#oneof_impls)*
        }
    }
}
