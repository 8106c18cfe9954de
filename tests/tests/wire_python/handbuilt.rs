//! Rust mirrors of the hand-built cases of tests/py/wire_corpus.py (described in tests/py/HANDBUILT.md):
//! the same messages, written independently as struct literals of the generated `wire_gen` types.

use std::collections::BTreeMap;
use std::fmt::Debug;

use rsgrpc::bytes::Bytes;
use rsgrpc::well_known::{
    value::Kind, Any, BoolValue, BytesValue, DoubleValue, Duration, Empty, FieldMask, FloatValue, Int32Value,
    Int64Value, ListValue, NullValue, StringValue, Struct, Timestamp, UInt32Value, UInt64Value, Value,
};
use rsgrpc::{Message, Name};
use rsgrpc_tests::wire_gen::rsgrpc::test::r#type as types;
use rsgrpc_tests::wire_gen::rsgrpc::test::{common, shop, v2, v3, wkt};

/// Decodes bytes and compares them with a case's message.
pub type Check = Box<dyn Fn(&[u8]) -> Result<(), String>>;

/// One hand-built message, type-erased so cases of every type fit in one list.
pub struct Case {
    /// The case id shared with the Python side.
    pub id: &'static str,
    /// The message's full proto name.
    pub type_name: String,
    /// Our encoding of the message.
    pub encoded: Vec<u8>,
    /// Decodes bytes as this case's type and compares with the message; describes any difference.
    pub check: Check,
}

fn case<M>(id: &'static str, message: M) -> Case
where
    M: Message + Name + Default + PartialEq + Debug + 'static,
{
    let encoded = message.encode_to_vec();
    Case {
        id,
        type_name: M::full_name(),
        encoded,
        check: Box::new(move |bytes| {
            let decoded = M::decode(bytes).map_err(|e| format!("does not decode: {e}"))?;
            // NaN is not equal to itself: messages holding one compare by their encoding instead.
            if decoded == message || decoded.encode_to_vec() == message.encode_to_vec() {
                Ok(())
            } else {
                Err(format!("decoded {decoded:#?}\nexpected {message:#?}"))
            }
        }),
    }
}

/// Every hand-built case, in the order of tests/py/wire_corpus.py.
pub fn cases() -> Vec<Case> {
    vec![
        scalars_extremes(),
        scalars_negative_zero(),
        scalars_empty(),
        scalars_large(),
        outer_nested(),
        node_tree(),
        ping_pong(),
        choice_none(),
        choice_int_zero(),
        choice_string(),
        choice_bytes(),
        choice_message(),
        choice_enum(),
        choice_double(),
        maps_all(),
        repeated_scalars(),
        optional_zeros(),
        v2_required(),
        v2_defaults_partial(),
        v2_repeated(),
        v2_groups(),
        v2_groups_empty(),
        keywords(),
        shop_order(),
        wkt_all(),
    ]
}

/// `-0.0` as a double, spelled by its bits.
fn f64_negative_zero() -> f64 {
    f64::from_bits(0x8000_0000_0000_0000)
}

/// `-0.0` as a float, spelled by its bits.
fn f32_negative_zero() -> f32 {
    f32::from_bits(0x8000_0000)
}

/// Every scalar at its most extreme value, a multi-byte string and the highest field number.
fn scalars_extremes() -> Case {
    case(
        "scalars-extremes",
        v3::Scalars {
            f_double: f64::MIN,
            f_float: f32::MIN,
            f_int32: i32::MIN,
            f_int64: i64::MIN,
            f_uint32: u32::MAX,
            f_uint64: u64::MAX,
            f_sint32: i32::MIN,
            f_sint64: i64::MIN,
            f_fixed32: u32::MAX,
            f_fixed64: u64::MAX,
            f_sfixed32: i32::MIN,
            f_sfixed64: i64::MIN,
            f_bool: true,
            f_string: "h\u{e9}llo \u{2713} \u{1F600}".into(),
            f_bytes: b"\x00\x01\xfe\xff".to_vec(),
            f_enum: v3::Color::Infrared as i32,
            f_high_number: -1,
            ..Default::default()
        },
    )
}

/// Negative zero in both implicit-presence float fields: not all-zero bits, so encoded.
fn scalars_negative_zero() -> Case {
    case(
        "scalars-negative-zero",
        v3::Scalars { f_double: f64_negative_zero(), f_float: f32_negative_zero(), ..Default::default() },
    )
}

/// Nothing set: the payload is empty.
fn scalars_empty() -> Case {
    case("scalars-empty", v3::Scalars::default())
}

/// A 1 MiB bytes field and a 100 KiB string mixing 1- to 4-byte characters.
fn scalars_large() -> Case {
    case(
        "scalars-large",
        v3::Scalars {
            f_bytes: (0..1 << 20).map(|i| (i % 251) as u8).collect(),
            f_string: "a\u{e9}\u{20ac}\u{1F600}".repeat(10240),
            f_high_number: 1,
            ..Default::default()
        },
    )
}

/// Nested messages and enums, an aliased enum value and an empty repeated element.
fn outer_nested() -> Case {
    use v3::outer::{middle::Inner, Kind, Middle};
    case(
        "outer-nested",
        v3::Outer {
            middle: Some(Middle {
                inner: Some(Inner { value: -1, kind: Kind::A as i32, ..Default::default() }),
                inners: vec![
                    Inner { value: 1, ..Default::default() },
                    Inner::default(),
                    Inner { value: i64::MAX, kind: Kind::B as i32, ..Default::default() },
                ],
                ..Default::default()
            }),
            inner: Some(Inner { value: 42, kind: Kind::B as i32, ..Default::default() }),
            kind: Kind::B as i32,
            status: v3::Status::Running as i32,
            plain: v3::Plain::TwoWords as i32,
            ..Default::default()
        },
    )
}

/// A four-level tree recursive through every kind of field: singular, repeated, map, oneof, optional.
fn node_tree() -> Case {
    use v3::node::Extra;
    use v3::Node;
    let leaf = |name: &str| Node { name: name.into(), ..Default::default() };
    case(
        "node-tree",
        Node {
            name: "root".into(),
            left: Some(Box::new(Node {
                name: "l".into(),
                left: Some(Box::new(Node {
                    name: "ll".into(),
                    right: Some(Box::new(leaf("llr"))),
                    ..Default::default()
                })),
                ..Default::default()
            })),
            right: Some(Box::new(Node {
                name: "r".into(),
                children: vec![leaf("rc0"), Node::default()],
                ..Default::default()
            })),
            children: vec![
                Node {
                    name: "c0".into(),
                    extra: Some(Extra::Alternative(Box::new(Node {
                        name: "c0alt".into(),
                        maybe: Some(Box::new(leaf("c0altm"))),
                        ..Default::default()
                    }))),
                    ..Default::default()
                },
                Node { name: "c1".into(), extra: Some(Extra::Note(String::new())), ..Default::default() },
            ],
            named: BTreeMap::from([
                (String::new(), Node::default()),
                (
                    "k".into(),
                    Node { name: "k".into(), named: BTreeMap::from([("kk".into(), leaf("kk"))]), ..Default::default() },
                ),
            ]),
            extra: Some(Extra::Note("root note".into())),
            maybe: Some(Box::new(Node { name: "m".into(), maybe: Some(Box::default()), ..Default::default() })),
            ..Default::default()
        },
    )
}

/// Mutual recursion, five levels, ending in a present but empty `Pong`.
fn ping_pong() -> Case {
    use v3::{Ping, Pong};
    case(
        "ping-pong",
        Ping {
            depth: 0,
            pong: Some(Box::new(Pong {
                depth: 1,
                ping: Some(Box::new(Ping {
                    depth: 2,
                    pong: Some(Box::new(Pong {
                        depth: 3,
                        ping: Some(Box::new(Ping { depth: 4, pong: Some(Box::default()), ..Default::default() })),
                        ..Default::default()
                    })),
                    ..Default::default()
                })),
                ..Default::default()
            })),
            ..Default::default()
        },
    )
}

/// Only the ordinary fields around the oneofs; both oneofs unset.
fn choice_none() -> Case {
    case("choice-none", v3::Choice { before: "b".into(), between: -4, after: 11, ..Default::default() })
}

/// Both oneofs set to zero values, which are still encoded.
fn choice_int_zero() -> Case {
    use v3::choice::{Other, Value};
    case(
        "choice-int-zero",
        v3::Choice { value: Some(Value::AsInt(0)), other: Some(Other::Flag(false)), ..Default::default() },
    )
}

/// A string oneof member and a message one, interleaved with ordinary fields.
fn choice_string() -> Case {
    use v3::choice::{Other, Value};
    use v3::outer::{middle::Inner, Middle};
    case(
        "choice-string",
        v3::Choice {
            before: "before".into(),
            value: Some(Value::AsString("\u{fc}n\u{ef}c\u{f6}de".into())),
            between: -5,
            other: Some(Other::Nested(Middle {
                inner: Some(Inner { value: 7, ..Default::default() }),
                ..Default::default()
            })),
            after: 9,
            ..Default::default()
        },
    )
}

/// A bytes oneof member and the largest `uint64` one (the member numbered after `after`).
fn choice_bytes() -> Case {
    use v3::choice::{Other, Value};
    case(
        "choice-bytes",
        v3::Choice {
            value: Some(Value::AsBytes(b"\x00\xff".to_vec())),
            other: Some(Other::Big(u64::MAX)),
            ..Default::default()
        },
    )
}

/// A message oneof member; oneof `other` unset.
fn choice_message() -> Case {
    use v3::choice::Value;
    case(
        "choice-message",
        v3::Choice {
            value: Some(Value::AsMessage(v3::Scalars {
                f_int32: 1,
                f_string: "in oneof".into(),
                ..Default::default()
            })),
            after: 1,
            ..Default::default()
        },
    )
}

/// An enum oneof member at its zero value and an empty message member.
fn choice_enum() -> Case {
    use v3::choice::{Other, Value};
    case(
        "choice-enum",
        v3::Choice {
            value: Some(Value::AsEnum(v3::Color::Unspecified as i32)),
            other: Some(Other::Nested(v3::outer::Middle::default())),
            ..Default::default()
        },
    )
}

/// A double oneof member at negative zero and a `uint64` member at zero.
fn choice_double() -> Case {
    use v3::choice::{Other, Value};
    case(
        "choice-double",
        v3::Choice {
            value: Some(Value::AsDouble(f64_negative_zero())),
            other: Some(Other::Big(0)),
            ..Default::default()
        },
    )
}

/// Every map key type and value kind, with extreme and default keys and values.
fn maps_all() -> Case {
    use v3::outer::{middle::Inner, Kind, Middle};
    use v3::Color;
    case(
        "maps-all",
        v3::Maps {
            int32_to_int32: BTreeMap::from([(0, 0), (-1, i32::MAX), (i32::MIN, i32::MIN)]),
            int64_to_int64: BTreeMap::from([(0, -1), (i64::MAX, i64::MIN)]),
            uint32_to_uint32: BTreeMap::from([(0, u32::MAX), (u32::MAX, 0)]),
            uint64_to_uint64: BTreeMap::from([(0, 1), (u64::MAX, u64::MAX)]),
            sint32_to_sint32: BTreeMap::from([(0, -1), (i32::MIN, i32::MAX)]),
            sint64_to_sint64: BTreeMap::from([(0, 0), (i64::MIN, i64::MAX), (1, -1)]),
            fixed32_to_fixed32: BTreeMap::from([(0, 1), (u32::MAX, u32::MAX)]),
            fixed64_to_fixed64: BTreeMap::from([(0, 0), (u64::MAX, 1)]),
            sfixed32_to_sfixed32: BTreeMap::from([(0, i32::MIN), (-1, i32::MAX)]),
            sfixed64_to_sfixed64: BTreeMap::from([(0, -1), (i64::MIN, i64::MAX)]),
            bool_to_bool: BTreeMap::from([(false, true), (true, false)]),
            string_to_string: BTreeMap::from([
                (String::new(), String::new()),
                ("key".into(), "v\u{e4}lue".into()),
                ("\u{1F600}".into(), "four-byte key".into()),
            ]),
            string_to_bytes: BTreeMap::from([(String::new(), Vec::new()), ("bin".into(), b"\x00\x01\xff".to_vec())]),
            string_to_double: BTreeMap::from([
                (String::new(), 0.0),
                ("neg".into(), -2.5),
                ("inf".into(), f64::INFINITY),
            ]),
            int32_to_float: BTreeMap::from([(0, 0.0), (1, 1.5), (-1, f32::MIN)]),
            string_to_enum: BTreeMap::from([
                (String::new(), Color::Unspecified as i32),
                ("red".into(), Color::Red as i32),
                ("infrared".into(), Color::Infrared as i32),
            ]),
            string_to_message: BTreeMap::from([
                (String::new(), v3::Scalars::default()),
                ("x".into(), v3::Scalars { f_int32: -1, f_string: "in map".into(), ..Default::default() }),
            ]),
            uint64_to_nested: BTreeMap::from([
                (0, Middle::default()),
                (
                    7,
                    Middle {
                        inner: Some(Inner { value: -7, kind: Kind::B as i32, ..Default::default() }),
                        inners: vec![Inner { value: 1, ..Default::default() }],
                        ..Default::default()
                    },
                ),
            ]),
            ..Default::default()
        },
    )
}

/// Every repeated scalar type, packed and unpacked, with special floats and an undeclared enum value.
fn repeated_scalars() -> Case {
    use v3::Color;
    case(
        "repeated-scalars",
        v3::RepeatedScalars {
            r_double: vec![
                0.0,
                f64_negative_zero(),
                1.5,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::from_bits(0x7FF8_0000_0000_0000),
                f64::from_bits(0x0000_0000_0000_0001),
            ],
            r_float: vec![0.0, -1.5, f32::MAX, f32::from_bits(0x0000_0001)],
            r_int32: vec![0, -1, i32::MAX, i32::MIN],
            r_int64: vec![0, -1, i64::MAX, i64::MIN],
            r_uint32: vec![0, 1, u32::MAX],
            r_uint64: vec![0, u64::MAX],
            r_sint32: vec![0, -1, 1, i32::MIN, i32::MAX],
            r_sint64: vec![i64::MIN, i64::MAX],
            r_fixed32: vec![0, u32::MAX],
            r_fixed64: vec![u64::MAX, 0],
            r_sfixed32: vec![i32::MIN, -1],
            r_sfixed64: vec![i64::MIN, 1],
            r_bool: vec![true, false, true],
            r_string: vec![String::new(), "a".into(), "\u{e9}\u{1F600}".into()],
            r_bytes: vec![Vec::new(), b"\x00".to_vec(), b"\xff\xfe".to_vec()],
            r_enum: vec![Color::Red as i32, Color::Infrared as i32, Color::Unspecified as i32, -7],
            r_message: vec![v3::Scalars::default(), v3::Scalars { f_int32: 1, ..Default::default() }],
            u_int32: vec![0, -1, 300],
            u_sint64: vec![-1, 0, 1],
            u_fixed32: vec![1, 2],
            u_double: vec![f64_negative_zero(), 2.5],
            u_bool: vec![false],
            u_enum: vec![Color::Green as i32, 12345],
            ..Default::default()
        },
    )
}

/// Every proto3 `optional` field present at its zero value.
fn optional_zeros() -> Case {
    case(
        "optional-zeros",
        v3::OptionalScalars {
            f_double: Some(0.0),
            f_float: Some(0.0),
            f_int32: Some(0),
            f_int64: Some(0),
            f_uint32: Some(0),
            f_uint64: Some(0),
            f_sint32: Some(0),
            f_sint64: Some(0),
            f_fixed32: Some(0),
            f_fixed64: Some(0),
            f_sfixed32: Some(0),
            f_sfixed64: Some(0),
            f_bool: Some(false),
            f_string: Some(String::new()),
            f_bytes: Some(Bytes::new()),
            f_enum: Some(v3::Color::Unspecified as i32),
            f_message: Some(v3::Scalars::default()),
            ..Default::default()
        },
    )
}

/// Proto2 required fields, one equal to its declared default.
fn v2_required() -> Case {
    case(
        "v2-required",
        v2::Required {
            id: -1,
            name: String::new(),
            size: v2::Size::Small as i32,
            leaf: Some(v2::Leaf::default()),
            with_default: -42,
            ..Default::default()
        },
    )
}

/// Proto2 optionals with defaults: some set (to zero or to their default), the others unset.
fn v2_defaults_partial() -> Case {
    case(
        "v2-defaults-partial",
        v2::Defaults {
            d_double: Some(0.0),
            d_float: Some(3.25),
            d_int32: Some(-7),
            d_uint64: Some(0),
            d_sint32: Some(i32::MAX),
            d_bool: Some(false),
            d_string: Some(String::new()),
            d_bytes: Some(b"\x00\x01\xffbin".to_vec()),
            d_enum: Some(v2::Size::Small as i32),
            d_nan: Some(1.0),
            no_default_enum: Some(v2::Size::Medium as i32),
            no_default_int: Some(0),
            ..Default::default()
        },
    )
}

/// Proto2 repeated fields, unpacked by default and packed on request.
fn v2_repeated() -> Case {
    use v2::Size;
    case(
        "v2-repeated",
        v2::Repeated {
            unpacked_int32: vec![0, -1, i32::MAX],
            packed_int32: vec![i32::MIN, 0, 1],
            packed_sint64: vec![i64::MIN, -1, i64::MAX],
            unpacked_enum: vec![Size::Large as i32, Size::Small as i32],
            packed_enum: vec![Size::Medium as i32, Size::Medium as i32, Size::Large as i32],
            packed_double: vec![f64_negative_zero(), 1e-300, f64::NEG_INFINITY],
            strings: vec![String::new(), "two".into(), "\u{2202}rei".into()],
            ..Default::default()
        },
    )
}

/// Groups: singular, repeated (one holding a message), and in a oneof.
fn v2_groups() -> Case {
    use v2::with_groups::{Choice, Entry, Item, Pick};
    case(
        "v2-groups",
        v2::WithGroups {
            item: Some(Item { a: Some(-1), b: Some("grouped".into()), ..Default::default() }),
            entry: vec![
                Entry { key: 0, ..Default::default() },
                Entry {
                    key: -5,
                    leaf: Some(v2::Leaf { label: Some("leaf in group".into()), ..Default::default() }),
                    ..Default::default()
                },
            ],
            choice: Some(Choice::Pick(Pick { x: Some(42), ..Default::default() })),
            after: Some(7),
            ..Default::default()
        },
    )
}

/// An empty group (start and end tag only) and a oneof scalar at zero.
fn v2_groups_empty() -> Case {
    use v2::with_groups::{Choice, Item};
    case(
        "v2-groups-empty",
        v2::WithGroups { item: Some(Item::default()), choice: Some(Choice::Number(0)), ..Default::default() },
    )
}

/// Fields and types named after Rust keywords and prelude types.
fn keywords() -> Case {
    use types::keywords::LoopKind;
    case(
        "keywords",
        types::Keywords {
            r#as: 1,
            r#async: 2,
            r#await: 3,
            r#break: -4,
            r#fn: 12,
            r#match: 19,
            r#type: 30,
            r#yield: 46,
            r#try: 47,
            r#gen: 48,
            unknown_fields: 49,
            self_message: Some(types::Self_ { self_: -9, ..Default::default() }),
            option: Some(types::Option { value: -1, ..Default::default() }),
            result: Some(types::Result {
                ok: Some(types::Option { value: 5, ..Default::default() }),
                err: Some(types::String { string: "error text".into(), ..Default::default() }),
                ..Default::default()
            }),
            loop_kind: Some(LoopKind::WhileTrue(types::String { string: "loop".into(), ..Default::default() })),
            clear: Some(0),
            encoded_len: Some(0),
            ..Default::default()
        },
    )
}

/// Types from several packages: a shared message, a cross-package enum and a nested type, a map of messages.
fn shop_order() -> Case {
    use common::Money;
    case(
        "shop-order",
        shop::Order {
            id: "order-1".into(),
            items: vec![
                shop::Item {
                    sku: "A-1".into(),
                    price: Some(Money { currency: "EUR".into(), units: 10, nanos: 990_000_000, ..Default::default() }),
                    ..Default::default()
                },
                shop::Item::default(),
            ],
            total: Some(Money { currency: "EUR".into(), units: -5, nanos: -500_000_000, ..Default::default() }),
            region: common::Region::Us as i32,
            detail: Some(v3::outer::middle::Inner { value: -1, kind: v3::outer::Kind::A as i32, ..Default::default() }),
            prices: BTreeMap::from([
                ("A-1".into(), Money { currency: "EUR".into(), units: 10, ..Default::default() }),
                (String::new(), Money::default()),
            ]),
            ..Default::default()
        },
    )
}

/// A `Value` of the given kind.
fn value(kind: Kind) -> Value {
    Value { kind: Some(kind), ..Default::default() }
}

/// The JSON `null`: `Value { null_value: NULL_VALUE }`.
fn null() -> Value {
    value(Kind::NullValue(NullValue::NullValue as i32))
}

/// A `Struct` with these fields.
fn json_object<const N: usize>(fields: [(&str, Value); N]) -> Struct {
    Struct { fields: BTreeMap::from(fields.map(|(name, value)| (name.to_string(), value))), ..Default::default() }
}

/// Every well-known type as a field, with JSON-like `Struct`, `Value` and `ListValue` trees.
fn wkt_all() -> Case {
    let money = common::Money { currency: "EUR".into(), units: 12, nanos: 500_000_000, ..Default::default() };
    case(
        "wkt-all",
        wkt::WellKnown {
            any: Some(Any::from_msg(&money).unwrap()),
            duration: Some(Duration { seconds: -3661, nanos: -5, ..Default::default() }),
            empty: Some(Empty::default()),
            field_mask: Some(FieldMask {
                paths: vec!["id".into(), "items.price".into(), "a_b.c_d".into()],
                ..Default::default()
            }),
            r#struct: Some(json_object([
                ("null", null()),
                ("flag", value(Kind::BoolValue(true))),
                ("number", value(Kind::NumberValue(-2.5))),
                ("text", value(Kind::StringValue("h\u{e9}".into()))),
                (
                    "list",
                    value(Kind::ListValue(ListValue {
                        values: vec![
                            value(Kind::NumberValue(1.0)),
                            value(Kind::StringValue("two".into())),
                            null(),
                            value(Kind::StructValue(json_object([("inner", value(Kind::BoolValue(false)))]))),
                        ],
                        ..Default::default()
                    })),
                ),
                (
                    "object",
                    value(Kind::StructValue(json_object([(
                        "empty_list",
                        value(Kind::ListValue(ListValue::default())),
                    )]))),
                ),
            ])),
            value: Some(value(Kind::StringValue(String::new()))),
            list_value: Some(ListValue { values: vec![value(Kind::NumberValue(0.0)), null()], ..Default::default() }),
            timestamp: Some(Timestamp { seconds: 1_700_000_000, nanos: 123_456_789, ..Default::default() }),
            double_value: Some(DoubleValue { value: -0.5, ..Default::default() }),
            float_value: Some(FloatValue { value: 1.5, ..Default::default() }),
            int64_value: Some(Int64Value { value: i64::MIN, ..Default::default() }),
            uint64_value: Some(UInt64Value { value: u64::MAX, ..Default::default() }),
            int32_value: Some(Int32Value { value: 0, ..Default::default() }),
            uint32_value: Some(UInt32Value { value: u32::MAX, ..Default::default() }),
            bool_value: Some(BoolValue { value: false, ..Default::default() }),
            string_value: Some(StringValue { value: "wrapped".into(), ..Default::default() }),
            bytes_value: Some(BytesValue { value: b"\x00\xff".to_vec(), ..Default::default() }),
            anys: vec![
                Any { type_url: "type.googleapis.com/rsgrpc.test.v3.Scalars".into(), ..Default::default() },
                Any::default(),
            ],
            values: BTreeMap::from([(String::new(), null()), ("n".into(), value(Kind::NumberValue(1e-10)))]),
            ..Default::default()
        },
    )
}
