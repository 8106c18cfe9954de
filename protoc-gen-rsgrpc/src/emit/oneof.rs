//! Oneofs: an enum with one variant per member, held in an `Option` field of the message.

use proc_macro2::TokenStream;
use quote::quote;

use super::types::boxed_value_type;
use crate::comments::doc_attributes;
use crate::ident::{camel, ident};
use crate::model::{Field, Message, Oneof};

/// The variant name of a oneof member.
pub fn variant_name(field: &Field) -> String {
    camel(&field.proto_name)
}

/// The oneof's enum, declared in module `module` (the message's module).
pub fn oneof(oneof: &Oneof, module: &[String], rt: &TokenStream, message: &Message) -> TokenStream {
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
    quote! {
        #docs
        #attributes
        #[derive(Clone, PartialEq, #eq_hash Debug)]
        #allow
        pub enum #name {
            #(#variants)*
        }
    }
}
