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
        let mut response = error_response(status, &self.options);
        let stalled = self.body_timed_out.as_ref().is_some_and(|flag| flag.load(std::sync::atomic::Ordering::Relaxed));
        if stalled && status.code() == crate::status::Code::DeadlineExceeded {
            *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
        }
        response
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
pub(crate) fn unary_response<Res: JsonMessage + prost::Message>(
    response: Response<Res>,
    spec: &RouteSpec,
    call: &Call,
) -> http::Response<GatewayBody> {
    let (metadata, message, trailers) = response.into_parts();
    if call.raw.response {
        return match RawBody::of(&message) {
            Ok(raw) => http_body::unary(raw, metadata, trailers),
            Err(status) => call.error(&status),
        };
    }
    let json = match body::message_json(&message, spec.response_body, &call.options.write) {
        Ok(json) => json,
        Err(status) => return call.error(&status),
    };
    let mut response = http::Response::new(body::full(json));
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers::outgoing(headers, metadata, trailers);
    response
}

/// An error answer: grpc-gateway's HTTP status for the code, the status as JSON, its metadata as
/// `Grpc-Trailer-*` headers.
pub(crate) fn error_response(status: &Status, options: &Options) -> http::Response<GatewayBody> {
    let mut response = http::Response::new(body::full(errors::error_json(status, &options.write)));
    *response.status_mut() = errors::http_status(status.code());
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    headers::outgoing(headers, crate::metadata::MetadataMap::new(), status.metadata().clone());
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
        return http_body::stream(first, rest, metadata, trailers, deadline);
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
    response
}
