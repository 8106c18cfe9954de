//! The outcome of a call: a [`Code`], a message and optional binary details, and every conversion to and
//! from what crosses the wire (trailers, HTTP statuses, HTTP/2 resets, I/O errors) in one place. The codes
//! themselves are in [`code`].

mod code;

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http::HeaderMap;
use percent_encoding::{percent_decode, percent_encode, AsciiSet, CONTROLS};
use prost::{Message, Name};

use crate::metadata::MetadataMap;
use crate::well_known::Any;
use crate::wire;

pub use code::{Code, ParseCodeError};

/// A gRPC status: what a failed call returns, and what servers send in trailers.
///
/// Boxed, so that `Result<T, Status>` stays small on the success path.
#[derive(Clone)]
pub struct Status(Box<Inner>);

#[derive(Clone)]
struct Inner {
    code: Code,
    message: String,
    details: Bytes,
    metadata: MetadataMap,
    /// The error this status was made from, for logs and `Error::source`; never sent.
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

/// Bytes that grpc-message must percent-encode: everything outside printable ASCII, and `%` itself.
const MESSAGE_ENCODE_SET: &AsciiSet = &CONTROLS.add(b'%');

impl Status {
    /// A status with a code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status(Box::new(Inner {
            code,
            message: message.into(),
            details: Bytes::new(),
            metadata: MetadataMap::new(),
            source: None,
        }))
    }

    /// A status with a code, a message and metadata (sent with the trailers).
    pub fn with_metadata(code: Code, message: impl Into<String>, metadata: MetadataMap) -> Status {
        let mut status = Status::new(code, message);
        status.0.metadata = metadata;
        status
    }

    /// The status for any error: a [`Status`] found in its source chain as it is, an HTTP/2 or I/O error
    /// by the spec's mappings, anything else `UNKNOWN` with the error's message. The error is kept as the
    /// status's [`source`](Error::source).
    pub fn from_error(error: Box<dyn Error + Send + Sync + 'static>) -> Status {
        let mut current: Option<&(dyn Error + 'static)> = Some(&*error);
        let mut depth = 0;
        while let Some(link) = current {
            if let Some(status) = link.downcast_ref::<Status>() {
                let mut status = status.clone();
                // A status wrapped in other errors keeps them; one passed as it is stays as it was.
                if depth > 0 {
                    status.0.source = Some(Arc::from(error));
                }
                return status;
            }
            #[cfg(feature = "transport")]
            if let Some(h2) = link.downcast_ref::<h2::Error>() {
                return Status::from_h2(h2).with_source(Arc::from(error));
            }
            if let Some(io) = link.downcast_ref::<std::io::Error>() {
                return Status::new(io_code(io), io.to_string()).with_source(Arc::from(error));
            }
            current = link.source();
            depth += 1;
        }
        Status::new(Code::Unknown, error.to_string()).with_source(Arc::from(error))
    }

    /// This status with `source` as the error it came from.
    pub fn with_source(mut self, source: Arc<dyn Error + Send + Sync + 'static>) -> Status {
        self.0.source = Some(source);
        self
    }

    /// A status with binary details: the encoding of a `google.rpc.Status`, sent as `grpc-status-details-bin`.
    pub fn with_details(code: Code, message: impl Into<String>, details: Bytes) -> Status {
        let mut status = Status::new(code, message);
        status.0.details = details;
        status
    }

    /// A status carrying standard error details ([`crate::rpc::BadRequest`], [`crate::rpc::RetryInfo`], ...),
    /// packed into a `google.rpc.Status` with the same code and message.
    pub fn with_error_details(
        code: Code,
        message: impl Into<String>,
        details: impl IntoIterator<Item = Any>,
    ) -> Status {
        let message = message.into();
        let rpc = crate::rpc::Status {
            code: code as i32,
            message: message.clone(),
            details: details.into_iter().collect(),
            ..Default::default()
        };
        Status::with_details(code, message, rpc.encode_to_vec().into())
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The binary details (empty when there are none).
    pub fn details(&self) -> &Bytes {
        &self.0.details
    }

    /// The details decoded as a `google.rpc.Status`; `None` without details or when they do not decode.
    pub fn rpc_status(&self) -> Option<crate::rpc::Status> {
        if self.0.details.is_empty() {
            return None;
        }
        crate::rpc::Status::decode(self.0.details.clone()).ok()
    }

    /// The first detail of type `T` (e.g. [`crate::rpc::RetryInfo`]), if the details hold one.
    pub fn error_detail<T: Name + Default>(&self) -> Option<T> {
        self.rpc_status()?.details.iter().find(|any| any.is::<T>()).and_then(|any| any.to_msg().ok())
    }

    /// Metadata sent with the status (as trailers).
    pub fn metadata(&self) -> &MetadataMap {
        &self.0.metadata
    }

    /// Metadata sent with the status, to change.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.0.metadata
    }

    /// `OK`, with an empty message.
    pub fn ok() -> Status {
        Status::new(Code::Ok, "")
    }

    /// Reads the status from trailers (or from the headers of a trailers-only response).
    ///
    /// `None` when there is no `grpc-status`. A malformed `grpc-status` is `UNKNOWN`, malformed details are
    /// dropped: nothing a peer sends may panic.
    pub fn from_headers(headers: &HeaderMap) -> Option<Status> {
        let code = headers.get(wire::GRPC_STATUS)?;
        let code = std::str::from_utf8(code.as_bytes())
            .ok()
            .and_then(|text| text.trim().parse::<i32>().ok())
            .map_or(Code::Unknown, Code::from_i32);
        let message = headers
            .get(wire::GRPC_MESSAGE)
            .map(|value| percent_decode(value.as_bytes()).decode_utf8_lossy().into_owned())
            .unwrap_or_default();
        let details = headers
            .get(wire::GRPC_STATUS_DETAILS)
            .and_then(|value| crate::metadata::decode_binary(value.as_bytes()).ok())
            .map(Bytes::from)
            .unwrap_or_default();
        let metadata = MetadataMap::from_headers(headers.clone());
        Some(Status(Box::new(Inner { code, message, details, metadata, source: None })))
    }

    /// Writes the status into trailers: `grpc-status`, `grpc-message` (percent-encoded), details, metadata.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.extend(self.0.metadata.clone().into_headers());
        headers.insert(wire::GRPC_STATUS, http::HeaderValue::from(self.0.code as i32));
        if !self.0.message.is_empty() {
            let encoded = percent_encode(self.0.message.as_bytes(), MESSAGE_ENCODE_SET).to_string();
            if let Ok(value) = http::HeaderValue::from_str(&encoded) {
                headers.insert(wire::GRPC_MESSAGE, value);
            }
        }
        if !self.0.details.is_empty() {
            let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&self.0.details);
            if let Ok(value) = http::HeaderValue::from_str(&encoded) {
                headers.insert(wire::GRPC_STATUS_DETAILS, value);
            }
        }
    }

    /// The status for an HTTP/2 error: a stream reset by the peer or a broken connection, per the spec's
    /// "HTTP2 RST_STREAM error code to status mapping".
    #[cfg(feature = "transport")]
    pub fn from_h2(error: &h2::Error) -> Status {
        if error.is_go_away() && !error.is_remote() {
            // We closed the connection because what arrived was not valid HTTP/2: not a gRPC server, or a TLS
            // server reached without TLS.
            let reason = error.reason().map_or_else(|| error.to_string(), |r| r.to_string());
            return Status::unavailable(format!(
                "connection failed: the peer did not speak valid HTTP/2 ({reason}); is it a TLS server reached \
                 without TLS, or not a gRPC server?"
            ));
        }
        if let Some(reason) = error.reason() {
            let code = match reason {
                h2::Reason::REFUSED_STREAM => Code::Unavailable,
                h2::Reason::CANCEL => Code::Cancelled,
                h2::Reason::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
                h2::Reason::INADEQUATE_SECURITY => Code::PermissionDenied,
                _ => Code::Internal,
            };
            let who = if error.is_remote() { "peer" } else { "local" };
            return Status::new(code, format!("stream reset by {who}: {reason}"));
        }
        if error.is_io() || error.is_go_away() {
            return Status::new(Code::Unavailable, format!("connection error: {error}"));
        }
        Status::new(Code::Internal, format!("HTTP/2 error: {error}"))
    }

    /// `CANCELLED`.
    pub fn cancelled(message: impl Into<String>) -> Status {
        Status::new(Code::Cancelled, message)
    }
    /// `UNKNOWN`.
    pub fn unknown(message: impl Into<String>) -> Status {
        Status::new(Code::Unknown, message)
    }
    /// `INVALID_ARGUMENT`.
    pub fn invalid_argument(message: impl Into<String>) -> Status {
        Status::new(Code::InvalidArgument, message)
    }
    /// `DEADLINE_EXCEEDED`.
    pub fn deadline_exceeded(message: impl Into<String>) -> Status {
        Status::new(Code::DeadlineExceeded, message)
    }
    /// `NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Status {
        Status::new(Code::NotFound, message)
    }
    /// `ALREADY_EXISTS`.
    pub fn already_exists(message: impl Into<String>) -> Status {
        Status::new(Code::AlreadyExists, message)
    }
    /// `PERMISSION_DENIED`.
    pub fn permission_denied(message: impl Into<String>) -> Status {
        Status::new(Code::PermissionDenied, message)
    }
    /// `RESOURCE_EXHAUSTED`.
    pub fn resource_exhausted(message: impl Into<String>) -> Status {
        Status::new(Code::ResourceExhausted, message)
    }
    /// `FAILED_PRECONDITION`.
    pub fn failed_precondition(message: impl Into<String>) -> Status {
        Status::new(Code::FailedPrecondition, message)
    }
    /// `ABORTED`.
    pub fn aborted(message: impl Into<String>) -> Status {
        Status::new(Code::Aborted, message)
    }
    /// `OUT_OF_RANGE`.
    pub fn out_of_range(message: impl Into<String>) -> Status {
        Status::new(Code::OutOfRange, message)
    }
    /// `UNIMPLEMENTED`.
    pub fn unimplemented(message: impl Into<String>) -> Status {
        Status::new(Code::Unimplemented, message)
    }
    /// `INTERNAL`.
    pub fn internal(message: impl Into<String>) -> Status {
        Status::new(Code::Internal, message)
    }
    /// `UNAVAILABLE`.
    pub fn unavailable(message: impl Into<String>) -> Status {
        Status::new(Code::Unavailable, message)
    }
    /// `DATA_LOSS`.
    pub fn data_loss(message: impl Into<String>) -> Status {
        Status::new(Code::DataLoss, message)
    }
    /// `UNAUTHENTICATED`.
    pub fn unauthenticated(message: impl Into<String>) -> Status {
        Status::new(Code::Unauthenticated, message)
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Status");
        debug.field("code", &self.0.code).field("message", &self.0.message);
        if !self.0.details.is_empty() {
            debug.field("details", &format_args!("{} bytes", self.0.details.len()));
        }
        if !self.0.metadata.is_empty() {
            debug.field("metadata", &self.0.metadata);
        }
        debug.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.message.is_empty() {
            write!(f, "{}", self.0.code)
        } else {
            write!(f, "{}: {}", self.0.code, self.0.message)
        }
    }
}

impl Error for Status {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source.as_deref().map(|source| source as &(dyn Error + 'static))
    }
}

/// The code for an I/O error.
fn io_code(error: &std::io::Error) -> Code {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::TimedOut => Code::DeadlineExceeded,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::InvalidData | ErrorKind::InvalidInput => Code::Internal,
        _ => Code::Unavailable,
    }
}

/// Keeps the I/O error as the status's source.
impl From<std::io::Error> for Status {
    fn from(error: std::io::Error) -> Status {
        Status::new(io_code(&error), error.to_string()).with_source(Arc::new(error))
    }
}

/// [`Status::from_h2`], keeping the HTTP/2 error as the status's source.
#[cfg(feature = "transport")]
impl From<h2::Error> for Status {
    fn from(error: h2::Error) -> Status {
        Status::from_h2(&error).with_source(Arc::new(error))
    }
}

impl From<crate::metadata::MetadataError> for Status {
    fn from(error: crate::metadata::MetadataError) -> Status {
        Status::internal(error.to_string())
    }
}

impl From<prost::DecodeError> for Status {
    fn from(error: prost::DecodeError) -> Status {
        Status::internal(format!("failed to decode the message: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_keeps_the_error_it_came_from() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out");
        let status = Status::from(io);
        assert_eq!(status.code(), Code::DeadlineExceeded);
        let source = status.source().expect("the I/O error is kept");
        assert_eq!(source.downcast_ref::<std::io::Error>().unwrap().kind(), std::io::ErrorKind::TimedOut);

        let h2 = Status::from(h2::Error::from(h2::Reason::CANCEL));
        assert_eq!(h2.code(), Code::Cancelled);
        assert!(h2.source().and_then(|s| s.downcast_ref::<h2::Error>()).is_some());

        // A status in the chain is found as it is; anything else is UNKNOWN with its message.
        #[derive(Debug)]
        struct Wrapper(Status);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("wrapped")
            }
        }
        impl Error for Wrapper {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let found = Status::from_error(Box::new(Wrapper(Status::not_found("no such book"))));
        assert_eq!((found.code(), found.message()), (Code::NotFound, "no such book"));
        assert!(found.source().unwrap().downcast_ref::<Wrapper>().is_some());
        let other = Status::from_error("a plain error".into());
        assert_eq!((other.code(), other.message()), (Code::Unknown, "a plain error"));

        let mut metadata = MetadataMap::new();
        metadata.insert("retry-after", "3").unwrap();
        let with = Status::with_metadata(Code::Unavailable, "later", metadata);
        assert_eq!(with.metadata().get("retry-after"), Some("3"));
    }

    #[test]
    fn message_is_percent_encoded_both_ways() {
        let status = Status::new(Code::Internal, "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n %");
        let mut headers = HeaderMap::new();
        status.write_headers(&mut headers);
        let wire = headers[wire::GRPC_MESSAGE].to_str().unwrap();
        assert!(wire.is_ascii() && wire.contains("%E2%98%BA") && wire.contains("%25"), "{wire}");
        let back = Status::from_headers(&headers).unwrap();
        assert_eq!(back.code(), Code::Internal);
        assert_eq!(back.message(), status.message());
    }

    #[test]
    fn malformed_trailers_do_not_panic() {
        let mut headers = HeaderMap::new();
        headers.insert(wire::GRPC_STATUS, "not a number".parse().unwrap());
        headers.insert(wire::GRPC_MESSAGE, "%FF%zz".parse().unwrap());
        headers.insert(wire::GRPC_STATUS_DETAILS, "!!!not base64!!!".parse().unwrap());
        let status = Status::from_headers(&headers).unwrap();
        assert_eq!(status.code(), Code::Unknown);
        assert!(status.details().is_empty());
        assert!(Status::from_headers(&HeaderMap::new()).is_none());
    }

    #[test]
    fn error_details_round_trip_through_trailers() {
        let retry = crate::rpc::RetryInfo {
            retry_delay: Some(crate::well_known::Duration { seconds: 3, ..Default::default() }),
            ..Default::default()
        };
        let status = Status::with_error_details(Code::Unavailable, "later", [Any::from_msg(&retry).unwrap()]);
        let mut headers = HeaderMap::new();
        status.write_headers(&mut headers);
        let back = Status::from_headers(&headers).unwrap();
        assert_eq!(back.error_detail::<crate::rpc::RetryInfo>(), Some(retry));
        assert_eq!(back.rpc_status().unwrap().code, Code::Unavailable as i32);
        assert!(back.error_detail::<crate::rpc::BadRequest>().is_none());
    }
}
