//! Proto2 extensions and custom options (testdata/protos/rsgrpc/test/extensions.proto): typed get / set /
//! clear on the extended message, stored in its unknown fields; `"[pkg.ext]"` JSON members, also inside an
//! `Any`; round trips through Python protobuf (tests/py/extensions_check.py), binary and JSON, both ways;
//! custom options read from a descriptor set protoc wrote.

#[path = "python_corpus/mod.rs"]
#[allow(unused_macros)]
#[macro_use]
mod python_corpus;

use std::sync::Arc;

use python_corpus::{build_descriptor_set, run_script, Backend};
use rsgrpc::extension::Extendable;
use rsgrpc::json::{from_json_with, to_json_with, JsonOptions, TypeRegistry};
use rsgrpc::Message;
use rsgrpc_tests::gen::rsgrpc::test::ext::{self, scope, Base, Color, Extra, Note};

fn options() -> JsonOptions {
    let mut registry = TypeRegistry::new();
    ext::register_json_types(&mut registry);
    JsonOptions { registry: Some(Arc::new(registry)), ..Default::default() }
}

/// The message tests/py/extensions_check.py builds as `expected`.
fn build() -> Base {
    let mut m = Base { id: Some(7), ..Default::default() };
    m.set_extension(&ext::NUM, -42);
    m.set_extension(&ext::LABEL, "héllo".to_owned());
    m.set_extension(&ext::COLOR, Color::Green as i32);
    m.set_extension(&ext::NOTE, Note { text: Some("n".into()), stars: Some(5), ..Default::default() });
    m.set_extension(&ext::PACKED_NUMS, vec![1, -2, 300]);
    m.set_extension(&ext::TAGS, vec!["a".to_owned(), "b".to_owned()]);
    m.set_extension(&ext::EXTRA, Extra { a: Some(9), ..Default::default() });
    m.set_extension(&ext::BIG, -(1 << 40));
    m.set_extension(&ext::BLOB, vec![0, 0xff]);
    m.set_extension(&ext::RATIO, 0.5);
    m.set_extension(&ext::COLORS, vec![Color::Red as i32, Color::Green as i32]);
    m.set_extension(
        &ext::NOTES,
        vec![Note { text: Some("first".into()), ..Default::default() }, Note { stars: Some(2), ..Default::default() }],
    );
    m.set_extension(&ext::FAR, 4_000_000_000);
    m.set_extension(&scope::FLAG, true);
    m
}

/// Every value [`build`] sets, read back through the typed API.
fn check(m: &Base) {
    assert_eq!(m.id, Some(7));
    assert_eq!(m.extension(&ext::NUM).unwrap(), Some(-42));
    assert_eq!(m.extension(&ext::LABEL).unwrap().as_deref(), Some("héllo"));
    assert_eq!(m.extension(&ext::COLOR).unwrap(), Some(Color::Green as i32));
    let note = m.extension(&ext::NOTE).unwrap().expect("note");
    assert_eq!((note.text.as_deref(), note.stars), (Some("n"), Some(5)));
    assert_eq!(m.extension(&ext::PACKED_NUMS).unwrap(), Some(vec![1, -2, 300]));
    assert_eq!(m.extension(&ext::TAGS).unwrap(), Some(vec!["a".to_owned(), "b".to_owned()]));
    assert_eq!(m.extension(&ext::EXTRA).unwrap().and_then(|e| e.a), Some(9));
    assert_eq!(m.extension(&ext::BIG).unwrap(), Some(-(1 << 40)));
    assert_eq!(m.extension(&ext::BLOB).unwrap(), Some(vec![0, 0xff]));
    assert_eq!(m.extension(&ext::RATIO).unwrap(), Some(0.5));
    assert_eq!(m.extension(&ext::COLORS).unwrap(), Some(vec![1, 2]));
    let notes = m.extension(&ext::NOTES).unwrap().expect("notes");
    assert_eq!(notes.len(), 2);
    assert_eq!((notes[0].text.as_deref(), notes[1].stars), (Some("first"), Some(2)));
    assert_eq!(m.extension(&ext::FAR).unwrap(), Some(4_000_000_000));
    assert_eq!(m.extension(&scope::FLAG).unwrap(), Some(true));
}

#[test]
fn set_get_clear_and_the_bytes_they_leave() {
    let mut m = build();
    check(&m);
    // Decoding and re-encoding keeps every extension: they are unknown fields to the struct.
    let decoded = Base::decode(m.encode_to_vec().as_slice()).unwrap();
    check(&decoded);
    assert_eq!(decoded.encode_to_vec(), m.encode_to_vec());

    assert!(m.has_extension(&ext::NUM));
    m.clear_extension(&ext::NUM);
    assert!(!m.has_extension(&ext::NUM));
    assert_eq!(m.extension(&ext::NUM).unwrap(), None);
    // Setting again replaces, never duplicates.
    m.set_extension(&ext::LABEL, "x".to_owned());
    m.set_extension(&ext::LABEL, "y".to_owned());
    assert_eq!(m.extension(&ext::LABEL).unwrap().as_deref(), Some("y"));
    assert_eq!(m.unknown_fields.iter().filter(|f| f.number == 101).count(), 1);
    // The descriptor: extendee, number, name.
    assert_eq!(
        (ext::NOTE.extendee(), ext::NOTE.number(), ext::NOTE.full_name()),
        ("rsgrpc.test.ext.Base", 103, "rsgrpc.test.ext.note")
    );
}

#[test]
fn several_occurrences_merge_as_for_ordinary_fields() {
    // num twice (the last wins), note twice (merged), packed_nums packed then unpacked.
    let mut bytes = Vec::new();
    for (number, value) in [(100u32, 1i32), (100, 2)] {
        rsgrpc::prost::encoding::int32::encode(number, &value, &mut bytes);
    }
    rsgrpc::prost::encoding::message::encode(103, &Note { text: Some("a".into()), ..Default::default() }, &mut bytes);
    rsgrpc::prost::encoding::message::encode(103, &Note { stars: Some(3), ..Default::default() }, &mut bytes);
    rsgrpc::prost::encoding::int32::encode_packed(104, &[1, 2], &mut bytes);
    rsgrpc::prost::encoding::int32::encode(104, &3, &mut bytes);
    let m = Base::decode(bytes.as_slice()).unwrap();
    assert_eq!(m.extension(&ext::NUM).unwrap(), Some(2));
    let note = m.extension(&ext::NOTE).unwrap().unwrap();
    assert_eq!((note.text.as_deref(), note.stars), (Some("a"), Some(3)));
    assert_eq!(m.extension(&ext::PACKED_NUMS).unwrap(), Some(vec![1, 2, 3]));
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_not_a_panic_or_a_guess() {
    // Field 100 (int32 num) written as a string by some other program; 103 (a Note) as garbage bytes.
    let mut bytes = Vec::new();
    rsgrpc::prost::encoding::string::encode(100, &"not a number".to_owned(), &mut bytes);
    rsgrpc::prost::encoding::bytes::encode(103, &vec![0xff, 0xff, 0xff], &mut bytes);
    let m = Base::decode(bytes.as_slice()).unwrap();
    let error = m.extension(&ext::NUM).unwrap_err();
    assert!(error.to_string().contains("wire type"), "{error}");
    assert!(m.extension(&ext::NOTE).is_err());
    // JSON cannot write them either: an error, not a document with a hole.
    let error = to_json_with(&m, &options()).unwrap_err();
    assert!(error.message().contains("extension"), "{error}");
}

#[test]
fn closed_enum_extensions_keep_undeclared_numbers_as_unknown_fields() {
    let mut bytes = build().encode_to_vec();
    bytes.extend_from_slice(&[0xB0, 0x06, 77]); // color = 77, which Color does not declare
    let m = Base::decode(bytes.as_slice()).unwrap();
    assert_eq!(m.extension(&ext::COLOR).unwrap(), Some(Color::Green as i32));
    assert_eq!(m.encode_to_vec(), bytes, "the undeclared number is written back");
}

#[test]
fn json_names_extensions_in_brackets_and_reads_them_back() {
    let options = options();
    let json = to_json_with(&build(), &options).unwrap();
    assert!(json.contains(r#""[rsgrpc.test.ext.num]":-42"#), "{json}");
    assert!(json.contains(r#""[rsgrpc.test.ext.Scope.flag]":true"#), "{json}");
    assert!(json.contains(r#""[rsgrpc.test.ext.color]":"COLOR_GREEN""#), "{json}");
    assert!(json.contains(r#""[rsgrpc.test.ext.big]":"-1099511627776""#), "{json}");
    let back: Base = from_json_with(&json, &options).unwrap();
    check(&back);

    // An extension the registry does not know is an unknown field: an error, or skipped when asked.
    let bare = JsonOptions { registry: Some(Arc::new(TypeRegistry::new())), ..Default::default() };
    let error = from_json_with::<Base>(r#"{"[rsgrpc.test.ext.num]": 1}"#, &bare).unwrap_err();
    assert!(error.message().contains("unknown field"), "{error}");
    let lenient = JsonOptions { ignore_unknown: true, ..bare };
    assert_eq!(from_json_with::<Base>(r#"{"[rsgrpc.test.ext.num]": 1}"#, &lenient).unwrap(), Base::default());
    // Without brackets it is no extension name; twice is a duplicate; a bad value names the extension.
    assert!(from_json_with::<Base>(r#"{"rsgrpc.test.ext.num": 1}"#, &options).is_err());
    let twice = from_json_with::<Base>(r#"{"[rsgrpc.test.ext.num]": 1, "[rsgrpc.test.ext.num]": 2}"#, &options);
    assert!(twice.unwrap_err().message().contains("twice"));
    let bad = from_json_with::<Base>(r#"{"[rsgrpc.test.ext.num]": "x"}"#, &options).unwrap_err();
    assert!(bad.message().contains("[rsgrpc.test.ext.num]"), "{bad}");
}

#[test]
fn extensions_inside_an_any() {
    let options = options();
    let any = rsgrpc::well_known::Any {
        type_url: "type.googleapis.com/rsgrpc.test.ext.Base".into(),
        value: build().encode_to_vec(),
        ..Default::default()
    };
    let json = to_json_with(&any, &options).unwrap();
    assert!(json.contains(r#""@type":"type.googleapis.com/rsgrpc.test.ext.Base""#), "{json}");
    assert!(json.contains(r#""[rsgrpc.test.ext.label]":"héllo""#), "{json}");
    let back: rsgrpc::well_known::Any = from_json_with(&json, &options).unwrap();
    check(&Base::decode(back.value.as_slice()).unwrap());
}

#[test]
fn custom_options_read_from_a_descriptor_set_through_the_same_api() {
    let dir = tempfile::tempdir().unwrap();
    let set = build_descriptor_set(dir.path());
    let set = rsgrpc::well_known::FileDescriptorSet::decode(std::fs::read(set).unwrap().as_slice()).unwrap();
    let file = set.file.iter().find(|f| f.name.as_deref() == Some("rsgrpc/test/extensions.proto")).expect("file");
    let tagged = file.message_type.iter().find(|m| m.name.as_deref() == Some("Tagged")).expect("Tagged");
    let options = tagged.options.as_ref().expect("message options");
    assert_eq!(options.extension(&ext::TABLE).unwrap().as_deref(), Some("tagged_rows"));
    let field = tagged.field[0].options.as_ref().expect("field options");
    assert_eq!(field.extension(&ext::WIDTH).unwrap(), Some(7));
    assert_eq!(field.extension(&ext::ALIASES).unwrap(), Some(vec!["ex".to_owned(), "abscissa".to_owned()]));
    // And JSON prints them, as protoc's descriptor JSON does.
    let mut registry = TypeRegistry::new();
    ext::register_json_types(&mut registry);
    let json = to_json_with(options, &JsonOptions { registry: Some(Arc::new(registry)), ..Default::default() });
    assert_eq!(json.unwrap(), r#"{"[rsgrpc.test.ext.table]":"tagged_rows"}"#);
}

#[test]
fn round_trips_through_python_protobuf_binary_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let set = build_descriptor_set(dir.path());
    let out = dir.path().join("cases");
    std::fs::create_dir(&out).unwrap();
    for backend in [Backend::Upb, Backend::Python] {
        let (ok, text) =
            run_script("extensions_check.py", backend, &[set.as_os_str(), out.as_os_str(), "gen".as_ref()]);
        assert!(ok, "{text}");
        let options = options();
        // Python -> Rust: binary (with an unknown field), binary with an undeclared closed-enum number, JSON.
        let python = std::fs::read(out.join("python.bin")).unwrap();
        let m = Base::decode(python.as_slice()).unwrap();
        check(&m);
        assert!(m.unknown_fields.iter().any(|f| f.number == 199), "the unknown field is kept");
        std::fs::write(out.join("rust_roundtrip_unknown.bin"), m.encode_to_vec()).unwrap();
        let closed = Base::decode(std::fs::read(out.join("python_closed.bin")).unwrap().as_slice()).unwrap();
        assert_eq!(closed.extension(&ext::COLOR).unwrap(), Some(Color::Green as i32));
        std::fs::write(out.join("rust_roundtrip_closed.bin"), closed.encode_to_vec()).unwrap();
        let from_python: Base = from_json_with(&std::fs::read_to_string(out.join("python.json")).unwrap(), &options)
            .unwrap_or_else(|e| panic!("Python's JSON: {e}"));
        check(&from_python);
        std::fs::write(out.join("rust_roundtrip.json"), to_json_with(&from_python, &options).unwrap()).unwrap();
        // Rust -> Python: a message built here, binary and JSON.
        std::fs::write(out.join("rust_fresh.bin"), build().encode_to_vec()).unwrap();
        std::fs::write(out.join("rust_fresh.json"), to_json_with(&build(), &options).unwrap()).unwrap();
        let (ok, text) =
            run_script("extensions_check.py", backend, &[set.as_os_str(), out.as_os_str(), "check".as_ref()]);
        assert!(ok && text.contains("extensions: 5 passed, 0 failed"), "{backend:?}:\n{text}");
    }
}
