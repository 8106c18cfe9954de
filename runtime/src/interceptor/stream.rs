//! [`MessageStream`]: the messages of a streaming call as interceptors see them, with the combinators an
//! interceptor needs to wrap them (change each message, see or change how the stream ends).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;

use super::message::{downcast, BoxMessage, MethodInfo};
use crate::status::Status;

/// A stream of messages of any type that ends with the call's status: `None` after the last message of an
/// OK call, or `Some(Err(status))`.
pub struct MessageStream {
    inner: Pin<Box<dyn Stream<Item = Result<BoxMessage, Status>> + Send>>,
}

impl MessageStream {
    /// Wraps any stream of boxed messages.
    pub fn new(stream: impl Stream<Item = Result<BoxMessage, Status>> + Send + 'static) -> Self {
        MessageStream { inner: Box::pin(stream) }
    }

    /// A stream with no messages that ends OK.
    pub fn empty() -> Self {
        MessageStream::new(futures_util::stream::empty())
    }

    /// A stream of one message.
    pub fn once(message: BoxMessage) -> Self {
        MessageStream::new(futures_util::stream::iter([Ok(message)]))
    }

    /// A stream that ends at once with `status`.
    pub fn error(status: Status) -> Self {
        MessageStream::new(futures_util::stream::iter([Err(status)]))
    }

    /// Boxes each message of a typed stream.
    pub fn from_typed<T, S>(stream: S) -> Self
    where
        T: prost::Message + 'static,
        S: Stream<Item = Result<T, Status>> + Send + 'static,
    {
        MessageStream::new(stream.map(|message| message.map(|message| Box::new(message) as BoxMessage)))
    }

    /// Passes every message through `f`, which may change or replace it, or fail the stream with a status.
    pub fn map_messages<F>(self, f: F) -> Self
    where
        F: FnMut(BoxMessage) -> Result<BoxMessage, Status> + Send + 'static,
    {
        MessageStream::new(MapMessages { inner: self, f })
    }

    /// Calls `f` once with how the stream ends (`None`: OK) and ends it as `f` says: `None` ends it as OK,
    /// `Some(status)` with that status. This is how a streaming interceptor sees the end of a call and
    /// rewrites its status.
    pub fn map_end<F>(self, f: F) -> Self
    where
        F: FnOnce(Option<Status>) -> Option<Status> + Send + 'static,
    {
        MessageStream::new(MapEnd { inner: Some(self), f: Some(f) })
    }

    /// The messages as `T`; a message of another type (an interceptor replaced it) ends the stream with
    /// `INTERNAL`.
    pub(crate) fn into_typed<T: prost::Message + 'static>(
        self,
        method: MethodInfo,
    ) -> impl Stream<Item = Result<T, Status>> + Send + 'static {
        self.map(move |message| {
            message.and_then(|message| downcast::<T>(message).map_err(|other| replaced::<T>(method, &*other)))
        })
    }

    /// Polls for the next message.
    pub fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<BoxMessage, Status>>> {
        self.inner.as_mut().poll_next(cx)
    }

    /// The next message, or `None` at the end of an OK stream.
    pub async fn message(&mut self) -> Result<Option<BoxMessage>, Status> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await.transpose()
    }
}

/// The error for a message an interceptor replaced with one of another type.
pub(crate) fn replaced<T>(method: MethodInfo, other: &dyn super::AnyMessage) -> Status {
    Status::internal(format!(
        "an interceptor of {method} replaced a {} message with a {}",
        std::any::type_name::<T>(),
        other.type_name()
    ))
}

impl Stream for MessageStream {
    type Item = Result<BoxMessage, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl fmt::Debug for MessageStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageStream")
    }
}

struct MapMessages<F> {
    inner: MessageStream,
    f: F,
}

impl<F> Unpin for MapMessages<F> {}

impl<F> Stream for MapMessages<F>
where
    F: FnMut(BoxMessage) -> Result<BoxMessage, Status>,
{
    type Item = Result<BoxMessage, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        this.inner.poll_message(cx).map(|item| item.map(|item| item.and_then(&mut this.f)))
    }
}

struct MapEnd<F> {
    /// `None` once the stream ended.
    inner: Option<MessageStream>,
    f: Option<F>,
}

impl<F> Unpin for MapEnd<F> {}

impl<F> Stream for MapEnd<F>
where
    F: FnOnce(Option<Status>) -> Option<Status>,
{
    type Item = Result<BoxMessage, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        let end = match inner.poll_message(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(message))) => return Poll::Ready(Some(Ok(message))),
            Poll::Ready(Some(Err(status))) => Some(status),
            Poll::Ready(None) => None,
        };
        self.inner = None;
        let f = self.f.take().expect("called once: the stream ends here");
        Poll::Ready(f(end).map(Err))
    }
}
