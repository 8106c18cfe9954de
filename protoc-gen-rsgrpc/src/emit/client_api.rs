//! The client trait of a service (`greeter_client::GreeterApi`): one method per RPC with the client's
//! signature, implemented by the generated client, so code can take `&impl GreeterApi` and be tested
//! against a mock (see [`super::mock`]) or a real server alike.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::deprecated;
use crate::comments::doc_attributes;
use crate::ident::ident;
use crate::model::{Method, Service};

/// The trait's name: `GreeterApi`.
pub fn trait_name(service: &Service) -> Ident {
    format_ident!("{}Api", service.rust_name.trim_end_matches('_'))
}

/// A method's signature in the trait (and its implementations), without the body.
pub struct Signature {
    pub name: Ident,
    /// `request: impl IntoRequest<Input> + Send` or its streaming form.
    pub argument: TokenStream,
    /// `impl Future<Output = Result<..>> + Send`.
    pub output: TokenStream,
}

pub fn signature(method: &Method, module: &[String], rt: &TokenStream) -> Signature {
    let input = method.input.tokens(module);
    let output = method.output.tokens(module);
    let argument = if method.client_streaming && !method.server_streaming {
        quote!(request: impl #rt::IntoStreamingRequest<Message = #input> + ::core::marker::Send)
    } else if method.client_streaming {
        quote!(request: impl #rt::IntoRequest<()> + ::core::marker::Send)
    } else {
        quote!(request: impl #rt::IntoRequest<#input> + ::core::marker::Send)
    };
    let ok = match (method.client_streaming, method.server_streaming) {
        (_, false) => quote!(#rt::Response<#output>),
        (false, true) => quote!(#rt::Response<#rt::Streaming<#output>>),
        (true, true) => quote!((#rt::client::Sender<#input>, #rt::Streaming<#output>)),
    };
    let output = quote! {
        impl ::core::future::Future<Output = ::core::result::Result<#ok, #rt::Status>> + ::core::marker::Send
    };
    Signature { name: ident(&method.rust_name), argument, output }
}

/// The trait, and its implementation by the client struct `client_name`.
pub fn client_trait(service: &Service, module: &[String], client_name: &Ident, rt: &TokenStream) -> TokenStream {
    let trait_name = trait_name(service);
    let allow_deprecated = super::allow_deprecated(service.uses_deprecated);
    let doc = format!(
        " The calls of `{}`, as [`{client_name}`] makes them: take `&impl {trait_name}` to test code with a \
         mock client.",
        service.full_name
    );
    let declarations = service.methods.iter().map(|method| {
        let Signature { name, argument, output } = signature(method, module, rt);
        let docs = doc_attributes(method.docs.as_deref());
        let deprecated = deprecated(method.deprecated);
        quote!(#docs #deprecated fn #name(&self, #argument) -> #output;)
    });
    let implementations = service.methods.iter().map(|method| {
        let Signature { name, argument, output } = signature(method, module, rt);
        quote! {
            fn #name(&self, #argument) -> #output {
                #client_name::#name(self, request)
            }
        }
    });
    quote! {
        #[doc = #doc]
        #allow_deprecated
        #[allow(clippy::wrong_self_convention)]
        pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync {
            #(#declarations)*
        }

        #allow_deprecated
        impl #trait_name for #client_name {
            #(#implementations)*
        }
    }
}
