//! Oneofs: an enum with one variant per member, held in an `Option` field of the message.

use proc_macro2::TokenStream;
use quote::quote;

use super::types::boxed_value_type;
use crate::comments::doc_attributes;
use crate::ident::{camel, ident};
use crate::model::{Field, Message, Oneof, ValueType};

/// The variant name of a oneof member.
pub fn variant_name(field: &Field) -> String {
    camel(&field.proto_name)
}

/// The oneof's enum, declared in module `module` (the message's module), and its `Debug` impl when a
/// member is an enum (written out so the member prints by name, as a message's enum fields do; derived
/// otherwise).
pub fn oneof(oneof: &Oneof, module: &[String], rt: &TokenStream, message: &Message) -> (TokenStream, TokenStream) {
    let name = ident(&oneof.enum_name);
    let docs = doc_attributes(oneof.docs.as_deref());
    let attributes = super::attributes(&oneof.attributes);
    let variants = oneof.fields.iter().map(|field| {
        let docs = doc_attributes(field.docs.as_deref());
        let deprecated = super::deprecated(field.deprecated);
        let attributes = super::attributes(&field.attributes);
        let variant = ident(&variant_name(field));
        let ty = boxed_value_type(field, module, rt);
        quote!(#docs #deprecated #attributes #variant(#ty),)
    });
    let allow = super::allow_deprecated(message.uses_deprecated);
    // Its members are fields of the message: what the message derives, it can.
    let eq_hash = super::eq_hash(message.eq_hash, &oneof.attributes);
    let debug_impl = debug_impl(oneof, module, rt, &allow);
    let derive_debug = debug_impl.is_none().then(|| quote!(Debug));
    let declaration = quote! {
        #docs
        #attributes
        #[derive(Clone, PartialEq, #eq_hash #derive_debug)]
        #allow
        pub enum #name {
            #(#variants)*
        }
    };
    (declaration, debug_impl.unwrap_or_default())
}

/// `Debug` for a oneof with an enum member, printing that member by name; `None` when no member is one.
fn debug_impl(oneof: &Oneof, module: &[String], rt: &TokenStream, allow: &TokenStream) -> Option<TokenStream> {
    if !oneof.fields.iter().any(|field| matches!(field.value, ValueType::Enum(_))) {
        return None;
    }
    let name = ident(&oneof.enum_name);
    let arms = oneof.fields.iter().map(|field| {
        let variant_text = variant_name(field);
        let variant = ident(&variant_text);
        let label = variant_text.trim_start_matches("r#");
        match &field.value {
            ValueType::Enum(enumeration) => {
                let ty = enumeration.path.tokens(module);
                quote!(Self::#variant(value) => f.debug_tuple(#label).field(&#rt::codegen::debug_enum::<#ty, _>(value)).finish(),)
            }
            _ => quote!(Self::#variant(value) => f.debug_tuple(#label).field(value).finish(),),
        }
    });
    Some(quote! {
        #allow
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self {
                    #(#arms)*
                }
            }
        }
    })
}
