//! Routing a new HTTP/2 stream to a service, after checking it is a gRPC request: POST, a gRPC content
//! type, a known service, a valid timeout, an encoding we speak, and well-formed metadata. What is not gRPC
//! gets a plain HTTP answer with a readable body, not a reset.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::call::{send_trailers_only, CallLimits, ServerCall};
use super::service_settings::{ResolvedSettings, ServiceSettings};
use super::{BoxFuture, Peer, Service};
use crate::compression::Encoding;
use crate::interceptor::Interceptors;
use crate::metadata::MetadataMap;
use crate::status::Status;
use crate::{timeout, wire};

/// The services of a server, by full name.
#[derive(Default, Clone)]
pub(crate) struct Router {
    services: HashMap<&'static str, Entry>,
    /// Trace propagation and metrics, when the server has either.
    pub(crate) observe: Option<Arc<crate::observe::server::ServerObserve>>,
}

/// A service and the settings it has of its own.
#[derive(Clone)]
struct Entry {
    service: Arc<dyn Service>,
    settings: Option<ServiceSettings>,
    /// `settings` against the server's interceptors, filled in by [`Router::resolve`] at build time.
    resolved: Option<Arc<ResolvedSettings>>,
}

impl Router {
    /// Registers `service`, replacing one of the same name (for services the server adds itself).
    pub(crate) fn add(&mut self, service: Arc<dyn Service>) {
        self.services.insert(service.name(), Entry { service, settings: None, resolved: None });
    }

    /// Registers `service` with its own settings; `Err` with its name when one of that name is already there.
    pub(crate) fn try_add(
        &mut self,
        service: Arc<dyn Service>,
        settings: Option<ServiceSettings>,
    ) -> Result<(), &'static str> {
        let name = service.name();
        match self.services.entry(name) {
            std::collections::hash_map::Entry::Occupied(_) => Err(name),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Entry { service, settings, resolved: None });
                Ok(())
            }
        }
    }

    /// Resolves each service's settings against the server's interceptors.
    pub(crate) fn resolve(&mut self, interceptors: Option<&Arc<Interceptors>>) {
        for entry in self.services.values_mut() {
            entry.resolved = entry.settings.as_ref().map(|settings| Arc::new(settings.resolve(interceptors)));
        }
    }

    /// The largest request message any service accepts by its own settings.
    pub(crate) fn largest_service_receive(&self) -> Option<usize> {
        self.services.values().filter_map(|entry| entry.settings.as_ref()?.max_receive()).max()
    }

    pub(crate) fn service_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.services.keys().copied()
    }

    pub(crate) fn services(&self) -> impl Iterator<Item = &Arc<dyn Service>> + '_ {
        self.services.values().map(|entry| &entry.service)
    }

    /// Starts the call the request asks for; `None` when it was answered at once (an error).
    pub(crate) fn dispatch(
        &self,
        request: http::Request<h2::RecvStream>,
        mut respond: h2::server::SendResponse<Bytes>,
        peer: &Peer,
        limits: CallLimits,
        interceptors: Option<&Arc<Interceptors>>,
        budget: &Arc<crate::budget::ReceiveBudget>,
    ) -> Option<BoxFuture> {
        let (parts, body) = request.into_parts();
        if parts.method != http::Method::POST {
            reply_http(&mut respond, http::StatusCode::METHOD_NOT_ALLOWED, "gRPC requests use POST\n");
            return None;
        }
        let content_type = parts.headers.get(http::header::CONTENT_TYPE).map(|v| v.as_bytes()).unwrap_or_default();
        if !is_protobuf_grpc(content_type) {
            let text = format!(
                "unsupported content-type {:?}: this is a gRPC server (application/grpc)\n",
                String::from_utf8_lossy(content_type)
            );
            reply_http(&mut respond, http::StatusCode::UNSUPPORTED_MEDIA_TYPE, &text);
            return None;
        }
        let path = parts.uri.path();
        let Some((service_name, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            send_trailers_only(&mut respond, &Status::unimplemented(format!("malformed method path {path:?}")));
            return None;
        };
        let Some(entry) = self.services.get(service_name) else {
            crate::observe::server::unknown_service(
                self.observe.as_deref(),
                service_name,
                peer.addr,
                peer.channelz.as_ref(),
                &parts.headers,
            );
            send_trailers_only(&mut respond, &Status::unimplemented(format!("unknown service {service_name}")));
            return None;
        };
        let deadline = match parts.headers.get(wire::GRPC_TIMEOUT) {
            None => None,
            Some(value) => match timeout::decode(value.as_bytes()) {
                // A peer may send up to 99999999H; past what the clock holds it means no deadline.
                Some(timeout) => Instant::now().checked_add(timeout),
                None => {
                    let status = Status::internal(format!("malformed grpc-timeout {value:?}"));
                    send_trailers_only(&mut respond, &status);
                    return None;
                }
            },
        };
        let (mut limits, interceptors) = match &entry.resolved {
            None => (limits, interceptors),
            Some(settings) => (settings.apply(limits), settings.interceptors.as_ref()),
        };
        if let Some(value) = parts.headers.get(wire::GRPC_ENCODING) {
            match Encoding::from_header(value.as_bytes()) {
                Ok(encoding) => limits.request_encoding = encoding,
                Err(name) => {
                    // The answer lists what is supported in grpc-accept-encoding, as every response does.
                    let status = Status::unimplemented(format!("message encoding {name:?} is not supported"));
                    send_trailers_only(&mut respond, &status);
                    return None;
                }
            }
        }
        // Respond in the configured encoding, else the request's, but only in one the client accepts.
        let accept = parts.headers.get(wire::GRPC_ACCEPT_ENCODING).map(|v| v.as_bytes()).unwrap_or_default();
        limits.accepted = crate::compression::Accepted::from_header(accept);
        limits.response_encoding = limits.accepted.filter(limits.response_encoding.or(limits.request_encoding));
        let metadata = MetadataMap::from_headers(parts.headers);
        if let Err(error) = metadata.validate() {
            send_trailers_only(&mut respond, &Status::internal(error.to_string()));
            return None;
        }
        let method = method.to_owned();
        let service = &entry.service;
        let call = ServerCall {
            metadata,
            body,
            respond,
            deadline,
            peer: peer.clone(),
            limits,
            service: service.name(),
            interceptors: interceptors.cloned(),
            budget: budget.clone(),
            observe: self.observe.clone(),
        };
        Some(service.call(&method, call))
    }
}

/// `application/grpc` or `application/grpc+proto`, with or without parameters: the content types whose
/// messages are protobuf. Other subtypes (`+json`) are gRPC we do not speak.
fn is_protobuf_grpc(content_type: &[u8]) -> bool {
    let Some(rest) = content_type.strip_prefix(wire::CONTENT_TYPE_PREFIX.as_bytes()) else { return false };
    let subtype = rest.split(|&b| b == b';').next().unwrap_or_default();
    subtype.is_empty() || subtype.eq_ignore_ascii_case(b"+proto")
}

/// A plain HTTP answer for a request that is not gRPC.
fn reply_http(respond: &mut h2::server::SendResponse<Bytes>, status: http::StatusCode, text: &str) {
    let mut head = http::Response::new(());
    *head.status_mut() = status;
    head.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    if let Ok(mut send) = respond.send_response(head, false) {
        let _ = send.send_data(Bytes::copy_from_slice(text.as_bytes()), true);
    }
}
