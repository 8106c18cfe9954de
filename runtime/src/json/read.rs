//! Reading proto3 JSON with serde_json straight into messages: a [`ReadKind`] per proto type knows the JSON
//! forms that type accepts (numbers or strings for integers, names or numbers for enums, base64 for bytes,
//! ...); [`Seed`]s carry the per-call options down; generated messages provide their fields through
//! [`JsonFields`] and [`read_object`] does the rest (duplicate and unknown fields included).
//!
//! Why one file of over 600 lines: it is one trait with one small impl per proto type (scalars, enums,
//! messages, repeated, maps), and the impls share the visitors and error helpers at the top; split by type,
//! each file would be a few dozen lines that only make sense beside the others.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{JsonMessage, ReadContext};

/// How one proto type is read from JSON.
pub trait ReadKind {
    /// The Rust value read.
    type Value;

    /// Reads a value that is not `null`.
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self::Value, D::Error>;

    /// What `null` means for this type: nothing (the field keeps its default), except for
    /// `google.protobuf.Value`, whose `null` is a value.
    fn null() -> Option<Self::Value> {
        None
    }
}

/// Reads a field's value: `Ok(None)` for `null` (the field is left unset).
pub struct Seed<'c, K> {
    ctx: &'c ReadContext<'c>,
    _kind: PhantomData<fn() -> K>,
}

impl<'c, K> Seed<'c, K> {
    /// A seed for kind `K`.
    pub fn new(ctx: &'c ReadContext<'c>) -> Self {
        Seed { ctx, _kind: PhantomData }
    }
}

impl<'de, K: ReadKind> DeserializeSeed<'de> for Seed<'_, K> {
    type Value = Option<K::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(NullableVisitor::<K> { ctx: self.ctx, _kind: PhantomData })
    }
}

struct NullableVisitor<'c, K> {
    ctx: &'c ReadContext<'c>,
    _kind: PhantomData<fn() -> K>,
}

impl<'de, K: ReadKind> Visitor<'de> for NullableVisitor<'_, K> {
    type Value = Option<K::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(K::null())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(K::null())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        K::read(deserializer, self.ctx).map(Some)
    }
}

/// Reads an element of a list or a map value, where `null` is an error (but for `Value`).
struct Element<'c, K> {
    ctx: &'c ReadContext<'c>,
    _kind: PhantomData<fn() -> K>,
}

impl<'de, K: ReadKind> DeserializeSeed<'de> for Element<'_, K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        match Seed::<K>::new(self.ctx).deserialize(deserializer)? {
            Some(value) => Ok(value),
            None => Err(de::Error::custom("null is not allowed here")),
        }
    }
}

fn invalid<E: de::Error>(what: &str, found: impl fmt::Display) -> E {
    E::custom(format_args!("invalid {what}: {found}"))
}

// ------------------------------------------------------------------------------------------- integers

/// Integers: a JSON number (integral, possibly written with a fraction or exponent) or a string holding one.
macro_rules! integer_kind {
    ($kind:ident, $ty:ty, $name:literal) => {
        #[doc = concat!("`", $name, "`: a JSON number or a string holding one.")]
        pub struct $kind;

        impl ReadKind for $kind {
            type Value = $ty;

            fn read<'de, D: Deserializer<'de>>(deserializer: D, _: &ReadContext<'_>) -> Result<$ty, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("an ", $name, " (number or string)"))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        <$ty>::try_from(v).map_err(|_| invalid(concat!($name, " (out of range)"), v))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        <$ty>::try_from(v).map_err(|_| invalid(concat!($name, " (out of range)"), v))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        integral(v).and_then(|i| <$ty>::try_from(i).ok()).ok_or_else(|| invalid($name, v))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$ty, E> {
                        parse_integer(v)
                            .and_then(|i| <$ty>::try_from(i).ok())
                            .ok_or_else(|| invalid($name, format_args!("{v:?}")))
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

integer_kind!(Int32, i32, "int32");
integer_kind!(Uint32, u32, "uint32");
integer_kind!(Int64, i64, "int64");
integer_kind!(Uint64, u64, "uint64");

/// A float that is a whole number within i128, as an integer.
fn integral(value: f64) -> Option<i128> {
    (value.is_finite() && value.fract() == 0.0 && value.abs() < 1.8e19).then_some(value as i128)
}

/// An integer written in a string: digits with an optional sign, or a whole number in float notation.
fn parse_integer(text: &str) -> Option<i128> {
    if text.is_empty() || text.trim() != text {
        return None;
    }
    if let Ok(value) = text.parse::<i128>() {
        return Some(value);
    }
    let float: f64 = text.parse().ok()?;
    // Only plain decimal or exponent notation; "inf" and "NaN" are not integers.
    if !text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')) {
        return None;
    }
    integral(float)
}

// -------------------------------------------------------------------------------------------- floats

/// `double`: a JSON number, or a string holding one, "NaN", "Infinity" or "-Infinity".
pub struct Double;

/// `float`: as `double`, and within the range of `f32`.
pub struct Float;

fn parse_float_text(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ if text.is_empty() || text.trim() != text => None,
        // Rust also reads "inf", "nan" and "infinity"; JSON does not.
        _ if text.bytes().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) => None,
        _ => text.parse().ok(),
    }
}

struct FloatVisitor;

impl<'de> Visitor<'de> for FloatVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, or a string holding one, \"NaN\", \"Infinity\" or \"-Infinity\"")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        parse_float_text(v).ok_or_else(|| invalid("number", format_args!("{v:?}")))
    }
}

impl ReadKind for Double {
    type Value = f64;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, _: &ReadContext<'_>) -> Result<f64, D::Error> {
        deserializer.deserialize_any(FloatVisitor)
    }
}

impl ReadKind for Float {
    type Value = f32;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, _: &ReadContext<'_>) -> Result<f32, D::Error> {
        let value = deserializer.deserialize_any(FloatVisitor)?;
        // Rounded to the nearest f32: only what rounds beyond f32::MAX is out of range. (f32::MAX itself
        // prints as 3.4028235e38, which is above it as an f64.)
        let float = value as f32;
        if value.is_finite() && float.is_infinite() {
            return Err(invalid("float (out of range)", value));
        }
        Ok(float)
    }
}

// ---------------------------------------------------------------------------------- bool, string, bytes

/// `bool`: `true` or `false` only.
pub struct Bool;

impl ReadKind for Bool {
    type Value = bool;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, _: &ReadContext<'_>) -> Result<bool, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
                Ok(v)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `string`.
pub struct Str;

impl ReadKind for Str {
    type Value = String;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, _: &ReadContext<'_>) -> Result<String, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = String;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
                Ok(v.to_owned())
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
                Ok(v)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `bytes` as `Vec<u8>`: base64, standard or URL-safe, padded or not.
pub struct Bytes;

/// `bytes` as `bytes::Bytes`.
pub struct SharedBytes;

pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    // Like protobuf's own parsers: padding optional, and bits left over after the last byte ignored.
    const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&STANDARD, LENIENT);
    const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&URL_SAFE, LENIENT);
    STANDARD_LENIENT.decode(text).or_else(|_| URL_SAFE_LENIENT.decode(text)).ok()
}

impl ReadKind for Bytes {
    type Value = Vec<u8>;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Vec<u8>, D::Error> {
        let text = Str::read(deserializer, ctx)?;
        decode_base64(&text).ok_or_else(|| invalid("base64", format_args!("{text:?}")))
    }
}

impl ReadKind for SharedBytes {
    type Value = ::bytes::Bytes;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<::bytes::Bytes, D::Error> {
        Bytes::read(deserializer, ctx).map(Into::into)
    }
}

// ------------------------------------------------------------------------------------------------ enums

/// What generated enums provide for JSON: their values by name.
pub trait JsonEnum {
    /// The number of the value with this name.
    fn number_of(name: &str) -> Option<i32>;
    /// Whether the number is a value (for closed enums, other numbers are refused).
    fn is_known(number: i32) -> bool;
    /// Whether the enum is closed (proto2).
    const CLOSED: bool;
    /// The name of the value with this number (what JSON writes), if the enum declares it.
    fn name_of(number: i32) -> Option<&'static str> {
        let _ = number;
        None
    }
}

/// An enum: a value's name, or a number. `None` for a name this code does not know when the options say
/// to ignore unknown values (the field is then left unset).
pub struct Enum<E>(PhantomData<fn() -> E>);

impl<E: JsonEnum> ReadKind for Enum<E> {
    type Value = Option<i32>;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Option<i32>, D::Error> {
        struct V<'c, E>(&'c ReadContext<'c>, PhantomData<fn() -> E>);
        impl<'de, E: JsonEnum> Visitor<'de> for V<'_, E> {
            type Value = Option<i32>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an enum value's name or number")
            }
            fn visit_str<Er: de::Error>(self, v: &str) -> Result<Option<i32>, Er> {
                let found = E::number_of(v).or_else(|| {
                    // Only names with a lower-case letter can match differently; the copy is made only then.
                    let retry = self.0.case_insensitive_enums && v.bytes().any(|b| b.is_ascii_lowercase());
                    retry.then(|| E::number_of(&v.to_ascii_uppercase())).flatten()
                });
                match found {
                    Some(number) => Ok(Some(number)),
                    None if self.0.ignore_unknown => Ok(None),
                    None => Err(invalid("enum value", format_args!("{v:?}"))),
                }
            }
            fn visit_i64<Er: de::Error>(self, v: i64) -> Result<Option<i32>, Er> {
                let number = i32::try_from(v).map_err(|_| invalid("enum number", v))?;
                if E::CLOSED && !E::is_known(number) {
                    return if self.0.ignore_unknown { Ok(None) } else { Err(invalid("enum number", v)) };
                }
                Ok(Some(number))
            }
            fn visit_u64<Er: de::Error>(self, v: u64) -> Result<Option<i32>, Er> {
                self.visit_i64(i64::try_from(v).map_err(|_| invalid("enum number", v))?)
            }
            fn visit_f64<Er: de::Error>(self, v: f64) -> Result<Option<i32>, Er> {
                let number =
                    integral(v).and_then(|i| i64::try_from(i).ok()).ok_or_else(|| invalid("enum number", v))?;
                self.visit_i64(number)
            }
        }
        deserializer.deserialize_any(V::<E>(ctx, PhantomData))
    }
}

/// `google.protobuf.NullValue`: only `null`.
pub struct NullValue;

impl ReadKind for NullValue {
    type Value = Option<i32>;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, _: &ReadContext<'_>) -> Result<Option<i32>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<i32>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i32>, E> {
                if v == "NULL_VALUE" {
                    Ok(Some(0))
                } else {
                    Err(invalid("NullValue", format_args!("{v:?}")))
                }
            }
        }
        deserializer.deserialize_any(V)
    }

    fn null() -> Option<Option<i32>> {
        Some(Some(0))
    }
}

// -------------------------------------------------------------------------------------------- messages

/// A message field.
pub struct Msg<M>(PhantomData<fn() -> M>);

impl<M: JsonMessage> ReadKind for Msg<M> {
    type Value = M;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<M, D::Error> {
        M::read_json(deserializer, ctx)
    }
    fn null() -> Option<M> {
        M::json_null()
    }
}

/// A boxed message field (recursive messages).
pub struct Boxed<M>(PhantomData<fn() -> M>);

impl<M: JsonMessage> ReadKind for Boxed<M> {
    type Value = Box<M>;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Box<M>, D::Error> {
        M::read_json(deserializer, ctx).map(Box::new)
    }
    fn null() -> Option<Box<M>> {
        M::json_null().map(Box::new)
    }
}

/// What generated messages provide for reading: their fields by JSON or proto name.
pub trait JsonFields: Default {
    /// The field number for a key (its JSON name or proto name).
    fn field_number(key: &str) -> Option<u32>;

    /// Reads the value of field `number` from `map` into the message. A oneof member whose oneof is
    /// already set is an error (a `null` sets nothing, so it never conflicts).
    fn read_field<'de, A: MapAccess<'de>>(
        &mut self,
        number: u32,
        map: &mut A,
        ctx: &ReadContext<'_>,
    ) -> Result<(), A::Error>;

    /// The message's full proto name when it has extension ranges: `"[pkg.ext]"` keys are then looked up
    /// among the registry's extensions of it.
    fn extendee() -> Option<&'static str> {
        None
    }

    /// Where an extendable message keeps its extensions (its unknown fields).
    fn extension_fields_mut(&mut self) -> Option<&mut crate::UnknownFields> {
        None
    }
}

/// The error for a second member of a set oneof.
pub fn oneof_already_set<E: de::Error>(field: &str) -> E {
    E::custom(format_args!("field {field:?} sets a oneof that is already set"))
}

/// Reads a JSON object into a generated message.
pub fn read_object<'de, M: JsonFields, D: Deserializer<'de>>(
    deserializer: D,
    ctx: &ReadContext<'_>,
) -> Result<M, D::Error> {
    struct V<'c, M>(&'c ReadContext<'c>, PhantomData<fn() -> M>);
    impl<'de, M: JsonFields> Visitor<'de> for V<'_, M> {
        type Value = M;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<M, A::Error> {
            let mut message = M::default();
            let mut seen: Vec<u32> = Vec::new();
            while let Some(key) = map.next_key_seed(KeySeed)? {
                let Some(number) = M::field_number(&key) else {
                    if let Some(entry) = extension_for::<M>(&key, self.0) {
                        // Extension numbers are outside the message's own, so one list tells duplicates.
                        if seen.contains(&entry.number) {
                            return Err(de::Error::custom(format_args!("field {key:?} appears twice")));
                        }
                        seen.push(entry.number);
                        let value: serde_json::Value = map.next_value()?;
                        let encoded = (entry.read)(entry.number, value, self.0)
                            .map_err(|e| de::Error::custom(format_args!("extension {key}: {e}")))?;
                        if let Some(fields) = message.extension_fields_mut() {
                            fields.remove(entry.number);
                            fields.push_encoded(&encoded);
                        }
                        continue;
                    }
                    if self.0.ignore_unknown {
                        map.next_value::<de::IgnoredAny>()?;
                        continue;
                    }
                    return Err(de::Error::custom(format_args!("unknown field {key:?}")));
                };
                if seen.contains(&number) {
                    return Err(de::Error::custom(format_args!("field {key:?} appears twice")));
                }
                seen.push(number);
                message.read_field(number, &mut map, self.0)?;
            }
            Ok(message)
        }
    }
    deserializer.deserialize_map(V::<M>(ctx, PhantomData))
}

/// The registered extension a `"[full.name]"` key of message `M` names.
fn extension_for<M: JsonFields>(key: &str, ctx: &ReadContext<'_>) -> Option<super::ExtensionEntry> {
    let name = key.strip_prefix('[')?.strip_suffix(']')?;
    ctx.registry.extension(M::extendee()?, name)
}

/// Object keys, borrowed from the input when they need no unescaping.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        deserializer.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------------------------- lists

/// A repeated field: a JSON array. Enum elements this code does not know are dropped when ignored.
pub struct Repeated<K>(PhantomData<fn() -> K>);

impl<K: ReadKind> ReadKind for Repeated<K>
where
    K::Value: IntoElements,
{
    type Value = Vec<<K::Value as IntoElements>::Element>;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self::Value, D::Error> {
        struct V<'c, K>(&'c ReadContext<'c>, PhantomData<fn() -> K>);
        impl<'de, K: ReadKind> Visitor<'de> for V<'_, K>
        where
            K::Value: IntoElements,
        {
            type Value = Vec<<K::Value as IntoElements>::Element>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(value) = seq.next_element_seed(Element::<K> { ctx: self.0, _kind: PhantomData })? {
                    value.push_into(&mut values);
                }
                Ok(values)
            }
        }
        deserializer.deserialize_seq(V::<K>(ctx, PhantomData))
    }
}

/// How a read value goes into a list: enum values may be absent (unknown and ignored).
pub trait IntoElements {
    /// The list's element type.
    type Element;
    /// Adds the value to `values` (or not).
    fn push_into(self, values: &mut Vec<Self::Element>);
}

macro_rules! plain_elements {
    ($($ty:ty),*) => {$(
        impl IntoElements for $ty {
            type Element = $ty;
            fn push_into(self, values: &mut Vec<$ty>) {
                values.push(self);
            }
        }
    )*};
}

plain_elements!(i32, u32, i64, u64, f32, f64, bool, String, Vec<u8>, ::bytes::Bytes);

impl IntoElements for Option<i32> {
    type Element = i32;
    fn push_into(self, values: &mut Vec<i32>) {
        values.extend(self);
    }
}

impl<M: JsonMessage> IntoElements for MessageElement<M> {
    type Element = M;
    fn push_into(self, values: &mut Vec<M>) {
        values.push(self.0);
    }
}

/// A message read as a list element.
pub struct MessageElement<M>(pub M);

/// Message elements of a repeated field.
pub struct MsgElement<M>(PhantomData<fn() -> M>);

impl<M: JsonMessage> ReadKind for MsgElement<M> {
    type Value = MessageElement<M>;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self::Value, D::Error> {
        M::read_json(deserializer, ctx).map(MessageElement)
    }
    fn null() -> Option<Self::Value> {
        M::json_null().map(MessageElement)
    }
}

// ----------------------------------------------------------------------------------------------- maps

/// How a map key is read from its JSON string form.
pub trait MapKey: Sized {
    /// Parses the key.
    fn parse_key(text: &str) -> Option<Self>;
}

macro_rules! integer_keys {
    ($($ty:ty),*) => {$(
        impl MapKey for $ty {
            fn parse_key(text: &str) -> Option<$ty> {
                text.parse().ok()
            }
        }
    )*};
}

integer_keys!(i32, u32, i64, u64);

impl MapKey for bool {
    fn parse_key(text: &str) -> Option<bool> {
        match text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

impl MapKey for String {
    fn parse_key(text: &str) -> Option<String> {
        Some(text.to_owned())
    }
}

/// The maps a map field can be.
pub trait MapCollection<K, V>: Default {
    /// Inserts an entry.
    fn insert_entry(&mut self, key: K, value: V);
}

impl<K: Eq + Hash, V> MapCollection<K, V> for HashMap<K, V> {
    fn insert_entry(&mut self, key: K, value: V) {
        self.insert(key, value);
    }
}

impl<K: Ord, V> MapCollection<K, V> for BTreeMap<K, V> {
    fn insert_entry(&mut self, key: K, value: V) {
        self.insert(key, value);
    }
}

/// The types a [`Map`] kind stands for: key, value kind, collection.
type MapTypes<K, VK, C> = fn() -> (K, VK, C);

/// A map field: a JSON object whose keys are the map's keys as strings.
pub struct Map<K, VK, C>(PhantomData<MapTypes<K, VK, C>>);

impl<K, VK, C> ReadKind for Map<K, VK, C>
where
    K: MapKey,
    VK: ReadKind,
    VK::Value: IntoMapValue,
    C: MapCollection<K, <VK::Value as IntoMapValue>::Value>,
{
    type Value = C;
    fn read<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<C, D::Error> {
        struct V<'c, K, VK, C>(&'c ReadContext<'c>, PhantomData<MapTypes<K, VK, C>>);
        impl<'de, K, VK, C> Visitor<'de> for V<'_, K, VK, C>
        where
            K: MapKey,
            VK: ReadKind,
            VK::Value: IntoMapValue,
            C: MapCollection<K, <VK::Value as IntoMapValue>::Value>,
        {
            type Value = C;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<C, A::Error> {
                let mut collection = C::default();
                while let Some(key) = map.next_key_seed(KeySeed)? {
                    let parsed =
                        K::parse_key(&key).ok_or_else(|| invalid::<A::Error>("map key", format_args!("{key:?}")))?;
                    let value = map.next_value_seed(Element::<VK> { ctx: self.0, _kind: PhantomData })?;
                    if let Some(value) = value.into_map_value() {
                        collection.insert_entry(parsed, value);
                    }
                }
                Ok(collection)
            }
        }
        deserializer.deserialize_map(V::<K, VK, C>(ctx, PhantomData))
    }
}

/// How a read value goes into a map: enum values may be absent (unknown and ignored).
pub trait IntoMapValue {
    /// The map's value type.
    type Value;
    /// The value to insert, if any.
    fn into_map_value(self) -> Option<Self::Value>;
}

macro_rules! plain_map_values {
    ($($ty:ty),*) => {$(
        impl IntoMapValue for $ty {
            type Value = $ty;
            fn into_map_value(self) -> Option<$ty> {
                Some(self)
            }
        }
    )*};
}

plain_map_values!(i32, u32, i64, u64, f32, f64, bool, String, Vec<u8>, ::bytes::Bytes);

impl IntoMapValue for Option<i32> {
    type Value = i32;
    fn into_map_value(self) -> Option<i32> {
        self
    }
}

impl<M> IntoMapValue for MessageElement<M> {
    type Value = M;
    fn into_map_value(self) -> Option<M> {
        Some(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_strings_and_float_notation() {
        assert_eq!(parse_integer("-12"), Some(-12));
        assert_eq!(parse_integer("1e3"), Some(1000));
        assert_eq!(parse_integer("1.0"), Some(1));
        assert_eq!(parse_integer("1.5"), None);
        assert_eq!(parse_integer(" 1"), None);
        assert_eq!(parse_integer("inf"), None);
        assert_eq!(parse_float_text("1e5"), Some(1e5));
        assert_eq!(parse_float_text("inf"), None);
        assert!(parse_float_text("NaN").unwrap().is_nan());
    }

    #[test]
    fn base64_forms() {
        assert_eq!(decode_base64("/wA=").unwrap(), [0xff, 0]);
        assert_eq!(decode_base64("/wA").unwrap(), [0xff, 0]);
        assert_eq!(decode_base64("_wA").unwrap(), [0xff, 0]);
        assert_eq!(decode_base64("-_").unwrap(), [0xfb]);
        assert!(decode_base64("!!").is_none());
    }
}
