//! Cancelling a call from elsewhere, as grpc-go's context cancellation does: the call's future is dropped
//! (which resets its HTTP/2 stream, so the server sees the cancellation) and it completes with `CANCELLED`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Notify;

use crate::status::Status;

/// Cancels the call made [`cancellable`]; cheap to clone and to send to another task.
#[derive(Clone, Debug, Default)]
pub struct Canceller {
    state: Arc<CancelState>,
}

#[derive(Debug, Default)]
struct CancelState {
    cancelled: std::sync::atomic::AtomicBool,
    notify: Notify,
}

impl Canceller {
    /// Cancels the call: it completes with `CANCELLED` at once, its stream is reset.
    pub fn cancel(&self) {
        self.state.cancelled.store(true, std::sync::atomic::Ordering::Release);
        self.state.notify.notify_waiters();
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.state.cancelled.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Wraps a call (or any step of one, like reading the next message) so a [`Canceller`] can end it.
pub fn cancellable<T, F>(call: F) -> (Canceller, impl Future<Output = Result<T, Status>>)
where
    F: Future<Output = Result<T, Status>>,
{
    let canceller = Canceller::default();
    let state = canceller.state.clone();
    let future = async move {
        let mut call = std::pin::pin!(call);
        let notified = state.notify.notified();
        let mut notified = std::pin::pin!(notified);
        std::future::poll_fn(|cx: &mut Context<'_>| {
            notified.as_mut().enable();
            if state.cancelled.load(std::sync::atomic::Ordering::Acquire) {
                return Poll::Ready(Err(Status::cancelled("the call was cancelled by the client")));
            }
            if let Poll::Ready(output) = call.as_mut().poll(cx) {
                return Poll::Ready(output);
            }
            match Pin::new(&mut notified).poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(Status::cancelled("the call was cancelled by the client"))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    };
    (canceller, future)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Code;

    #[tokio::test]
    async fn cancel_before_and_during_the_call() {
        let (canceller, call) = cancellable(std::future::pending::<Result<(), Status>>());
        canceller.cancel();
        assert_eq!(call.await.unwrap_err().code(), Code::Cancelled);

        let (canceller, call) = cancellable(std::future::pending::<Result<(), Status>>());
        let task = tokio::spawn(call);
        tokio::task::yield_now().await;
        canceller.cancel();
        assert_eq!(task.await.unwrap().unwrap_err().code(), Code::Cancelled);

        let (canceller, call) = cancellable(async { Ok::<_, Status>(7) });
        assert_eq!(call.await.unwrap(), 7);
        assert!(!canceller.is_cancelled());
    }
}
