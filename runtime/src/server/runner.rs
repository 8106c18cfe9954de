//! The one call runner of the server: every call, of any kind, with or without interceptors, is read,
//! handled under supervision (deadline, cancellation, panics) and answered by [`run`]. What differs between
//! the four kinds (one request message or a stream; one response message or a stream) is a [`Kind`].

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use prost::Message;

use super::call::{
    end_before_headers, read_single, send_trailers_only, send_unary, stream_responses, supervise, CallLimits, Outcome,
    ServerCall,
};
use super::BoxFuture;
use crate::interceptor::{run as chain, Interceptors, MessageStream, MethodInfo, MethodKind};
use crate::observe::server::{Sent, ServerObserver};
use crate::observe::TapSink;
use crate::request::Request;
use crate::response::Response;
use crate::status::Status;
use crate::streaming::Streaming;

/// What a handler answered, directly or through stream interceptors (which hand back boxed messages).
pub(crate) enum Reply<O> {
    Plain(Response<O>),
    Intercepted(Response<MessageStream>, MethodInfo),
}

/// A call kind as the server runs it.
pub(crate) trait Kind<Req, Res>: 'static {
    const KIND: MethodKind;
    /// What the handler takes: the request message, or the request stream.
    type Input: Send + 'static;
    /// What the handler's response carries: the response message, or a stream of them.
    type Output: Send + 'static;

    /// The handler's request, from the call's request stream.
    fn input(request: Request<Streaming<Req>>) -> impl Future<Output = Result<Request<Self::Input>, Status>> + Send;

    /// Runs `handler` behind the server's interceptors.
    fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Streaming<Req>>,
        handler: H,
    ) -> impl Future<Output = Result<Reply<Self::Output>, Status>> + Send
    where
        H: FnOnce(Request<Self::Input>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Self::Output>, Status>> + Send + 'static;

    /// Sends the answer: headers, the message or messages, the trailers; what went out.
    fn send(
        respond: h2::server::SendResponse<Bytes>,
        reply: Reply<Self::Output>,
        limits: CallLimits,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Sent> + Send;
}

/// Runs one call of kind `K`: reads its request, runs the handler (behind the interceptors, if the server
/// has any of the kind) until it answers, the client cancels, the deadline passes or it panics, and sends
/// what came of it. An observed call runs in its span (and, with propagation, its trace context).
pub(crate) fn run<K, Req, Res, S, H, Fut>(
    call: ServerCall,
    method: &'static str,
    service: Arc<S>,
    handler: H,
) -> BoxFuture
where
    K: Kind<Req, Res>,
    S: ?Sized + Send + Sync + 'static,
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    H: FnOnce(Arc<S>, Request<K::Input>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<K::Output>, Status>> + Send + 'static,
{
    let Some(observer) = call.observer(Some(method)) else {
        return Box::pin(run_call::<K, Req, Res, S, H, Fut>(call, method, service, handler, None));
    };
    let span = observer.span().clone();
    let trace = observer.trace();
    let work = run_call::<K, Req, Res, S, H, Fut>(call, method, service, handler, Some(observer));
    match trace {
        Some(trace) => Box::pin(tracing::Instrument::instrument(trace.scope(work), span)),
        None => Box::pin(tracing::Instrument::instrument(work, span)),
    }
}

async fn run_call<K, Req, Res, S, H, Fut>(
    call: ServerCall,
    method: &'static str,
    service: Arc<S>,
    handler: H,
    observer: Option<Arc<ServerObserver>>,
) where
    K: Kind<Req, Res>,
    S: ?Sized + Send + Sync + 'static,
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    H: FnOnce(Arc<S>, Request<K::Input>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<K::Output>, Status>> + Send + 'static,
{
    let interceptors = call.chain(method, K::KIND);
    let (mut request, mut respond, limits, deadline) = call.into_request_stream::<Req>();
    if let Some(observer) = &observer {
        request.get_mut().observe(TapSink::Server(observer.clone()));
    }
    let work = async move {
        match interceptors {
            None => Ok(Reply::Plain(handler(service, K::input(request).await?).await?)),
            Some((interceptors, info)) => {
                K::intercept(interceptors, info, request, move |request| handler(service, request)).await
            }
        }
    };
    let sent = match supervise(work, &mut respond, deadline).await {
        Outcome::Done(Ok(reply)) => K::send(respond, reply, limits, deadline).await,
        Outcome::Done(Err(status)) => {
            send_trailers_only(&mut respond, &status);
            Sent::status(status.code())
        }
        outcome => end_before_headers(&mut respond, outcome),
    };
    if let Some(observer) = observer {
        observer.finish(sent);
    }
}

/// One message in, one out.
pub(crate) struct Unary;
/// One message in, a stream of `St` out.
pub(crate) struct ServerStreaming<St>(PhantomData<fn() -> St>);
/// A stream in, one message out.
pub(crate) struct ClientStreaming;
/// Streams both ways.
pub(crate) struct Bidi<St>(PhantomData<fn() -> St>);

impl<Req, Res> Kind<Req, Res> for Unary
where
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
{
    const KIND: MethodKind = MethodKind::Unary;
    type Input = Req;
    type Output = Res;

    fn input(request: Request<Streaming<Req>>) -> impl Future<Output = Result<Request<Req>, Status>> + Send {
        read_single(request)
    }

    async fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Streaming<Req>>,
        handler: H,
    ) -> Result<Reply<Res>, Status>
    where
        H: FnOnce(Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
    {
        let request = read_single(request).await?;
        Ok(Reply::Plain(chain::unary(chain, info, request, handler).await?))
    }

    fn send(
        respond: h2::server::SendResponse<Bytes>,
        reply: Reply<Res>,
        limits: CallLimits,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Sent> + Send {
        send_single::<Res>(respond, reply, limits, deadline)
    }
}

impl<Req, Res, St> Kind<Req, Res> for ServerStreaming<St>
where
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    St: Stream<Item = Result<Res, Status>> + Send + 'static,
{
    const KIND: MethodKind = MethodKind::ServerStreaming;
    type Input = Req;
    type Output = St;

    fn input(request: Request<Streaming<Req>>) -> impl Future<Output = Result<Request<Req>, Status>> + Send {
        read_single(request)
    }

    async fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Streaming<Req>>,
        handler: H,
    ) -> Result<Reply<St>, Status>
    where
        H: FnOnce(Request<Req>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<St>, Status>> + Send + 'static,
    {
        let request = read_single(request).await?.map(|message| MessageStream::once(chain::boxed(message)));
        let last = move |mut request: Request<MessageStream>| async move {
            let stream = std::mem::replace(request.get_mut(), MessageStream::empty());
            let message = chain::single::<Req>(stream, info, "request").await?;
            Ok(handler(request.map(|_| message)).await?.map(MessageStream::from_typed))
        };
        Ok(Reply::Intercepted(chain::stream(chain, info, request, last).await?, info))
    }

    fn send(
        respond: h2::server::SendResponse<Bytes>,
        reply: Reply<St>,
        limits: CallLimits,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Sent> + Send {
        send_stream::<Res, St>(respond, reply, limits, deadline)
    }
}

impl<Req, Res> Kind<Req, Res> for ClientStreaming
where
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
{
    const KIND: MethodKind = MethodKind::ClientStreaming;
    type Input = Streaming<Req>;
    type Output = Res;

    async fn input(request: Request<Streaming<Req>>) -> Result<Request<Streaming<Req>>, Status> {
        Ok(request)
    }

    async fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Streaming<Req>>,
        handler: H,
    ) -> Result<Reply<Res>, Status>
    where
        H: FnOnce(Request<Streaming<Req>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<Res>, Status>> + Send + 'static,
    {
        let output = |response: Response<Res>| response.map(|message| MessageStream::once(chain::boxed(message)));
        intercept_stream_input(chain, info, request, handler, output).await
    }

    fn send(
        respond: h2::server::SendResponse<Bytes>,
        reply: Reply<Res>,
        limits: CallLimits,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Sent> + Send {
        send_single::<Res>(respond, reply, limits, deadline)
    }
}

impl<Req, Res, St> Kind<Req, Res> for Bidi<St>
where
    Req: Message + Default + Send + 'static,
    Res: Message + Send + 'static,
    St: Stream<Item = Result<Res, Status>> + Send + 'static,
{
    const KIND: MethodKind = MethodKind::BidiStreaming;
    type Input = Streaming<Req>;
    type Output = St;

    async fn input(request: Request<Streaming<Req>>) -> Result<Request<Streaming<Req>>, Status> {
        Ok(request)
    }

    async fn intercept<H, Fut>(
        chain: Arc<Interceptors>,
        info: MethodInfo,
        request: Request<Streaming<Req>>,
        handler: H,
    ) -> Result<Reply<St>, Status>
    where
        H: FnOnce(Request<Streaming<Req>>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<St>, Status>> + Send + 'static,
    {
        intercept_stream_input(chain, info, request, handler, |response: Response<St>| {
            response.map(MessageStream::from_typed)
        })
        .await
    }

    fn send(
        respond: h2::server::SendResponse<Bytes>,
        reply: Reply<St>,
        limits: CallLimits,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Sent> + Send {
        send_stream::<Res, St>(respond, reply, limits, deadline)
    }
}

/// Runs a handler that takes the request stream (client-streaming, bidirectional) behind the stream
/// interceptors; `output` boxes its response's messages for them.
async fn intercept_stream_input<Req, O, H, Fut>(
    chain: Arc<Interceptors>,
    info: MethodInfo,
    request: Request<Streaming<Req>>,
    handler: H,
    output: fn(Response<O>) -> Response<MessageStream>,
) -> Result<Reply<O>, Status>
where
    Req: Message + Default + Send + 'static,
    O: Send + 'static,
    H: FnOnce(Request<Streaming<Req>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<O>, Status>> + Send + 'static,
{
    let last = move |request: Request<MessageStream>| async move {
        let request = request.map(|stream| Streaming::from_stream(stream.into_typed::<Req>(info), None));
        Ok(output(handler(request).await?))
    };
    let response = chain::stream(chain, info, request.map(MessageStream::from_typed), last).await?;
    Ok(Reply::Intercepted(response, info))
}

/// A single response message; through stream interceptors it comes as a stream (of one), sent as such.
async fn send_single<Res: Message + Send + 'static>(
    respond: h2::server::SendResponse<Bytes>,
    reply: Reply<Res>,
    limits: CallLimits,
    deadline: Option<Instant>,
) -> Sent {
    match reply {
        Reply::Plain(response) => send_unary(respond, response, limits, deadline).await,
        Reply::Intercepted(response, info) => {
            let response = response.map(|stream| stream.into_typed::<Res>(info));
            stream_responses(respond, response, limits, deadline).await
        }
    }
}

/// A stream of response messages.
async fn send_stream<Res, St>(
    respond: h2::server::SendResponse<Bytes>,
    reply: Reply<St>,
    limits: CallLimits,
    deadline: Option<Instant>,
) -> Sent
where
    Res: Message + Send + 'static,
    St: Stream<Item = Result<Res, Status>> + Send + 'static,
{
    match reply {
        Reply::Plain(response) => stream_responses(respond, response, limits, deadline).await,
        Reply::Intercepted(response, info) => {
            let response = response.map(|stream| stream.into_typed::<Res>(info));
            stream_responses(respond, response, limits, deadline).await
        }
    }
}
