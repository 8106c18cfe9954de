//! W3C Trace Context (`traceparent: 00-<trace-id>-<parent-id>-<flags>`), carried from client to server
//! when both ends opt in: the client continues the trace of the server call it is made from (or starts
//! one), the server's span takes the client's as its remote parent.

use std::fmt::Write;

/// The `traceparent` header.
pub(crate) const TRACEPARENT: &str = "traceparent";

/// A span's place in a distributed trace: its trace, its own id, and its parent's (remote or local).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TraceContext {
    /// The trace's 16-byte id, never all zero.
    pub(crate) trace_id: u128,
    /// This span's 8-byte id, never zero.
    pub(crate) span_id: u64,
    /// The parent span's id, if the span has one.
    pub(crate) parent_span_id: Option<u64>,
    /// Whether the trace is sampled (flag bit 0).
    pub(crate) sampled: bool,
}

tokio::task_local! {
    /// The trace context of the server call whose handler is running, so that calls it makes continue
    /// that trace.
    static CURRENT: TraceContext;
}

impl TraceContext {
    /// A new trace, as a root span.
    pub(crate) fn root() -> TraceContext {
        let trace_id = loop {
            let id = (u128::from(random_u64()) << 64) | u128::from(random_u64());
            if id != 0 {
                break id;
            }
        };
        TraceContext { trace_id, span_id: new_span_id(), parent_span_id: None, sampled: true }
    }

    /// A span in the same trace, a child of this one.
    pub(crate) fn child(&self) -> TraceContext {
        TraceContext {
            trace_id: self.trace_id,
            span_id: new_span_id(),
            parent_span_id: Some(self.span_id),
            sampled: self.sampled,
        }
    }

    /// The context a client call starts: a child of the server call being handled, if any, else a root.
    pub(crate) fn for_client_call() -> TraceContext {
        CURRENT.try_with(TraceContext::child).unwrap_or_else(|_| TraceContext::root())
    }

    /// Runs `work` (a server call's handler) with `self` as the current context.
    pub(crate) fn scope<F: std::future::Future>(self, work: F) -> impl std::future::Future<Output = F::Output> {
        CURRENT.scope(self, work)
    }

    /// The server span's context for a request's `traceparent`: a child of the client's span when the
    /// header is valid, else a new root (an invalid header is ignored, as W3C says).
    pub(crate) fn for_server_call(header: Option<&[u8]>) -> TraceContext {
        header.and_then(parse).map(|remote| remote.child()).unwrap_or_else(TraceContext::root)
    }

    /// The `traceparent` value naming this span as the parent.
    pub(crate) fn header(&self) -> String {
        let mut value = String::with_capacity(55);
        let _ = write!(value, "00-{:032x}-{:016x}-{:02x}", self.trace_id, self.span_id, u8::from(self.sampled));
        value
    }
}

/// Parses a `traceparent` value: version 00 (or a later one, read as far as 00 defines), a non-zero
/// trace id and parent id, lowercase hex. `None` for anything else.
pub(crate) fn parse(value: &[u8]) -> Option<TraceContext> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let mut parts = text.split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex(version, 2) || version == "ff" || !hex(trace, 32) || !hex(parent, 16) || !hex(flags, 2) {
        return None;
    }
    // Version 00 has exactly four parts; later versions may append more.
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let trace_id = u128::from_str_radix(trace, 16).ok().filter(|id| *id != 0)?;
    let span_id = u64::from_str_radix(parent, 16).ok().filter(|id| *id != 0)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(TraceContext { trace_id, span_id, parent_span_id: None, sampled: flags & 1 == 1 })
}

fn new_span_id() -> u64 {
    loop {
        let id = random_u64();
        if id != 0 {
            return id;
        }
    }
}

/// 64 random bits from the standard library's randomly keyed hasher (per-process random keys, a counter
/// as input): unique ids, not secrets.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_round_trips_and_invalid_ones_are_refused() {
        let context = TraceContext::root();
        let header = context.header();
        assert_eq!(header.len(), 55);
        let parsed = parse(header.as_bytes()).unwrap();
        assert_eq!((parsed.trace_id, parsed.span_id, parsed.sampled), (context.trace_id, context.span_id, true));
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(parse(good.as_bytes()).unwrap().span_id, 0x00f067aa0ba902b7);
        assert!(parse(b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra").is_some(), "a later version");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
        assert!(parse(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn a_server_call_continues_a_valid_remote_trace_and_starts_its_own_otherwise() {
        let remote = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = TraceContext::for_server_call(Some(remote.as_bytes()));
        assert_eq!(context.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(context.parent_span_id, Some(0x00f067aa0ba902b7));
        assert_ne!(context.span_id, 0x00f067aa0ba902b7);
        let fresh = TraceContext::for_server_call(Some(b"garbage"));
        assert_eq!(fresh.parent_span_id, None);
        assert_ne!(fresh.trace_id, context.trace_id);
    }
}
