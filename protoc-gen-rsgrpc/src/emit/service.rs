//! gRPC services: a client (`greeter_client::GreeterClient`) with one async method per RPC, and a server
//! trait (`greeter_server::Greeter`) whose methods default to `UNIMPLEMENTED`, with the wrapper that
//! registers an implementation with the server (`greeter_server::GreeterServer`). Module and type names are
//! tonic's, so code moving from tonic reads the same.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use super::{deprecated, Context};
use crate::comments::doc_attributes;
use crate::ident::{constant, escape, ident};
use crate::model::{Method, Package, Service};

/// The client and server modules of every service of a package.
pub fn services(package: &Package, context: &Context<'_>) -> TokenStream {
    let services = package.services.iter().map(|service| {
        let client = context.options.client.then(|| client(service, &package.module, context));
        let server = context.options.server.then(|| server(service, package, context));
        quote!(#client #server)
    });
    quote!(#(#services)*)
}

/// The package's descriptor constants, when it embeds them: its own files, and the list of its own and its
/// imports' constants when its files import files of other packages (see [`crate::descriptors`]).
pub fn descriptors(package: &Package) -> TokenStream {
    let Some(descriptors) = &package.descriptors else { return TokenStream::new() };
    let literal = Literal::byte_string(&descriptors.set);
    let sets = (!descriptors.imports.is_empty()).then(|| {
        let imports = descriptors.imports.iter().map(|path| path.tokens(&package.module));
        quote! {
            /// This package's `FILE_DESCRIPTOR_SET` and those of the packages its files import, transitively:
            /// together (concatenated, or added one by one) every file reflection needs to describe them.
            pub const FILE_DESCRIPTOR_SETS: &[&[u8]] = &[FILE_DESCRIPTOR_SET, #(#imports),*];
        }
    });
    quote! {
        /// The encoded `FileDescriptorSet` of this package's files, for reflection (imported files are in
        /// their own packages' constants).
        pub const FILE_DESCRIPTOR_SET: &[u8] = #literal;
        #sets
    }
}

/// Paths are written from the client or server module, one level below the package.
fn module_of(package_module: &[String], name: &str) -> Vec<String> {
    let mut module = package_module.to_vec();
    module.push(name.to_owned());
    module
}

fn client(service: &Service, package_module: &[String], context: &Context<'_>) -> TokenStream {
    let rt = &context.rt;
    let module_name = escape(&format!("{}_client", service.module_base));
    let module = module_of(package_module, &module_name);
    let module_ident = ident(&module_name);
    let client_name = format_ident!("{}Client", service.rust_name.trim_end_matches('_'));
    let docs = doc_attributes(service.docs.as_deref());
    let deprecated = deprecated(service.deprecated);
    let full_name = &service.full_name;
    let allow_deprecated = super::allow_deprecated(service.uses_deprecated);
    let intro = format!(" A client of `{full_name}`; cheap to clone, every clone shares the channel.");
    let methods = service.methods.iter().map(|method| client_method(method, &module, rt));
    let api = super::client_api::client_trait(service, &module, &client_name, rt);
    let mock = context.options.mocks.then(|| super::mock::mock(service, &module, rt));
    // The server module has the same constants: a crate with both gets them once.
    let methods_module = if context.options.server {
        let server_module = ident(&escape(&format!("{}_server", service.module_base)));
        // Unused in a private module of a crate that uses neither: not worth a warning.
        quote! {
            #[allow(unused_imports)]
            pub use super::#server_module::methods;
        }
    } else {
        methods_module(service)
    };
    quote! {
        #[doc = #intro]
        pub mod #module_ident {
            #methods_module

            #docs
            #deprecated
            #[derive(Clone, Debug)]
            pub struct #client_name {
                inner: #rt::client::Client,
            }

            // RPC names are the proto's: `FromArc` or `IsReady` are not conversions or predicates.
            #allow_deprecated
            #[allow(clippy::wrong_self_convention)]
            impl #client_name {
                /// A client whose calls go through `channel`.
                pub fn new(channel: #rt::client::Channel) -> Self {
                    #client_name { inner: #rt::client::Client::new(channel) }
                }

                /// Connects to `target` (`http://host:port`, `unix:/path`) and returns a client.
                pub async fn connect(target: &str) -> ::core::result::Result<Self, #rt::Status> {
                    ::core::result::Result::Ok(Self::new(#rt::client::Channel::connect(target).await?))
                }

                #(#methods)*
            }

            #api

            #mock
        }
    }
}

fn client_method(method: &Method, module: &[String], rt: &TokenStream) -> TokenStream {
    let name = ident(&method.rust_name);
    let input = method.input.tokens(module);
    let output = method.output.tokens(module);
    let path = &method.path;
    let docs = doc_attributes(method.docs.as_deref());
    let deprecated = deprecated(method.deprecated);
    let result = |ok: TokenStream| quote!(::core::result::Result<#ok, #rt::Status>);
    match (method.client_streaming, method.server_streaming) {
        (false, false) => {
            let result = result(quote!(#rt::Response<#output>));
            quote! {
                #docs
                #deprecated
                pub async fn #name(&self, request: impl #rt::IntoRequest<#input>) -> #result {
                    self.inner.unary(#path, request.into_request()).await
                }
            }
        }
        (false, true) => {
            let result = result(quote!(#rt::Response<#rt::Streaming<#output>>));
            quote! {
                #docs
                #deprecated
                pub async fn #name(&self, request: impl #rt::IntoRequest<#input>) -> #result {
                    self.inner.server_streaming(#path, request.into_request()).await
                }
            }
        }
        (true, false) => {
            let result = result(quote!(#rt::Response<#output>));
            quote! {
                #docs
                #deprecated
                pub async fn #name(&self, request: impl #rt::IntoStreamingRequest<Message = #input>) -> #result {
                    self.inner.client_streaming(#path, request.into_streaming_request()).await
                }
            }
        }
        (true, true) => {
            let result = result(quote!((#rt::client::Sender<#input>, #rt::Streaming<#output>)));
            quote! {
                #docs
                #deprecated
                pub async fn #name(&self, request: impl #rt::IntoRequest<()>) -> #result {
                    self.inner.streaming(#path, request.into_request()).await
                }
            }
        }
    }
}

fn server(service: &Service, package: &Package, context: &Context<'_>) -> TokenStream {
    let package_module = &package.module[..];
    let rt = &context.rt;
    let module_name = escape(&format!("{}_server", service.module_base));
    let module = module_of(package_module, &module_name);
    let module_ident = ident(&module_name);
    let trait_name = ident(&service.rust_name);
    let server_name = format_ident!("{}Server", service.rust_name.trim_end_matches('_'));
    let docs = doc_attributes(service.docs.as_deref());
    let deprecated = deprecated(service.deprecated);
    let full_name = &service.full_name;
    let allow_deprecated = super::allow_deprecated(service.uses_deprecated);
    let intro =
        format!(" The server side of `{full_name}`: implement [`{trait_name}`], serve it with [`{server_name}`].");
    let trait_methods = service.methods.iter().map(|method| trait_method(method, &module, full_name, rt));
    let arms = service.methods.iter().map(|method| dispatch_arm(method, &trait_name, rt));
    let methods_module = methods_module(service);
    // Without the package's descriptor set the trait's default (no descriptors) stands. With imports from
    // other packages, the sets are joined once: encoded sets concatenated are one set.
    let descriptor_set = package.descriptors.as_ref().map(|descriptors| {
        let body = if descriptors.imports.is_empty() {
            quote!(super::FILE_DESCRIPTOR_SET)
        } else {
            quote! {
                static SET: ::std::sync::OnceLock<::std::vec::Vec<u8>> = ::std::sync::OnceLock::new();
                SET.get_or_init(|| super::FILE_DESCRIPTOR_SETS.concat())
            }
        };
        quote! {
            fn file_descriptor_set(&self) -> &'static [u8] {
                #body
            }
        }
    });
    let server_doc =
        format!(" Serves a [`{trait_name}`] implementation: register it with `Server::builder().add_service(...)`.");
    quote! {
        #[doc = #intro]
        pub mod #module_ident {
            /// The service's full name.
            pub const SERVICE_NAME: &str = #full_name;

            #methods_module

            #docs
            #deprecated
            #allow_deprecated
            #[allow(clippy::wrong_self_convention)]
            pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync + 'static {
                #(#trait_methods)*
            }

            #[doc = #server_doc]
            #[derive(Debug)]
            pub struct #server_name<T> {
                inner: ::std::sync::Arc<T>,
            }

            impl<T: #trait_name> #server_name<T> {
                /// Wraps an implementation.
                pub fn new(service: T) -> Self {
                    #server_name { inner: ::std::sync::Arc::new(service) }
                }

                /// Wraps an implementation that is shared elsewhere too.
                pub fn from_arc(service: ::std::sync::Arc<T>) -> Self {
                    #server_name { inner: service }
                }
            }

            impl<T> ::core::clone::Clone for #server_name<T> {
                fn clone(&self) -> Self {
                    #server_name { inner: self.inner.clone() }
                }
            }

            #allow_deprecated
            impl<T: #trait_name> #rt::server::Service for #server_name<T> {
                fn name(&self) -> &'static str {
                    SERVICE_NAME
                }

                fn call(&self, method: &str, call: #rt::server::ServerCall) -> #rt::server::BoxFuture {
                    let service = self.inner.clone();
                    match method {
                        #(#arms)*
                        _ => call.unimplemented_method(SERVICE_NAME, method),
                    }
                }

                #descriptor_set
            }
        }
    }
}

/// The `methods` module: each method's name (`SAY_HELLO = "SayHello"`) and, in `methods::paths`, its full
/// path (`"/helloworld.Greeter/SayHello"`, grpc-go's `Greeter_SayHello_FullMethodName`), for interceptors,
/// metrics and routing that match on methods.
fn methods_module(service: &Service) -> TokenStream {
    // Constants of methods whose names convert alike (`getThing`, `GetThing`) are kept apart by a suffix.
    let mut taken = std::collections::BTreeSet::new();
    let (names, paths): (Vec<TokenStream>, Vec<TokenStream>) = service
        .methods
        .iter()
        .map(|method| {
            let mut name = constant(&method.proto_name);
            while !taken.insert(name.clone()) {
                name.push('_');
            }
            let name = ident(&name);
            let (value, path) = (&method.proto_name, &method.path);
            (quote!(pub const #name: &str = #value;), quote!(pub const #name: &str = #path;))
        })
        .unzip();
    quote! {
        /// The names of the service's methods.
        pub mod methods {
            #(#names)*

            /// The full paths of the service's methods, `/package.Service/Method`.
            pub mod paths {
                #(#paths)*
            }
        }
    }
}

fn trait_method(method: &Method, module: &[String], service_name: &str, rt: &TokenStream) -> TokenStream {
    let name = ident(&method.rust_name);
    let input = method.input.tokens(module);
    let output = method.output.tokens(module);
    let docs = doc_attributes(method.docs.as_deref());
    let deprecated = deprecated(method.deprecated);
    let request = if method.client_streaming {
        quote!(#rt::Request<#rt::Streaming<#input>>)
    } else {
        quote!(#rt::Request<#input>)
    };
    let response = if method.server_streaming {
        quote!(#rt::Response<#rt::server::BoxStream<#output>>)
    } else {
        quote!(#rt::Response<#output>)
    };
    let message = format!("{service_name}/{} is not implemented", method.proto_name);
    quote! {
        #docs
        #deprecated
        fn #name(
            &self,
            request: #request,
        ) -> impl ::core::future::Future<Output = ::core::result::Result<#response, #rt::Status>> + ::core::marker::Send {
            let _ = request;
            async { ::core::result::Result::Err(#rt::Status::unimplemented(#message)) }
        }
    }
}

fn dispatch_arm(method: &Method, trait_name: &proc_macro2::Ident, rt: &TokenStream) -> TokenStream {
    let name = ident(&method.rust_name);
    let proto = &method.proto_name;
    let glue = format_ident!(
        "{}",
        match (method.client_streaming, method.server_streaming) {
            (false, false) => "unary",
            (false, true) => "server_streaming",
            (true, false) => "client_streaming",
            (true, true) => "streaming",
        }
    );
    quote! {
        // Fully qualified: a method named `clone` or `into` must not resolve to `Arc`'s.
        #proto => #rt::server::#glue(call, #proto, service, |service: ::std::sync::Arc<T>, request| async move {
            <T as #trait_name>::#name(&*service, request).await
        }),
    }
}
