//! Routes: one `google.api.http` binding (method, template, body and response-body rules, the fields its
//! path and query can set) and the handler that calls the service for it, for each of the four call
//! kinds. Generated code builds them; [`Gateway`](super::Gateway) serves them.

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use serde_json::Value;

use super::body::{self, GatewayBody};
use super::fields::{request_json, BodyRule, FieldSpec};
use super::options::{Options, ResponseField};
use super::{errors, headers};
use crate::interceptor::{run, Interceptors, MessageStream, MethodInfo, MethodKind};
use crate::json::{from_json_with, JsonMessage};
use crate::request::Request;
use crate::response::Response;
use crate::status::Status;
use crate::streaming::Streaming;

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
    pub(crate) path_values: Vec<(String, String)>,
    pub(crate) options: Arc<Options>,
    pub(crate) peer: Option<SocketAddr>,
    /// The client asked for Server-Sent Events.
    pub(crate) sse: bool,
    /// Set when a streaming body stalled past the read timeout, so its error is answered 408 rather than
    /// as the gRPC code's 504.
    pub(crate) body_timed_out: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl Call {
    /// The error answer for this call: 408 when the body stalled, else the code's HTTP status.
    pub(crate) fn error(&self, status: &Status) -> http::Response<GatewayBody> {
        let mut response = error_response(status, &self.options);
        let stalled = self.body_timed_out.as_ref().is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed));
        if stalled && status.code() == crate::status::Code::DeadlineExceeded {
            *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
        }
        response
    }
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
    pub(crate) handler: Arc<dyn Handle>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route").field("method", &self.spec.method).field("template", &self.spec.template).finish()
    }
}

impl Route {
    /// A unary method: one message in, one out.
    pub fn unary<Req, Res, F, Fut>(spec: &'static RouteSpec, handler: F) -> Route
    where
        Req: JsonMessage + prost::Message + Send + 'static,
        Res: JsonMessage + prost::Message + Send + 'static,
        F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
    {
        Route {
            spec,
            input: Input::Single,
            handler: Arc::new(Unary { handler: Arc::new(handler), spec, _types: PhantomData }),
        }
    }

    /// A server-streaming method: one message in, a stream out (newline-delimited JSON, or Server-Sent
    /// Events for `Accept: text/event-stream`).
    pub fn server_streaming<Req, Res, S, F, Fut>(spec: &'static RouteSpec, handler: F) -> Route
    where
        Req: JsonMessage + prost::Message + Send + 'static,
        Res: JsonMessage + prost::Message + Send + 'static,
        S: Stream<Item = Result<Res, Status>> + Send + 'static,
        F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
    {
        Route {
            spec,
            input: Input::Single,
            handler: Arc::new(ServerStreaming { handler: Arc::new(handler), spec, _types: PhantomData }),
        }
    }

    /// A client-streaming method: the body's concatenated JSON objects in, one message out.
    pub fn client_streaming<Req, Res, F, Fut>(spec: &'static RouteSpec, handler: F) -> Route
    where
        Req: JsonMessage + prost::Message + Default + Send + 'static,
        Res: JsonMessage + prost::Message + Send + 'static,
        F: Fn(Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
    {
        Route {
            spec,
            input: Input::Stream,
            handler: Arc::new(ClientStreaming { handler: Arc::new(handler), spec, _types: PhantomData }),
        }
    }

    /// A bidirectional-streaming method: the body's JSON objects in, a stream out.
    pub fn bidi_streaming<Req, Res, S, F, Fut>(spec: &'static RouteSpec, handler: F) -> Route
    where
        Req: JsonMessage + prost::Message + Default + Send + 'static,
        Res: JsonMessage + prost::Message + Send + 'static,
        S: Stream<Item = Result<Res, Status>> + Send + 'static,
        F: Fn(Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
    {
        Route {
            spec,
            input: Input::Stream,
            handler: Arc::new(BidiStreaming { handler: Arc::new(handler), spec, _types: PhantomData }),
        }
    }

    /// The binding.
    pub fn spec(&self) -> &'static RouteSpec {
        self.spec
    }
}

/// The request's metadata and deadline, and the request message built from path, query and body.
fn single_request<Req: JsonMessage>(call: &Call, spec: &RouteSpec) -> Result<(Request<Req>, Option<Instant>), Status> {
    let (metadata, deadline) = incoming_metadata(call)?;
    let body = match spec.body {
        BodyRule::None => None,
        _ if call.body.iter().all(u8::is_ascii_whitespace) => None,
        _ => Some(parse_body(&call.body)?),
    };
    let query = call.head.uri.query();
    let (mut json, params) =
        request_json(spec.body, body, query, spec.query_fields, &call.path_values, spec.path_fields)?;
    if let (Some(mask), BodyRule::Field(body_field)) = (spec.update_mask, spec.body) {
        fill_update_mask(&mut json, &params, mask, body_field);
    }
    let invalid = |e: crate::json::JsonError| Status::invalid_argument(format!("invalid request: {e}"));
    if call.options.read.ignore_unknown && params.as_object().is_some_and(|p| !p.is_empty()) {
        let strict = crate::json::JsonOptions { ignore_unknown: false, ..call.options.read.clone() };
        from_json_with::<Req>(&params.to_string(), &strict).map_err(invalid)?;
    }
    let message: Req = from_json_with(&json.to_string(), &call.options.read).map_err(invalid)?;
    Ok((into_request(message, metadata, deadline, call.peer), deadline))
}

/// The request's metadata and deadline, and the messages of its body: JSON objects one after another.
fn stream_request<Req: JsonMessage + prost::Message + Default + 'static>(
    call: &Call,
) -> Result<(Request<Streaming<Req>>, Option<Instant>), Status> {
    let (metadata, deadline) = incoming_metadata(call)?;
    let streamed = call.stream.lock().unwrap_or_else(|e| e.into_inner()).take();
    let chunks = streamed.unwrap_or_else(|| Box::pin(futures_util::stream::iter([Ok(call.body.clone())])));
    let options = call.options.clone();
    let mut index = 0;
    let messages =
        futures_util::StreamExt::map(super::input::json_values(chunks, options.max_body_size), move |value| {
            let at = index;
            index += 1;
            let value = value
                .map_err(|e| Status::new(e.code(), format!("message {at} of the request body: {}", e.message())))?;
            from_json_with::<Req>(&value.to_string(), &options.read)
                .map_err(|e| Status::invalid_argument(format!("message {at} of the request body: {e}")))
        });
    let stream = Streaming::from_stream(messages, None);
    Ok((into_request(stream, metadata, deadline, call.peer), deadline))
}

fn into_request<T>(
    message: T,
    metadata: crate::metadata::MetadataMap,
    deadline: Option<Instant>,
    peer: Option<SocketAddr>,
) -> Request<T> {
    let mut request = Request::new(message).with_deadline(deadline);
    *request.metadata_mut() = metadata;
    request.set_peer(peer);
    request
}

/// Sets the field mask to the paths the body gives, unless the query set it.
fn fill_update_mask(json: &mut Value, params: &Value, mask: UpdateMask, body_field: &str) {
    if params.get(mask.field).is_some() {
        return;
    }
    // Keys may be JSON (`pageCount`) or proto names (`page_count`); a mask's JSON form is camelCase. A key
    // that is neither stays as it is (the backend says what is wrong with it).
    fn camel(key: &str) -> String {
        crate::well_known::camel_path(key).unwrap_or_else(|| key.to_owned())
    }
    fn snake(path: &str) -> String {
        crate::well_known::snake_path(path).unwrap_or_else(|| path.to_owned())
    }
    fn paths(object: &serde_json::Map<String, Value>, prefix: &str, messages: &[&str], out: &mut Vec<String>) {
        for (key, value) in object {
            let key = camel(key);
            let path = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
            let proto_path = snake(&path);
            match value {
                Value::Object(inner) if messages.contains(&proto_path.as_str()) => paths(inner, &path, messages, out),
                _ => out.push(path),
            }
        }
    }
    let Some(Value::Object(body)) = json.get(body_field) else { return };
    let mut found = Vec::new();
    paths(body, "", mask.messages, &mut found);
    found.sort();
    if let Some(root) = json.as_object_mut() {
        root.insert(mask.field.to_owned(), Value::String(found.join(",")));
    }
}

/// The request's metadata and deadline from its headers.
fn incoming_metadata(call: &Call) -> Result<(crate::metadata::MetadataMap, Option<Instant>), Status> {
    let authority = call.head.uri.authority().map(|a| a.as_str());
    let options = &call.options;
    headers::incoming(
        &call.head.headers,
        authority,
        options.header_matcher.as_ref(),
        call.peer,
        options.trust_forwarded,
    )
}

fn parse_body(body: &[u8]) -> Result<Value, Status> {
    serde_json::from_slice(body)
        .map_err(|e| Status::invalid_argument(format!("the request body is not valid JSON: {e}")))
}

/// Runs the service's future within the request's deadline (`Grpc-Timeout`): every call past its deadline
/// gets the same status, in process or through a proxied call whose own deadline error reads differently.
async fn within<T>(deadline: Option<Instant>, work: impl Future<Output = Result<T, Status>>) -> Result<T, Status> {
    crate::timeout::within(deadline, work, errors::deadline_passed).await
}

/// A successful unary answer: the message (or its `response_body` field) as JSON, metadata as headers.
fn unary_response<Res: JsonMessage>(
    response: Response<Res>,
    spec: &RouteSpec,
    call: &Call,
) -> http::Response<GatewayBody> {
    let (metadata, message, trailers) = response.into_parts();
    let json = match body::message_json(&message, spec.response_body, &call.options.write) {
        Ok(json) => json,
        Err(status) => return call.error(&status),
    };
    let mut response = http::Response::new(body::full(json));
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers::outgoing(headers, metadata, trailers);
    response
}

/// An error answer: grpc-gateway's HTTP status for the code, the status as JSON, its metadata as
/// `Grpc-Trailer-*` headers.
pub(crate) fn error_response(status: &Status, options: &Options) -> http::Response<GatewayBody> {
    let mut response = http::Response::new(body::full(errors::error_json(status, &options.write)));
    *response.status_mut() = errors::http_status(status.code());
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers::outgoing(headers, crate::metadata::MetadataMap::new(), status.metadata().clone());
    response
}

/// A streaming answer: the header metadata, then each message as it comes. A stream that fails before its
/// first message is answered like any failed call, with the error's HTTP status (as grpc-gateway does).
async fn stream_response<Res, S>(
    response: Response<S>,
    call: &Call,
    spec: &RouteSpec,
    deadline: Option<Instant>,
) -> http::Response<GatewayBody>
where
    Res: JsonMessage + Send + 'static,
    S: Stream<Item = Result<Res, Status>> + Send + 'static,
{
    let (metadata, stream, trailers) = response.into_parts();
    let mut stream = Box::pin(stream);
    let first = within(deadline, async { Ok(futures_util::StreamExt::next(&mut stream).await) }).await;
    let first = match first {
        Ok(Some(Err(status))) | Err(status) => return call.error(&status),
        Ok(first) => first,
    };
    let stream = futures_util::StreamExt::chain(futures_util::stream::iter(first), stream);
    let content_type = if call.sse { "text/event-stream" } else { "application/json" };
    let body = body::messages(stream, call.options.clone(), spec.response_body, call.sse, deadline, trailers);
    let mut response = http::Response::new(body);
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    if call.sse {
        headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    }
    headers::outgoing(headers, metadata, crate::metadata::MetadataMap::new());
    response
}

/// Calls the service with a prepared request, within its deadline, and answers with `respond` (or the
/// error).
fn run<T, R, Fut, Answer, A>(
    call: Call,
    prepared: Result<(Request<T>, Option<Instant>), Status>,
    work: impl FnOnce(Request<T>) -> Fut,
    respond: A,
) -> HandlerFuture
where
    Fut: Future<Output = Result<R, Status>> + Send + 'static,
    R: Send + 'static,
    A: FnOnce(R, Call, Option<Instant>) -> Answer + Send + 'static,
    Answer: Future<Output = http::Response<GatewayBody>> + Send,
{
    let (request, deadline) = match prepared {
        Ok(prepared) => prepared,
        Err(status) => return Box::pin(std::future::ready(call.error(&status))),
    };
    let work = work(request);
    Box::pin(async move {
        match within(deadline, work).await {
            Ok(response) => respond(response, call, deadline).await,
            Err(status) => call.error(&status),
        }
    })
}

/// The gateway's interceptor chain for a route of `kind`, if it has interceptors of that kind.
fn chain(call: &Call, spec: &'static RouteSpec, kind: MethodKind) -> Option<(Arc<Interceptors>, MethodInfo)> {
    let chain = call.options.interceptors.as_ref()?;
    let has = if kind == MethodKind::Unary { chain.has_unary() } else { chain.has_stream() };
    has.then(|| (chain.clone(), MethodInfo::from_path(spec.rpc, kind)))
}

/// A stream of responses, whichever way it was made.
type BoxStream<T> = crate::server::BoxStream<T>;

fn boxed_stream<T, S>(response: Response<S>) -> Response<BoxStream<T>>
where
    S: Stream<Item = Result<T, Status>> + Send + 'static,
{
    response.map(|stream| Box::pin(stream) as BoxStream<T>)
}

struct Unary<F, Req, Res> {
    handler: Arc<F>,
    spec: &'static RouteSpec,
    _types: PhantomData<fn(Req) -> Res>,
}

impl<F, Req, Res, Fut> Handle for Unary<F, Req, Res>
where
    Req: JsonMessage + prost::Message + Send + 'static,
    Res: JsonMessage + prost::Message + Send + 'static,
    F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
{
    fn handle(&self, call: Call) -> HandlerFuture {
        let prepared = single_request::<Req>(&call, self.spec);
        let (spec, handler) = (self.spec, self.handler.clone());
        let chain = chain(&call, spec, MethodKind::Unary);
        run(
            call,
            prepared,
            move |request| async move {
                match chain {
                    None => handler(request).await,
                    Some((chain, info)) => run::unary(chain, info, request, move |r| handler(r)).await,
                }
            },
            move |response, call, _deadline| async move { unary_response(response, spec, &call) },
        )
    }
}

struct ServerStreaming<F, Req, Res> {
    handler: Arc<F>,
    spec: &'static RouteSpec,
    _types: PhantomData<fn(Req) -> Res>,
}

impl<F, Req, Res, S, Fut> Handle for ServerStreaming<F, Req, Res>
where
    Req: JsonMessage + prost::Message + Send + 'static,
    Res: JsonMessage + prost::Message + Send + 'static,
    S: Stream<Item = Result<Res, Status>> + Send + 'static,
    F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
{
    fn handle(&self, call: Call) -> HandlerFuture {
        let prepared = single_request::<Req>(&call, self.spec);
        let (spec, handler) = (self.spec, self.handler.clone());
        let chain = chain(&call, spec, MethodKind::ServerStreaming);
        run(
            call,
            prepared,
            move |request| async move {
                let Some((chain, info)) = chain else { return Ok(boxed_stream(handler(request).await?)) };
                let request = request.map(|message| MessageStream::once(run::boxed(message)));
                let last = move |mut request: Request<MessageStream>| async move {
                    let stream = std::mem::replace(request.get_mut(), MessageStream::empty());
                    let message = run::single::<Req>(stream, info, "request").await?;
                    Ok(handler(request.map(|_| message)).await?.map(MessageStream::from_typed))
                };
                let response = run::stream(chain, info, request, last).await?;
                Ok(boxed_stream(response.map(|stream| stream.into_typed::<Res>(info))))
            },
            move |response, call, deadline| async move { stream_response(response, &call, spec, deadline).await },
        )
    }
}

struct ClientStreaming<F, Req, Res> {
    handler: Arc<F>,
    spec: &'static RouteSpec,
    _types: PhantomData<fn(Req) -> Res>,
}

impl<F, Req, Res, Fut> Handle for ClientStreaming<F, Req, Res>
where
    Req: JsonMessage + prost::Message + Default + Send + 'static,
    Res: JsonMessage + prost::Message + Send + 'static,
    F: Fn(Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
{
    fn handle(&self, call: Call) -> HandlerFuture {
        let prepared = stream_request::<Req>(&call);
        let (spec, handler) = (self.spec, self.handler.clone());
        let chain = chain(&call, spec, MethodKind::ClientStreaming);
        run(
            call,
            prepared,
            move |request| async move {
                let Some((chain, info)) = chain else { return handler(request).await };
                let last = move |request: Request<MessageStream>| async move {
                    let request = request.map(|stream| Streaming::from_stream(stream.into_typed::<Req>(info), None));
                    let response = handler(request).await?;
                    Ok(response.map(|message| MessageStream::once(run::boxed(message))))
                };
                let mut response = run::stream(chain, info, request.map(MessageStream::from_typed), last).await?;
                let stream = std::mem::replace(response.get_mut(), MessageStream::empty());
                let message = run::single::<Res>(stream, info, "response").await?;
                Ok(response.map(|_| message))
            },
            move |response, call, _deadline| async move { unary_response(response, spec, &call) },
        )
    }
}

struct BidiStreaming<F, Req, Res> {
    handler: Arc<F>,
    spec: &'static RouteSpec,
    _types: PhantomData<fn(Req) -> Res>,
}

impl<F, Req, Res, S, Fut> Handle for BidiStreaming<F, Req, Res>
where
    Req: JsonMessage + prost::Message + Default + Send + 'static,
    Res: JsonMessage + prost::Message + Send + 'static,
    S: Stream<Item = Result<Res, Status>> + Send + 'static,
    F: Fn(Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<S>, Status>> + Send + 'static,
{
    fn handle(&self, call: Call) -> HandlerFuture {
        let prepared = stream_request::<Req>(&call);
        let (spec, handler) = (self.spec, self.handler.clone());
        let chain = chain(&call, spec, MethodKind::BidiStreaming);
        run(
            call,
            prepared,
            move |request| async move {
                let Some((chain, info)) = chain else { return Ok(boxed_stream(handler(request).await?)) };
                let last = move |request: Request<MessageStream>| async move {
                    let request = request.map(|stream| Streaming::from_stream(stream.into_typed::<Req>(info), None));
                    Ok(handler(request).await?.map(MessageStream::from_typed))
                };
                let response = run::stream(chain, info, request.map(MessageStream::from_typed), last).await?;
                Ok(boxed_stream(response.map(|stream| stream.into_typed::<Res>(info))))
            },
            move |response, call, deadline| async move { stream_response(response, &call, spec, deadline).await },
        )
    }
}

/// The messages of a streaming request read from its body, for a generated client (proxy mode): each
/// message as it arrives; a body that turns out bad (malformed JSON, over the limit) hands its error to
/// `failed` and then never ends, so the call it feeds is cancelled rather than completed with what came.
#[derive(Debug)]
pub struct BodyMessages<T> {
    inner: Streaming<T>,
    failed: Option<tokio::sync::oneshot::Sender<Status>>,
}

impl<T: prost::Message + Default> Stream for BodyMessages<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
        let this = &mut *self;
        if this.failed.is_none() {
            return std::task::Poll::Pending;
        }
        match std::task::ready!(Pin::new(&mut this.inner).poll_next(cx)) {
            Some(Ok(message)) => std::task::Poll::Ready(Some(message)),
            Some(Err(status)) => {
                if let Some(failed) = this.failed.take() {
                    let _ = failed.send(status);
                }
                std::task::Poll::Pending
            }
            None => std::task::Poll::Ready(None),
        }
    }
}

fn body_messages<T>(stream: Streaming<T>) -> (BodyMessages<T>, tokio::sync::oneshot::Receiver<Status>) {
    let (failed, failure) = tokio::sync::oneshot::channel();
    (BodyMessages { inner: stream, failed: Some(failed) }, failure)
}

/// A client-streaming call through a generated client (proxy mode): the request's messages are sent as
/// they arrive; a bad body cancels the call and is its error.
pub async fn client_streaming_proxy<Req, Res, F, Fut>(
    request: Request<Streaming<Req>>,
    call: F,
) -> Result<Response<Res>, Status>
where
    Req: prost::Message + Default + 'static,
    F: FnOnce(Request<BodyMessages<Req>>) -> Fut,
    Fut: Future<Output = Result<Response<Res>, Status>>,
{
    let mut failure = None;
    let request = request.map(|stream| {
        let (messages, failed) = body_messages(stream);
        failure = Some(failed);
        messages
    });
    let failure = failure.expect("set by map");
    tokio::select! {
        result = call(request) => result,
        Ok(status) = failure => Err(status),
    }
}

/// A bidirectional call through a generated client (proxy mode): opens it with the request's metadata,
/// sends the request's messages from a task as they arrive, and returns the responses; a bad body ends
/// the responses with its error and cancels the call.
pub async fn bidi_proxy<Req, Res, F, Fut>(
    request: Request<Streaming<Req>>,
    open: F,
) -> Result<Response<ProxyResponses<Res>>, Status>
where
    Req: prost::Message + Default + Send + 'static,
    Res: prost::Message + Default + 'static,
    F: FnOnce(Request<()>) -> Fut,
    Fut: Future<Output = Result<(crate::client::Sender<Req>, Streaming<Res>), Status>>,
{
    let mut messages = None;
    let head = request.map(|stream| messages = Some(stream));
    let messages = messages.expect("set by map");
    let (sender, responses) = open(head).await?;
    let (failed, failure) = tokio::sync::oneshot::channel();
    tokio::spawn(forward(messages, sender, failed));
    Ok(Response::new(ProxyResponses { inner: Some(responses), failure: Some(failure) }))
}

/// Sends a bidirectional proxy call's request messages as the body yields them, and always ends, so no
/// task outlives its request: the body's end closes the request stream; a bad or aborted body hands its
/// error to the responses (which end with it and drop the call) and drops the sender without closing it,
/// which cancels the call (RST_STREAM CANCEL) rather than completing it with what came; and the responses
/// being dropped (the client went away, the gateway closed the connection) ends it whatever it waited for.
async fn forward<Req: prost::Message + Default + 'static>(
    mut messages: Streaming<Req>,
    mut sender: crate::client::Sender<Req>,
    mut failed: tokio::sync::oneshot::Sender<Status>,
) {
    let pump = async {
        while let Some(message) = messages.message().await.transpose() {
            match message {
                Ok(message) => {
                    if sender.send(message).await.is_err() {
                        // The call ended; its responses have the status.
                        return Ok(());
                    }
                }
                Err(status) => return Err(status),
            }
        }
        sender.close();
        Ok(())
    };
    let outcome = tokio::select! {
        outcome = pump => outcome,
        () = failed.closed() => return,
    };
    if let Err(status) = outcome {
        // The error first, so the responses end with it rather than with the reset that dropping the
        // sender (unclosed) then causes.
        let _ = failed.send(status);
        drop(sender);
    }
}

/// The responses of a bidirectional call through the proxy, ended by the request body's error if it has one.
#[derive(Debug)]
pub struct ProxyResponses<T> {
    /// `None` once ended by a body error (dropping it cancels the call).
    inner: Option<Streaming<T>>,
    /// `None` once it answered (the body ended well or badly).
    failure: Option<tokio::sync::oneshot::Receiver<Status>>,
}

impl<T: prost::Message + Default> Stream for ProxyResponses<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else { return std::task::Poll::Ready(None) };
        if let Some(failure) = this.failure.as_mut() {
            if let std::task::Poll::Ready(result) = Pin::new(failure).poll(cx) {
                this.failure = None;
                if let Ok(status) = result {
                    this.inner = None;
                    return std::task::Poll::Ready(Some(Err(status)));
                }
            }
        }
        let next = Pin::new(inner).poll_next(cx);
        if let std::task::Poll::Ready(Some(Err(_)) | None) = next {
            // The body may have failed since the check above; the sender's task reports the failure before
            // it drops the sender (which resets the call), so the body's error is there to say why.
            if let Some(Ok(status)) = this.failure.as_mut().map(|failure| failure.try_recv()) {
                this.failure = None;
                this.inner = None;
                return std::task::Poll::Ready(Some(Err(status)));
            }
        }
        next
    }
}
