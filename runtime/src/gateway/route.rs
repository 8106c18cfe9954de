//! Routes: one `google.api.http` binding (method, template, body and response-body rules, the fields its
//! path and query can set) and the handler that calls the service for it; and what the server hands a
//! handler for one request. Generated code builds routes with the constructors in
//! [`handler`](super::handler) (one per call kind); [`Gateway`](super::Gateway) serves them.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use super::body::GatewayBody;
use super::fields::{BodyRule, FieldSpec};
use super::options::{Options, ResponseField};

/// A PATCH's field mask, filled from the body when the query does not give it (grpc-gateway's PATCH
/// feature): the request field, and the body's message fields whose keys it descends into.
#[derive(Debug, Clone, Copy)]
pub struct UpdateMask {
    /// The mask field's proto name (`update_mask`).
    pub field: &'static str,
    /// Message fields under the body field, dotted.
    pub messages: &'static [&'static str],
}

/// What generated code knows of one HTTP binding of a method.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// The HTTP method (`GET`, ..., or a `custom` rule's kind).
    pub method: &'static str,
    /// The path template.
    pub template: &'static str,
    /// Which part of the request the body is.
    pub body: BodyRule,
    /// The response field sent as the body, if not the whole response.
    pub response_body: Option<ResponseField>,
    /// The fields the path's variables set.
    pub path_fields: &'static [FieldSpec],
    /// The fields query parameters may set.
    pub query_fields: &'static [FieldSpec],
    /// The field mask a PATCH fills from its body.
    pub update_mask: Option<UpdateMask>,
    /// The gRPC method, `/package.Service/Method`.
    pub rpc: &'static str,
}

/// What the server hands a route for one request.
pub(crate) struct Call {
    pub(crate) head: http::request::Parts,
    pub(crate) body: Bytes,
    /// A streaming route's body, read as it arrives (then `body` is empty); in a mutex only so that a
    /// `&Call` can be held across awaits.
    pub(crate) stream: std::sync::Mutex<Option<super::input::ByteStream>>,
    /// A streaming route's messages already split (one per WebSocket text frame); read instead of
    /// `stream` when set.
    pub(crate) frames: std::sync::Mutex<Option<super::input::ValueStream>>,
    pub(crate) path_values: Vec<(String, String)>,
    pub(crate) options: Arc<Options>,
    pub(crate) peer: Option<SocketAddr>,
    /// The client asked for Server-Sent Events.
    pub(crate) sse: bool,
    /// Set when a streaming body stalled past the read timeout, so its error is answered 408 rather than
    /// as the gRPC code's 504.
    pub(crate) body_timed_out: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Which of the route's messages are `google.api.HttpBody`.
    pub(crate) raw: RawBody,
}

/// Which of a route's messages are `google.api.HttpBody`, sent as raw bytes with their content type
/// rather than as JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RawBody {
    /// The body (the whole request, or its body field).
    pub(crate) request: bool,
    /// The response.
    pub(crate) response: bool,
}

pub(crate) type HandlerFuture = Pin<Box<dyn Future<Output = http::Response<GatewayBody>> + Send>>;

/// A route's handler, whatever its message types.
pub(crate) trait Handle: Send + Sync {
    fn handle(&self, call: Call) -> HandlerFuture;
}

/// Whether a route's requests carry one message (path, query and body) or a stream of them (the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    Single,
    Stream,
}

/// One HTTP binding and its handler.
pub struct Route {
    pub(crate) spec: &'static RouteSpec,
    pub(crate) input: Input,
    /// The method's call kind: WebSocket serves only the streaming ones.
    pub(crate) kind: crate::interceptor::MethodKind,
    pub(crate) handler: Arc<dyn Handle>,
    pub(crate) raw: RawBody,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route").field("method", &self.spec.method).field("template", &self.spec.template).finish()
    }
}

impl Route {
    /// Marks the route's body (the whole request for `body: "*"`, else its body field) as a
    /// `google.api.HttpBody`: the request's bytes become its `data` and its `Content-Type` its
    /// `content_type`, whatever they are (grpc-gateway's HttpBody support, for uploads and non-JSON bodies).
    pub fn http_body_request(mut self) -> Route {
        self.raw.request = true;
        self
    }

    /// Marks the route's response as a `google.api.HttpBody`: its `data` is the answer's body and its
    /// `content_type` the answer's `Content-Type` (`application/octet-stream` when empty); a stream of them
    /// is one body of every message's data, typed by the first (downloads).
    pub fn http_body_response(mut self) -> Route {
        self.raw.response = true;
        self
    }

    /// The binding.
    pub fn spec(&self) -> &'static RouteSpec {
        self.spec
    }
}
