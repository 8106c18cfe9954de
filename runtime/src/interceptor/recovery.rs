//! Panics to a status: a panic in what comes after this interceptor (later interceptors, the handler, the
//! response stream) ends the call with the status the recovery handler makes of it. The server turns a
//! panicking handler into `INTERNAL` without this interceptor too; this one lets the user choose the
//! status and report the panic (to logs, an error tracker).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::{MessageStream, StreamFuture, StreamInterceptor, StreamNext, UnaryFuture, UnaryInterceptor, UnaryNext};
use crate::request::Request;
use crate::status::Status;
use crate::BoxMessage;

/// See [`recovery`].
pub struct Recovery<H> {
    handler: Arc<H>,
}

impl<H> Clone for Recovery<H> {
    fn clone(&self) -> Self {
        Recovery { handler: self.handler.clone() }
    }
}

impl<H> std::fmt::Debug for Recovery<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recovery")
    }
}

/// Turns a panic into `INTERNAL` (the panic's message goes to the log, not to the client).
pub fn recovery() -> Recovery<fn(&str) -> Status> {
    recovery_with(|message: &str| {
        tracing::error!(panic = %message, "a call panicked; it fails with INTERNAL");
        Status::internal("the handler panicked")
    })
}

/// Turns a panic into the status `handler` makes of the panic's message.
pub fn recovery_with<H>(handler: H) -> Recovery<H>
where
    H: Fn(&str) -> Status + Send + Sync + 'static,
{
    Recovery { handler: Arc::new(handler) }
}

impl<H> UnaryInterceptor for Recovery<H>
where
    H: Fn(&str) -> Status + Send + Sync + 'static,
{
    fn intercept(&self, request: Request<BoxMessage>, next: UnaryNext) -> UnaryFuture {
        let handler = self.handler.clone();
        // Calling `next` may itself panic (an interceptor's synchronous part).
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| next.run(request))) {
            Ok(future) => future,
            Err(panic) => return Box::pin(std::future::ready(Err(handler(&panic_message(&*panic))))),
        };
        Box::pin(CatchPanic { future, handler })
    }
}

impl<H> StreamInterceptor for Recovery<H>
where
    H: Fn(&str) -> Status + Send + Sync + 'static,
{
    fn intercept(&self, request: Request<MessageStream>, next: StreamNext) -> StreamFuture {
        let handler = self.handler.clone();
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| next.run(request))) {
            Ok(future) => future,
            Err(panic) => return Box::pin(std::future::ready(Err(handler(&panic_message(&*panic))))),
        };
        let stream_handler = handler.clone();
        Box::pin(async move {
            let response = CatchPanic { future, handler }.await?;
            Ok(response
                .map(|stream| MessageStream::new(CatchStreamPanic { stream: Some(stream), handler: stream_handler })))
        })
    }
}

/// The text of a panic's payload.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

struct CatchPanic<F: ?Sized, H> {
    future: Pin<Box<F>>,
    handler: Arc<H>,
}

impl<F, H, T> Future for CatchPanic<F, H>
where
    F: Future<Output = Result<T, Status>> + ?Sized,
    H: Fn(&str) -> Status,
{
    type Output = Result<T, Status>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match std::panic::catch_unwind(AssertUnwindSafe(|| this.future.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => Poll::Ready(Err((this.handler)(&panic_message(&*panic)))),
        }
    }
}

struct CatchStreamPanic<H> {
    /// `None` after a panic: the stream ends with the status and is not polled again.
    stream: Option<MessageStream>,
    handler: Arc<H>,
}

impl<H> Stream for CatchStreamPanic<H>
where
    H: Fn(&str) -> Status,
{
    type Item = Result<BoxMessage, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(stream) = this.stream.as_mut() else { return Poll::Ready(None) };
        match std::panic::catch_unwind(AssertUnwindSafe(|| stream.poll_message(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                this.stream = None;
                Poll::Ready(Some(Err((this.handler)(&panic_message(&*panic)))))
            }
        }
    }
}
