//! The proto3 JSON forms of the well-known types whose JSON form is not an object of their fields:
//! Timestamp, Duration, FieldMask, Struct, Value, ListValue, the wrappers and Any. (The other well-known
//! types are generated like any message; the generator leaves these to this module.) They live with the
//! types, on the JSON machinery of [`crate::json`], which knows nothing of them; an `Any` finds them here
//! whatever registry it is given.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::json::read::{Bool, Bytes, Double, Float, Int32, Int64, ReadKind, Str, Uint32, Uint64};
use crate::json::time::{format_duration, format_timestamp, parse_duration, parse_timestamp};
use crate::json::{JsonMessage, JsonWriter, ReadContext, TypeRegistry};
use crate::well_known::{
    value, Any, BoolValue, BytesValue, DoubleValue, Duration, FieldMask, FloatValue, Int32Value, Int64Value, ListValue,
    StringValue, Struct, Timestamp, UInt32Value, UInt64Value, Value,
};

impl TypeRegistry {
    /// A registry with the well-known types (an `Any` finds them in any registry; this one lists them too).
    pub fn with_well_known() -> Self {
        let mut registry = TypeRegistry::new();
        register_all(&mut registry);
        registry
    }
}

/// The well-known types, for an `Any` whose registry does not have the one it holds.
fn well_known_types() -> &'static TypeRegistry {
    static TYPES: std::sync::OnceLock<TypeRegistry> = std::sync::OnceLock::new();
    TYPES.get_or_init(TypeRegistry::with_well_known)
}

fn register_all(registry: &mut TypeRegistry) {
    registry.insert::<Timestamp>(true);
    registry.insert::<Duration>(true);
    registry.insert::<FieldMask>(true);
    registry.insert::<Struct>(true);
    registry.insert::<Value>(true);
    registry.insert::<ListValue>(true);
    registry.insert::<DoubleValue>(true);
    registry.insert::<FloatValue>(true);
    registry.insert::<Int64Value>(true);
    registry.insert::<UInt64Value>(true);
    registry.insert::<Int32Value>(true);
    registry.insert::<UInt32Value>(true);
    registry.insert::<BoolValue>(true);
    registry.insert::<StringValue>(true);
    registry.insert::<BytesValue>(true);
    registry.insert::<Any>(true);
    // Empty's JSON form is the object of its (no) fields, so inside an Any it is `{"@type": ...}` alone, as C++,
    // Java and Python write and read it (Go alone puts an empty "value" there).
    registry.insert::<crate::well_known::Empty>(false);
    registry.insert::<crate::well_known::SourceContext>(false);
    registry.insert::<crate::well_known::Api>(false);
    registry.insert::<crate::well_known::Type>(false);
    registry.insert::<crate::well_known::Field>(false);
    registry.insert::<crate::well_known::Enum>(false);
    registry.insert::<crate::well_known::EnumValue>(false);
    registry.insert::<crate::well_known::Method>(false);
    registry.insert::<crate::well_known::Mixin>(false);
    registry.insert::<crate::well_known::Option>(false);
    // descriptor.proto's types: descriptors and options travel in Anys too (reflection tools, config).
    registry.insert::<crate::well_known::DescriptorProto>(false);
    registry.insert::<crate::well_known::EnumDescriptorProto>(false);
    registry.insert::<crate::well_known::EnumOptions>(false);
    registry.insert::<crate::well_known::EnumValueDescriptorProto>(false);
    registry.insert::<crate::well_known::EnumValueOptions>(false);
    registry.insert::<crate::well_known::ExtensionRangeOptions>(false);
    registry.insert::<crate::well_known::FeatureSet>(false);
    registry.insert::<crate::well_known::FeatureSetDefaults>(false);
    registry.insert::<crate::well_known::FieldDescriptorProto>(false);
    registry.insert::<crate::well_known::FieldOptions>(false);
    registry.insert::<crate::well_known::FileDescriptorProto>(false);
    registry.insert::<crate::well_known::FileDescriptorSet>(false);
    registry.insert::<crate::well_known::FileOptions>(false);
    registry.insert::<crate::well_known::GeneratedCodeInfo>(false);
    registry.insert::<crate::well_known::MessageOptions>(false);
    registry.insert::<crate::well_known::MethodDescriptorProto>(false);
    registry.insert::<crate::well_known::MethodOptions>(false);
    registry.insert::<crate::well_known::OneofDescriptorProto>(false);
    registry.insert::<crate::well_known::OneofOptions>(false);
    registry.insert::<crate::well_known::ServiceDescriptorProto>(false);
    registry.insert::<crate::well_known::ServiceOptions>(false);
    registry.insert::<crate::well_known::SourceCodeInfo>(false);
    registry.insert::<crate::well_known::UninterpretedOption>(false);
    registry.insert::<crate::well_known::descriptor_proto::ExtensionRange>(false);
    registry.insert::<crate::well_known::descriptor_proto::ReservedRange>(false);
    registry.insert::<crate::well_known::enum_descriptor_proto::EnumReservedRange>(false);
    registry.insert::<crate::well_known::extension_range_options::Declaration>(false);
    registry.insert::<crate::well_known::feature_set::ProtoLimitsFeature>(false);
    registry.insert::<crate::well_known::feature_set::VisibilityFeature>(false);
    registry.insert::<crate::well_known::feature_set_defaults::FeatureSetEditionDefault>(false);
    registry.insert::<crate::well_known::field_options::EditionDefault>(false);
    registry.insert::<crate::well_known::field_options::FeatureSupport>(false);
    registry.insert::<crate::well_known::generated_code_info::Annotation>(false);
    registry.insert::<crate::well_known::source_code_info::Location>(false);
    registry.insert::<crate::well_known::uninterpreted_option::NamePart>(false);
}

fn custom<E: de::Error>(message: String) -> E {
    E::custom(message)
}

impl JsonMessage for Timestamp {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        match format_timestamp(self.seconds, self.nanos) {
            Ok(text) => writer.string(&text),
            Err(error) => {
                writer.fail(error);
                writer.null();
            }
        }
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        let text = Str::read(deserializer, ctx)?;
        let (seconds, nanos) = parse_timestamp(&text).map_err(custom)?;
        Ok(Timestamp { seconds, nanos, ..Default::default() })
    }
}

impl JsonMessage for Duration {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        match format_duration(self.seconds, self.nanos) {
            Ok(text) => writer.string(&text),
            Err(error) => {
                writer.fail(error);
                writer.null();
            }
        }
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        let text = Str::read(deserializer, ctx)?;
        let (seconds, nanos) = parse_duration(&text).map_err(custom)?;
        Ok(Duration { seconds, nanos, ..Default::default() })
    }
}

/// A field mask path's JSON form: `foo_bar.baz` -> `fooBar.baz`; `None` if the path would not read back
/// the same. The one place the field-mask casing lives (the gateway's update masks use it too).
pub(crate) fn camel_path(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            return None;
        }
        if c == '_' {
            if upper {
                return None;
            }
            upper = true;
            continue;
        }
        if upper {
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    (!upper).then_some(out)
}

/// A JSON field mask path's proto form: `fooBar.baz` -> `foo_bar.baz`; `None` for characters a JSON field
/// mask may not hold.
pub(crate) fn snake_path(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c == '_' {
            return None;
        }
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Some(out)
}

impl JsonMessage for FieldMask {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        let mut paths = Vec::with_capacity(self.paths.len());
        for path in &self.paths {
            match camel_path(path) {
                Some(camel) => paths.push(camel),
                None => {
                    writer.fail(format!("field mask path {path:?} has no JSON form"));
                    return writer.null();
                }
            }
        }
        writer.string(&paths.join(","));
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        let text = Str::read(deserializer, ctx)?;
        let mut paths = Vec::new();
        for path in text.split(',').filter(|p| !p.is_empty()) {
            paths.push(snake_path(path).ok_or_else(|| custom(format!("invalid field mask path {path:?}")))?);
        }
        Ok(FieldMask { paths, ..Default::default() })
    }
}

impl JsonMessage for Value {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        match &self.kind {
            Some(value::Kind::NullValue(_)) => writer.null(),
            Some(value::Kind::NumberValue(number)) => {
                if !number.is_finite() {
                    writer.fail(format!("a Value number must be finite, not {number}"));
                }
                writer.double(*number);
            }
            Some(value::Kind::StringValue(text)) => writer.string(text),
            Some(value::Kind::BoolValue(flag)) => writer.bool(*flag),
            Some(value::Kind::StructValue(object)) => object.write_json(writer),
            Some(value::Kind::ListValue(list)) => list.write_json(writer),
            None => {
                writer.fail("a Value has no kind set");
                writer.null();
            }
        }
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor(ctx))
    }

    fn json_null() -> Option<Self> {
        Some(Value { kind: Some(value::Kind::NullValue(0)), ..Default::default() })
    }
}

struct ValueVisitor<'c>(&'c ReadContext<'c>);

fn kind(kind: value::Kind) -> Value {
    Value { kind: Some(kind), ..Default::default() }
}

impl<'de> Visitor<'de> for ValueVisitor<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(kind(value::Kind::NullValue(0)))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(kind(value::Kind::BoolValue(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(kind(value::Kind::NumberValue(v as f64)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(kind(value::Kind::NumberValue(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(kind(value::Kind::NumberValue(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(kind(value::Kind::StringValue(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(kind(value::Kind::StringValue(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        Ok(kind(value::Kind::ListValue(read_list(seq, self.0)?)))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        Ok(kind(value::Kind::StructValue(read_struct(map, self.0)?)))
    }
}

struct ValueSeed<'c>(&'c ReadContext<'c>);

impl<'de> de::DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor(self.0))
    }
}

fn read_list<'de, A: SeqAccess<'de>>(mut seq: A, ctx: &ReadContext<'_>) -> Result<ListValue, A::Error> {
    let mut values = Vec::new();
    while let Some(value) = seq.next_element_seed(ValueSeed(ctx))? {
        values.push(value);
    }
    Ok(ListValue { values, ..Default::default() })
}

fn read_struct<'de, A: MapAccess<'de>>(mut map: A, ctx: &ReadContext<'_>) -> Result<Struct, A::Error> {
    let mut fields = BTreeMap::new();
    while let Some(key) = map.next_key::<String>()? {
        let value = map.next_value_seed(ValueSeed(ctx))?;
        fields.insert(key, value);
    }
    Ok(Struct { fields, ..Default::default() })
}

impl JsonMessage for Struct {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        writer.begin_object();
        for (key, value) in &self.fields {
            writer.raw_key(key);
            value.write_json(writer);
        }
        writer.end_object();
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        struct V<'c>(&'c ReadContext<'c>);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = Struct;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Struct, A::Error> {
                read_struct(map, self.0)
            }
        }
        deserializer.deserialize_map(V(ctx))
    }
}

impl JsonMessage for ListValue {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        writer.begin_array();
        for value in &self.values {
            value.write_json(writer);
        }
        writer.end_array();
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        struct V<'c>(&'c ReadContext<'c>);
        impl<'de> Visitor<'de> for V<'_> {
            type Value = ListValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ListValue, A::Error> {
                read_list(seq, self.0)
            }
        }
        deserializer.deserialize_seq(V(ctx))
    }
}

/// The wrappers: their JSON form is the wrapped value's.
macro_rules! wrapper {
    ($ty:ty, $kind:ty, $write:ident) => {
        impl JsonMessage for $ty {
            fn write_json(&self, writer: &mut JsonWriter<'_>) {
                writer.$write(self.value);
            }

            fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
                Ok(Self { value: <$kind>::read(deserializer, ctx)?, ..Default::default() })
            }
        }
    };
}

wrapper!(DoubleValue, Double, double);
wrapper!(FloatValue, Float, float);
wrapper!(Int64Value, Int64, int64);
wrapper!(UInt64Value, Uint64, uint64);
wrapper!(Int32Value, Int32, int32);
wrapper!(UInt32Value, Uint32, uint32);
wrapper!(BoolValue, Bool, bool);

impl JsonMessage for StringValue {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        writer.string(&self.value);
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        Ok(StringValue { value: Str::read(deserializer, ctx)?, ..Default::default() })
    }
}

impl JsonMessage for BytesValue {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        writer.bytes(&self.value);
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        Ok(BytesValue { value: Bytes::read(deserializer, ctx)?, ..Default::default() })
    }
}

// The types above have their JSON form written by hand, so the generator does not emit their serde impls.
crate::impl_serde!(
    Timestamp,
    Duration,
    FieldMask,
    Value,
    Struct,
    ListValue,
    DoubleValue,
    FloatValue,
    Int64Value,
    UInt64Value,
    Int32Value,
    UInt32Value,
    BoolValue,
    StringValue,
    BytesValue,
    Any,
);

impl JsonMessage for Any {
    fn write_json(&self, writer: &mut JsonWriter<'_>) {
        if self.type_url.is_empty() && self.value.is_empty() {
            writer.begin_object();
            return writer.end_object();
        }
        let registry;
        let registry = match &writer.options().registry {
            Some(registry) => registry.clone(),
            None => {
                registry = crate::json::global_registry();
                registry
            }
        };
        let Some(entry) = registry.get(&self.type_url).or_else(|| well_known_types().get(&self.type_url)) else {
            writer.fail(format!("Any holds {:?}, which is not in the type registry", self.type_url));
            return writer.null();
        };
        if writer.depth() >= crate::json::writer::MAX_DEPTH {
            writer.fail(format!("Any values nested more than {} levels deep", crate::json::writer::MAX_DEPTH));
            return writer.null();
        }
        // The inner message's JSON, written with the same options, then merged with "@type".
        let options = writer.options().clone();
        let mut inner = String::new();
        let mut inner_writer = writer.nested(&mut inner, &options);
        let written = (entry.write)(&self.value, &mut inner_writer);
        if let Some(error) = inner_writer.take_error().or(written.err()) {
            writer.fail(error);
            return writer.null();
        }
        writer.begin_object();
        writer.raw_key("@type");
        writer.string(&self.type_url);
        if entry.special {
            writer.raw_key("value");
            writer.raw(&inner);
        } else if let Some(fields) = inner.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
            if !fields.is_empty() {
                writer.raw(fields);
            }
        }
        writer.end_object();
    }

    fn read_json<'de, D: Deserializer<'de>>(deserializer: D, ctx: &ReadContext<'_>) -> Result<Self, D::Error> {
        // "@type" may come after the fields it describes, so the object is read whole first.
        let json = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
        let serde_json::Value::Object(mut object) = json else {
            return Err(custom("an Any must be a JSON object".to_owned()));
        };
        if object.is_empty() {
            return Ok(Any::default());
        }
        let type_url = match object.remove("@type") {
            Some(serde_json::Value::String(url)) => url,
            Some(_) => return Err(custom("\"@type\" must be a string".to_owned())),
            None => return Err(custom("an Any needs \"@type\"".to_owned())),
        };
        let entry = ctx
            .registry
            .get(&type_url)
            .or_else(|| well_known_types().get(&type_url))
            .ok_or_else(|| custom(format!("Any holds {type_url:?}, which is not in the type registry")))?;
        let inner = if entry.special {
            if object.len() != 1 {
                return Err(custom(format!("an Any holding {type_url:?} has exactly \"@type\" and \"value\"")));
            }
            object.remove("value").ok_or_else(|| custom(format!("an Any holding {type_url:?} needs \"value\"")))?
        } else if type_url.ends_with("/google.protobuf.Empty") && object.get("value").is_some_and(is_empty_object) {
            // Go writes an Empty inside an Any with an empty "value"; C++, Java and Python without. Read both.
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            serde_json::Value::Object(object)
        };
        let value = (entry.read)(inner, ctx).map_err(custom)?;
        Ok(Any { type_url, value, ..Default::default() })
    }
}

fn is_empty_object(value: &serde_json::Value) -> bool {
    value.as_object().is_some_and(serde_json::Map::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_in_any_reads_in_both_forms_and_writes_without_value() {
        let ctx = ReadContext {
            ignore_unknown: false,
            case_insensitive_enums: false,
            registry: &TypeRegistry::with_well_known(),
        };
        let url = "type.googleapis.com/google.protobuf.Empty";
        for text in [format!(r#"{{"@type":"{url}"}}"#), format!(r#"{{"@type":"{url}","value":{{}}}}"#)] {
            let any = Any::read_json(&mut serde_json::Deserializer::from_str(&text), &ctx).unwrap();
            assert_eq!((any.type_url.as_str(), any.value.len()), (url, 0), "{text}");
        }
        let any = Any { type_url: url.into(), ..Default::default() };
        assert_eq!(crate::json::to_json(&any).unwrap(), format!(r#"{{"@type":"{url}"}}"#));
    }

    #[test]
    fn field_mask_paths() {
        assert_eq!(camel_path("foo_bar.baz_qux").as_deref(), Some("fooBar.bazQux"));
        assert_eq!(camel_path("foo__bar"), None);
        assert_eq!(camel_path("fooBar"), None);
        assert_eq!(camel_path("foo_3"), None);
        assert_eq!(snake_path("fooBar.bazQux").as_deref(), Some("foo_bar.baz_qux"));
        assert_eq!(snake_path("foo_bar"), None);
    }
}
