//! Streaming methods over WebSocket (opt in with `GatewayBuilder::websocket`): an HTTP/1.1 upgrade of a
//! streaming route's path (any method: a browser's upgrade is always a GET) runs the call through the same
//! route handler as plain HTTP, so metadata (the upgrade request's headers, the header matcher),
//! interceptors, deadlines and the error mapping are the same.
//!
//! The protocol, each way one JSON document per text frame:
//! - client to gateway: each frame is one request message; an empty frame ends the client's messages
//!   (gRPC's half-close). A server-streaming route whose rule has a body takes its first frame as the
//!   body; one without a body starts from the path and the query alone. Binary frames are refused (1003).
//! - gateway to client: `{"result": message}` per response message (the lines of the NDJSON stream), then
//!   on failure `{"error": status}` (a `google.rpc.Status`, or the error handler's body), then the close
//!   frame: 1000 after success, `4000 + the gRPC code` with the status message as the reason after a
//!   failure (4005 for NOT_FOUND), 1009 for a message over the limit, 1001 when the gateway shuts down.
//! - A client that goes away (a close frame or a dropped connection before the call ends) cancels the
//!   call: the handler's future and streams are dropped, a proxied call is reset with CANCEL.
//!
//! Limits, as on the HTTP path: messages and frames up to the body limit, each client message within the
//! read timeout of the one before while the client's side is open (else DEADLINE_EXCEEDED), and pings to
//! a silent client on the HTTP/2 keepalive schedule (no answer: the call is cancelled).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::body::GatewayBody;
use super::dispatch::{caught, Compiled, Inner};
use super::errors::AnsweredCode;
use super::options::Options;
use super::response::{error_response, error_response_as};
use super::route::{Call, Input};
use crate::interceptor::MethodKind;
use crate::status::{Code, Status};

/// How many client messages wait for the handler before the gateway stops reading the socket.
const INPUT_BUFFER: usize = 16;

/// The longest close reason RFC 6455 allows (a control frame's 125 bytes less the code).
const MAX_CLOSE_REASON: usize = 123;

type Bridge = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Where an upgraded request leaves its WebSocket for the connection's task to serve, and the gateway's
/// shutdown signal; in each request's extensions.
#[derive(Clone)]
pub(crate) struct Upgrades {
    bridge: Arc<Mutex<Option<Bridge>>>,
    stopped: tokio::sync::watch::Receiver<bool>,
}

/// A connection's slot for an upgrade, and the side its task serves it from.
pub(crate) fn slot(stopped: tokio::sync::watch::Receiver<bool>) -> (Upgrades, Arc<Mutex<Option<Bridge>>>) {
    let bridge = Arc::new(Mutex::new(None));
    (Upgrades { bridge: bridge.clone(), stopped }, bridge)
}

/// Serves the WebSocket a request of this connection upgraded to, if one did.
pub(crate) async fn serve_upgraded(slot: &mut Arc<Mutex<Option<Bridge>>>) {
    let bridge = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(bridge) = bridge {
        bridge.await;
    }
}

/// An HTTP/1.1 WebSocket upgrade request (RFC 6455 section 4.1).
pub(crate) fn is_upgrade<B>(request: &http::Request<B>) -> bool {
    let has = |name: http::header::HeaderName, token: &str| {
        request
            .headers()
            .get_all(name)
            .iter()
            .any(|value| value.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
    };
    request.version() == http::Version::HTTP_11
        && request.method() == http::Method::GET
        && has(http::header::UPGRADE, "websocket")
        && has(http::header::CONNECTION, "upgrade")
}

/// Answers an upgrade request: 101 and the call run on the upgraded connection, or the HTTP error that
/// says why not.
pub(crate) fn upgrade<B>(
    inner: &Inner,
    mut request: http::Request<B>,
    peer: Option<SocketAddr>,
) -> http::Response<GatewayBody>
where
    B: Send + 'static,
{
    let options = &inner.options;
    let headers = request.headers();
    if headers.get(http::header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v.as_bytes() != b"13") {
        let status = Status::invalid_argument("only WebSocket version 13 is served");
        let mut response = error_response_as(&status, options, http::StatusCode::UPGRADE_REQUIRED);
        response.headers_mut().insert(http::header::SEC_WEBSOCKET_VERSION, http::HeaderValue::from_static("13"));
        return response;
    }
    let Some(key) = headers.get(http::header::SEC_WEBSOCKET_KEY).map(|k| k.as_bytes().to_vec()) else {
        return error_response(&Status::invalid_argument("the upgrade has no Sec-WebSocket-Key"), options);
    };
    if let Err(status) = check_origin(headers, options) {
        return error_response_as(&status, options, http::StatusCode::FORBIDDEN);
    }
    let path = request.uri().path().to_owned();
    let (compiled, path_values) = match streaming_route(&inner.routes, &path) {
        Ok(found) => found,
        Err(status) => return error_response(&status, options),
    };
    let upgrades = request.extensions_mut().remove::<Upgrades>();
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (head, _) = request.into_parts();
    let job = Job {
        route: RouteRef {
            handler: compiled.route.handler.clone(),
            input: compiled.route.input,
            kind: compiled.route.kind,
            raw: compiled.route.raw,
        },
        takes_body: compiled.route.spec.body != super::BodyRule::None,
        head,
        path_values,
        options: options.clone(),
        peer,
        stopped: upgrades.as_ref().map(|u| u.stopped.clone()),
    };
    let bridge: Bridge = Box::pin(async move {
        match on_upgrade.await {
            Ok(upgraded) => job.run(hyper_util::rt::TokioIo::new(upgraded)).await,
            Err(error) => tracing::debug!(%error, "a WebSocket upgrade did not complete"),
        }
    });
    match upgrades {
        Some(upgrades) => *upgrades.bridge.lock().unwrap_or_else(|e| e.into_inner()) = Some(bridge),
        // Mounted in another server (Gateway::handle): the WebSocket is its own task.
        None => drop(tokio::spawn(bridge)),
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(&key);
    let mut response = http::Response::new(super::body::empty());
    *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(http::header::UPGRADE, http::HeaderValue::from_static("websocket"));
    headers.insert(http::header::CONNECTION, http::HeaderValue::from_static("upgrade"));
    if let Ok(accept) = http::HeaderValue::from_str(&accept) {
        headers.insert(http::header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Browsers let any page open a WebSocket to any host, with its cookies: an upgrade from a page of another
/// origin is refused unless the gateway's CORS allows that origin (Cross-Site WebSocket Hijacking). Clients
/// that are not browsers send no `Origin`.
fn check_origin(headers: &http::HeaderMap, options: &Options) -> Result<(), Status> {
    let Some(origin) = headers.get(http::header::ORIGIN) else { return Ok(()) };
    if let Some(cors) = &options.cors {
        if cors.allowed_origin(origin).is_some() {
            return Ok(());
        }
    }
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
    if origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host)) {
        return Ok(());
    }
    Err(Status::permission_denied(format!("WebSocket upgrades from the origin {origin:?} are not allowed")))
}

/// A route and the values its path's variables took.
type Matched<'a> = (&'a Compiled, Vec<(String, String)>);

/// The streaming route for `path`: the most specific whose template matches, whatever its HTTP method.
fn streaming_route<'a>(routes: &'a [Compiled], path: &str) -> Result<Matched<'a>, Status> {
    let mut found: Option<Matched<'a>> = None;
    let mut unary = false;
    for compiled in routes {
        let Some(values) = compiled.template.match_path(path) else { continue };
        if compiled.route.kind == MethodKind::Unary || compiled.route.raw != Default::default() {
            unary = true;
            continue;
        }
        if found.as_ref().is_none_or(|(best, _)| compiled.template.specificity() > best.template.specificity()) {
            found = Some((compiled, values));
        }
    }
    match found {
        Some(found) => Ok(found),
        None if unary => Err(Status::invalid_argument(format!(
            "{path} is a unary or HttpBody method: call it with plain HTTP, not a WebSocket"
        ))),
        None => Err(Status::not_found(format!("no streaming route for {path}"))),
    }
}

/// What of a route the bridge needs.
struct RouteRef {
    handler: Arc<dyn super::route::Handle>,
    input: Input,
    kind: MethodKind,
    raw: super::route::RawBody,
}

/// One upgraded call, waiting for its connection.
struct Job {
    route: RouteRef,
    takes_body: bool,
    head: http::request::Parts,
    path_values: Vec<(String, String)>,
    options: Arc<Options>,
    peer: Option<SocketAddr>,
    stopped: Option<tokio::sync::watch::Receiver<bool>>,
}

/// How a WebSocket session ends, as a close frame.
struct Closing {
    code: CloseCode,
    reason: String,
}

impl Closing {
    fn new(code: u16, reason: impl Into<String>) -> Closing {
        Closing { code: CloseCode::from(code), reason: reason.into() }
    }

    fn status(code: Code, message: &str) -> Closing {
        Closing::new(4000 + code as u16, message)
    }

    fn frame(self) -> CloseFrame {
        let mut reason = self.reason;
        if reason.len() > MAX_CLOSE_REASON {
            let mut end = MAX_CLOSE_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        CloseFrame { code: self.code, reason: reason.into() }
    }
}

/// The keepalive schedule of a session: pings after `interval` of silence, gone after `timeout` more.
struct Keepalive {
    interval: Option<Duration>,
    timeout: Duration,
    heard: Instant,
    pinged: Option<Instant>,
}

impl Keepalive {
    fn next(&self) -> Instant {
        match (self.pinged, self.interval) {
            (Some(pinged), _) => pinged + self.timeout,
            (None, Some(interval)) => self.heard + interval,
            (None, None) => Instant::now() + Duration::from_secs(86_400),
        }
    }
}

type Socket<IO> = WebSocketStream<IO>;

impl Job {
    async fn run<IO>(self, io: IO)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let limits = self.options.websocket.clone().unwrap_or_default();
        let max = limits.max_message_size.unwrap_or(self.options.max_body_size);
        let config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
            .max_write_buffer_size(max.saturating_mul(2).max(1 << 20));
        let mut socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        let closing = self.session(&mut socket).await;
        if let Some(closing) = closing {
            let _ = socket.close(Some(closing.frame())).await;
        }
    }

    /// The call, until it ends or the client goes; the close frame to send, if the client is still there.
    async fn session<IO>(mut self, socket: &mut Socket<IO>) -> Option<Closing>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let read_timeout = self.options.read_timeout;
        let mut keepalive = Keepalive {
            interval: self.options.keepalive_interval,
            timeout: self.options.keepalive_timeout,
            heard: Instant::now(),
            pinged: None,
        };
        // A body-taking server stream's request is its first frame.
        let mut body = Bytes::new();
        if self.route.input == Input::Single && self.takes_body {
            match tokio::time::timeout(read_timeout, next_text(socket)).await {
                Ok(Ok(Some(text))) => body = text,
                Ok(Ok(None)) => return None,
                Ok(Err(closing)) => return Some(closing),
                Err(_) => return Some(Closing::status(Code::DeadlineExceeded, "the request did not arrive in time")),
            }
        }
        let (input, frames) = if self.route.input == Input::Stream {
            let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Value, Status>>(INPUT_BUFFER);
            let frames = futures_util::stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|item| (item, receiver))
            });
            (Some(sender), Some(Box::pin(frames) as super::input::ValueStream))
        } else {
            (None, None)
        };
        let call = Call {
            head: self.head,
            body,
            stream: Mutex::new(None),
            frames: Mutex::new(frames),
            path_values: std::mem::take(&mut self.path_values),
            options: self.options.clone(),
            peer: self.peer,
            sse: false,
            body_timed_out: None,
            raw: self.route.raw,
        };
        let handler = self.route.handler.clone();
        let options = self.options.clone();
        let answer = async move { caught(handler.as_ref(), call).await };
        let mut answer = std::pin::pin!(answer);
        let mut output: Option<Output> = None;
        let mut input = input;
        let mut pending: Option<Value> = None;
        let mut input_due = Instant::now() + read_timeout;
        let mut stopped = self.stopped.take();
        loop {
            let keepalive_due = keepalive.next();
            tokio::select! {
                // Backpressure: a message the handler has no room for yet is held, and the socket not read.
                permit = async { input.clone()?.reserve_owned().await.ok() }, if pending.is_some() => {
                    if let (Some(permit), Some(value)) = (permit, pending.take()) {
                        permit.send(Ok(value));
                        input_due = Instant::now() + read_timeout;
                    }
                }
                incoming = socket.next(), if pending.is_none() => {
                    keepalive.heard = Instant::now();
                    keepalive.pinged = None;
                    match incoming {
                        Some(Ok(Message::Text(text))) if input.is_some() => {
                            if text.is_empty() {
                                // The client's messages are done; its side of the call closes.
                                input = None;
                                continue;
                            }
                            match serde_json::from_str::<Value>(text.as_str()) {
                                Ok(value) => pending = Some(value),
                                Err(error) => {
                                    let status = Status::invalid_argument(format!("a frame is not one JSON message: {error}"));
                                    return fail_input(socket, input.take(), status, &options).await;
                                }
                            }
                        }
                        // A server stream's request came in its first frame (or the path and query).
                        Some(Ok(Message::Text(_))) => {}
                        Some(Ok(Message::Binary(_))) => {
                            return Some(Closing::new(1003, "binary frames are not served: send JSON messages as text"));
                        }
                        Some(Ok(Message::Close(_))) | None => {
                            tracing::debug!(peer = ?self.peer, "a WebSocket client went away; cancelling its call");
                            return None;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(WsError::Capacity(error))) => {
                            tracing::debug!(peer = ?self.peer, %error, "a WebSocket message over the limit; cancelling its call");
                            return Some(Closing::new(1009, format!("the message is over {} bytes", max_of(socket))));
                        }
                        Some(Err(error)) => {
                            tracing::debug!(peer = ?self.peer, %error, "a WebSocket failed; cancelling its call");
                            return Some(Closing::new(1002, "WebSocket protocol error"));
                        }
                    }
                }
                () = tokio::time::sleep_until(input_due), if input.is_some() && pending.is_none() => {
                    let status = Status::deadline_exceeded("the next message did not arrive in time");
                    return fail_input(socket, input.take(), status, &options).await;
                }
                () = tokio::time::sleep_until(keepalive_due) => {
                    if keepalive.pinged.is_some() {
                        tracing::debug!(peer = ?self.peer, "a WebSocket client did not answer a ping; cancelling its call");
                        return None;
                    }
                    keepalive.pinged = Some(Instant::now());
                    if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                        return None;
                    }
                }
                Some(()) = async { stopped.as_mut()?.wait_for(|stop| *stop).await.ok().map(|_| ()) }, if stopped.is_some() => {
                    return Some(Closing::new(1001, "the gateway is shutting down"));
                }
                response = &mut answer, if output.is_none() => {
                    match Output::of(response, self.route.kind == MethodKind::ClientStreaming).await {
                        Ok(started) => output = Some(started),
                        Err((text, closing)) => {
                            let _ = socket.send(Message::text(text)).await;
                            return Some(closing);
                        }
                    }
                }
                line = async { output.as_mut()?.next_line().await }, if output.is_some() => {
                    match line {
                        Some(Ok(line)) => {
                            let closing = Output::closing_of(&line);
                            if socket.send(Message::text(line)).await.is_err() {
                                return None;
                            }
                            if closing.is_some() {
                                return closing;
                            }
                        }
                        Some(Err(closing)) => return Some(closing),
                        None => return Some(Closing::new(1000, "")),
                    }
                }
            }
        }
    }
}

/// Ends the call because of what the client sent: the handler's input fails with `status`, and the
/// client is told.
async fn fail_input<IO>(
    socket: &mut Socket<IO>,
    input: Option<tokio::sync::mpsc::Sender<Result<Value, Status>>>,
    status: Status,
    options: &Options,
) -> Option<Closing>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    if let Some(input) = input {
        let _ = input.try_send(Err(status.clone()));
    }
    let text = format!("{{\"error\":{}}}", super::errors::error_json(&status, &options.write));
    let _ = socket.send(Message::text(text)).await;
    Some(Closing::status(status.code(), status.message()))
}

fn max_of<IO>(socket: &Socket<IO>) -> usize {
    socket.get_config().max_message_size.unwrap_or(usize::MAX)
}

/// The next text frame's bytes; `None` when the client went away, a close frame for what is refused.
async fn next_text<IO>(socket: &mut Socket<IO>) -> Result<Option<Bytes>, Closing>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Ok(Some(Bytes::copy_from_slice(text.as_bytes()))),
            Some(Ok(Message::Binary(_))) => {
                return Err(Closing::new(1003, "binary frames are not served: send JSON messages as text"))
            }
            Some(Ok(Message::Close(_))) | None => return Ok(None),
            Some(Ok(_)) => {}
            Some(Err(WsError::Capacity(_))) => {
                return Err(Closing::new(1009, format!("the message is over {} bytes", max_of(socket))))
            }
            Some(Err(_)) => return Err(Closing::new(1002, "WebSocket protocol error")),
        }
    }
}

/// The answer of the call, as WebSocket messages: the lines of a streaming answer, or one unary answer.
struct Output {
    body: GatewayBody,
    buffer: Vec<u8>,
    /// A unary answer (client streaming) is one document, sent as one `{"result": ...}`.
    whole: bool,
    ended: bool,
}

impl Output {
    /// The answer's messages, or (for an error answer) the last message and the close frame.
    async fn of(response: http::Response<GatewayBody>, whole: bool) -> Result<Output, (String, Closing)> {
        let (parts, body) = response.into_parts();
        if parts.status.is_success() {
            return Ok(Output { body, buffer: Vec::new(), whole, ended: false });
        }
        let code = parts.extensions.get::<AnsweredCode>().map_or(Code::Unknown, |c| c.0);
        let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let error: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        let message = error.get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
        Err((serde_json::json!({ "error": error }).to_string(), Closing::status(code, &message)))
    }

    /// The next message to send; `None` at the end of the answer.
    async fn next_line(&mut self) -> Option<Result<String, Closing>> {
        loop {
            if !self.whole {
                if let Some(at) = self.buffer.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.buffer.drain(..=at).collect();
                    let line = String::from_utf8_lossy(&line[..at]).into_owned();
                    if line.trim().is_empty() {
                        continue;
                    }
                    return Some(Ok(line));
                }
            }
            if self.ended {
                if self.whole && !self.buffer.is_empty() {
                    let document = std::mem::take(&mut self.buffer);
                    let value: Value = serde_json::from_slice(&document).unwrap_or(Value::Null);
                    return Some(Ok(serde_json::json!({ "result": value }).to_string()));
                }
                return None;
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(error)) => {
                    tracing::debug!(%error, "a WebSocket call's answer failed");
                    return Some(Err(Closing::status(Code::Internal, "the answer failed")));
                }
                None => self.ended = true,
            }
        }
    }

    /// The close frame after a stream's `{"error": ...}` line; `None` after a message.
    fn closing_of(line: &str) -> Option<Closing> {
        if !line.starts_with("{\"error\":") {
            return None;
        }
        let value: Value = serde_json::from_str(line).ok()?;
        let error = value.get("error")?;
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(Code::Unknown as i64);
        let code = Code::from_i32(i32::try_from(code).unwrap_or(Code::Unknown as i32));
        let message = error.get("message").and_then(Value::as_str).unwrap_or_default();
        Some(Closing::status(code, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_are_cut_at_a_character_within_the_limit() {
        let frame = Closing::status(Code::NotFound, &"é".repeat(100)).frame();
        assert_eq!(u16::from(frame.code), 4005);
        assert!(frame.reason.len() <= MAX_CLOSE_REASON);
        assert_eq!(frame.reason.as_str(), "é".repeat(61));
    }

    #[test]
    fn error_lines_close_with_their_code() {
        let closing = Output::closing_of(r#"{"error":{"code":14,"message":"gone","details":[]}}"#).unwrap();
        assert_eq!((u16::from(closing.code), closing.reason.as_str()), (4014, "gone"));
        assert!(Output::closing_of(r#"{"result":{"error":1}}"#).is_none());
    }
}
