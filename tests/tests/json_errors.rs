//! Bad JSON gets an error naming the field's path and the problem, never a panic: wrong types,
//! out-of-range numbers, invalid base64, bad timestamps and durations, unknown enum names and fields,
//! malformed documents, and 10,000-deep nesting.

use rsgrpc::json::{from_json, JsonError};
use rsgrpc_tests::gen::rsgrpc::test::v3::{Maps, Node, RepeatedScalars, Scalars};
use rsgrpc_tests::gen::rsgrpc::test::wkt::WellKnown;

/// (input, expected path, a phrase the message must contain)
type Case = (&'static str, &'static str, &'static str);

fn check<M: rsgrpc::json::JsonMessage + std::fmt::Debug>(cases: &[Case]) {
    for (input, path, phrase) in cases {
        let error: JsonError = match from_json::<M>(input) {
            Ok(parsed) => panic!("{input} parsed as {parsed:?}"),
            Err(error) => error,
        };
        assert_eq!(error.path(), *path, "{input}: {error}");
        assert!(error.message().contains(phrase), "{input}: {error}");
        if !path.is_empty() {
            assert!(error.to_string().starts_with(&format!("field \"{path}\": ")), "{error}");
        }
    }
}

#[test]
fn wrong_types() {
    check::<Scalars>(&[
        (r#"{"fInt32": "abc"}"#, "fInt32", r#"invalid int32: "abc""#),
        (r#"{"fInt32": 1.5}"#, "fInt32", "invalid int32: 1.5"),
        (r#"{"fBool": "true"}"#, "fBool", "expected true or false"),
        (r#"{"fString": 5}"#, "fString", "expected a string"),
        (r#"{"fDouble": "fast"}"#, "fDouble", r#"invalid number: "fast""#),
        (r#"{"fEnum": true}"#, "fEnum", "expected an enum value"),
    ]);
    check::<RepeatedScalars>(&[
        (r#"{"rInt32": 5}"#, "rInt32", "expected an array"),
        (r#"{"rInt32": [1, null]}"#, "rInt32[1]", "null is not allowed here"),
    ]);
    check::<Maps>(&[
        (r#"{"stringToMessage": {"k": {"zz": 1}}}"#, "stringToMessage.k", r#"unknown field "zz""#),
        (r#"{"int32ToInt32": {"x": 1}}"#, "int32ToInt32", r#"invalid map key: "x""#),
        (r#"{"stringToMessage": {"k": {"fInt32": []}}}"#, "stringToMessage.k.fInt32", "invalid type: sequence"),
    ]);
}

#[test]
fn out_of_range_numbers() {
    check::<Scalars>(&[
        (r#"{"fInt32": 2147483648}"#, "fInt32", "out of range"),
        (r#"{"fUint32": -1}"#, "fUint32", "out of range"),
        (r#"{"fInt64": "9223372036854775808"}"#, "fInt64", "invalid int64"),
        (r#"{"fUint64": "-1"}"#, "fUint64", "invalid uint64"),
        (r#"{"fFloat": 1e39}"#, "fFloat", "out of range"),
        (r#"{"fDouble": 1e309}"#, "fDouble", "number out of range"),
    ]);
}

#[test]
fn invalid_base64_timestamps_durations_and_enum_names() {
    check::<Scalars>(&[
        (r#"{"fBytes": "!!!"}"#, "fBytes", r#"invalid base64: "!!!""#),
        (r#"{"fEnum": "COLOR_PURPLE"}"#, "fEnum", r#"invalid enum value: "COLOR_PURPLE""#),
    ]);
    check::<WellKnown>(&[
        (r#"{"timestamp": "2024-13-01T00:00:00Z"}"#, "timestamp", r#"invalid timestamp "2024-13-01T00:00:00Z""#),
        (r#"{"timestamp": "10000-01-01T00:00:00Z"}"#, "timestamp", "invalid timestamp"),
        (r#"{"timestamp": 1700000000}"#, "timestamp", "expected a string"),
        (r#"{"duration": "5"}"#, "duration", r#"invalid duration "5""#),
        (r#"{"duration": "315576000001s"}"#, "duration", "out of range"),
        (r#"{"fieldMask": "a_b"}"#, "fieldMask", "invalid field mask path"),
        (r#"{"any": {"@type": "type.googleapis.com/no.such.Type"}}"#, "any", "not in the type registry"),
        (r#"{"any": {"fInt32": 1}}"#, "any", "needs \"@type\""),
        (r#"{"int32Value": "x"}"#, "int32Value", "invalid int32"),
    ]);
}

#[test]
fn unknown_and_duplicate_fields_and_malformed_documents() {
    check::<Scalars>(&[
        // An unknown or repeated key is reported at the object that holds it; the message names the key.
        (r#"{"nope": 1}"#, "", r#"unknown field "nope""#),
        (r#"{"fInt32": 1, "f_int32": 2}"#, "", r#"field "f_int32" appears twice"#),
        (r#"{"fInt32": }"#, "fInt32", "expected value at line 1 column 12"),
        (r#"{} trailing"#, "", "trailing characters"),
        (r#"null"#, "", "the document is null"),
        (r#"[1]"#, "", "expected an object"),
        ("", "", "EOF while parsing"),
    ]);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 10_000;
    let nested_messages = format!("{}{}", r#"{"left":"#.repeat(depth), "}".repeat(depth));
    let error = from_json::<Node>(&nested_messages).unwrap_err();
    assert!(error.message().contains("recursion limit exceeded"), "{error}");
    let nested_arrays = format!(r#"{{"value": {}{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let error = from_json::<WellKnown>(&nested_arrays).unwrap_err();
    assert!(error.message().contains("recursion limit exceeded"), "{error}");
    let nested_structs = format!(r#"{{"struct": {}1{}}}"#, r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let error = from_json::<WellKnown>(&nested_structs).unwrap_err();
    assert!(error.message().contains("recursion limit exceeded"), "{error}");
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

#[test]
fn mutated_documents_never_panic() {
    use rsgrpc::json::to_json;
    let documents = [
        to_json(&Scalars { f_int64: -7, f_string: "é\"x".into(), f_bytes: vec![1, 2, 3], ..Default::default() })
            .unwrap(),
        r#"{"rInt32":[1,2,3],"rString":["a","b"],"rMessage":[{"fEnum":"COLOR_RED"}]}"#.to_owned(),
        r#"{"int64ToInt64":{"-1":"2"},"stringToMessage":{"k":{"fDouble":"NaN"}},"boolToBool":{"true":false}}"#
            .to_owned(),
        concat!(
            r#"{"timestamp":"1970-01-01T00:00:01.000000005Z","duration":"-1.5s","fieldMask":"a.bC","#,
            r#""any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"3s"},"#,
            r#""struct":{"a":[1,{"b":null}],"c":true},"int64Value":"9"}"#
        )
        .to_owned(),
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut errors = 0;
    for round in 0..4000 {
        let mut bytes = documents[round % documents.len()].clone().into_bytes();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(bytes.len());
            bytes[at] = b"{}[]\",:-.0123456789eEtrufalsn\\ x"[rng.below(32)];
        }
        let Ok(text) = String::from_utf8(bytes) else { continue };
        let outcome = std::panic::catch_unwind(|| {
            let results = [
                from_json::<Scalars>(&text).is_err(),
                from_json::<RepeatedScalars>(&text).is_err(),
                from_json::<Maps>(&text).is_err(),
                from_json::<WellKnown>(&text).is_err(),
            ];
            results.iter().filter(|failed| **failed).count()
        });
        errors += outcome.unwrap_or_else(|_| panic!("round {round}: reading {text:?} panicked"));
    }
    // Most mutations break the document; they must be errors, not panics.
    assert!(errors > 4000, "only {errors} errors");
}

#[test]
fn anys_nested_past_the_depth_limit_are_an_error_not_a_stack_overflow() {
    use rsgrpc::Message;
    use rsgrpc_tests::rt::well_known::Any;
    // Each Any decodes its payload afresh, so prost's recursion limit does not apply; only the writer's does.
    let wrap = |depth: usize| {
        let mut any = Any::default();
        for _ in 0..depth {
            let value = any.encode_to_vec();
            any = Any { type_url: "type.googleapis.com/google.protobuf.Any".into(), value, ..Default::default() };
        }
        any
    };
    let shallow = rsgrpc::json::to_json(&wrap(3)).unwrap();
    assert_eq!(shallow.matches("@type").count(), 3, "{shallow}");
    let error = rsgrpc::json::to_json(&wrap(2_000)).unwrap_err();
    assert!(error.message().contains("nested more than"), "{error}");
}
