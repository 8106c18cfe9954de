//! What the gateway's server keeps per connection: whether it has requests in flight and since when it is
//! idle (for the idle timeout), and a timeout on its first bytes (hyper reads the protocol preface without
//! one).

use std::future::Future;
use std::sync::Arc;

/// `at + duration`, or a year on when that overflows (an idle timeout of `Duration::MAX` means never).
pub(crate) fn later(at: tokio::time::Instant, duration: std::time::Duration) -> tokio::time::Instant {
    at.checked_add(duration).unwrap_or_else(|| at + std::time::Duration::from_secs(365 * 24 * 3600))
}

/// Whether a connection has requests in flight, and since when it has had none.
pub(crate) struct Activity {
    base: std::time::Instant,
    in_flight: std::sync::atomic::AtomicUsize,
    /// Milliseconds from `base` to when the last request in flight ended.
    idle_from: std::sync::atomic::AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Activity {
            base: std::time::Instant::now(),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            idle_from: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts a request as in flight until the guard is dropped.
    pub(crate) fn start(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Busy(self.clone())
    }

    /// When the connection became idle, or `None` while requests are in flight.
    pub(crate) fn idle_since(&self) -> Option<std::time::Instant> {
        if self.in_flight.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            return None;
        }
        let millis = self.idle_from.load(std::sync::atomic::Ordering::Relaxed);
        Some(self.base + std::time::Duration::from_millis(millis))
    }
}

/// A request in flight; see [`Activity::start`].
pub(crate) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        let millis = u64::try_from(activity.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.idle_from.store(millis, std::sync::atomic::Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A connection whose first bytes must arrive within a timeout; after them it reads as usual (hyper's
/// own timeouts take over: HTTP/1.1 header reads, HTTP/2 keepalive, the idle timeout).
pub(crate) struct FirstRead<T> {
    io: T,
    /// `None` once a byte arrived.
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<T> FirstRead<T> {
    pub(crate) fn new(io: T, timeout: std::time::Duration) -> Self {
        FirstRead { io, deadline: Some(Box::pin(tokio::time::sleep(timeout))) }
    }
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for FirstRead<T> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = std::pin::Pin::new(&mut this.io).poll_read(cx, buf);
        match &read {
            std::task::Poll::Ready(Ok(())) if buf.filled().len() > before => this.deadline = None,
            std::task::Poll::Pending => {
                if let Some(deadline) = this.deadline.as_mut() {
                    if deadline.as_mut().poll(cx).is_ready() {
                        let error =
                            std::io::Error::new(std::io::ErrorKind::TimedOut, "the client sent nothing in time");
                        return std::task::Poll::Ready(Err(error));
                    }
                }
            }
            _ => {}
        }
        read
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for FirstRead<T> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
