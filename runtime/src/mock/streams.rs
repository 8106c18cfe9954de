//! The streams of streaming mock methods: [`Replies`] that an expectation answers with, and the
//! [`Requests`] a bidirectional expectation reads.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::status::Status;

type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// What a streaming mock method answers: response messages, possibly ending with a status.
pub struct Replies<T>(Boxed<T>);

impl<T: Send + 'static> Replies<T> {
    /// These messages, then the end of the stream (status OK).
    pub fn messages(messages: impl IntoIterator<Item = T, IntoIter: Send + 'static>) -> Self {
        Replies(Box::pin(futures_util::stream::iter(messages.into_iter().map(Ok))))
    }

    /// These messages, then `status` (an error mid-stream, as a server would end it).
    pub fn then_error(messages: impl IntoIterator<Item = T, IntoIter: Send + 'static>, status: Status) -> Self {
        let messages = futures_util::stream::iter(messages.into_iter().map(Ok));
        let end = futures_util::stream::iter([Err(status)]);
        Replies(Box::pin(futures_util::StreamExt::chain(messages, end)))
    }

    /// Any stream of messages and statuses (one computed from the [`Requests`], say).
    pub fn from_stream(stream: impl Stream<Item = Result<T, Status>> + Send + 'static) -> Self {
        Replies(Box::pin(stream))
    }

    pub(crate) fn into_stream(self) -> Boxed<T> {
        self.0
    }
}

impl<T: Send + 'static> Default for Replies<T> {
    /// No messages: the stream ends at once with OK.
    fn default() -> Self {
        Replies(Box::pin(futures_util::stream::empty()))
    }
}

impl<T: Send + 'static> From<Vec<T>> for Replies<T> {
    fn from(messages: Vec<T>) -> Self {
        Replies::messages(messages)
    }
}

impl<T> fmt::Debug for Replies<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Replies")
    }
}

/// The request stream of a bidirectional mock call, as the code under test sends it: it ends when the
/// caller closes its sender, and with CANCELLED if the caller drops the sender unclosed.
pub struct Requests<T>(Boxed<T>);

impl<T> Requests<T> {
    pub(crate) fn new(stream: impl Stream<Item = Result<T, Status>> + Send + 'static) -> Self {
        Requests(Box::pin(stream))
    }

    /// The next message; `None` once the caller closed the stream.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        std::future::poll_fn(|cx| self.0.as_mut().poll_next(cx)).await.transpose()
    }
}

impl<T> Stream for Requests<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.as_mut().poll_next(cx)
    }
}

impl<T> fmt::Debug for Requests<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request stream")
    }
}
