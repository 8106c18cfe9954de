//! Proto2 extensions and custom options: a generated [`Extension`] constant per `extend` field (its
//! extendee, number and type), read and written on the extended message through [`Extendable`].
//!
//! Extension values live in the extended message's [`UnknownFields`], as the bytes they arrived as: decoding
//! and re-encoding a message keeps them whatever code reads it, and nothing about the message's struct
//! changes when an extension is added in another file. Getting an extension decodes those bytes; setting one
//! replaces them. Custom options are extensions of `google.protobuf.*Options`, which the runtime's well-known
//! types implement [`Extendable`] for, so they are read the same way from decoded descriptors.

use std::marker::PhantomData;

use prost::bytes::Buf;
use prost::encoding::{decode_key, DecodeContext, WireType};
use prost::DecodeError;
use serde::de::DeserializeSeed;

use crate::json::{self, JsonEnum, JsonMessage, JsonWriter, ReadContext, Seed, TypeRegistry};
use crate::UnknownFields;

/// One extension field: the extended message type `M`, the value's [kind](ExtensionKind) `K`, its number
/// and full proto name. Generated code declares one constant per `extend` field.
pub struct Extension<M, K> {
    number: u32,
    full_name: &'static str,
    _types: PhantomData<fn() -> (M, K)>,
}

impl<M, K> Extension<M, K> {
    /// An extension with this field number and full proto name (`pkg.name`, or `pkg.Message.name` when
    /// declared inside a message).
    pub const fn new(number: u32, full_name: &'static str) -> Self {
        Extension { number, full_name, _types: PhantomData }
    }

    /// The field number.
    pub const fn number(&self) -> u32 {
        self.number
    }

    /// The full proto name, as JSON writes it between brackets (`"[pkg.name]"`).
    pub const fn full_name(&self) -> &'static str {
        self.full_name
    }
}

impl<M: Extendable, K> Extension<M, K> {
    /// The full proto name of the extended message.
    pub fn extendee(&self) -> &'static str {
        M::EXTENDEE
    }
}

impl<M, K> Clone for Extension<M, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M, K> Copy for Extension<M, K> {}

impl<M, K> std::fmt::Debug for Extension<M, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extension").field("number", &self.number).field("full_name", &self.full_name).finish()
    }
}

/// A message with extension ranges: its extensions are read from and written to its unknown fields.
pub trait Extendable: Sized {
    /// The message's full proto name (no leading dot).
    const EXTENDEE: &'static str;

    /// The unknown fields, where extension values are kept.
    fn extension_fields(&self) -> &UnknownFields;

    /// The unknown fields, to change an extension's value.
    fn extension_fields_mut(&mut self) -> &mut UnknownFields;

    /// The extension's value, `None` when the message does not hold it. An error when the bytes under its
    /// number are not a value of its type (another program wrote that number with another type).
    fn extension<K: ExtensionKind>(&self, extension: &Extension<Self, K>) -> Result<Option<K::Value>, DecodeError> {
        K::decode(&self.extension_fields().fields_with(extension.number))
    }

    /// Whether the message holds the extension.
    fn has_extension<K>(&self, extension: &Extension<Self, K>) -> bool {
        self.extension_fields().iter().any(|field| field.number == extension.number)
    }

    /// Sets the extension, replacing whatever the message held under its number.
    fn set_extension<K: ExtensionKind>(&mut self, extension: &Extension<Self, K>, value: K::Value) {
        let mut encoded = Vec::new();
        K::encode(extension.number, &value, &mut encoded);
        let fields = self.extension_fields_mut();
        fields.remove(extension.number);
        fields.push_encoded(&encoded);
    }

    /// Removes the extension.
    fn clear_extension<K>(&mut self, extension: &Extension<Self, K>) {
        self.extension_fields_mut().remove(extension.number);
    }
}

/// What an extension's value is: how it is decoded from its fields, encoded, and written and read as JSON.
/// One kind per proto type ([`Int32`], [`Str`], [`Msg`], ...), and [`Repeated`] / [`Packed`] lists of them.
pub trait ExtensionKind {
    /// The Rust value.
    type Value;

    /// The value from the encoded fields (keys included) under the extension's number; `None` when there
    /// are none. Several occurrences merge as for an ordinary field (the last scalar wins, messages merge).
    fn decode(encoded: &[u8]) -> Result<Option<Self::Value>, DecodeError>;

    /// Encodes the value as field `number`.
    fn encode(number: u32, value: &Self::Value, out: &mut Vec<u8>);

    /// Writes the value as JSON.
    fn write_json(value: &Self::Value, writer: &mut JsonWriter<'_>);

    /// Reads the value from JSON; `None` for `null` (or an enum name ignored as unknown).
    fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<Self::Value>, String>;
}

/// One element of an extension's value: a singular extension is one, a repeated one a list of them.
pub trait Element {
    /// The Rust value of one element.
    type Value: Default;
    /// Whether a list of these may be packed.
    const PACKABLE: bool;
    /// Merges one occurrence into `value` (`None` before the first one).
    fn merge(
        tag: u32,
        wire_type: WireType,
        value: &mut Option<Self::Value>,
        buf: &mut &[u8],
    ) -> Result<(), DecodeError>;
    /// Merges one occurrence (or a packed run) into `values`.
    fn merge_repeated(
        tag: u32,
        wire_type: WireType,
        values: &mut Vec<Self::Value>,
        buf: &mut &[u8],
    ) -> Result<(), DecodeError>;
    /// Encodes one element as field `tag`.
    fn encode(tag: u32, value: &Self::Value, out: &mut Vec<u8>);
    /// Encodes a list packed (only called when [`Element::PACKABLE`]).
    fn encode_packed(tag: u32, values: &[Self::Value], out: &mut Vec<u8>) {
        values.iter().for_each(|value| Self::encode(tag, value, out));
    }
    /// Writes one element as JSON.
    fn write_json(value: &Self::Value, writer: &mut JsonWriter<'_>);
    /// Reads one element from JSON.
    fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<Self::Value>, String>;
}

fn read_with<K: json::ReadKind>(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<K::Value>, String> {
    Seed::<K>::new(ctx).deserialize(value).map_err(|e| e.to_string())
}

macro_rules! scalar_element {
    ($(#[$doc:meta])* $kind:ident, $ty:ty, $codec:ident, $packable:tt, $read:ty, |$v:ident, $w:ident| $write:expr) => {
        $(#[$doc])*
        pub struct $kind;

        impl Element for $kind {
            type Value = $ty;
            const PACKABLE: bool = $packable;
            fn merge(_: u32, wire_type: WireType, value: &mut Option<$ty>, buf: &mut &[u8]) -> Result<(), DecodeError> {
                let value = value.get_or_insert_with(Default::default);
                prost::encoding::$codec::merge(wire_type, value, buf, DecodeContext::default())
            }
            fn merge_repeated(
                _: u32,
                wire_type: WireType,
                values: &mut Vec<$ty>,
                buf: &mut &[u8],
            ) -> Result<(), DecodeError> {
                prost::encoding::$codec::merge_repeated(wire_type, values, buf, DecodeContext::default())
            }
            fn encode(tag: u32, value: &$ty, out: &mut Vec<u8>) {
                prost::encoding::$codec::encode(tag, value, out)
            }
            scalar_element!(@packed $packable, $codec, $ty);
            fn write_json($v: &$ty, $w: &mut JsonWriter<'_>) {
                $write
            }
            fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<$ty>, String> {
                read_with::<$read>(value, ctx)
            }
        }
    };
    (@packed true, $codec:ident, $ty:ty) => {
        fn encode_packed(tag: u32, values: &[$ty], out: &mut Vec<u8>) {
            prost::encoding::$codec::encode_packed(tag, values, out)
        }
    };
    (@packed false, $codec:ident, $ty:ty) => {};
}

scalar_element!(/// `int32`.
    Int32, i32, int32, true, json::Int32, |v, w| w.int32(*v));
scalar_element!(/// `sint32`.
    Sint32, i32, sint32, true, json::Int32, |v, w| w.int32(*v));
scalar_element!(/// `sfixed32`.
    Sfixed32, i32, sfixed32, true, json::Int32, |v, w| w.int32(*v));
scalar_element!(/// `int64`.
    Int64, i64, int64, true, json::Int64, |v, w| w.int64(*v));
scalar_element!(/// `sint64`.
    Sint64, i64, sint64, true, json::Int64, |v, w| w.int64(*v));
scalar_element!(/// `sfixed64`.
    Sfixed64, i64, sfixed64, true, json::Int64, |v, w| w.int64(*v));
scalar_element!(/// `uint32`.
    Uint32, u32, uint32, true, json::Uint32, |v, w| w.uint32(*v));
scalar_element!(/// `fixed32`.
    Fixed32, u32, fixed32, true, json::Uint32, |v, w| w.uint32(*v));
scalar_element!(/// `uint64`.
    Uint64, u64, uint64, true, json::Uint64, |v, w| w.uint64(*v));
scalar_element!(/// `fixed64`.
    Fixed64, u64, fixed64, true, json::Uint64, |v, w| w.uint64(*v));
scalar_element!(/// `float`.
    Float, f32, float, true, json::Float, |v, w| w.float(*v));
scalar_element!(/// `double`.
    Double, f64, double, true, json::Double, |v, w| w.double(*v));
scalar_element!(/// `bool`.
    Bool, bool, bool, true, json::Bool, |v, w| w.bool(*v));
scalar_element!(/// `string`.
    Str, String, string, false, json::Str, |v, w| w.string(v));
scalar_element!(/// `bytes`.
    Bytes, Vec<u8>, bytes, false, json::Bytes, |v, w| w.bytes(v));

/// An enum, as its number (as enum fields are).
pub struct Enum<E>(PhantomData<fn() -> E>);

impl<E: JsonEnum> Element for Enum<E> {
    type Value = i32;
    const PACKABLE: bool = true;
    // A closed enum's undeclared numbers are unknown fields, not values: they stay in the bytes (and are
    // written back) but a reader does not see them, as with ordinary closed-enum fields.
    fn merge(tag: u32, wire_type: WireType, value: &mut Option<i32>, buf: &mut &[u8]) -> Result<(), DecodeError> {
        let mut read = None;
        <Int32 as Element>::merge(tag, wire_type, &mut read, buf)?;
        if let Some(read) = read.filter(|v| !E::CLOSED || E::is_known(*v)) {
            *value = Some(read);
        }
        Ok(())
    }
    fn merge_repeated(
        tag: u32,
        wire_type: WireType,
        values: &mut Vec<i32>,
        buf: &mut &[u8],
    ) -> Result<(), DecodeError> {
        let start = values.len();
        <Int32 as Element>::merge_repeated(tag, wire_type, values, buf)?;
        if E::CLOSED {
            let mut index = start;
            values.retain(|v| {
                let keep = index < start || E::is_known(*v);
                index += 1;
                keep
            });
        }
        Ok(())
    }
    fn encode(tag: u32, value: &i32, out: &mut Vec<u8>) {
        <Int32 as Element>::encode(tag, value, out)
    }
    fn encode_packed(tag: u32, values: &[i32], out: &mut Vec<u8>) {
        <Int32 as Element>::encode_packed(tag, values, out)
    }
    fn write_json(value: &i32, writer: &mut JsonWriter<'_>) {
        writer.enumeration(*value, E::name_of(*value))
    }
    fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<i32>, String> {
        read_with::<json::Enum<E>>(value, ctx).map(Option::flatten)
    }
}

/// A message, length-delimited.
pub struct Msg<M>(PhantomData<fn() -> M>);

impl<M: prost::Message + JsonMessage + Default> Element for Msg<M> {
    type Value = M;
    const PACKABLE: bool = false;
    fn merge(_: u32, wire_type: WireType, value: &mut Option<M>, buf: &mut &[u8]) -> Result<(), DecodeError> {
        let value = value.get_or_insert_with(Default::default);
        prost::encoding::message::merge(wire_type, value, buf, DecodeContext::default())
    }
    fn merge_repeated(_: u32, wire_type: WireType, values: &mut Vec<M>, buf: &mut &[u8]) -> Result<(), DecodeError> {
        prost::encoding::message::merge_repeated(wire_type, values, buf, DecodeContext::default())
    }
    fn encode(tag: u32, value: &M, out: &mut Vec<u8>) {
        prost::encoding::message::encode(tag, value, out)
    }
    fn write_json(value: &M, writer: &mut JsonWriter<'_>) {
        value.write_json(writer)
    }
    fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<M>, String> {
        read_with::<json::Msg<M>>(value, ctx)
    }
}

/// A message in the group wire format (proto2 `group`, editions `DELIMITED`).
pub struct Group<M>(PhantomData<fn() -> M>);

impl<M: prost::Message + JsonMessage + Default> Element for Group<M> {
    type Value = M;
    const PACKABLE: bool = false;
    fn merge(tag: u32, wire_type: WireType, value: &mut Option<M>, buf: &mut &[u8]) -> Result<(), DecodeError> {
        let value = value.get_or_insert_with(Default::default);
        prost::encoding::group::merge(tag, wire_type, value, buf, DecodeContext::default())
    }
    fn merge_repeated(tag: u32, wire_type: WireType, values: &mut Vec<M>, buf: &mut &[u8]) -> Result<(), DecodeError> {
        prost::encoding::group::merge_repeated(tag, wire_type, values, buf, DecodeContext::default())
    }
    fn encode(tag: u32, value: &M, out: &mut Vec<u8>) {
        prost::encoding::group::encode(tag, value, out)
    }
    fn write_json(value: &M, writer: &mut JsonWriter<'_>) {
        value.write_json(writer)
    }
    fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<M>, String> {
        read_with::<json::Msg<M>>(value, ctx)
    }
}

impl<E: Element> ExtensionKind for E {
    type Value = E::Value;

    fn decode(encoded: &[u8]) -> Result<Option<E::Value>, DecodeError> {
        let mut buf = encoded;
        let mut value: Option<E::Value> = None;
        while buf.has_remaining() {
            let (tag, wire_type) = decode_key(&mut buf)?;
            E::merge(tag, wire_type, &mut value, &mut buf)?;
        }
        Ok(value)
    }

    fn encode(number: u32, value: &E::Value, out: &mut Vec<u8>) {
        E::encode(number, value, out)
    }

    fn write_json(value: &E::Value, writer: &mut JsonWriter<'_>) {
        E::write_json(value, writer)
    }

    fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<E::Value>, String> {
        E::read_json(value, ctx)
    }
}

/// A repeated extension written unpacked (proto2's default, editions' `EXPANDED`); reading accepts both forms.
pub struct Repeated<E>(PhantomData<fn() -> E>);

/// A repeated extension written packed (`[packed = true]`, editions' `PACKED`); reading accepts both forms.
pub struct Packed<E>(PhantomData<fn() -> E>);

fn decode_list<E: Element>(encoded: &[u8]) -> Result<Option<Vec<E::Value>>, DecodeError> {
    let mut buf = encoded;
    let mut values = Vec::new();
    while buf.has_remaining() {
        let (tag, wire_type) = decode_key(&mut buf)?;
        E::merge_repeated(tag, wire_type, &mut values, &mut buf)?;
    }
    Ok((!encoded.is_empty()).then_some(values))
}

fn write_list<E: Element>(values: &[E::Value], writer: &mut JsonWriter<'_>) {
    writer.begin_array();
    values.iter().for_each(|value| E::write_json(value, writer));
    writer.end_array();
}

fn read_list<E: Element>(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<Vec<E::Value>>, String> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Array(items) => {
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                if item.is_null() {
                    return Err("null is not an element of a repeated extension".to_owned());
                }
                // An enum name ignored as unknown drops the element, as for ordinary fields.
                values.extend(E::read_json(item, ctx)?);
            }
            Ok(Some(values))
        }
        other => Err(format!("a repeated extension's value must be an array, not {other}")),
    }
}

impl<E: Element> ExtensionKind for Repeated<E> {
    type Value = Vec<E::Value>;
    fn decode(encoded: &[u8]) -> Result<Option<Self::Value>, DecodeError> {
        decode_list::<E>(encoded)
    }
    fn encode(number: u32, values: &Self::Value, out: &mut Vec<u8>) {
        values.iter().for_each(|value| E::encode(number, value, out));
    }
    fn write_json(values: &Self::Value, writer: &mut JsonWriter<'_>) {
        write_list::<E>(values, writer)
    }
    fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<Self::Value>, String> {
        read_list::<E>(value, ctx)
    }
}

impl<E: Element> ExtensionKind for Packed<E> {
    type Value = Vec<E::Value>;
    fn decode(encoded: &[u8]) -> Result<Option<Self::Value>, DecodeError> {
        decode_list::<E>(encoded)
    }
    fn encode(number: u32, values: &Self::Value, out: &mut Vec<u8>) {
        if E::PACKABLE && !values.is_empty() {
            E::encode_packed(number, values, out)
        } else {
            values.iter().for_each(|value| E::encode(number, value, out));
        }
    }
    fn write_json(values: &Self::Value, writer: &mut JsonWriter<'_>) {
        write_list::<E>(values, writer)
    }
    fn read_json(value: serde_json::Value, ctx: &ReadContext<'_>) -> Result<Option<Self::Value>, String> {
        read_list::<E>(value, ctx)
    }
}

/// Adds an extension to a JSON type registry, so that JSON names it `"[full.name]"` in its extendee's
/// objects (generated packages' `register_json_types` add theirs).
pub fn register<M: Extendable, K: ExtensionKind>(registry: &mut TypeRegistry, extension: &Extension<M, K>) {
    registry.insert_extension(
        M::EXTENDEE,
        json::ExtensionEntry {
            number: extension.number,
            full_name: extension.full_name,
            write: |encoded, writer| match K::decode(encoded) {
                Ok(Some(value)) => K::write_json(&value, writer),
                Ok(None) => writer.null(),
                Err(error) => writer.fail(format!("an extension's value does not decode: {error}")),
            },
            read: |number, value, ctx| {
                let mut encoded = Vec::new();
                if let Some(value) = K::read_json(value, ctx)? {
                    K::encode(number, &value, &mut encoded);
                }
                Ok(encoded)
            },
        },
    );
}
