//! Response bodies: a whole JSON document, or a stream of messages written as they arrive, as
//! newline-delimited JSON (`{"result": ...}` per line, a final `{"error": ...}` line if the call fails) or
//! as Server-Sent Events (`data: ...` per message, an `event: error` at a failure).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

use super::route::ResponseField;
use super::server::Options;
use super::{errors, headers};
use crate::json::{to_json_with, JsonError, JsonMessage, JsonOptions};
use crate::metadata::MetadataMap;
use crate::status::Status;

/// The body of every gateway response.
pub type GatewayBody = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

pub(crate) fn full(text: String) -> GatewayBody {
    Full::new(Bytes::from(text)).boxed_unsync()
}

pub(crate) fn empty() -> GatewayBody {
    Full::new(Bytes::new()).boxed_unsync()
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
                        None => stream.next().await,
                        Some(deadline) => {
                            tokio::time::timeout_at(deadline.into(), stream.next()).await.unwrap_or_else(|_| {
                                Some(Err(Status::deadline_exceeded("the deadline (Grpc-Timeout) passed")))
                            })
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
                                Err(error) => {
                                    let status =
                                        Status::internal(format!("a response cannot be written as JSON: {error}"));
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
    StreamBody::new(frames.map(|frame: Result<Frame<Bytes>, Infallible>| frame)).boxed_unsync()
}

/// A response message as JSON, or its `response_body` field: written as usual, and when the field is
/// left out for holding its default value, written again with defaults so it is `0`, `""` or `false`
/// rather than missing.
pub(crate) fn message_json<Res: JsonMessage>(
    message: &Res,
    field: Option<ResponseField>,
    options: &JsonOptions,
) -> Result<String, JsonError> {
    let json = to_json_with(message, options)?;
    let Some(field) = field else { return Ok(json) };
    let key = if options.proto_names { field.name } else { field.json_name };
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    if let Some(found) = value.get_mut(key) {
        return Ok(found.take().to_string());
    }
    let with_defaults = JsonOptions { emit_defaults: true, ..options.clone() };
    let mut value: serde_json::Value =
        serde_json::from_str(&to_json_with(message, &with_defaults)?).unwrap_or_default();
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
