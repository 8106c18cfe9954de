//! Message compression (`grpc-encoding`): gzip, the one encoding every gRPC implementation speaks.
//! Decompression is bounded by the message size limit, so a small compressed message that inflates to
//! gigabytes (a zip bomb) is RESOURCE_EXHAUSTED, not an out-of-memory.
//!
//! gzip is the runtime's `gzip` feature (on by default). Without it [`Encoding`] has no values: nothing is
//! compressed, `grpc-accept-encoding` says `identity`, and a compressed message from a peer is
//! UNIMPLEMENTED, as the spec has it for an encoding not supported.

#[cfg(feature = "gzip")]
use std::io::{Read, Write};

#[cfg(feature = "gzip")]
use bytes::BufMut;
use bytes::{Bytes, BytesMut};

use crate::status::Status;

/// A message encoding other than identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// gzip (RFC 1952).
    #[cfg(feature = "gzip")]
    Gzip,
}

/// What this implementation accepts, sent as `grpc-accept-encoding` (identity is always accepted).
#[cfg(feature = "gzip")]
pub(crate) const ACCEPT_ENCODING: &str = "gzip";
/// What this implementation accepts, sent as `grpc-accept-encoding`: identity alone.
#[cfg(not(feature = "gzip"))]
pub(crate) const ACCEPT_ENCODING: &str = "identity";

/// The encodings a peer accepts, from its `grpc-accept-encoding`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    #[cfg(feature = "gzip")]
    gzip: bool,
}

impl Accepted {
    pub(crate) fn from_header(value: &[u8]) -> Self {
        #[cfg(not(feature = "gzip"))]
        let _ = value;
        Accepted {
            #[cfg(feature = "gzip")]
            gzip: Encoding::Gzip.accepted_by(value),
        }
    }

    /// `encoding` if the peer accepts it.
    pub(crate) fn filter(self, encoding: Option<Encoding>) -> Option<Encoding> {
        encoding.filter(|encoding| match *encoding {
            #[cfg(feature = "gzip")]
            Encoding::Gzip => self.gzip,
        })
    }
}

impl Encoding {
    /// The name in `grpc-encoding`.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "gzip")]
            Encoding::Gzip => "gzip",
        }
    }

    /// Reads a `grpc-encoding` value: `Ok(None)` for identity, `Err` naming an encoding not supported.
    pub(crate) fn from_header(value: &[u8]) -> Result<Option<Encoding>, String> {
        match value {
            b"identity" => Ok(None),
            #[cfg(feature = "gzip")]
            b"gzip" => Ok(Some(Encoding::Gzip)),
            other => Err(String::from_utf8_lossy(other).into_owned()),
        }
    }

    /// Whether a `grpc-accept-encoding` list names this encoding.
    #[cfg(feature = "gzip")]
    pub(crate) fn accepted_by(self, accept: &[u8]) -> bool {
        accept.split(|&b| b == b',').any(|name| name.trim_ascii() == self.name().as_bytes())
    }

    /// Appends `data`, compressed, to `out`.
    pub(crate) fn compress(self, data: &[u8], out: &mut BytesMut) -> Result<(), Status> {
        #[cfg(not(feature = "gzip"))]
        let _ = (data, out);
        match self {
            #[cfg(feature = "gzip")]
            Encoding::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(out.writer(), flate2::Compression::fast());
                encoder
                    .write_all(data)
                    .and_then(|()| encoder.finish().map(|_| ()))
                    .map_err(|e| Status::internal(format!("gzip compression failed: {e}")))
            }
        }
    }

    /// Decompresses one message, refusing output over `max` bytes.
    pub(crate) fn decompress(self, data: &[u8], max: usize) -> Result<Bytes, Status> {
        #[cfg(not(feature = "gzip"))]
        let _ = (data, max);
        match self {
            #[cfg(feature = "gzip")]
            Encoding::Gzip => {
                let decoder = flate2::read::GzDecoder::new(data);
                let mut out = Vec::with_capacity(data.len().saturating_mul(2).min(max));
                // One byte past the limit tells "at the limit" from "over it" without inflating the rest.
                let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
                decoder
                    .take(limit)
                    .read_to_end(&mut out)
                    .map_err(|e| Status::internal(format!("a gzip-compressed message is corrupt: {e}")))?;
                if out.len() > max {
                    return Err(Status::resource_exhausted(format!(
                        "a compressed message inflates to more than the limit of {max} bytes"
                    )));
                }
                Ok(Bytes::from(out))
            }
        }
    }
}

#[cfg(all(test, feature = "gzip"))]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let data = vec![b'a'; 100_000];
        let mut packed = BytesMut::new();
        Encoding::Gzip.compress(&data, &mut packed).unwrap();
        assert!(packed.len() < 1_000, "{}", packed.len());
        assert_eq!(Encoding::Gzip.decompress(&packed, 100_000).unwrap(), data);
        let bomb = Encoding::Gzip.decompress(&packed, 99_999).unwrap_err();
        assert_eq!(bomb.code(), crate::Code::ResourceExhausted);
        let corrupt = Encoding::Gzip.decompress(&packed[..packed.len() / 2], 100_000).unwrap_err();
        assert_eq!(corrupt.code(), crate::Code::Internal, "{corrupt}");
        assert!(Encoding::Gzip.accepted_by(b"identity, gzip"));
        assert!(!Encoding::Gzip.accepted_by(b"deflate"));
        assert_eq!(Encoding::from_header(b"snappy"), Err("snappy".to_owned()));
    }
}

#[cfg(all(test, not(feature = "gzip")))]
mod without_gzip {
    use super::*;

    /// Without the `gzip` feature only identity is offered, and a gzip message from a peer is an
    /// encoding not supported (which the call answers with UNIMPLEMENTED).
    #[test]
    fn only_identity_is_offered_and_gzip_is_unsupported() {
        assert_eq!(ACCEPT_ENCODING, "identity");
        assert_eq!(Encoding::from_header(b"identity"), Ok(None));
        assert_eq!(Encoding::from_header(b"gzip"), Err("gzip".to_owned()));
        assert_eq!(Accepted::from_header(b"gzip, identity").filter(None), None);
    }
}
