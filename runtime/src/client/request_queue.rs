//! The queue between a bidirectional call's [`Sender`](super::Sender) and the task that sends its messages
//! (with interceptors or a retry policy). Its one job beyond a channel: telling an explicit close from a
//! sender that was dropped, so that a dropped sender cancels the call instead of ending its request stream
//! as if it were complete.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::interceptor::BoxMessage;

/// The caller's end.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: mpsc::Sender<BoxMessage>,
    closed: Arc<AtomicBool>,
}

/// The sending task's end.
#[derive(Debug)]
pub(crate) struct Inbox {
    queue: mpsc::Receiver<BoxMessage>,
    closed: Arc<AtomicBool>,
}

/// What the caller did next.
#[derive(Debug)]
pub(crate) enum Next {
    Message(BoxMessage),
    /// The caller closed its side: the request stream is complete.
    Closed,
    /// The caller dropped its sender without closing: the call must be cancelled, never completed.
    Abandoned,
}

/// A queue holding one message at a time, so a slow call pushes back on the caller.
pub(crate) fn request_queue() -> (Outbox, Inbox) {
    let (queue, queued) = mpsc::channel(1);
    let closed = Arc::new(AtomicBool::new(false));
    (Outbox { queue, closed: closed.clone() }, Inbox { queue: queued, closed })
}

impl Outbox {
    /// Queues a message; an error means the sending task is gone (the call ended).
    pub(crate) async fn send(&self, message: BoxMessage) -> Result<(), ()> {
        self.queue.send(message).await.map_err(|_| ())
    }

    /// Ends the request stream as complete.
    pub(crate) fn close(self) {
        // Set before the channel closes (when `self` drops), so the receiver that sees the close sees it.
        self.closed.store(true, Ordering::Release);
    }
}

impl Inbox {
    /// The caller's next message, or how it ended its side.
    pub(crate) async fn next(&mut self) -> Next {
        match self.queue.recv().await {
            Some(message) => Next::Message(message),
            None if self.closed.load(Ordering::Acquire) => Next::Closed,
            None => Next::Abandoned,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_and_drop_are_told_apart() {
        let (outbox, mut inbox) = request_queue();
        outbox.send(crate::interceptor::run::boxed(crate::well_known::Empty::default())).await.unwrap();
        outbox.close();
        assert!(matches!(inbox.next().await, Next::Message(_)));
        assert!(matches!(inbox.next().await, Next::Closed));

        let (outbox, mut inbox) = request_queue();
        drop(outbox);
        assert!(matches!(inbox.next().await, Next::Abandoned));
    }
}
