//! Proxy adapters: what generated proxy routes (a gateway in front of a remote gRPC server, through a
//! generated client) use to stream a request body into a client-streaming or bidirectional call as it
//! arrives, with a bad body cancelling the call rather than completing it with what came.

use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;

use crate::request::Request;
use crate::response::Response;
use crate::status::Status;
use crate::streaming::Streaming;

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
