//! Response bodies: a whole JSON document, or a stream of messages written as they arrive, as
//! newline-delimited JSON (`{"result": ...}` per line, a final `{"error": ...}` line if the call fails) or
//! as Server-Sent Events (`data: ...` per message, an `event: error` at a failure).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

pub(crate) use super::options::{BodyError, GatewayBody};
use super::options::{Options, ResponseField};
use super::{errors, headers};
use crate::json::{to_json_with, JsonMessage, JsonOptions};
use crate::metadata::MetadataMap;
use crate::status::Status;

pub(crate) fn full(text: String) -> GatewayBody {
    bytes(Bytes::from(text))
}

pub(crate) fn bytes(data: Bytes) -> GatewayBody {
    Full::new(data).map_err(|never| match never {}).boxed_unsync()
}

pub(crate) fn empty() -> GatewayBody {
    bytes(Bytes::new())
}

/// What is left to write of a stream.
enum State<S> {
    Messages(std::pin::Pin<Box<S>>),
    /// The trailers, after the last message.
    Trailers(MetadataMap),
    Done,
}

/// A body writing each message of `stream` as it comes; the deadline ends it with `DEADLINE_EXCEEDED`.
pub(crate) fn messages<Res, S>(
    stream: S,
    options: Arc<Options>,
    field: Option<ResponseField>,
    sse: bool,
    deadline: Option<Instant>,
    trailers: MetadataMap,
) -> GatewayBody
where
    Res: JsonMessage + Send + 'static,
    S: Stream<Item = Result<Res, Status>> + Send + 'static,
{
    let state = (State::Messages(Box::pin(stream)), trailers);
    let frames = futures_util::stream::unfold(state, move |(state, trailers)| {
        let options = options.clone();
        async move {
            match state {
                State::Done => None,
                State::Trailers(trailers) => {
                    let mut headers = http::HeaderMap::new();
                    headers::outgoing(&mut headers, MetadataMap::new(), trailers);
                    Some((Ok(Frame::trailers(headers)), (State::Done, MetadataMap::new())))
                }
                State::Messages(mut stream) => {
                    let next = match deadline {
                        None => next_caught(&mut stream).await,
                        Some(deadline) => {
                            let next = tokio::time::timeout_at(deadline.into(), next_caught(&mut stream)).await;
                            // A message that came as the deadline passed is too late as well.
                            match next {
                                Ok(Some(Ok(message))) if Instant::now() < deadline => Some(Ok(message)),
                                Ok(Some(Ok(_))) | Err(_) => Some(Err(errors::deadline_passed())),
                                Ok(next) => next,
                            }
                        }
                    };
                    let after = |trailers: MetadataMap| {
                        if trailers.is_empty() {
                            State::Done
                        } else {
                            State::Trailers(trailers)
                        }
                    };
                    match next {
                        Some(Ok(message)) => {
                            let text = match message_json(&message, field, &options.write) {
                                Ok(json) if sse => format!("data: {json}\n\n"),
                                Ok(json) => format!("{{\"result\":{json}}}\n"),
                                Err(status) => {
                                    let text = error_text(&status, &options, sse);
                                    return Some((
                                        Ok(Frame::data(Bytes::from(text))),
                                        (after(trailers.clone()), trailers),
                                    ));
                                }
                            };
                            Some((Ok(Frame::data(Bytes::from(text))), (State::Messages(stream), trailers)))
                        }
                        Some(Err(status)) => {
                            let text = error_text(&status, &options, sse);
                            let mut trailers = trailers;
                            trailers.extend(status.metadata().clone());
                            Some((Ok(Frame::data(Bytes::from(text))), (after(trailers), MetadataMap::new())))
                        }
                        None => match after(trailers) {
                            State::Done => None,
                            State::Trailers(trailers) => {
                                let mut headers = http::HeaderMap::new();
                                headers::outgoing(&mut headers, MetadataMap::new(), trailers);
                                Some((Ok(Frame::trailers(headers)), (State::Done, MetadataMap::new())))
                            }
                            State::Messages(_) => unreachable!("after() never continues the messages"),
                        },
                    }
                }
            }
        }
    });
    StreamBody::new(frames.map(|frame: Result<Frame<Bytes>, BodyError>| frame)).boxed_unsync()
}

/// The stream's next item; a panic while polling it (a handler's stream) ends the stream with
/// `INTERNAL` instead of unwinding into the connection, which would close it for every request on it.
async fn next_caught<S, T>(stream: &mut std::pin::Pin<Box<S>>) -> Option<Result<T, Status>>
where
    S: Stream<Item = Result<T, Status>> + ?Sized,
{
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| stream.as_mut().poll_next(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                let message = crate::interceptor::recovery::panic_message(panic.as_ref());
                tracing::error!(panic = %message, "a response stream panicked; it ends with INTERNAL");
                std::task::Poll::Ready(Some(Err(Status::internal("the handler panicked"))))
            }
        }
    })
    .await
}

/// A response message as JSON, or its `response_body` field: written as usual, and when the field is
/// left out for holding its default value, written again with defaults so it is `0`, `""` or `false`
/// rather than missing. A message that cannot be written, or whose JSON cannot be read back to pick the
/// field (nested deeper than serde_json reads), is an `INTERNAL` error, never a `null` answered as a
/// success.
pub(crate) fn message_json<Res: JsonMessage>(
    message: &Res,
    field: Option<ResponseField>,
    options: &JsonOptions,
) -> Result<String, Status> {
    let unwritable =
        |error: &dyn std::fmt::Display| Status::internal(format!("the response cannot be written as JSON: {error}"));
    let json = to_json_with(message, options).map_err(|e| unwritable(&e))?;
    let Some(field) = field else { return Ok(json) };
    let key = if options.proto_names { field.name } else { field.json_name };
    let mut value: serde_json::Value = serde_json::from_str(&json).map_err(|e| unwritable(&e))?;
    if let Some(found) = value.get_mut(key) {
        return Ok(found.take().to_string());
    }
    let with_defaults = JsonOptions { emit_defaults: true, ..options.clone() };
    let json = to_json_with(message, &with_defaults).map_err(|e| unwritable(&e))?;
    let mut value: serde_json::Value = serde_json::from_str(&json).map_err(|e| unwritable(&e))?;
    // Still missing: an unset message or oneof member, which proto3 JSON writes as `null`.
    Ok(value.get_mut(key).map(serde_json::Value::take).unwrap_or_default().to_string())
}

fn error_text(status: &Status, options: &Options, sse: bool) -> String {
    let json = errors::error_json(status, &options.write);
    if sse {
        format!("event: error\ndata: {json}\n\n")
    } else {
        format!("{{\"error\":{json}}}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::well_known::DescriptorProto;

    #[test]
    fn a_response_body_that_cannot_be_read_back_is_an_error_not_null() {
        // 100 nested messages are 200 levels of JSON, past what serde_json reads back (128): picking the
        // field out of it fails, and that must not be answered as a 200 `null`.
        let mut deep = DescriptorProto { name: Some("leaf".into()), ..Default::default() };
        for _ in 0..100 {
            deep = DescriptorProto { nested_type: vec![deep], ..Default::default() };
        }
        let field = Some(ResponseField { name: "nested_type", json_name: "nestedType" });
        let error = message_json(&deep, field, &JsonOptions::default()).unwrap_err();
        assert_eq!(error.code(), crate::Code::Internal, "{error}");
        assert!(error.message().contains("cannot be written as JSON"), "{error}");
        // Shallow, the field is picked as usual.
        let shallow = DescriptorProto { nested_type: vec![DescriptorProto::default()], ..Default::default() };
        assert_eq!(message_json(&shallow, field, &JsonOptions::default()).unwrap(), "[{}]");
    }
}
