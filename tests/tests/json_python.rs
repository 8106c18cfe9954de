//! JSON compatibility with an independent implementation: Python protobuf's `json_format`, driven by
//! tests/py/json_corpus.py. For random messages of every testdata type, every well-known type included (as
//! fields of rsgrpc.test.wkt.WellKnown and packed in `Any`), Python's JSON must read with our code as the
//! message Python wrote, and our JSON must read with Python's code as the message we started from. Messages
//! are compared, not texts: the two sides may print one value differently (`1e+300` and `1e300`, escapes,
//! key order).
//!
//! Python reads our JSON under its default backend, upb, the one its users run. It writes the corpus under
//! the pure-Python backend, whose deterministic encoding sorts map entries as ours does: the bytes it packs
//! in `Any` fields are then the bytes our reader packs from the JSON, and messages compare with their `Any`
//! fields as they are. (upb's deterministic encoding orders integer keys descending and puts a string key
//! after the longer keys it is a prefix of.) `json_format` itself is the same Python code under either.
//!
//! Python cannot read every JSON text it writes: it prints float32 max as 3.4028235e+38, then finds that
//! above float32 max. A record whose JSON Python refuses, ours and its own alike with the same error, is
//! skipped by the check and listed in this test's output.

// testdata's docs.Old is deprecated on purpose; registering it with the other types is not a use to warn about.
#![allow(deprecated)]

#[macro_use]
#[path = "python_corpus/mod.rs"]
mod python_corpus;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use python_corpus::{build_descriptor_set, read_records, run_script, write_records, Backend, Record};
use rsgrpc::json::serde::de::DeserializeOwned;
use rsgrpc::json::serde::Serialize;
use rsgrpc::json::{from_json_with, to_json_with, update_global_registry, JsonMessage, JsonOptions, TypeRegistry};
use rsgrpc::Message;

const MESSAGES_FILE: &str = "json_messages.bin";
const PYTHON_FILE: &str = "json_python.bin";
const RUST_FILE: &str = "json_rust.bin";
/// How much of a JSON text or a message a failure shows.
const TEXT_LIMIT: usize = 400;

/// One message type's JSON, both ways, with our code.
#[derive(Clone, Copy)]
struct JsonType {
    /// Reads JSON as the type and compares the message with the binary's; describes any difference.
    read_json: fn(&str, &[u8]) -> Result<(), String>,
    /// Decodes the binary and writes the message as JSON.
    write_json: fn(&[u8]) -> Result<String, String>,
}

/// The registry entry of `M`.
fn entry<M: JsonMessage + Message + Default + Debug + Serialize + DeserializeOwned>() -> JsonType {
    JsonType { read_json: read_json::<M>, write_json: write_json::<M> }
}

fn read_json<M: JsonMessage + Message + Default + Debug + DeserializeOwned>(
    json: &str,
    binary: &[u8],
) -> Result<(), String> {
    let expected = M::decode(binary).map_err(|e| format!("the binary does not decode: {e}"))?;
    let parsed = from_json_with::<M>(json, &JsonOptions::default());
    // The runtime's `serde` feature: serde_json's own entry point must read what `from_json` reads, and
    // refuse what it refuses.
    let via_serde = serde_json::from_str::<M>(json);
    match (&parsed, &via_serde) {
        (Ok(ours), Ok(serde)) if ours.encode_to_vec() == serde.encode_to_vec() => {}
        (Err(_), Err(_)) => {}
        _ => return Err(format!("serde_json::from_str disagrees with from_json: {via_serde:?} and {parsed:?}")),
    }
    let parsed = parsed.map_err(|e| format!("our reader refuses it: {e}"))?;
    // Compared by encoding (maps sorted: `wire_gen`), which is exact for floats: `==` would take NaN for
    // unequal to itself and -0.0 for 0.0.
    if parsed.encode_to_vec() == expected.encode_to_vec() {
        return Ok(());
    }
    Err(format!("it reads as another message: {}", window(&format!("{expected:?}"), &format!("{parsed:?}"))))
}

fn write_json<M: JsonMessage + Message + Default + Serialize>(binary: &[u8]) -> Result<String, String> {
    let message = M::decode(binary).map_err(|e| format!("the binary does not decode: {e}"))?;
    let json = to_json_with(&message, &JsonOptions::default()).map_err(|e| format!("our writer refuses it: {e}"))?;
    // The runtime's `serde` feature: serde_json's own entry point must print the same JSON value. Not the
    // same text: serde_json's printer writes exponents as `e+74` where ours writes `e74`, and leaves U+007F
    // unescaped.
    let via_serde = serde_json::to_string(&message).map_err(|e| format!("serde_json::to_string refuses it: {e}"))?;
    let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("{e} in {text}"));
    if value(&via_serde)? != value(&json)? {
        return Err(format!("serde_json::to_string prints another value: {}", window(&json, &via_serde)));
    }
    Ok(json)
}

/// Every message type of testdata, as generated with sorted maps (`wire_gen`), which encode as Python packs
/// `Any` payloads.
fn json_types() -> HashMap<String, JsonType> {
    testdata_types!(rsgrpc_tests::wire_gen, entry)
}

/// The registered type of a record.
fn json_type(types: &HashMap<String, JsonType>, record: &Record) -> Result<JsonType, String> {
    types.get(&record.type_name).copied().ok_or_else(|| "no Rust type registered".to_owned())
}

/// Puts every testdata package's types in the global registry our JSON code reads and writes `Any` with.
fn register_testdata_types() {
    use rsgrpc_tests::wire_gen as gen;
    use rsgrpc_tests::wire_gen::rsgrpc::test::{
        collisions, common, docs, echo, evolution, ext, r#type, shop, v2, v3, wkt,
    };
    let packages: [fn(&mut TypeRegistry); 18] = [
        gen::register_json_types,
        gen::bench::register_json_types,
        gen::helloworld::register_json_types,
        gen::routeguide::register_json_types,
        collisions::register_json_types,
        common::register_json_types,
        docs::register_json_types,
        echo::register_json_types,
        evolution::v1::register_json_types,
        evolution::v1proto2::register_json_types,
        evolution::v2::register_json_types,
        evolution::v2groups::register_json_types,
        ext::register_json_types,
        r#type::register_json_types,
        shop::register_json_types,
        v2::register_json_types,
        v3::register_json_types,
        wkt::register_json_types,
    ];
    update_global_registry(|registry| packages.iter().for_each(|register| register(registry)));
}

/// The corpus Python wrote for this test run, and the descriptor set it was built from.
struct Corpus {
    dir: tempfile::TempDir,
    descriptor_set: PathBuf,
}

impl Corpus {
    fn records(&self, file: &str) -> Vec<Record> {
        read_records(&self.dir.path().join(file))
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(|| {
        register_testdata_types();
        let dir = tempfile::tempdir().expect("temp dir");
        let descriptor_set = build_descriptor_set(dir.path());
        let out = dir.path().as_os_str();
        let args = ["gen".as_ref(), "--descriptor-set".as_ref(), descriptor_set.as_os_str(), "--out".as_ref(), out];
        let (ok, text) = run_script("json_corpus.py", Backend::Python, &args);
        assert!(ok, "json_corpus.py gen failed:\n{text}");
        Corpus { dir, descriptor_set }
    })
}

/// The binary records and Python's JSON of them, checked to line up.
fn messages_and_python_json(corpus: &Corpus) -> Vec<(Record, Record)> {
    let messages = corpus.records(MESSAGES_FILE);
    let python = corpus.records(PYTHON_FILE);
    assert!(messages.len() > 1000, "the corpus is too small: {}", messages.len());
    assert_eq!(messages.len(), python.len(), "{MESSAGES_FILE} and {PYTHON_FILE} line up");
    for (message, json) in messages.iter().zip(&python) {
        assert_eq!((&message.id, &message.type_name), (&json.id, &json.type_name), "same corpus order");
    }
    messages.into_iter().zip(python).collect()
}

#[test]
fn python_json_reads_as_the_same_messages() {
    let types = json_types();
    let records = messages_and_python_json(corpus());
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for (message, python) in &records {
        covered.insert(message.type_name.as_str());
        let json = std::str::from_utf8(&python.payload).expect("Python writes UTF-8");
        if let Err(why) = json_type(&types, message).and_then(|t| (t.read_json)(json, &message.payload)) {
            failures.push(format!("{} ({}): {why}\n  Python's JSON: {}", message.id, message.type_name, cut(json)));
        }
    }
    assert_eq!(covered.len(), types.len(), "every registered type is in the corpus");
    assert!(
        failures.is_empty(),
        "{} of {} Python JSON texts do not read as their messages:\n{}",
        failures.len(),
        records.len(),
        failures[..failures.len().min(15)].join("\n")
    );
}

#[test]
fn our_json_reads_as_the_same_messages_in_python() {
    let types = json_types();
    let corpus = corpus();
    let records = messages_and_python_json(corpus);
    let mut ours = Vec::new();
    let mut failures = Vec::new();
    for (message, python) in &records {
        match json_type(&types, message).and_then(|t| (t.write_json)(&message.payload)) {
            Ok(json) => ours.push(Record {
                id: message.id.clone(),
                type_name: message.type_name.clone(),
                payload: json.into_bytes(),
            }),
            Err(why) => failures.push(format!(
                "{} ({}): {why}\n  Python's JSON: {}",
                message.id,
                message.type_name,
                cut(&String::from_utf8_lossy(&python.payload))
            )),
        }
    }
    assert!(failures.is_empty(), "{} messages are not written:\n{}", failures.len(), failures.join("\n"));
    write_records(&corpus.path().join(RUST_FILE), &ours);
    let set = corpus.descriptor_set.as_os_str();
    let args = ["check".as_ref(), "--descriptor-set".as_ref(), set, "--dir".as_ref(), corpus.path().as_os_str()];
    let (ok, text) = run_script("json_corpus.py", Backend::Upb, &args);
    let skipped = skipped_count(&text);
    // Skips are only for Python refusing its own JSON (float32 max); more than a few means something else.
    assert!(
        skipped * 20 <= records.len(),
        "{skipped} of {} records skipped:\n{}",
        records.len(),
        report_lines(&text, &["SKIP"], 20)
    );
    let summary = format!("json python: {} passed, 0 failed", records.len() - skipped);
    assert!(
        ok && text.contains(&summary),
        "Python does not read our JSON as the messages it was written from (expected {summary:?}):\n{}",
        report_lines(&text, &["FAIL", "json python:"], 20)
    );
    println!("{}", report_lines(&text, &["SKIP", "json python:"], usize::MAX));
}

/// The number of records the check skipped because Python refuses its own JSON of them too.
fn skipped_count(text: &str) -> usize {
    let count = text.lines().find_map(|line| line.strip_prefix("json python: ")?.split_once(" skipped"));
    count.map_or(0, |(number, _)| number.parse().expect("a count"))
}

/// The first characters of a text, its white space runs collapsed so that indented JSON fits on one line.
fn cut(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown: String = line.chars().take(TEXT_LIMIT).collect();
    let more = if shown.len() < line.len() { "..." } else { "" };
    format!("{shown}{more} ({} chars)", line.chars().count())
}

/// The lines of Python's report that start with one of `prefixes`, at most `limit` of each kind.
fn report_lines(text: &str, prefixes: &[&str], limit: usize) -> String {
    let mut lines = Vec::new();
    for prefix in prefixes {
        lines.extend(text.lines().filter(|line| line.starts_with(prefix)).take(limit));
    }
    lines.join("\n")
}

/// Both texts cut to a window that starts just before their first difference.
fn window(expected: &str, actual: &str) -> String {
    let common = expected.chars().count().min(actual.chars().count());
    let first = expected.chars().zip(actual.chars()).position(|(a, b)| a != b).unwrap_or(common);
    let start = first.saturating_sub(TEXT_LIMIT / 4);
    let part = |text: &str| text.chars().skip(start).take(TEXT_LIMIT).collect::<String>();
    format!("from character {start}, expected {} got {}", part(expected), part(actual))
}
