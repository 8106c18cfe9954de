//! The proto3 JSON mapping of generated messages: forms, options, and errors that name the path.

use rsgrpc::json::{from_json, from_json_with, to_json, to_json_with, JsonOptions};
use rsgrpc_tests::gen::rsgrpc::test::v3::{choice, Choice, Color, Maps, OptionalScalars, Scalars};
use rsgrpc_tests::gen::rsgrpc::test::wkt::WellKnown;
use rsgrpc_tests::rt::well_known::{Any, Duration, Timestamp};

#[test]
fn scalars_in_their_json_forms() {
    let message = Scalars {
        f_int32: -5,
        f_int64: i64::MIN,
        f_uint64: u64::MAX,
        f_double: f64::NAN,
        f_float: 0.1,
        f_bool: true,
        f_string: "é\"".into(),
        f_bytes: vec![0xff, 0],
        f_enum: Color::Blue as i32,
        ..Default::default()
    };
    let json = to_json(&message).unwrap();
    assert_eq!(
        json,
        r#"{"fDouble":"NaN","fFloat":0.1,"fInt32":-5,"fInt64":"-9223372036854775808","fUint64":"18446744073709551615","fBool":true,"fString":"é\"","fBytes":"/wA=","fEnum":"COLOR_BLUE"}"#
    );
    let back: Scalars = from_json(&json).unwrap();
    assert!(back.f_double.is_nan());
    assert_eq!(
        rsgrpc::Message::encode_to_vec(&Scalars { f_double: 0.0, ..back }),
        rsgrpc::Message::encode_to_vec(&Scalars { f_double: 0.0, ..message })
    );
}

#[test]
fn inputs_accept_every_form() {
    let parsed: Scalars = from_json(
        r#"{"f_int32": "7", "fInt64": 1e3, "fUint32": 4.0, "fBytes": "_wA", "fEnum": 2, "fDouble": "-Infinity"}"#,
    )
    .unwrap();
    assert_eq!((parsed.f_int32, parsed.f_int64, parsed.f_uint32, parsed.f_enum), (7, 1000, 4, 2));
    assert_eq!(parsed.f_bytes, [0xff, 0]);
    assert_eq!(parsed.f_double, f64::NEG_INFINITY);
    let optional: OptionalScalars = from_json(r#"{"fInt32": 0, "fString": null}"#).unwrap();
    assert_eq!((optional.f_int32, optional.f_string), (Some(0), None));
}

#[test]
fn options_emit_defaults_proto_names_and_ignore_unknown() {
    let options = JsonOptions { emit_defaults: true, proto_names: true, ..Default::default() };
    let json = to_json_with(&Maps::default(), &options).unwrap();
    assert!(json.contains(r#""int32_to_int32":{}"#), "{json}");
    let unknown = r#"{"fInt32": 1, "mystery": {"a": [1, 2]}, "fEnum": "COLOR_ULTRAVIOLET"}"#;
    let error = from_json::<Scalars>(unknown).unwrap_err();
    assert!(error.to_string().contains("unknown field \"mystery\""), "{error}");
    let lenient = JsonOptions { ignore_unknown: true, ..Default::default() };
    let parsed: Scalars = from_json_with(unknown, &lenient).unwrap();
    assert_eq!((parsed.f_int32, parsed.f_enum), (1, 0));
}

#[test]
fn oneofs_maps_and_well_known_types() {
    let choice = Choice { value: Some(choice::Value::AsInt(0)), ..Default::default() };
    assert_eq!(to_json(&choice).unwrap(), r#"{"asInt":0}"#);
    let twice = from_json::<Choice>(r#"{"asInt": 1, "asString": "x"}"#).unwrap_err();
    assert!(twice.to_string().contains("oneof"), "{twice}");

    let maps: Maps = from_json(r#"{"int64ToInt64": {"-1": "2"}, "boolToBool": {"true": false}}"#).unwrap();
    assert_eq!(maps.int64_to_int64[&-1], 2);
    assert!(!maps.bool_to_bool[&true]);

    let wkt = WellKnown {
        timestamp: Some(Timestamp { seconds: 1_700_000_000, nanos: 5_000_000, ..Default::default() }),
        duration: Some(Duration { seconds: -1, nanos: -500_000_000, ..Default::default() }),
        any: Some(Any::from_msg(&Duration { seconds: 3, ..Default::default() }).unwrap()),
        ..Default::default()
    };
    let json = to_json(&wkt).unwrap();
    assert_eq!(
        json,
        r#"{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"3s"},"duration":"-1.500s","timestamp":"2023-11-14T22:13:20.005Z"}"#
    );
    assert_eq!(from_json::<WellKnown>(&json).unwrap(), wkt);
}

#[test]
fn errors_name_the_path_and_deep_nesting_is_refused() {
    let error = from_json::<WellKnown>(r#"{"timestamp": "yesterday"}"#).unwrap_err();
    assert_eq!(
        error.to_string().split(" at line").next().unwrap(),
        r#"field "timestamp": invalid timestamp "yesterday""#
    );
    let error = from_json::<Maps>(r#"{"stringToMessage": {"k": {"fInt32": 1.5}}}"#).unwrap_err();
    assert_eq!(error.path(), "stringToMessage.k.fInt32");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let error = from_json::<WellKnown>(&format!(r#"{{"value": {deep}}}"#)).unwrap_err();
    assert!(error.message().contains("recursion limit"), "{error}");
}

/// The runtime's `serde` feature: generated messages and the well-known types are serde values in their
/// proto3 JSON form, for any serde format and not only serde_json's text.
#[test]
fn serde_sees_messages_in_their_proto3_json_form() {
    let message = Scalars { f_int64: -3, f_enum: Color::Blue as i32, f_bytes: vec![0xff], ..Default::default() };
    // Field order is the writer's (by field number), not the alphabetical order of a JSON tree.
    assert_eq!(serde_json::to_string(&message).unwrap(), r#"{"fInt64":"-3","fBytes":"/w==","fEnum":"COLOR_BLUE"}"#);
    assert_eq!(serde_json::to_string(&message).unwrap(), to_json(&message).unwrap());
    // Through serde_json's tree, whose deserializer is another one than the text's.
    let tree = serde_json::to_value(&message).unwrap();
    assert_eq!(tree["fInt64"], "-3");
    let back: Scalars = serde_json::from_value(tree).unwrap();
    assert_eq!(back, message);
    // A well-known type alone is its special form.
    let stamp = Timestamp { seconds: 1, nanos: 500_000_000, ..Default::default() };
    assert_eq!(serde_json::to_string(&stamp).unwrap(), r#""1970-01-01T00:00:01.500Z""#);
    let read: Timestamp = serde_json::from_str(r#""1970-01-01T00:00:01.5Z""#).unwrap();
    assert_eq!(read, stamp);
    // Inside a serde type of the user's: a map of messages.
    let map: std::collections::BTreeMap<String, Scalars> =
        serde_json::from_str(r#"{"a": {"fInt32": "7"}, "b": {}}"#).unwrap();
    assert_eq!(map["a"].f_int32, 7);
    // Errors are serde errors that still say what and where.
    let error = serde_json::from_str::<Scalars>(r#"{"fInt32": "x"}"#).unwrap_err().to_string();
    assert!(error.contains("fInt32") || error.contains("int32"), "{error}");
    let error = serde_json::from_str::<Scalars>(r#"{"noSuchField": 1}"#).unwrap_err().to_string();
    assert!(error.contains("noSuchField"), "{error}");
    assert!(serde_json::from_str::<Scalars>("null").unwrap_err().to_string().contains("null"));
}
