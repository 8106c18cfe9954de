//! serde's `Serialize` and `Deserialize` for generated messages through the proto3 JSON mapping (runtime
//! feature `serde`), as pbjson gives prost users: `serde_json::to_string(&message)` and web frameworks'
//! JSON extractors then see canonical proto3 JSON (camelCase names, int64 as strings, enum names,
//! well-known types in their special forms), not a struct dump.
//!
//! Generated code calls [`impl_serde!`](crate::impl_serde) for each message whatever the feature, so the
//! same generated file serves builds with and without it; the macro expands to nothing without it.

use serde::de::{DeserializeSeed, Deserializer, Error as _};
use serde::ser::{Error as _, Serializer};

use super::{global_registry, to_json, JsonMessage, Msg, ReadContext, Seed};

/// Serializes `message` as its proto3 JSON form into any serde serializer.
///
/// The JSON writer produces the text (the one implementation of the mapping), which is then transcoded
/// token by token into `serializer`: field order is kept, and formats other than JSON get the same tree.
pub fn serialize<M: JsonMessage, S: Serializer>(message: &M, serializer: S) -> Result<S::Ok, S::Error> {
    let text = to_json(message).map_err(S::Error::custom)?;
    let mut reader = serde_json::Deserializer::from_str(&text);
    serde_transcode::transcode(&mut reader, serializer)
}

/// Deserializes a message from its proto3 JSON form out of any self-describing serde deserializer.
///
/// `Any` values resolve their `@type` in the global registry; unknown fields are an error, as in
/// [`from_json`](super::from_json) with default options.
pub fn deserialize<'de, M: JsonMessage, D: Deserializer<'de>>(deserializer: D) -> Result<M, D::Error> {
    let registry = global_registry();
    let ctx = ReadContext { ignore_unknown: false, case_insensitive_enums: false, registry: &registry };
    match Seed::<Msg<M>>::new(&ctx).deserialize(deserializer)? {
        Some(message) => Ok(message),
        None => Err(D::Error::custom("null is not a message")),
    }
}
