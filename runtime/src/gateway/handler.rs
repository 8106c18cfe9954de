//! The one handler of the gateway: every route, of any call kind, with or without interceptors, builds its
//! request, calls the service within the deadline and answers through [`Handler`]. What differs between the
//! four kinds (one request message or a stream; one response message or a stream) is a [`Kind`], as the
//! gRPC server's runner does it. The constructors generated code calls ([`Route::unary`], ...) are here.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use futures_core::Stream;

use super::body::GatewayBody;
use super::request::{single_request, stream_request};
use super::response::{stream_response, unary_response, within};
use super::route::{Call, Handle, HandlerFuture, Input, RawBody, Route, RouteSpec};
use crate::interceptor::{run, Interceptors, MessageStream, MethodInfo, MethodKind};
use crate::json::JsonMessage;
use crate::request::Request;
use crate::response::Response;
use crate::status::Status;
use crate::streaming::Streaming;

/// A call kind as the gateway runs it.
pub(crate) trait Kind<Req, Res>: 'static {
    const KIND: MethodKind;
    /// Where the request's messages come from.
    const INPUT: Input;
    /// What the service takes: the request message, or a stream of them.
    type Input: Send + 'static;
    /// What the service answers: the response message, or a stream of them.
    type Output: Send + 'static;
    /// What the answer is written from: the response message, or a boxed stream of them (the service's
    /// own or one through the interceptors).
    type Answer: Send + 'static;

    /// The service's request and the call's deadline, from the HTTP request.
    fn input(call: &Call, spec: &'static RouteSpec) -> Result<(Request<Self::Input>, Option<Instant>), Status>;

    /// The service's response as the answer is written from it, without interceptors.
    fn plain(response: Response<Self::Output>) -> Response<Self::Answer>;

    /// Runs `handler` behind the gateway's interceptors.
    fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Self::Input>,
        handler: H,
    ) -> impl Future<Output = Result<Response<Self::Answer>, Status>> + Send
    where
        H: FnOnce(Request<Self::Input>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Self::Output>, Status>> + Send + 'static;

    /// The HTTP answer to a call that succeeded.
    fn answer(
        response: Response<Self::Answer>,
        call: Call,
        spec: &'static RouteSpec,
        deadline: Option<Instant>,
    ) -> impl Future<Output = http::Response<GatewayBody>> + Send;
}

/// The handler of a route of kind `K`, calling the service through `handler`.
struct Handler<K, F, Req, Res> {
    handler: Arc<F>,
    spec: &'static RouteSpec,
    _kind: PhantomData<fn(K, Req) -> Res>,
}

impl<K, F, Req, Res, Fut> Handle for Handler<K, F, Req, Res>
where
    K: Kind<Req, Res>,
    Req: 'static,
    Res: 'static,
    F: Fn(Request<K::Input>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<K::Output>, Status>> + Send + 'static,
{
    fn handle(&self, call: Call) -> HandlerFuture {
        let (request, deadline) = match K::input(&call, self.spec) {
            Ok(prepared) => prepared,
            Err(status) => return Box::pin(std::future::ready(call.error(&status))),
        };
        let (spec, handler) = (self.spec, self.handler.clone());
        let chain = chain(&call, spec, K::KIND);
        let work = async move {
            match chain {
                None => Ok(K::plain(handler(request).await?)),
                Some((chain, info)) => K::intercept(chain, info, request, move |request| handler(request)).await,
            }
        };
        Box::pin(async move {
            match within(deadline, work).await {
                Ok(response) => K::answer(response, call, spec, deadline).await,
                Err(status) => call.error(&status),
            }
        })
    }
}

fn route<K, F, Req, Res, Fut>(spec: &'static RouteSpec, handler: F) -> Route
where
    K: Kind<Req, Res>,
    Req: 'static,
    Res: 'static,
    F: Fn(Request<K::Input>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<K::Output>, Status>> + Send + 'static,
{
    let handler = Handler::<K, F, Req, Res> { handler: Arc::new(handler), spec, _kind: PhantomData };
    Route { spec, input: K::INPUT, kind: K::KIND, handler: Arc::new(handler), raw: RawBody::default() }
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
        route::<Unary, F, Req, Res, Fut>(spec, handler)
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
        route::<ServerStreaming<S>, F, Req, Res, Fut>(spec, handler)
    }

    /// A client-streaming method: the body's concatenated JSON objects in, one message out.
    pub fn client_streaming<Req, Res, F, Fut>(spec: &'static RouteSpec, handler: F) -> Route
    where
        Req: JsonMessage + prost::Message + Default + Send + 'static,
        Res: JsonMessage + prost::Message + Send + 'static,
        F: Fn(Request<Streaming<Req>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
    {
        route::<ClientStreaming, F, Req, Res, Fut>(spec, handler)
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
        route::<Bidi<S>, F, Req, Res, Fut>(spec, handler)
    }
}

/// The gateway's interceptor chain for a route of `kind`, if it has interceptors of that kind.
fn chain(call: &Call, spec: &'static RouteSpec, kind: MethodKind) -> Option<(Arc<Interceptors>, MethodInfo)> {
    Interceptors::for_call(call.options.interceptors.as_ref(), MethodInfo::from_path(spec.rpc, kind))
}

/// A stream of responses, whichever way it was made.
type BoxStream<T> = crate::server::BoxStream<T>;

/// One message in, one out.
struct Unary;
/// One message in, a stream of `St` out.
struct ServerStreaming<St>(PhantomData<fn() -> St>);
/// A stream in, one message out.
struct ClientStreaming;
/// Streams both ways.
struct Bidi<St>(PhantomData<fn() -> St>);

impl<Req, Res> Kind<Req, Res> for Unary
where
    Req: JsonMessage + prost::Message + Send + 'static,
    Res: JsonMessage + prost::Message + Send + 'static,
{
    const KIND: MethodKind = MethodKind::Unary;
    const INPUT: Input = Input::Single;
    type Input = Req;
    type Output = Res;
    type Answer = Res;

    fn input(call: &Call, spec: &'static RouteSpec) -> Result<(Request<Req>, Option<Instant>), Status> {
        single_request(call, spec)
    }

    fn plain(response: Response<Res>) -> Response<Res> {
        response
    }

    fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Req>,
        handler: H,
    ) -> impl Future<Output = Result<Response<Res>, Status>> + Send
    where
        H: FnOnce(Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
    {
        run::unary(chain, info, request, handler)
    }

    async fn answer(
        response: Response<Res>,
        call: Call,
        spec: &'static RouteSpec,
        _deadline: Option<Instant>,
    ) -> http::Response<GatewayBody> {
        unary_response(response, spec, &call)
    }
}

impl<Req, Res, St> Kind<Req, Res> for ServerStreaming<St>
where
    Req: JsonMessage + prost::Message + Send + 'static,
    Res: JsonMessage + prost::Message + Send + 'static,
    St: Stream<Item = Result<Res, Status>> + Send + 'static,
{
    const KIND: MethodKind = MethodKind::ServerStreaming;
    const INPUT: Input = Input::Single;
    type Input = Req;
    type Output = St;
    type Answer = BoxStream<Res>;

    fn input(call: &Call, spec: &'static RouteSpec) -> Result<(Request<Req>, Option<Instant>), Status> {
        single_request(call, spec)
    }

    fn plain(response: Response<St>) -> Response<BoxStream<Res>> {
        boxed_stream(response)
    }

    async fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Req>,
        handler: H,
    ) -> Result<Response<BoxStream<Res>>, Status>
    where
        H: FnOnce(Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<St>, Status>> + Send + 'static,
    {
        let request = request.map(|message| MessageStream::once(run::boxed(message)));
        let last = move |mut request: Request<MessageStream>| async move {
            let stream = std::mem::replace(request.get_mut(), MessageStream::empty());
            let message = run::single::<Req>(stream, info, "request").await?;
            Ok(handler(request.map(|_| message)).await?.map(MessageStream::from_typed))
        };
        let response = run::stream(chain, info, request, last).await?;
        Ok(boxed_stream(response.map(|stream| stream.into_typed::<Res>(info))))
    }

    async fn answer(
        response: Response<BoxStream<Res>>,
        call: Call,
        spec: &'static RouteSpec,
        deadline: Option<Instant>,
    ) -> http::Response<GatewayBody> {
        stream_response(response, &call, spec, deadline).await
    }
}

impl<Req, Res> Kind<Req, Res> for ClientStreaming
where
    Req: JsonMessage + prost::Message + Default + Send + 'static,
    Res: JsonMessage + prost::Message + Send + 'static,
{
    const KIND: MethodKind = MethodKind::ClientStreaming;
    const INPUT: Input = Input::Stream;
    type Input = Streaming<Req>;
    type Output = Res;
    type Answer = Res;

    fn input(call: &Call, _spec: &'static RouteSpec) -> Result<(Request<Streaming<Req>>, Option<Instant>), Status> {
        stream_request(call)
    }

    fn plain(response: Response<Res>) -> Response<Res> {
        response
    }

    async fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Streaming<Req>>,
        handler: H,
    ) -> Result<Response<Res>, Status>
    where
        H: FnOnce(Request<Streaming<Req>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
    {
        let output = |response: Response<Res>| response.map(|message| MessageStream::once(run::boxed(message)));
        let mut response = intercept_stream_input(chain, info, request, handler, output).await?;
        let stream = std::mem::replace(response.get_mut(), MessageStream::empty());
        let message = run::single::<Res>(stream, info, "response").await?;
        Ok(response.map(|_| message))
    }

    async fn answer(
        response: Response<Res>,
        call: Call,
        spec: &'static RouteSpec,
        _deadline: Option<Instant>,
    ) -> http::Response<GatewayBody> {
        unary_response(response, spec, &call)
    }
}

impl<Req, Res, St> Kind<Req, Res> for Bidi<St>
where
    Req: JsonMessage + prost::Message + Default + Send + 'static,
    Res: JsonMessage + prost::Message + Send + 'static,
    St: Stream<Item = Result<Res, Status>> + Send + 'static,
{
    const KIND: MethodKind = MethodKind::BidiStreaming;
    const INPUT: Input = Input::Stream;
    type Input = Streaming<Req>;
    type Output = St;
    type Answer = BoxStream<Res>;

    fn input(call: &Call, _spec: &'static RouteSpec) -> Result<(Request<Streaming<Req>>, Option<Instant>), Status> {
        stream_request(call)
    }

    fn plain(response: Response<St>) -> Response<BoxStream<Res>> {
        boxed_stream(response)
    }

    async fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Streaming<Req>>,
        handler: H,
    ) -> Result<Response<BoxStream<Res>>, Status>
    where
        H: FnOnce(Request<Streaming<Req>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<St>, Status>> + Send + 'static,
    {
        let output = |response: Response<St>| response.map(MessageStream::from_typed);
        let response = intercept_stream_input(chain, info, request, handler, output).await?;
        Ok(boxed_stream(response.map(|stream| stream.into_typed::<Res>(info))))
    }

    async fn answer(
        response: Response<BoxStream<Res>>,
        call: Call,
        spec: &'static RouteSpec,
        deadline: Option<Instant>,
    ) -> http::Response<GatewayBody> {
        stream_response(response, &call, spec, deadline).await
    }
}

/// Runs a service that takes the request stream (client-streaming, bidirectional) behind the stream
/// interceptors; `output` boxes its response's messages for them.
async fn intercept_stream_input<Req, O, H, Fut>(
    chain: Arc<Interceptors>,
    info: MethodInfo,
    request: Request<Streaming<Req>>,
    handler: H,
    output: fn(Response<O>) -> Response<MessageStream>,
) -> Result<Response<MessageStream>, Status>
where
    Req: prost::Message + Default + Send + 'static,
    O: Send + 'static,
    H: FnOnce(Request<Streaming<Req>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<O>, Status>> + Send + 'static,
{
    let last = move |request: Request<MessageStream>| async move {
        let request = request.map(|stream| Streaming::from_stream(stream.into_typed::<Req>(info), None));
        Ok(output(handler(request).await?))
    };
    run::stream(chain, info, request.map(MessageStream::from_typed), last).await
}

fn boxed_stream<T, S>(response: Response<S>) -> Response<BoxStream<T>>
where
    S: Stream<Item = Result<T, Status>> + Send + 'static,
{
    response.map(|stream| Box::pin(stream) as BoxStream<T>)
}
