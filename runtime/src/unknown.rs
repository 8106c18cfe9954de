//! Fields a message's reader does not know, kept as their encoded bytes.
//!
//! prost drops unknown fields on decode (prost issue #2); a proxy or an old service that decodes and
//! re-encodes a newer message would silently lose data. Generated messages keep them here, in the order they
//! arrived, and write them back after the known fields, which is where protoc's C++ and upb runtimes put them.

use std::fmt;

use bytes::{Buf, BufMut};
use prost::encoding::{decode_key, decode_varint, encode_key, encode_varint, DecodeContext, WireType};
use prost::DecodeError;

/// How deep unknown groups may nest before decoding fails (the C++ runtime's recursion limit).
const MAX_GROUP_DEPTH: u32 = 100;

/// The unknown fields of one message, as the bytes they were read from.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct UnknownFields {
    bytes: Vec<u8>,
}

/// One unknown field, as yielded by [`UnknownFields::iter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownField<'a> {
    /// The field number.
    pub number: u32,
    /// The field's value.
    pub value: UnknownValue<'a>,
}

/// The value of an unknown field, by wire type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnknownValue<'a> {
    /// A varint (int32, int64, uint32, uint64, sint32, sint64, bool, enum).
    Varint(u64),
    /// Eight bytes (fixed64, sfixed64, double).
    Fixed64(u64),
    /// Four bytes (fixed32, sfixed32, float).
    Fixed32(u32),
    /// A length-delimited value (string, bytes, message, packed repeated).
    LengthDelimited(&'a [u8]),
    /// A group: its contents, without the start and end keys.
    Group(&'a [u8]),
}

impl UnknownFields {
    /// Whether there are no unknown fields.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The encoded length of all unknown fields, in bytes.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// The unknown fields exactly as they will be written.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Forgets all unknown fields.
    pub fn clear(&mut self) {
        self.bytes.clear();
    }

    /// The unknown fields in the order they were read.
    pub fn iter(&self) -> impl Iterator<Item = UnknownField<'_>> {
        let mut rest = &self.bytes[..];
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            // The bytes were validated when they were captured, so parsing cannot fail here; stop rather than
            // panic if it somehow does.
            next_field(&mut rest).ok()
        })
    }

    /// Reads one field the message does not know from `buf` and keeps it.
    ///
    /// Called by generated `merge_field` implementations for every tag they do not handle.
    pub fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        _ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let start = self.bytes.len();
        let result = capture(&mut self.bytes, tag, wire_type, buf, MAX_GROUP_DEPTH);
        if result.is_err() {
            self.bytes.truncate(start);
        }
        result
    }

    /// Keeps a varint field: used for values of closed (proto2) enums that the enum does not declare, which
    /// protobuf's reference runtimes also move to the unknown fields.
    pub fn push_varint(&mut self, tag: u32, value: u64) {
        encode_key(tag, WireType::Varint, &mut self.bytes);
        encode_varint(value, &mut self.bytes);
    }

    /// The encoded fields (keys included) with this number, in the order they arrived: what an extension
    /// decodes its value from.
    pub fn fields_with(&self, number: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for (field_number, span) in self.spans() {
            if field_number == number {
                out.extend_from_slice(&self.bytes[span]);
            }
        }
        out
    }

    /// Forgets every field with this number (an extension being cleared or replaced).
    pub fn remove(&mut self, number: u32) {
        let mut kept = Vec::with_capacity(self.bytes.len());
        for (field_number, span) in self.spans() {
            if field_number != number {
                kept.extend_from_slice(&self.bytes[span]);
            }
        }
        self.bytes = kept;
    }

    /// Appends fields already encoded by this crate (an extension's value, keys included).
    pub(crate) fn push_encoded(&mut self, encoded: &[u8]) {
        self.bytes.extend_from_slice(encoded);
    }

    /// Each field's number and byte range, in order.
    fn spans(&self) -> impl Iterator<Item = (u32, std::ops::Range<usize>)> + '_ {
        let total = self.bytes.len();
        let mut rest = &self.bytes[..];
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let start = total - rest.len();
            // Validated on capture, as in `iter`.
            let field = next_field(&mut rest).ok()?;
            Some((field.number, start..total - rest.len()))
        })
    }

    /// Writes the unknown fields to `buf`.
    pub fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.bytes);
    }
}

impl fmt::Debug for UnknownFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Copies one field's value from `buf` into `out`, after its key.
fn capture(
    out: &mut Vec<u8>,
    tag: u32,
    wire_type: WireType,
    buf: &mut impl Buf,
    depth: u32,
) -> Result<(), DecodeError> {
    encode_key(tag, wire_type, out);
    match wire_type {
        WireType::Varint => {
            let value = decode_varint(buf)?;
            encode_varint(value, out);
        }
        WireType::ThirtyTwoBit => copy(out, buf, 4)?,
        WireType::SixtyFourBit => copy(out, buf, 8)?,
        WireType::LengthDelimited => {
            let len = decode_varint(buf)?;
            if len > buf.remaining() as u64 {
                return Err(error("buffer underflow in unknown length-delimited field"));
            }
            encode_varint(len, out);
            copy(out, buf, len as usize)?;
        }
        WireType::StartGroup => {
            if depth == 0 {
                return Err(error("unknown groups nested too deeply"));
            }
            loop {
                let (inner_tag, inner_wire_type) = decode_key(buf)?;
                if inner_wire_type == WireType::EndGroup {
                    if inner_tag != tag {
                        return Err(error("unexpected end group tag"));
                    }
                    encode_key(tag, WireType::EndGroup, out);
                    break;
                }
                capture(out, inner_tag, inner_wire_type, buf, depth - 1)?;
            }
        }
        WireType::EndGroup => return Err(error("unexpected end group tag")),
    }
    Ok(())
}

fn copy(out: &mut Vec<u8>, buf: &mut impl Buf, mut len: usize) -> Result<(), DecodeError> {
    if buf.remaining() < len {
        return Err(error("buffer underflow in unknown field"));
    }
    out.reserve(len);
    while len > 0 {
        let chunk = buf.chunk();
        let take = chunk.len().min(len);
        out.extend_from_slice(&chunk[..take]);
        buf.advance(take);
        len -= take;
    }
    Ok(())
}

/// Parses one captured field off the front of `rest`.
fn next_field<'a>(rest: &mut &'a [u8]) -> Result<UnknownField<'a>, DecodeError> {
    let (number, wire_type) = decode_key(rest)?;
    let value = match wire_type {
        WireType::Varint => UnknownValue::Varint(decode_varint(rest)?),
        WireType::SixtyFourBit => UnknownValue::Fixed64(take(rest, 8)?.get_u64_le()),
        WireType::ThirtyTwoBit => UnknownValue::Fixed32(take(rest, 4)?.get_u32_le()),
        WireType::LengthDelimited => {
            let len = decode_varint(rest)?;
            UnknownValue::LengthDelimited(take(rest, usize::try_from(len).unwrap_or(usize::MAX))?)
        }
        WireType::StartGroup => {
            let before = *rest;
            let mut scratch = Vec::new();
            // Re-walk the group to find its end; its bytes were validated on capture.
            loop {
                let (inner, inner_wire) = decode_key(rest)?;
                if inner_wire == WireType::EndGroup && inner == number {
                    break;
                }
                scratch.clear();
                capture(&mut scratch, inner, inner_wire, rest, MAX_GROUP_DEPTH)?;
            }
            let end_key_len = prost::encoding::key_len(number);
            let consumed = before.len() - rest.len() - end_key_len;
            UnknownValue::Group(&before[..consumed])
        }
        WireType::EndGroup => return Err(error("unexpected end group tag")),
    };
    Ok(UnknownField { number, value })
}

fn take<'a>(rest: &mut &'a [u8], len: usize) -> Result<&'a [u8], DecodeError> {
    if rest.len() < len {
        return Err(error("buffer underflow in unknown field"));
    }
    let (head, tail) = rest.split_at(len);
    *rest = tail;
    Ok(head)
}

#[allow(deprecated)] // prost offers no other way to describe a decode error of our own.
fn error(description: &'static str) -> DecodeError {
    DecodeError::new(description)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(bytes: &[u8]) -> Result<UnknownFields, DecodeError> {
        let mut fields = UnknownFields::default();
        let mut buf = bytes;
        while !buf.is_empty() {
            let (tag, wire_type) = decode_key(&mut buf)?;
            fields.merge_field(tag, wire_type, &mut buf, DecodeContext::default())?;
        }
        Ok(fields)
    }

    #[test]
    fn every_wire_type_is_kept_byte_for_byte() {
        // varint 150, fixed64, fixed32, "hi", group 5 { varint 1 }
        let bytes = [
            0x08, 0x96, 0x01, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 0x1d, 9, 9, 9, 9, 0x22, 2, b'h', b'i', 0x2b, 0x08, 0x01,
            0x2c,
        ];
        let fields = captured(&bytes).unwrap();
        assert_eq!(fields.as_bytes(), &bytes[..]);
        let values: Vec<_> = fields.iter().map(|f| (f.number, f.value)).collect();
        assert_eq!(
            values,
            vec![
                (1, UnknownValue::Varint(150)),
                (2, UnknownValue::Fixed64(0x0807060504030201)),
                (3, UnknownValue::Fixed32(0x09090909)),
                (4, UnknownValue::LengthDelimited(b"hi")),
                (5, UnknownValue::Group(&[0x08, 0x01])),
            ]
        );
    }

    #[test]
    fn truncated_and_malformed_input_is_an_error_and_keeps_nothing() {
        for bad in [&[0x22, 5, b'a'][..], &[0x11, 1, 2], &[0x2b, 0x08], &[0x2b, 0x34], &[0x2c]] {
            let mut fields = UnknownFields::default();
            let mut buf = bad;
            let (tag, wire_type) = decode_key(&mut buf).unwrap();
            assert!(fields.merge_field(tag, wire_type, &mut buf, DecodeContext::default()).is_err(), "{bad:?}");
            assert!(fields.is_empty());
        }
    }

    #[test]
    fn deeply_nested_groups_are_refused_without_overflowing_the_stack() {
        // 10,000 nested "start group 1" keys.
        let bytes = vec![0x0b; 10_000];
        assert!(captured(&bytes).is_err());
    }
}
