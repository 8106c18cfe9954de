//! Protobuf editions 2023 and 2024 (testdata/editions, generated through protoc: testdata/golden/editions)
//! against Python protobuf, both directions, binary and JSON (tests/py/editions_check.py): presence
//! (implicit / explicit / legacy required), open and closed enums (undeclared numbers of closed ones are
//! unknown fields), packed and expanded lists, delimited (group) encoding, extensions, unknown fields.

#[path = "python_corpus/mod.rs"]
#[allow(unused_macros)]
#[macro_use]
mod python_corpus;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use python_corpus::{run_script, workspace, Backend};
use rsgrpc::extension::Extendable;
use rsgrpc::json::{from_json_with, to_json_with, JsonMessage, JsonOptions, TypeRegistry};
use rsgrpc::Message;
use rsgrpc_tests::editions_gen::rsgrpc::test::{ed2023, ed2024};

use ed2023::{everything, Closed, Everything, Leaf, Open};
use ed2024::{record, Level, Record};

fn options() -> JsonOptions {
    let mut registry = TypeRegistry::new();
    ed2023::register_json_types(&mut registry);
    ed2024::register_json_types(&mut registry);
    JsonOptions { registry: Some(Arc::new(registry)), ..Default::default() }
}

fn leaf(value: i32) -> Leaf {
    Leaf { value, ..Default::default() }
}

/// The message editions_check.py builds as `everything`.
fn build_everything() -> Everything {
    let mut m = Everything {
        implicit_int: 5,
        explicit_int: Some(0),
        required_int: 3,
        implicit_string: "s".into(),
        open_enum: 5,
        closed_enum: Some(Closed::Two as i32),
        packed_ints: vec![1, 2, 3],
        expanded_ints: vec![4, 5],
        closed_list: vec![1, 2],
        open_list: vec![1, 7],
        delimited: Some(Leaf { value: 1, note: Some("d".into()), ..Default::default() }),
        delimited_list: vec![leaf(2), leaf(3)],
        prefixed: Some(leaf(4)),
        unverified: "\u{fc}".into(),
        leaves: HashMap::from([("k".to_owned(), leaf(6))]),
        open_map: HashMap::from([(1, Open::One as i32)]),
        choice: Some(everything::Choice::DelimitedChoice(leaf(7))),
        nested: Some(everything::Nested { ratio: 0.25, closed: Some(1), ..Default::default() }),
        signed: -9,
        data: vec![1],
        ratio: 1.5,
        ..Default::default()
    };
    m.set_extension(&ed2023::EXT_INT, 11);
    m.set_extension(&ed2023::EXT_PACKED, vec![1, 2]);
    m.set_extension(&ed2023::EXT_DELIMITED, leaf(12));
    m.set_extension(&ed2023::EXT_CLOSED, Closed::One as i32);
    m
}

/// The message editions_check.py builds as `record`.
fn build_record() -> Record {
    Record {
        id: Some(0),
        count: 2,
        samples: vec![1, 2],
        packed_samples: vec![3, 4],
        level: Some(Level::High as i32),
        part: Some(record::Part { name: Some("p".into()), size: Some(5), ..Default::default() }),
        kind: Some(record::Kind::PartChoice(record::Part { name: Some("c".into()), ..Default::default() })),
        imported_closed: Some(Closed::Two as i32),
        imported_closed_list: vec![1],
        name: "n".into(),
        ..Default::default()
    }
}

/// testdata/editions with imports, through the vendored protoc (36).
fn descriptor_set(dir: &Path) -> PathBuf {
    let set = dir.join("editions.pb");
    let protos = workspace().join("testdata/editions");
    let output = std::process::Command::new(protoc_bin_vendored::protoc_bin_path().expect("vendored protoc"))
        .arg("-I")
        .arg(&protos)
        .arg(format!("--descriptor_set_out={}", set.display()))
        .arg("--include_imports")
        .args(["rsgrpc/test/editions/ed2023.proto", "rsgrpc/test/editions/ed2024.proto"])
        .current_dir(&protos)
        .output()
        .expect("protoc runs");
    assert!(output.status.success(), "protoc: {}", String::from_utf8_lossy(&output.stderr));
    set
}

#[test]
fn features_decide_presence_enums_packing_and_encoding() {
    let m = build_everything();
    // Implicit presence: a default value is not written; explicit: a set zero is.
    let bare = Everything { required_int: 0, ..Default::default() }.encode_to_vec();
    assert_eq!(bare, [0x18, 0x00], "only the legacy-required field is written");
    let zero = Everything { explicit_int: Some(0), ..Default::default() }.encode_to_vec();
    assert_eq!(&zero[..2], [0x10, 0x00]);
    // Explicit presence with a default.
    assert_eq!(Everything::default().explicit_string(), "fallback");
    // Packed by default, expanded where the field says so, delimited as a group (start 12, end 12).
    let bytes = Everything { packed_ints: vec![1, 2], expanded_ints: vec![4, 5], ..Default::default() }.encode_to_vec();
    assert!(bytes.windows(4).any(|w| w == [0x42, 2, 1, 2]), "packed: {bytes:x?}");
    assert!(bytes.windows(4).any(|w| w == [0x48, 4, 0x48, 5]), "expanded: {bytes:x?}");
    let group = Everything { delimited: Some(leaf(1)), ..Default::default() }.encode_to_vec();
    assert!(group.windows(4).any(|w| w == [0x63, 0x08, 0x01, 0x64]), "delimited: {group:x?}");
    // Closed enum (by the file): an undeclared number is an unknown field; open (by the enum): a value.
    let decoded = Everything::decode(&[0x38, 77, 0x30, 77][..]).unwrap();
    assert_eq!(decoded.closed_enum, None);
    assert_eq!(decoded.open_enum, 77);
    assert_eq!(decoded.unknown_fields.iter().map(|f| f.number).collect::<Vec<_>>(), vec![7]);
    // 2024: explicit presence by default, the file's EXPANDED, a field's PACKED.
    let r = Record { samples: vec![1, 2], packed_samples: vec![3], ..Default::default() }.encode_to_vec();
    assert_eq!(r, [0x18, 1, 0x18, 2, 0x22, 1, 3]);
    assert_eq!(m.extension(&ed2023::EXT_PACKED).unwrap(), Some(vec![1, 2]));
}

#[test]
fn legacy_required_fields_are_always_written_and_not_enforced_on_decode() {
    // required_int (3) is LEGACY_REQUIRED: a message without it still decodes (as prost and proto2 here do),
    // and is written with it.
    let m = Everything::decode(&[][..]).unwrap();
    assert_eq!(m.required_int, 0);
    assert_eq!(m.encode_to_vec(), [0x18, 0]);
}

#[test]
fn invalid_utf8_in_an_unverified_string_is_refused_not_a_panic() {
    // utf8_validation = NONE cannot be honoured by a Rust `String`: the bytes are refused with an error.
    let error = Everything::decode(&[0x7a, 2, 0xff, 0xfe][..]).unwrap_err();
    assert!(error.to_string().contains("UTF-8") || error.to_string().contains("utf-8"), "{error}");
}

/// `got` equals `want`, its extensions compared by value (the order they arrived in is the writer's).
fn assert_same_everything(mut got: Everything, mut want: Everything) {
    same_extensions(&got, &want);
    got.unknown_fields.clear();
    want.unknown_fields.clear();
    assert_eq!(got, want);
}

fn same_extensions(got: &Everything, want: &Everything) {
    assert_eq!(got.extension(&ed2023::EXT_INT).unwrap(), want.extension(&ed2023::EXT_INT).unwrap());
    assert_eq!(got.extension(&ed2023::EXT_PACKED).unwrap(), want.extension(&ed2023::EXT_PACKED).unwrap());
    assert_eq!(got.extension(&ed2023::EXT_DELIMITED).unwrap(), want.extension(&ed2023::EXT_DELIMITED).unwrap());
    assert_eq!(got.extension(&ed2023::EXT_CLOSED).unwrap(), want.extension(&ed2023::EXT_CLOSED).unwrap());
    assert!(got.extension(&ed2023::EXT_INT).unwrap().is_some());
}

#[test]
fn embedded_descriptors_keep_the_edition_and_features_for_reflection() {
    let mut files = Vec::new();
    for set in ed2024::FILE_DESCRIPTOR_SETS {
        files.extend(rsgrpc::well_known::FileDescriptorSet::decode(*set).unwrap().file);
    }
    let file = |name: &str| files.iter().find(|f| f.name.as_deref() == Some(name)).expect(name);
    let ed2024 = file("rsgrpc/test/editions/ed2024.proto");
    assert_eq!((ed2024.syntax.as_deref(), ed2024.edition), (Some("editions"), Some(1001)));
    let ed2023 = file("rsgrpc/test/editions/ed2023.proto");
    assert_eq!(ed2023.edition, Some(1000));
    let file_features = ed2023.options.as_ref().and_then(|o| o.features.as_ref()).expect("file features");
    assert_eq!((file_features.field_presence, file_features.enum_type), (Some(2), Some(2)));
    let everything = ed2023.message_type.iter().find(|m| m.name.as_deref() == Some("Everything")).unwrap();
    let explicit = everything.field.iter().find(|f| f.name.as_deref() == Some("explicit_int")).unwrap();
    let presence = explicit.options.as_ref().and_then(|o| o.features.as_ref()).and_then(|f| f.field_presence);
    assert_eq!(presence, Some(1), "EXPLICIT");
    assert!(ed2023.source_code_info.is_none(), "no source info unless asked for");
}

fn write<M: Message>(dir: &Path, name: &str, m: &M) {
    std::fs::write(dir.join(name), m.encode_to_vec()).unwrap();
}

fn write_json<M: JsonMessage>(dir: &Path, name: &str, m: &M, options: &JsonOptions) {
    std::fs::write(dir.join(name), to_json_with(m, options).unwrap()).unwrap();
}

#[test]
fn round_trips_through_python_protobuf_binary_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let set = descriptor_set(dir.path());
    let options = options();
    for backend in [Backend::Upb, Backend::Python] {
        let out = dir.path().join(format!("{backend:?}"));
        std::fs::create_dir(&out).unwrap();
        let args = |command: &'static str| [set.as_os_str(), out.as_os_str(), command.as_ref()];
        let (ok, text) = run_script("editions_check.py", backend, &args("gen"));
        assert!(ok, "{text}");
        let read = |name: &str| std::fs::read(out.join(name)).unwrap();
        let read_json = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();

        // Python -> Rust, binary: the same message as built here, byte for byte.
        // upb writes extensions last to first, pure Python by number as we do.
        let everything = Everything::decode(read("python_everything.bin").as_slice()).unwrap();
        assert_same_everything(everything, build_everything());
        let record = Record::decode(read("python_record.bin").as_slice()).unwrap();
        assert_eq!(record, build_record());
        if matches!(backend, Backend::Python) {
            assert_eq!(build_everything().encode_to_vec(), read("python_everything.bin"), "our bytes are Python's");
        }
        assert_eq!(build_record().encode_to_vec(), read("python_record.bin"), "our bytes are Python's");

        // With an unknown field and undeclared numbers of closed enums: the fields keep their values, the
        // numbers are unknown fields, and all of it is written back.
        let with_unknown = Everything::decode(read("python_everything_unknown.bin").as_slice()).unwrap();
        assert_eq!(with_unknown.closed_enum, Some(Closed::Two as i32));
        assert_eq!(with_unknown.closed_list, vec![1, 2]);
        let numbers: Vec<u32> = with_unknown.unknown_fields.iter().map(|f| f.number).collect();
        assert!(numbers.ends_with(&[150, 7, 10]), "{numbers:?}");
        write(&out, "rust_everything_unknown.bin", &with_unknown);
        let with_unknown = Record::decode(read("python_record_unknown.bin").as_slice()).unwrap();
        assert_eq!(with_unknown.imported_closed, Some(Closed::Two as i32));
        assert_eq!(with_unknown.imported_closed_list, vec![1]);
        assert_eq!(with_unknown.unknown_fields.iter().map(|f| f.number).collect::<Vec<_>>(), vec![150, 9, 10]);
        write(&out, "rust_record_unknown.bin", &with_unknown);

        // Python -> Rust, JSON.
        let everything: Everything = from_json_with(&read_json("python_everything.json"), &options).unwrap();
        assert_same_everything(everything, build_everything());
        let record: Record = from_json_with(&read_json("python_record.json"), &options).unwrap();
        assert_eq!(record, build_record());

        // Rust -> Python: binary and JSON of the messages built here.
        write(&out, "rust_everything.bin", &build_everything());
        write(&out, "rust_record.bin", &build_record());
        write_json(&out, "rust_everything.json", &build_everything(), &options);
        write_json(&out, "rust_record.json", &build_record(), &options);

        let (ok, text) = run_script("editions_check.py", backend, &args("check"));
        assert!(ok && text.contains("editions: 6 passed, 0 failed"), "{backend:?}:\n{text}");
        let identical = if matches!(backend, Backend::Python) { 2 } else { 1 };
        assert_eq!(text.matches("bytes identical to Python's").count(), identical, "{text}");
    }
}
