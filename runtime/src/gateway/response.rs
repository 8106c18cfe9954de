//! Response writing: a unary answer (the message, or its `response_body` field, as JSON), a streaming
//! answer (newline-delimited JSON or Server-Sent Events), and the error answer every failure gets.

use std::future::Future;
use std::time::Instant;

use futures_core::Stream;

use super::body::{self, GatewayBody};
use super::http_body::{self, RawBody};
use super::options::Options;
use super::route::{Call, RouteSpec};
use super::{errors, headers};
use crate::json::JsonMessage;
use crate::response::Response;
use crate::status::Status;

impl Call {
    /// The error answer for this call: 408 when the body stalled, else the code's HTTP status.
    pub(crate) fn error(&self, status: &Status) -> http::Response<GatewayBody> {
        let stalled = self.body_timed_out.as_ref().is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed));
        if stalled && status.code() == crate::status::Code::DeadlineExceeded {
            return error_response_as(status, &self.options, http::StatusCode::REQUEST_TIMEOUT);
        }
        error_response(status, &self.options)
    }
}

/// Runs the service's future within the request's deadline (`Grpc-Timeout`): every call past its deadline
/// gets the same status, in process or through a proxied call whose own deadline error reads differently.
pub(crate) async fn within<T>(
    deadline: Option<Instant>,
    work: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    crate::timeout::within(deadline, work, errors::deadline_passed).await
}

/// A successful unary answer: the message (or its `response_body` field) as JSON, metadata as headers.
pub(crate) fn unary_response<Res: JsonMessage + prost::Message + 'static>(
    response: Response<Res>,
    spec: &RouteSpec,
    call: &Call,
) -> http::Response<GatewayBody> {
    let (metadata, message, trailers) = response.into_parts();
    if call.raw.response {
        return match RawBody::of(&message) {
            Ok(raw) => forwarded(http_body::unary(raw, metadata, trailers), Some(&message), call),
            Err(status) => call.error(&status),
        };
    }
    let json = match body::message_json(&message, spec.response_body, &call.options.write) {
        Ok(json) => json,
        Err(status) => return call.error(&status),
    };
    let mut response = http::Response::new(body::full(indented(json, &call.options)));
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers::outgoing(headers, metadata, trailers);
    forwarded(response, Some(&message), call)
}

/// An error answer: grpc-gateway's HTTP status for the code, the status as JSON, its metadata as
/// `Grpc-Trailer-*` headers.
pub(crate) fn error_response(status: &Status, options: &Options) -> http::Response<GatewayBody> {
    error_response_as(status, options, errors::http_status(status.code()))
}

/// An error answer with this HTTP status (404, 405, 413... for what the gateway itself refuses), then
/// through the gateway's error handler if it has one.
pub(crate) fn error_response_as(
    status: &Status,
    options: &Options,
    http_status: http::StatusCode,
) -> http::Response<GatewayBody> {
    let json = errors::error_json(status, &options.write);
    let mut response = http::Response::new(body::full(indented(json, options)));
    *response.status_mut() = http_status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers::outgoing(headers, crate::metadata::MetadataMap::new(), status.metadata().clone());
    let mut response = match &options.error_handler {
        Some(handler) => handler(status, response),
        None => response,
    };
    // For the WebSocket bridge, which closes with the code whatever shape the error handler gave the body.
    response.extensions_mut().insert(errors::AnsweredCode(status.code()));
    response
}

/// `json` indented as the gateway is set to write whole documents (streams stay one message per line).
pub(crate) fn indented(json: String, options: &Options) -> String {
    let Some(indent) = &options.indent else { return json };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&json) else { return json };
    let mut out = Vec::with_capacity(json.len() * 2);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    match serde::Serialize::serialize(&value, &mut serializer) {
        Ok(()) => String::from_utf8(out).unwrap_or(json),
        Err(_) => json,
    }
}

/// A successful answer through the gateway's response hook, if it has one; an error it returns is the
/// answer instead.
fn forwarded(
    mut response: http::Response<GatewayBody>,
    message: Option<&dyn std::any::Any>,
    call: &Call,
) -> http::Response<GatewayBody> {
    let Some(hook) = &call.options.forward_response else { return response };
    let (mut parts, body) = response.into_parts();
    let mut answer = super::options::ResponseParts { status: &mut parts.status, headers: &mut parts.headers, message };
    if let Err(status) = hook(&mut answer) {
        return call.error(&status);
    }
    response = http::Response::from_parts(parts, body);
    response
}

/// A streaming answer: the header metadata, then each message as it comes. A stream that fails before its
/// first message is answered like any failed call, with the error's HTTP status (as grpc-gateway does).
pub(crate) async fn stream_response<Res, S>(
    response: Response<S>,
    call: &Call,
    spec: &RouteSpec,
    deadline: Option<Instant>,
) -> http::Response<GatewayBody>
where
    Res: JsonMessage + prost::Message + Send + 'static,
    S: Stream<Item = Result<Res, Status>> + Send + 'static,
{
    let (metadata, stream, trailers) = response.into_parts();
    let mut stream = Box::pin(stream);
    let first = within(deadline, async { Ok(futures_util::StreamExt::next(&mut stream).await) }).await;
    let first = match first {
        Ok(Some(Err(status))) | Err(status) => return call.error(&status),
        Ok(first) => first,
    };
    if call.raw.response {
        let Some(Ok(first)) = first else {
            // No message at all: an empty download of the default type.
            return http_body::unary(RawBody::default(), metadata, trailers);
        };
        let first = match RawBody::of(&first) {
            Ok(first) => first,
            Err(status) => return call.error(&status),
        };
        let rest = futures_util::StreamExt::map(stream, |message| message.and_then(|m| RawBody::of(&m)));
        return forwarded(http_body::stream(first, rest, metadata, trailers, deadline), None, call);
    }
    let stream = futures_util::StreamExt::chain(futures_util::stream::iter(first), stream);
    let content_type = if call.sse { "text/event-stream" } else { "application/json" };
    let body = body::messages(stream, call.options.clone(), spec.response_body, call.sse, deadline, trailers);
    let mut response = http::Response::new(body);
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    if call.sse {
        headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    }
    headers::outgoing(headers, metadata, crate::metadata::MetadataMap::new());
    forwarded(response, None, call)
}
