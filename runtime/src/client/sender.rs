//! The request side of a bidirectional-streaming call, and the pump that feeds it from interceptors.

use std::marker::PhantomData;
use std::pin::pin;
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use prost::Message;

use super::request_queue::{request_queue, Next, Outbox};
use crate::codec;
use crate::compression::Encoding;
use crate::interceptor::{run, MessageStream};
use crate::request::Request;
use crate::status::Status;
use crate::streaming::send_message;

/// The request side of a bidirectional-streaming call.
pub struct Sender<T> {
    send: Option<h2::SendStream<Bytes>>,
    /// With stream interceptors or a retry policy: messages go to a task that sends them.
    queue: Option<Outbox>,
    max_send: usize,
    encoding: Option<Encoding>,
    /// The call's deadline: a server that stops reading must not hold a send past it.
    deadline: Option<Instant>,
    /// The attempt's observer (a direct sender of an observed call), which counts what is sent.
    observed: Option<std::sync::Arc<crate::observe::client::ClientAttempt>>,
    _message: PhantomData<fn(T)>,
}

impl<T> Sender<T> {
    /// A sender writing straight to the call's stream.
    pub(super) fn direct(
        send: h2::SendStream<Bytes>,
        max_send: usize,
        encoding: Option<Encoding>,
        deadline: Option<Instant>,
    ) -> Self {
        Sender { send: Some(send), queue: None, max_send, encoding, deadline, observed: None, _message: PhantomData }
    }

    /// A sender handing its messages to the task that sends them (interceptors, or a retry policy).
    pub(super) fn queued(queue: Outbox, deadline: Option<Instant>) -> Self {
        Sender {
            send: None,
            queue: Some(queue),
            max_send: 0,
            encoding: None,
            deadline,
            observed: None,
            _message: PhantomData,
        }
    }

    /// Counts what this (direct) sender sends for the attempt's observer.
    pub(super) fn observed(mut self, observed: Option<std::sync::Arc<crate::observe::client::ClientAttempt>>) -> Self {
        self.observed = observed;
        self
    }
}

impl<T: Message + 'static> Sender<T> {
    /// Sends a message, waiting for flow control. An error means the call ended; the response stream
    /// has its status.
    pub async fn send(&mut self, message: T) -> Result<(), Status> {
        if let Some(queue) = &self.queue {
            let queued = queue.send(run::boxed(message));
            let queued = match self.deadline {
                None => queued.await,
                Some(deadline) => tokio::time::timeout_at(deadline.into(), queued)
                    .await
                    .map_err(|_| Status::deadline_exceeded("the deadline passed while sending a message"))?,
            };
            return queued.map_err(|()| Status::unavailable("the call ended; its response stream has the status"));
        }
        let data = codec::encode_with(&message, self.max_send, self.encoding)?;
        let len = data.len();
        let send = self.send.as_mut().ok_or_else(|| Status::failed_precondition("the request stream is closed"))?;
        let sent = match self.deadline {
            None => send_message(send, data, false).await,
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), send_message(send, data, false)).await {
                Ok(sent) => sent,
                Err(_) => {
                    // Resetting ends the call for the server too and frees the data h2 still buffers.
                    send.send_reset(h2::Reason::CANCEL);
                    self.send = None;
                    Err(Status::deadline_exceeded("the deadline passed while sending a message"))
                }
            },
        };
        if let (Ok(()), Some(observed)) = (&sent, &self.observed) {
            observed.sent(len);
        }
        sent
    }

    /// Ends the request stream: the server sees it complete. Without this, dropping the sender cancels
    /// the call (RST_STREAM CANCEL) rather than end it, so that a sender dropped mid-upload (an early
    /// return, a panic) can never pass for a complete stream.
    pub fn close(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.close();
        }
        if let Some(mut send) = self.send.take() {
            let _ = send.send_data(Bytes::new(), true);
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(mut send) = self.send.take() {
            send.send_reset(h2::Reason::CANCEL);
        }
    }
}

/// A sender whose messages come out of the returned stream in this process (for mock clients, see
/// [`crate::mock`]): the stream ends when the sender is closed, and with CANCELLED when it is dropped
/// unclosed, as a server would see the call.
pub(crate) fn local<T: Message + 'static>() -> (Sender<T>, impl Stream<Item = Result<T, Status>> + Send + 'static) {
    let (queue, inbox) = request_queue();
    let messages = futures_util::stream::unfold(Some(inbox), |inbox| async move {
        let mut inbox = inbox?;
        match inbox.next().await {
            Next::Message(message) => {
                let message = crate::interceptor::downcast::<T>(message)
                    .map_err(|other| Status::internal(format!("a sender of one type sent a {}", other.type_name())));
                Some((message, Some(inbox)))
            }
            Next::Closed => None,
            Next::Abandoned => Some((Err(abandoned()), None)),
        }
    });
    (Sender::queued(queue, None), messages)
}

/// The status of a call whose caller dropped its request sender without closing it.
pub(super) fn abandoned() -> Status {
    Status::cancelled("the request sender was dropped without close(): the call is cancelled")
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("open", &(self.send.is_some() || self.queue.is_some())).finish()
    }
}

/// Splits the request stream off a request.
pub(super) fn split_messages(mut request: Request<MessageStream>) -> (Request<()>, MessageStream) {
    let messages = std::mem::replace(request.get_mut(), MessageStream::empty());
    (request.map(|_| ()), messages)
}

/// Sends what stream interceptors pass on of a bidirectional call's requests; an error they end the
/// stream with cancels the call.
pub(super) async fn pump<T: Message + 'static>(mut sender: Sender<T>, messages: impl Stream<Item = Result<T, Status>>) {
    let mut messages = pin!(messages);
    while let Some(message) = std::future::poll_fn(|cx| messages.as_mut().poll_next(cx)).await {
        let sent = match message {
            Ok(message) => sender.send(message).await,
            Err(_) => Err(Status::cancelled("an interceptor ended the request stream with an error")),
        };
        if sent.is_err() {
            // Dropping the sender resets the stream.
            return;
        }
    }
    sender.close();
}
