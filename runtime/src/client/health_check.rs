//! Client-side health checking (gRFC A17): when the service config has
//! `"healthCheckConfig": {"serviceName": "..."}`, each new connection opens a
//! `grpc.health.v1.Health/Watch` stream for that service, and the balancer takes the connection only
//! while the backend answers SERVING. Until the first answer the subchannel counts as connecting; any
//! other answer, or a failed stream, makes it unusable (the stream is opened again after a backoff). A
//! server without the health service (UNIMPLEMENTED) is taken as healthy, with a log line, as grpc-go does.
//!
//! The watch is a task of its own holding a clone of the connection's sender; it ends when the connection
//! does, or when the last [`Connection`](super::subchannel::Connection) clone holding its [`HealthWatch`] is
//! dropped (the subchannel moved on and its calls ended), so it never keeps a connection open by itself.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::config::ChannelConfig;
use super::resolver::Address;
use crate::keepalive::CallCount;
use crate::status::{Code, Status};
use crate::streaming::Streaming;
use crate::wire;

const WATCH_PATH: &str = "/grpc.health.v1.Health/Watch";
/// Health answers are a few bytes; a backend sending more is not trusted with more memory.
const MAX_RESPONSE: usize = 4 * 1024;

const UNKNOWN: u8 = 0;
const SERVING: u8 = 1;
const NOT_SERVING: u8 = 2;

/// What a backend's health watch said last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// No answer yet: the subchannel counts as connecting.
    Unknown,
    Serving,
    /// NOT_SERVING, SERVICE_UNKNOWN, or the watch failed.
    NotServing,
}

/// A connection's health watch, as its [`Connection`](super::subchannel::Connection) holds it.
#[derive(Debug)]
pub(crate) struct HealthWatch {
    status: Arc<AtomicU8>,
    service: Arc<str>,
    /// Dropped with the last connection clone: the watch task ends.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl HealthWatch {
    pub(crate) fn health(&self) -> Health {
        match self.status.load(Ordering::Acquire) {
            SERVING => Health::Serving,
            NOT_SERVING => Health::NotServing,
            _ => Health::Unknown,
        }
    }

    /// Why a call cannot use the backend.
    pub(crate) fn not_serving(&self, address: &Address) -> Status {
        Status::unavailable(format!("{address} is not SERVING {:?} (client-side health checking)", &*self.service))
    }
}

/// Starts watching `service` on a new connection to `address`.
pub(crate) fn watch(
    send: h2::client::SendRequest<Bytes>,
    service: Arc<str>,
    address: Address,
    config: Arc<ChannelConfig>,
    notify: Notify,
    alive: Arc<AtomicBool>,
) -> Arc<HealthWatch> {
    let status = Arc::new(AtomicU8::new(UNKNOWN));
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let watcher = Watcher { send, service: service.clone(), address, config, notify, alive, status: status.clone() };
    tokio::spawn(async move {
        tokio::select! {
            () = watcher.run() => {}
            _ = stopped => {}
        }
    });
    Arc::new(HealthWatch { status, service, _stop: stop })
}

struct Watcher {
    send: h2::client::SendRequest<Bytes>,
    service: Arc<str>,
    address: Address,
    config: Arc<ChannelConfig>,
    notify: Notify,
    alive: Arc<AtomicBool>,
    status: Arc<AtomicU8>,
}

/// Tells the channel a backend's health changed (waiting calls and the connectivity state look again).
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

impl Watcher {
    /// Watches until the connection ends, opening the stream again (after a backoff) when it fails.
    async fn run(self) {
        let mut failures = 0;
        while self.alive.load(Ordering::Acquire) {
            let outcome = self.stream().await;
            if !self.alive.load(Ordering::Acquire) {
                return;
            }
            match outcome {
                Err(status) if status.code() == Code::Unimplemented => {
                    tracing::warn!(
                        address = %self.address,
                        "the server has no grpc.health.v1.Health service; taking it as healthy"
                    );
                    self.set(SERVING);
                    return;
                }
                Err(status) => {
                    tracing::debug!(address = %self.address, %status, "the health watch failed");
                    self.set(NOT_SERVING);
                }
                // A watch ends only with its call: the server went away or stopped it.
                Ok(()) => self.set(NOT_SERVING),
            }
            failures += 1;
            tokio::time::sleep(self.config.backoff.delay(failures)).await;
        }
    }

    /// One Watch stream, its answers recorded as they come.
    async fn stream(&self) -> Result<(), Status> {
        let send = self.send.clone().ready().await.map_err(Status::from)?;
        let mut send = send;
        let (response, mut body) =
            send.send_request(stream_head(&self.address, &self.config, WATCH_PATH)?, false).map_err(Status::from)?;
        let request = WatchRequest { service: self.service.to_string() };
        body.send_data(crate::codec::encode(&request, wire::DEFAULT_MAX_SEND_MESSAGE_SIZE)?, true)
            .map_err(Status::from)?;
        let count = CallCount::default();
        let mut answers = Streaming::<WatchResponse>::client(response, count.enter(), MAX_RESPONSE, None);
        while let Some(answer) = answers.message().await? {
            self.set(if answer.status == SERVING_STATUS_SERVING { SERVING } else { NOT_SERVING });
        }
        Ok(())
    }

    fn set(&self, status: u8) {
        if self.status.swap(status, Ordering::AcqRel) != status {
            // Waiting calls and the connectivity state see the change.
            (self.notify)();
        }
    }
}

/// The request head of a stream the channel opens on a connection of its own accord (the health watch,
/// the ORCA stream) to the method at `path`.
pub(crate) fn stream_head(address: &Address, config: &ChannelConfig, path: &str) -> Result<http::Request<()>, Status> {
    let authority = match address {
        Address::Tcp(addr) => addr.to_string(),
        Address::Unix(_) => "localhost".to_owned(),
    };
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let uri: http::Uri = format!("{scheme}://{authority}{path}")
        .parse()
        .map_err(|_| Status::internal(format!("no URI for {path} on {authority}")))?;
    let mut head = http::Request::new(());
    *head.method_mut() = http::Method::POST;
    *head.uri_mut() = uri;
    let headers = head.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(wire::CONTENT_TYPE));
    headers.insert(wire::TE, http::HeaderValue::from_static(wire::TE_TRAILERS));
    headers.insert(http::header::USER_AGENT, config.user_agent.clone());
    Ok(head)
}

/// `grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING`.
const SERVING_STATUS_SERVING: i32 = 1;

/// `grpc.health.v1.HealthCheckRequest` as the watch sends it. The two health messages are written here
/// rather than taken from `crate::health`, whose generated client and server depend on the client and the
/// server (an import cycle); the balancing tests run the watch against the real health service.
#[derive(Debug, Default)]
struct WatchRequest {
    /// Field 1, `service`.
    service: String,
}

impl prost::Message for WatchRequest {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        if !self.service.is_empty() {
            crate::codegen::string::encode(1, &self.service, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: crate::codegen::WireType,
        buf: &mut impl bytes::Buf,
        ctx: crate::codegen::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match tag {
            1 => crate::codegen::string::merge(wire_type, &mut self.service, buf, ctx),
            _ => crate::codegen::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        if self.service.is_empty() {
            0
        } else {
            crate::codegen::string::encoded_len(1, &self.service)
        }
    }

    fn clear(&mut self) {
        self.service.clear();
    }
}

/// `grpc.health.v1.HealthCheckResponse` as the watch reads it (see [`WatchRequest`]).
#[derive(Debug, Default)]
struct WatchResponse {
    /// Field 1, `status` (a `ServingStatus`).
    status: i32,
}

impl prost::Message for WatchResponse {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        if self.status != 0 {
            crate::codegen::int32::encode(1, &self.status, buf);
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: crate::codegen::WireType,
        buf: &mut impl bytes::Buf,
        ctx: crate::codegen::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        match tag {
            1 => crate::codegen::int32::merge(wire_type, &mut self.status, buf, ctx),
            _ => crate::codegen::skip_field(wire_type, tag, buf, ctx),
        }
    }

    fn encoded_len(&self) -> usize {
        if self.status == 0 {
            0
        } else {
            crate::codegen::int32::encoded_len(1, &self.status)
        }
    }

    fn clear(&mut self) {
        self.status = 0;
    }
}
