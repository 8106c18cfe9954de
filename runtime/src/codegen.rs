//! What generated code calls: prost's field encoders plus the few pieces where prost's behaviour differs from
//! protobuf's reference runtimes. Not meant for hand-written code; its contents follow the generator.

pub use prost::encoding::{
    bool, bytes, double, fixed32, fixed64, float, group, int32, int64, message, sfixed32, sfixed64, sint32, sint64,
    string, uint32, uint64, DecodeContext, WireType,
};
pub use prost::encoding::{btree_map, hash_map, skip_field};

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

/// Debug-prints an enum field (`i32`, `Option<i32>`, `Vec<i32>` or a map to `i32`) by its values' names, as
/// prost's messages do: `Red` rather than `1`, and the number itself when this code does not know it.
pub fn debug_enum<E, V: EnumValues + ?Sized>(values: &V) -> EnumDebug<'_, E, V> {
    EnumDebug { values, _enum: std::marker::PhantomData }
}

/// See [`debug_enum`].
pub struct EnumDebug<'a, E, V: ?Sized> {
    values: &'a V,
    _enum: std::marker::PhantomData<fn() -> E>,
}

impl<E: TryFrom<i32> + std::fmt::Debug, V: EnumValues + ?Sized> std::fmt::Debug for EnumDebug<'_, E, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.values.fmt_as::<E>(f)
    }
}

/// One enum value by name, or its number.
struct Named<E>(i32, std::marker::PhantomData<fn() -> E>);

impl<E: TryFrom<i32> + std::fmt::Debug> std::fmt::Debug for Named<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match E::try_from(self.0) {
            Ok(value) => std::fmt::Debug::fmt(&value, f),
            Err(_) => std::fmt::Debug::fmt(&self.0, f),
        }
    }
}

fn named<E>(value: i32) -> Named<E> {
    Named(value, std::marker::PhantomData)
}

/// The shapes an enum field's storage takes.
pub trait EnumValues {
    /// Prints the values as `E`'s names.
    fn fmt_as<E: TryFrom<i32> + std::fmt::Debug>(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result;
}

impl EnumValues for i32 {
    fn fmt_as<E: TryFrom<i32> + std::fmt::Debug>(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&named::<E>(*self), f)
    }
}

impl EnumValues for Option<i32> {
    fn fmt_as<E: TryFrom<i32> + std::fmt::Debug>(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.map(named::<E>), f)
    }
}

impl EnumValues for Vec<i32> {
    fn fmt_as<E: TryFrom<i32> + std::fmt::Debug>(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(|&v| named::<E>(v))).finish()
    }
}

impl<K: std::fmt::Debug, S> EnumValues for std::collections::HashMap<K, i32, S> {
    fn fmt_as<E: TryFrom<i32> + std::fmt::Debug>(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter().map(|(k, &v)| (k, named::<E>(v)))).finish()
    }
}

impl<K: std::fmt::Debug> EnumValues for std::collections::BTreeMap<K, i32> {
    fn fmt_as<E: TryFrom<i32> + std::fmt::Debug>(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter().map(|(k, &v)| (k, named::<E>(v)))).finish()
    }
}
