//! `google.api.HttpBody` answers: a response whose bytes and content type are the HTTP answer itself,
//! not JSON (downloads, images, CSV...), and a stream of them written as one body (a streaming
//! download). The message is read from its wire form, so any generated type for `google.api.HttpBody`
//! works, wherever the user's build put it.

use std::time::Instant;

use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::body::{self, BodyError, GatewayBody};
use super::{errors, headers};
use crate::metadata::MetadataMap;
use crate::status::Status;

/// The content type of an `HttpBody` that gives none.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The fields of a `google.api.HttpBody` the answer is made of (its `extensions` are not sent).
#[derive(Debug, Default)]
pub(crate) struct RawBody {
    pub(crate) content_type: String,
    pub(crate) data: Bytes,
}

impl RawBody {
    /// `content_type` and `data` (fields 1 and 2) of a message with `google.api.HttpBody`'s wire form.
    pub(crate) fn of<M: prost::Message>(message: &M) -> Result<RawBody, Status> {
        let bad = |what: &str| Status::internal(format!("the google.api.HttpBody response is malformed: {what}"));
        let mut buf = Bytes::from(message.encode_to_vec());
        let mut body = RawBody::default();
        while buf.has_remaining() {
            let key = prost::encoding::decode_varint(&mut buf).map_err(|_| bad("a bad field key"))?;
            let (tag, wire_type) = (key >> 3, key & 7);
            let length = match wire_type {
                0 => {
                    prost::encoding::decode_varint(&mut buf).map_err(|_| bad("a bad varint"))?;
                    continue;
                }
                1 => 8,
                2 => usize::try_from(prost::encoding::decode_varint(&mut buf).map_err(|_| bad("a bad length"))?)
                    .map_err(|_| bad("a length past memory"))?,
                5 => 4,
                _ => return Err(bad("a group field")),
            };
            if length > buf.remaining() {
                return Err(bad("a field past its end"));
            }
            let value = buf.split_to(length);
            match (tag, wire_type) {
                (1, 2) => {
                    body.content_type =
                        String::from_utf8(value.to_vec()).map_err(|_| bad("a content_type that is not UTF-8"))?
                }
                (2, 2) => body.data = value,
                _ => {}
            }
        }
        Ok(body)
    }

    fn content_type(&self) -> http::HeaderValue {
        let text = if self.content_type.is_empty() { DEFAULT_CONTENT_TYPE } else { &self.content_type };
        http::HeaderValue::from_str(text).unwrap_or_else(|_| http::HeaderValue::from_static(DEFAULT_CONTENT_TYPE))
    }
}

/// A unary `HttpBody` answer: its data with its content type, metadata as headers.
pub(crate) fn unary(message: RawBody, metadata: MetadataMap, trailers: MetadataMap) -> http::Response<GatewayBody> {
    let content_type = message.content_type();
    let mut response = http::Response::new(body::bytes(message.data));
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, content_type);
    headers::outgoing(headers, metadata, trailers);
    response
}

/// What is left of a streaming answer.
enum Step<D> {
    /// Messages, then the trailers.
    Data(std::pin::Pin<Box<D>>, MetadataMap),
    Done,
}

/// A streaming `HttpBody` answer, from its first message on: every message's data as it comes, under the
/// first one's content type; then the trailers' metadata as HTTP trailers. A failure after the first
/// message (or the deadline passing) aborts the body (HTTP/2 `RST_STREAM`, an HTTP/1.1 connection closed
/// before the last chunk), so a download that failed never looks complete.
pub(crate) fn stream<S>(
    first: RawBody,
    rest: S,
    metadata: MetadataMap,
    trailers: MetadataMap,
    deadline: Option<Instant>,
) -> http::Response<GatewayBody>
where
    S: Stream<Item = Result<RawBody, Status>> + Send + 'static,
{
    let content_type = first.content_type();
    let data = futures_util::stream::once(std::future::ready(Ok(first))).chain(rest);
    let state = Step::Data(Box::pin(data), trailers);
    let frames = futures_util::stream::unfold(state, move |state| async move {
        let (mut data, trailers) = match state {
            Step::Data(data, trailers) => (data, trailers),
            Step::Done => return None,
        };
        let next = match deadline {
            None => data.next().await,
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), data.next()).await {
                Ok(Some(Ok(_))) if Instant::now() >= deadline => Some(Err(errors::deadline_passed())),
                Ok(next) => next,
                Err(_) => Some(Err(errors::deadline_passed())),
            },
        };
        match next {
            Some(Ok(message)) => Some((Ok(Frame::data(message.data)), Step::Data(data, trailers))),
            Some(Err(status)) => {
                tracing::debug!(%status, "a streaming HttpBody answer failed midway; aborting its body");
                Some((Err(BodyError::from(status)), Step::Done))
            }
            None => {
                let mut headers = http::HeaderMap::new();
                headers::outgoing(&mut headers, MetadataMap::new(), trailers);
                (!headers.is_empty()).then(|| (Ok(Frame::trailers(headers)), Step::Done))
            }
        }
    });
    let mut response = http::Response::new(StreamBody::new(frames).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, content_type);
    headers::outgoing(headers, metadata, MetadataMap::new());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::well_known::Any;

    #[test]
    fn reads_the_two_fields_of_any_message_with_the_wire_form() {
        // Any has the same wire form in its first two fields (a string, then bytes).
        let message = Any { type_url: "image/png".into(), value: b"\x89PNG".to_vec(), ..Default::default() };
        let body = RawBody::of(&message).unwrap();
        assert_eq!(body.content_type, "image/png");
        assert_eq!(&body.data[..], b"\x89PNG");
        assert_eq!(body.content_type(), "image/png");
        let empty = RawBody::of(&Any::default()).unwrap();
        assert_eq!(empty.content_type(), DEFAULT_CONTENT_TYPE);
        assert!(empty.data.is_empty());
    }
}
