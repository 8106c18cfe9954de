//! Settings of one service on a server ([`ServerBuilder::add_service_with`](super::ServerBuilder::add_service_with)):
//! its own message limits, response compression and interceptors, for the service that takes uploads
//! larger than the rest or needs an interceptor the others must not run.

use std::sync::Arc;

use super::call::CallLimits;
use crate::compression::Encoding;
use crate::interceptor::{Interceptors, StreamInterceptor, UnaryInterceptor};

/// What one service sets for itself; what it leaves unset is the server's.
///
/// Message limits and compression replace the server's for the service's calls. Interceptors are added
/// inside the server's: the server-wide ones (authentication, logging, recovery) still run first, so a
/// service cannot opt out of them by accident.
#[derive(Default, Clone, Debug)]
pub struct ServiceSettings {
    max_receive_message_size: Option<usize>,
    max_send_message_size: Option<usize>,
    send_compressed: Option<Encoding>,
    interceptors: Interceptors,
}

impl ServiceSettings {
    /// No settings of its own: the server's everywhere.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest request message this service accepts, instead of the server's
    /// [`max_receive_message_size`](super::ServerBuilder::max_receive_message_size).
    pub fn max_receive_message_size(mut self, bytes: usize) -> Self {
        self.max_receive_message_size = Some(bytes);
        self
    }

    /// The largest response message this service sends, instead of the server's.
    pub fn max_send_message_size(mut self, bytes: usize) -> Self {
        self.max_send_message_size = Some(bytes);
        self
    }

    /// Compresses this service's responses with `encoding` (for clients that accept it), whatever the
    /// server's [`send_compressed`](super::ServerBuilder::send_compressed).
    pub fn send_compressed(mut self, encoding: Encoding) -> Self {
        self.send_compressed = Some(encoding);
        self
    }

    /// Adds an interceptor around this service's unary calls, inside the server's.
    pub fn unary_interceptor(mut self, interceptor: impl UnaryInterceptor) -> Self {
        self.interceptors.push_unary(Arc::new(interceptor));
        self
    }

    /// Adds an interceptor around this service's streaming calls, inside the server's.
    pub fn stream_interceptor(mut self, interceptor: impl StreamInterceptor) -> Self {
        self.interceptors.push_stream(Arc::new(interceptor));
        self
    }

    /// Adds an interceptor of both kinds around this service's calls, inside the server's.
    pub fn interceptor<I: UnaryInterceptor + StreamInterceptor>(mut self, interceptor: I) -> Self {
        let interceptor = Arc::new(interceptor);
        self.interceptors.push_unary(interceptor.clone());
        self.interceptors.push_stream(interceptor);
        self
    }

    /// The largest request message the service accepts, when it sets one.
    pub(crate) fn max_receive(&self) -> Option<usize> {
        self.max_receive_message_size
    }

    /// These settings resolved against the server's interceptors, once, at build time.
    pub(crate) fn resolve(&self, server: Option<&Arc<Interceptors>>) -> ResolvedSettings {
        let interceptors = if self.interceptors.is_empty() {
            server.cloned()
        } else {
            let mut chain = server.map(|chain| Interceptors::clone(chain)).unwrap_or_default();
            chain.extend(&self.interceptors);
            Some(Arc::new(chain))
        };
        ResolvedSettings {
            max_receive: self.max_receive_message_size,
            max_send: self.max_send_message_size,
            send_compressed: self.send_compressed,
            interceptors,
        }
    }
}

/// A service's settings as its calls use them: the server's interceptor chain with the service's appended.
#[derive(Clone, Debug)]
pub(crate) struct ResolvedSettings {
    max_receive: Option<usize>,
    max_send: Option<usize>,
    send_compressed: Option<Encoding>,
    pub(crate) interceptors: Option<Arc<Interceptors>>,
}

impl ResolvedSettings {
    /// The server's limits with the service's in their place.
    pub(crate) fn apply(&self, mut limits: CallLimits) -> CallLimits {
        limits.max_receive = self.max_receive.unwrap_or(limits.max_receive);
        limits.max_send = self.max_send.unwrap_or(limits.max_send);
        limits.response_encoding = self.send_compressed.or(limits.response_encoding);
        limits
    }
}
