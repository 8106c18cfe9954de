//! The mock client of a service (`greeter_client::MockGreeter`, with the `mocks` parameter): an
//! `expect_<method>()` per RPC and the service's client trait, over the runtime's `mock` module, so each
//! method is a field and a line or two here.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::client_api::{signature, trait_name, Signature};
use crate::ident::ident;
use crate::model::{Method, Service};

/// `MockGreeter` and its implementation of `GreeterApi`.
pub fn mock(service: &Service, module: &[String], rt: &TokenStream) -> TokenStream {
    let mock_name = format_ident!("Mock{}", service.rust_name.trim_end_matches('_'));
    let mock_text = mock_name.to_string();
    let trait_name = trait_name(service);
    let allow_deprecated = super::allow_deprecated(service.uses_deprecated);
    let fields: Vec<Ident> = service.methods.iter().map(|method| ident(&method.rust_name)).collect();
    let types = service.methods.iter().map(|method| method_type(method, module, rt));
    let paths = service.methods.iter().map(|method| &method.path);
    let expects = service.methods.iter().map(|method| expect_method(method, module, rt));
    let calls = service.methods.iter().map(|method| call(method, module, rt));
    let doc = format!(
        " A mock `{}` client for tests: set what each call expects and answers with `expect_<method>()`, hand \
         it to code taking `&impl {trait_name}`. Dropped with expectations unmet or after unexpected calls, it \
         panics saying which; [`verify`](Self::verify) returns that report instead.",
        service.full_name
    );
    quote! {
        #[doc = #doc]
        #allow_deprecated
        #[derive(Debug)]
        pub struct #mock_name {
            #(#fields: #types,)*
        }

        #allow_deprecated
        impl #mock_name {
            /// A mock expecting no calls yet.
            pub fn new() -> Self {
                #mock_name { #(#fields: #rt::mock::Method::new(#paths),)* }
            }

            #(#expects)*

            /// Checks every expectation had its calls and no call went unmatched, then clears the
            /// expectations, so the next ones are checked afresh.
            pub fn verify(&self) -> ::core::result::Result<(), #rt::mock::MockError> {
                #rt::mock::verify(#mock_text, &[#(&self.#fields),*])
            }

            /// [`verify`](Self::verify), panicking with the report on failure.
            pub fn checkpoint(&self) {
                if let ::core::result::Result::Err(error) = self.verify() {
                    ::core::panic!("{error}");
                }
            }
        }

        impl ::core::default::Default for #mock_name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl ::core::ops::Drop for #mock_name {
            fn drop(&mut self) {
                #rt::mock::verify_on_drop(#mock_text, &[#(&self.#fields),*]);
            }
        }

        #allow_deprecated
        impl #trait_name for #mock_name {
            #(#calls)*
        }
    }
}

/// What a method's expectations see and answer: `Method<Request, Response>`, with the streams in their
/// mock forms.
fn method_type(method: &Method, module: &[String], rt: &TokenStream) -> TokenStream {
    let (input, output) = in_out(method, module, rt);
    quote!(#rt::mock::Method<#input, #output>)
}

fn expect_method(method: &Method, module: &[String], rt: &TokenStream) -> TokenStream {
    let field = ident(&method.rust_name);
    let name = format_ident!("expect_{}", method.rust_name.trim_start_matches("r#"));
    let Method { proto_name, .. } = method;
    let doc = format!(" Adds an expectation of a `{proto_name}` call (once, any request, the default answer).");
    let (input, output) = in_out(method, module, rt);
    quote! {
        #[doc = #doc]
        pub fn #name(&self) -> #rt::mock::Expect<'_, #input, #output> {
            self.#field.expect()
        }
    }
}

/// What a method's expectations see of a call (the request, every message of a client stream, a
/// bidirectional call's request stream) and answer (a message, or replies for a response stream).
fn in_out(method: &Method, module: &[String], rt: &TokenStream) -> (TokenStream, TokenStream) {
    let input = method.input.tokens(module);
    let output = method.output.tokens(module);
    match (method.client_streaming, method.server_streaming) {
        (false, false) => (input, output),
        (false, true) => (input, quote!(#rt::mock::Replies<#output>)),
        (true, false) => (quote!(::std::vec::Vec<#input>), output),
        (true, true) => (quote!(#rt::mock::Requests<#input>), quote!(#rt::mock::Replies<#output>)),
    }
}

fn call(method: &Method, module: &[String], rt: &TokenStream) -> TokenStream {
    let Signature { name, argument, output } = signature(method, module, rt);
    let body = match (method.client_streaming, method.server_streaming) {
        (false, false) => quote!(::core::future::ready(#rt::mock::unary(&self.#name, request.into_request()))),
        (false, true) => {
            quote!(::core::future::ready(#rt::mock::server_streaming(&self.#name, request.into_request())))
        }
        (true, false) => quote!(#rt::mock::client_streaming(&self.#name, request.into_streaming_request())),
        (true, true) => quote!(::core::future::ready(#rt::mock::streaming(&self.#name, request.into_request()))),
    };
    quote! {
        fn #name(&self, #argument) -> #output {
            #body
        }
    }
}
