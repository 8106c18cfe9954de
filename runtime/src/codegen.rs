//! What generated code calls: prost's field encoders plus the few pieces where prost's behaviour differs from
//! protobuf's reference runtimes. Not meant for hand-written code; its contents follow the generator.

pub use prost::encoding::{
    bool, bytes, double, fixed32, fixed64, float, group, int32, int64, message, sfixed32, sfixed64, sint32, sint64,
    string, uint32, uint64, DecodeContext, WireType,
};
pub use prost::encoding::{btree_map, hash_map};

use ::bytes::{Buf, BufMut};
use prost::encoding::{decode_varint, encode_key, encode_varint, encoded_len_varint, merge_loop};
use prost::DecodeError;

use crate::UnknownFields;

/// Adds the message and field name to a decode error, so it says where in the message it happened.
pub fn field_error(message: &'static str, field: &'static str) -> impl FnOnce(DecodeError) -> DecodeError {
    move |mut error| {
        error.push(message, field);
        error
    }
}

/// Writes a map field: one entry message per element, each with both its key and its value.
///
/// prost omits a key or value equal to its default inside the entry; protoc's C++, Java and upb runtimes
/// always write both, and byte-for-byte equal output needs the same.
pub fn encode_map<'a, K: 'a, V: 'a, B: BufMut>(
    tag: u32,
    entries: impl Iterator<Item = (&'a K, &'a V)>,
    key_encode: impl Fn(u32, &K, &mut B),
    key_len: impl Fn(u32, &K) -> usize,
    value_encode: impl Fn(u32, &V, &mut B),
    value_len: impl Fn(u32, &V) -> usize,
    buf: &mut B,
) {
    for (key, value) in entries {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint((key_len(1, key) + value_len(2, value)) as u64, buf);
        key_encode(1, key, buf);
        value_encode(2, value, buf);
    }
}

/// The encoded length of a map field written by [`encode_map`].
pub fn encoded_len_map<'a, K: 'a, V: 'a>(
    tag: u32,
    entries: impl ExactSizeIterator<Item = (&'a K, &'a V)>,
    key_len: impl Fn(u32, &K) -> usize,
    value_len: impl Fn(u32, &V) -> usize,
) -> usize {
    prost::encoding::key_len(tag) * entries.len()
        + entries
            .map(|(key, value)| {
                let len = key_len(1, key) + value_len(2, value);
                encoded_len_varint(len as u64) + len
            })
            .sum::<usize>()
}

/// Reads one value of a closed (proto2) enum field. A value the enum does not declare is kept in
/// `unknown` rather than in the field, as the reference runtimes do; `None` then.
pub fn merge_closed_enum(
    tag: u32,
    buf: &mut impl Buf,
    is_valid: fn(i32) -> bool,
    unknown: &mut UnknownFields,
) -> Result<Option<i32>, DecodeError> {
    let raw = decode_varint(buf)?;
    let value = raw as i32;
    if is_valid(value) {
        Ok(Some(value))
    } else {
        unknown.push_varint(tag, raw);
        Ok(None)
    }
}

/// Reads a repeated closed enum field, packed or not; undeclared values go to `unknown` one by one.
pub fn merge_closed_enum_repeated(
    tag: u32,
    wire_type: WireType,
    values: &mut Vec<i32>,
    buf: &mut impl Buf,
    ctx: DecodeContext,
    is_valid: fn(i32) -> bool,
    unknown: &mut UnknownFields,
) -> Result<(), DecodeError> {
    if wire_type == WireType::LengthDelimited {
        merge_loop(values, buf, ctx, |values, buf, _ctx| {
            values.extend(merge_closed_enum(tag, buf, is_valid, unknown)?);
            Ok(())
        })
    } else {
        values.extend(merge_closed_enum(tag, buf, is_valid, unknown)?);
        Ok(())
    }
}
