//! A call's settings, resolved once before its first attempt: the request head every attempt sends, the
//! deadline, the limits and the retry or hedging policy, from the request, the channel and the service
//! config's entry for the method.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use super::retry::{self, Commit, Failed, Throttle};
use super::service_config::{HedgingPolicy, RetryPolicy};
use super::{Channel, Credentials};
use crate::compression::Encoding;
use crate::observe::client::{ClientAttempt, ClientCall};
use crate::observe::trace_context::TRACEPARENT;
use crate::request::Request;
use crate::status::Status;
use crate::wire;

/// What every attempt of a call sends besides its messages, and the call's settings.
pub(crate) struct CallSetup {
    /// `/package.Service/Method`.
    pub(crate) path: &'static str,
    pub(crate) uri: http::Uri,
    /// The request headers: the caller's metadata and gRPC's own, less what each attempt adds (its
    /// remaining time, its number, credentials).
    pub(crate) headers: http::HeaderMap,
    pub(crate) deadline: Option<Instant>,
    /// The call's credentials, else the channel's.
    pub(crate) credentials: Option<Credentials>,
    pub(crate) encoding: Option<Encoding>,
    pub(crate) wait_for_ready: bool,
    pub(crate) max_send: usize,
    pub(crate) max_receive: usize,
    pub(crate) policy: Policy,
    /// The call's observer, when anything observes it.
    pub(crate) observer: Option<Arc<ClientCall>>,
}

/// How many attempts a call gets, with the channel's retry throttle.
#[derive(Clone)]
pub(crate) enum Policy {
    /// One attempt; a success still refills the throttle.
    Single(Option<Arc<Throttle>>),
    /// Attempts one after another while they fail retryably (gRFC A6 `retryPolicy`).
    Retry(Arc<RetryPolicy>, Option<Arc<Throttle>>),
    /// Attempts `hedgingDelay` apart, the first success wins (gRFC A6 `hedgingPolicy`).
    Hedge(Arc<HedgingPolicy>, Option<Arc<Throttle>>),
}

impl Policy {
    /// Whether a later attempt may need the messages an earlier one sent.
    pub(crate) fn replays(&self) -> bool {
        !matches!(self, Policy::Single(_))
    }
}

impl CallSetup {
    /// Resolves a call once the channel's first resolution is in (so the resolver's service config applies):
    /// the channel's compression unless the call chose its own; the method config's timeout shortens the
    /// deadline, its message limits lower the channel's, its waitForReady applies unless the call chose.
    /// Returns the request's message apart.
    pub(crate) async fn prepare<T>(channel: &Channel, path: &'static str, request: Request<T>) -> (CallSetup, T) {
        // Observed from here: the call's duration includes waiting for the resolver (A66's "from the
        // application's perspective"). A passed deadline told apart from a cancellation is the caller's.
        let observer = ClientCall::start(&channel.config().observe, channel.authority(), path, request.deadline());
        channel.first_resolution(request.deadline()).await;
        let config = channel.config();
        let encoding = request.compression().or(config.send_compressed);
        let wait_for_ready = request.wait_for_ready();
        let (metadata, message, mut deadline, credentials) = request.into_client_parts();
        let mut max_send = config.max_send_message_size;
        let mut max_receive = config.max_receive_message_size;
        let mut wait = wait_for_ready.unwrap_or(false);
        let mut policy = Policy::Single(None);
        if let Some((service_config, throttle)) = channel.service_config() {
            policy = Policy::Single(throttle.clone());
            let (service, method) = path.strip_prefix('/').and_then(|p| p.split_once('/')).unwrap_or(("", path));
            if let Some(method) = service_config.method(service, method) {
                if let Some(timeout) = method.timeout.and_then(|t| Instant::now().checked_add(t)) {
                    deadline = Some(deadline.map_or(timeout, |d| d.min(timeout)));
                }
                wait = wait_for_ready.or(method.wait_for_ready).unwrap_or(false);
                max_send = max_send.min(method.max_request_message_bytes.unwrap_or(usize::MAX));
                max_receive = max_receive.min(method.max_response_message_bytes.unwrap_or(usize::MAX));
                if config.retries {
                    if let Some(retry) = &method.retry {
                        policy = Policy::Retry(Arc::new(retry.clone()), throttle);
                    } else if let Some(hedging) = &method.hedging {
                        policy = Policy::Hedge(Arc::new(hedging.clone()), throttle);
                    }
                }
            }
        }
        let mut headers = metadata.into_headers();
        if let Some(trace) = observer.as_ref().and_then(|o| o.trace) {
            if !headers.contains_key(TRACEPARENT) {
                let value = http::HeaderValue::from_str(&trace.header()).expect("hex digits and dashes");
                headers.insert(TRACEPARENT, value);
            }
        }
        headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(wire::CONTENT_TYPE));
        headers.insert(wire::TE, http::HeaderValue::from_static(wire::TE_TRAILERS));
        headers.insert(http::header::USER_AGENT, config.user_agent.clone());
        headers.insert(wire::GRPC_ACCEPT_ENCODING, http::HeaderValue::from_static(crate::compression::ACCEPT_ENCODING));
        if let Some(encoding) = encoding {
            headers.insert(wire::GRPC_ENCODING, http::HeaderValue::from_static(encoding.name()));
        }
        let mut uri = http::uri::Parts::default();
        uri.scheme = Some(if channel.is_tls() { http::uri::Scheme::HTTPS } else { http::uri::Scheme::HTTP });
        uri.authority = Some(channel.authority().clone());
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static(path));
        let uri = http::Uri::from_parts(uri).expect("a URI with a scheme, an authority and a path");
        let setup = CallSetup {
            path,
            uri,
            headers,
            deadline,
            credentials: credentials.or_else(|| config.credentials.clone()),
            encoding,
            wait_for_ready: wait,
            max_send,
            max_receive,
            policy,
            observer,
        };
        (setup, message)
    }

    /// A new attempt's observer, if the call is observed.
    pub(crate) fn observe_attempt(&self) -> Option<Arc<ClientAttempt>> {
        self.observer.as_ref().map(ClientCall::attempt)
    }

    /// The call ended with `result` (what the caller gets back): its observer records it.
    pub(crate) fn observe_end<T>(&self, result: &Result<T, Status>) {
        match result {
            Ok(_) => {
                if let Some(observer) = &self.observer {
                    observer.finish(crate::status::Code::Ok, "");
                }
            }
            Err(status) => self.observe_error(status),
        }
    }

    /// The call failed with `status` (what the caller gets back).
    pub(crate) fn observe_error(&self, status: &Status) {
        if let Some(observer) = &self.observer {
            observer.finish(status.code(), status.message());
        }
    }

    /// Runs the attempts of the call as its policy says; `attempt` gets how many came before it.
    pub(crate) async fn under_policy<T, F, Fut>(&self, attempt: F) -> Result<T, Status>
    where
        F: Fn(u32, Commit) -> Fut,
        Fut: Future<Output = Result<T, Failed>>,
    {
        match &self.policy {
            Policy::Single(throttle) => {
                let result = attempt(0, Commit::default()).await.map_err(|failed| failed.status);
                if let (Ok(_), Some(throttle)) = (&result, throttle) {
                    throttle.success();
                }
                result
            }
            Policy::Retry(policy, throttle) => retry::with_retries(policy, throttle.as_deref(), attempt).await,
            Policy::Hedge(policy, throttle) => retry::with_hedging(policy, throttle.as_deref(), attempt).await,
        }
    }
}

/// Runs `work` within the call's deadline; when it passes, `work` is dropped (resetting its stream) and the
/// call fails with `DEADLINE_EXCEEDED`.
pub(crate) async fn within<T>(
    deadline: Option<Instant>,
    work: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    crate::timeout::within(deadline, work, || Status::deadline_exceeded("deadline exceeded")).await
}
