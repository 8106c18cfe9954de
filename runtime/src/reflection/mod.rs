//! gRPC server reflection, `grpc.reflection.v1` and `v1alpha`: tools (grpcurl, Postman, grpcui) list a
//! server's services and fetch their descriptors, from the descriptor sets generated services embed.
//! `ServerBuilder::with_reflection()` serves it for every registered service.

/// The generated `grpc.reflection.v1` package.
pub mod v1 {
    include!("grpc.reflection.v1.rs");
}

/// The generated `grpc.reflection.v1alpha` package (the same messages as v1, which older clients use).
pub mod v1alpha {
    include!("grpc.reflection.v1alpha.rs");
}

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use prost::Message;

use crate::server::BoxStream;
use crate::well_known::{DescriptorProto, FileDescriptorProto, FileDescriptorSet};
use crate::{Request, Response, Status, Streaming};
use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;

/// Everything reflection answers from: files by name (encoded, as sent), their imports, and where each
/// symbol and extension is defined.
#[derive(Debug, Default)]
pub struct DescriptorIndex {
    files: HashMap<String, (Vec<u8>, Vec<String>)>,
    symbols: HashMap<String, String>,
    extensions: HashMap<(String, i32), String>,
    extension_numbers: HashMap<String, Vec<i32>>,
    services: BTreeSet<String>,
}

impl DescriptorIndex {
    /// Adds the files of an encoded `FileDescriptorSet`: a generated package's `FILE_DESCRIPTOR_SET` (its own
    /// files) or each of its `FILE_DESCRIPTOR_SETS` (with those of the packages it imports from), or those
    /// concatenated, which is one set. A file already known is kept as first added.
    pub fn add_file_descriptor_set(&mut self, encoded: &[u8]) -> Result<(), prost::DecodeError> {
        for file in FileDescriptorSet::decode(encoded)?.file {
            self.add_file(file);
        }
        Ok(())
    }

    /// Lists a service (registered services only: imported files may declare others).
    pub fn add_service_name(&mut self, name: &str) {
        self.services.insert(name.to_owned());
    }

    fn add_file(&mut self, file: FileDescriptorProto) {
        let name = file.name().to_owned();
        if self.files.contains_key(&name) {
            return;
        }
        let prefix = if file.package().is_empty() { String::new() } else { format!("{}.", file.package()) };
        for message in &file.message_type {
            self.add_message(&name, &prefix, message);
        }
        for enumeration in &file.enum_type {
            self.symbols.insert(format!("{prefix}{}", enumeration.name()), name.clone());
        }
        for service in &file.service {
            let service_name = format!("{prefix}{}", service.name());
            for method in &service.method {
                self.symbols.insert(format!("{service_name}.{}", method.name()), name.clone());
            }
            self.symbols.insert(service_name, name.clone());
        }
        for extension in &file.extension {
            self.add_extension(&name, &prefix, extension);
        }
        let encoded = file.encode_to_vec();
        self.files.insert(name, (encoded, file.dependency));
    }

    fn add_message(&mut self, file: &str, prefix: &str, message: &DescriptorProto) {
        let full_name = format!("{prefix}{}", message.name());
        for field in &message.field {
            self.symbols.insert(format!("{full_name}.{}", field.name()), file.to_owned());
        }
        let inner = format!("{full_name}.");
        for nested in &message.nested_type {
            self.add_message(file, &inner, nested);
        }
        for enumeration in &message.enum_type {
            self.symbols.insert(format!("{inner}{}", enumeration.name()), file.to_owned());
        }
        for extension in &message.extension {
            self.add_extension(file, &inner, extension);
        }
        self.symbols.insert(full_name, file.to_owned());
    }

    fn add_extension(&mut self, file: &str, prefix: &str, extension: &crate::well_known::FieldDescriptorProto) {
        let extendee = extension.extendee().trim_start_matches('.').to_owned();
        self.symbols.insert(format!("{prefix}{}", extension.name()), file.to_owned());
        self.extension_numbers.entry(extendee.clone()).or_default().push(extension.number());
        self.extensions.insert((extendee, extension.number()), file.to_owned());
    }

    /// `file` and everything it imports, each once, `file` first.
    fn with_imports(&self, file: &str) -> Result<Vec<Vec<u8>>, Status> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut stack = vec![file.to_owned()];
        while let Some(name) = stack.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let (encoded, imports) =
                self.files.get(&name).ok_or_else(|| Status::not_found(format!("file {name:?} is not known")))?;
            out.push(encoded.clone());
            stack.extend(imports.iter().rev().cloned());
        }
        Ok(out)
    }

    fn answer(&self, request: &MessageRequest) -> Result<MessageResponse, Status> {
        let files = |file: &str| {
            self.with_imports(file).map(|file_descriptor_proto| {
                MessageResponse::FileDescriptorResponse(v1::FileDescriptorResponse {
                    file_descriptor_proto,
                    ..Default::default()
                })
            })
        };
        match request {
            MessageRequest::ListServices(_) => Ok(MessageResponse::ListServicesResponse(v1::ListServiceResponse {
                service: self
                    .services
                    .iter()
                    .map(|name| v1::ServiceResponse { name: name.clone(), ..Default::default() })
                    .collect(),
                ..Default::default()
            })),
            MessageRequest::FileByFilename(name) => files(name),
            MessageRequest::FileContainingSymbol(symbol) => {
                let file = self
                    .symbols
                    .get(symbol)
                    .ok_or_else(|| Status::not_found(format!("symbol {symbol:?} is not known")))?;
                files(file)
            }
            MessageRequest::FileContainingExtension(extension) => {
                let key = (extension.containing_type.clone(), extension.extension_number);
                let file = self
                    .extensions
                    .get(&key)
                    .ok_or_else(|| Status::not_found(format!("extension {} of {:?} is not known", key.1, key.0)))?;
                files(file)
            }
            MessageRequest::AllExtensionNumbersOfType(name) => {
                if !self.symbols.contains_key(name) {
                    return Err(Status::not_found(format!("type {name:?} is not known")));
                }
                Ok(MessageResponse::AllExtensionNumbersResponse(v1::ExtensionNumberResponse {
                    base_type_name: name.clone(),
                    extension_number: self.extension_numbers.get(name).cloned().unwrap_or_default(),
                    ..Default::default()
                }))
            }
        }
    }

    /// The response to one request; errors are answered in-band, as the protocol says.
    fn respond(&self, request: v1::ServerReflectionRequest) -> v1::ServerReflectionResponse {
        let message_response = match &request.message_request {
            Some(message) => self.answer(message),
            None => Err(Status::invalid_argument("the request asks nothing")),
        };
        let message_response = message_response.unwrap_or_else(|status| {
            MessageResponse::ErrorResponse(v1::ErrorResponse {
                error_code: status.code() as i32,
                error_message: status.message().to_owned(),
                ..Default::default()
            })
        });
        v1::ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(message_response),
            ..Default::default()
        }
    }
}

/// The reflection service, both versions, over one index.
#[derive(Clone, Debug)]
pub struct ReflectionService {
    index: Arc<DescriptorIndex>,
}

impl ReflectionService {
    /// A service answering from `index`.
    pub fn new(index: DescriptorIndex) -> Self {
        ReflectionService { index: Arc::new(index) }
    }

    /// The v1 service, to register.
    pub fn v1(&self) -> v1::server_reflection_server::ServerReflectionServer<ReflectionService> {
        v1::server_reflection_server::ServerReflectionServer::new(self.clone())
    }

    /// The v1alpha service, to register.
    pub fn v1alpha(&self) -> v1alpha::server_reflection_server::ServerReflectionServer<ReflectionService> {
        v1alpha::server_reflection_server::ServerReflectionServer::new(self.clone())
    }

    /// Answers each request of the stream as it arrives (`In`/`Out` are v1's or v1alpha's messages).
    fn answers<In, Out>(&self, incoming: Streaming<In>) -> BoxStream<Out>
    where
        In: Message + Default + Send + 'static,
        Out: Message + Default + Send + 'static,
    {
        let index = self.index.clone();
        Box::pin(futures_util::stream::unfold(Some(incoming), move |state| {
            let index = index.clone();
            async move {
                let mut incoming = state?;
                match incoming.message().await {
                    Ok(Some(request)) => {
                        let request = transcode::<In, v1::ServerReflectionRequest>(&request);
                        let response = transcode::<v1::ServerReflectionResponse, Out>(&index.respond(request));
                        Some((Ok(response), Some(incoming)))
                    }
                    Ok(None) => None,
                    Err(status) => Some((Err(status), None)),
                }
            }
        }))
    }
}

/// v1 and v1alpha messages are the same on the wire: one reads the other's bytes.
fn transcode<From: Message, To: Message + Default>(message: &From) -> To {
    To::decode(message.encode_to_vec().as_slice()).unwrap_or_default()
}

impl v1::server_reflection_server::ServerReflection for ReflectionService {
    async fn server_reflection_info(
        &self,
        request: Request<Streaming<v1::ServerReflectionRequest>>,
    ) -> Result<Response<BoxStream<v1::ServerReflectionResponse>>, Status> {
        Ok(Response::new(self.answers(request.into_inner())))
    }
}

impl v1alpha::server_reflection_server::ServerReflection for ReflectionService {
    async fn server_reflection_info(
        &self,
        request: Request<Streaming<v1alpha::ServerReflectionRequest>>,
    ) -> Result<Response<BoxStream<v1alpha::ServerReflectionResponse>>, Status> {
        Ok(Response::new(self.answers(request.into_inner())))
    }
}

impl crate::server::ServerBuilder {
    /// Also serves gRPC reflection (`grpc.reflection.v1` and `v1alpha`) describing every registered service,
    /// from the descriptors generated code embeds, so grpcurl and friends can list and call them.
    pub fn with_reflection(self) -> Self {
        self.at_build(install)
    }
}

/// Adds the reflection services to `router`, describing every service in it, themselves included.
fn install(router: &mut crate::server::Router) {
    let mut index = DescriptorIndex::default();
    let own = [
        (v1::server_reflection_server::SERVICE_NAME, v1::FILE_DESCRIPTOR_SET),
        (v1alpha::server_reflection_server::SERVICE_NAME, v1alpha::FILE_DESCRIPTOR_SET),
    ];
    let registered = router.services().map(|service| (service.name(), service.file_descriptor_set()));
    for (name, descriptors) in registered.chain(own) {
        index.add_service_name(name);
        if let Err(error) = index.add_file_descriptor_set(descriptors) {
            tracing::warn!(service = name, %error, "the service's embedded descriptors do not decode; reflection omits them");
        }
    }
    let reflection = ReflectionService::new(index);
    router.add(Arc::new(reflection.v1()));
    router.add(Arc::new(reflection.v1alpha()));
}
