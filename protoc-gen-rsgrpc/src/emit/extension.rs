//! Extensions: a constant per `extend` field, describing it for the runtime's `Extendable` API, and the
//! `Extendable` impl of messages with extension ranges.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{allow_deprecated, deprecated, Context};
use crate::comments::doc_attributes;
use crate::ident::ident;
use crate::model::{Extension, Message, Scalar, ValueType};

/// The constants of the extensions declared in one module (`from`: its segments from the generated root).
pub fn constants(extensions: &[Extension], from: &[String], context: &Context<'_>) -> TokenStream {
    let rt = &context.rt;
    let items = extensions.iter().map(|extension| {
        let docs = doc_attributes(extension.docs.as_deref());
        let default_doc = format!(" Extension `{}` (field {}).", extension.full_name, extension.number);
        let docs = if extension.docs.is_some() { docs } else { quote!(#[doc = #default_doc]) };
        let deprecated = deprecated(extension.deprecated);
        let name = ident(&extension.rust_name);
        let extendee = extension.extendee.tokens(from);
        let kind = kind(extension, from, rt);
        let number = Literal::u32_unsuffixed(extension.number);
        let full_name = &extension.full_name;
        quote! {
            #docs
            #deprecated
            pub const #name: #rt::extension::Extension<#extendee, #kind> =
                #rt::extension::Extension::new(#number, #full_name);
        }
    });
    quote!(#(#items)*)
}

/// The runtime's kind type for an extension's value.
fn kind(extension: &Extension, from: &[String], rt: &TokenStream) -> TokenStream {
    let element = match &extension.value {
        ValueType::Scalar(scalar) => {
            let name = match scalar {
                Scalar::Double => "Double",
                Scalar::Float => "Float",
                Scalar::Int32 => "Int32",
                Scalar::Int64 => "Int64",
                Scalar::Uint32 => "Uint32",
                Scalar::Uint64 => "Uint64",
                Scalar::Sint32 => "Sint32",
                Scalar::Sint64 => "Sint64",
                Scalar::Fixed32 => "Fixed32",
                Scalar::Fixed64 => "Fixed64",
                Scalar::Sfixed32 => "Sfixed32",
                Scalar::Sfixed64 => "Sfixed64",
                Scalar::Bool => "Bool",
                Scalar::String => "Str",
                Scalar::Bytes { .. } => "Bytes",
            };
            let name = ident(name);
            quote!(#rt::extension::#name)
        }
        ValueType::Enum(enumeration) => {
            let path = enumeration.path.tokens(from);
            quote!(#rt::extension::Enum<#path>)
        }
        ValueType::Message { path, group } => {
            let path = path.tokens(from);
            if *group {
                quote!(#rt::extension::Group<#path>)
            } else {
                quote!(#rt::extension::Msg<#path>)
            }
        }
    };
    match extension.repeated {
        None => element,
        Some(false) => quote!(#rt::extension::Repeated<#element>),
        Some(true) => quote!(#rt::extension::Packed<#element>),
    }
}

/// `Extendable` for a message with extension ranges.
pub fn extendable_impl(message: &Message, context: &Context<'_>) -> TokenStream {
    if !message.extendable {
        return TokenStream::new();
    }
    let rt = &context.rt;
    let name = ident(&message.rust_name);
    let unknown = ident(&message.unknown_fields);
    let full_name = &message.full_name[1..];
    let allow = allow_deprecated(message.deprecated);
    quote! {
        #allow
        impl #rt::extension::Extendable for #name {
            const EXTENDEE: &'static str = #full_name;

            fn extension_fields(&self) -> &#rt::UnknownFields {
                &self.#unknown
            }

            fn extension_fields_mut(&mut self) -> &mut #rt::UnknownFields {
                &mut self.#unknown
            }
        }
    }
}

/// The paths (from the package module) of every extension registrable for JSON: the package's and those
/// nested in its messages.
pub fn registrable_paths(
    extensions: &[Extension],
    items: &[crate::model::Item],
    modules: &[String],
    out: &mut Vec<TokenStream>,
    deprecated: &mut bool,
) {
    for extension in extensions.iter().filter(|e| e.extendee_extendable) {
        let segments = modules.iter().map(|m| ident(m)).chain(std::iter::once(ident(&extension.rust_name)));
        out.push(quote!(#(#segments)::*));
        *deprecated |= extension.deprecated;
    }
    for item in items {
        if let crate::model::Item::Message(message) = item {
            let mut inner = modules.to_vec();
            inner.push(message.module_name.clone());
            registrable_paths(&message.extensions, &message.nested, &inner, out, deprecated);
        }
    }
}
