//! What the tests against Python protobuf (wire_python.rs, json_python.rs) share: the Python of the test
//! environment and its two protobuf backends, the descriptor set of testdata the scripts in tests/py build
//! their message classes from, the record files both sides exchange, and the list of testdata's types.

// Each test uses part of this module.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests crate is in the workspace").to_owned()
}

/// The Python of the test environment, with protobuf installed.
pub fn python() -> PathBuf {
    let dir =
        std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"));
    let python = dir.join("bin/python");
    assert!(python.exists(), "{} not found: run `bash tests/env/setup.sh` (or `bash tests/run.sh`)", python.display());
    python
}

/// Python protobuf's two implementations.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// The default, C-based upb.
    Upb,
    /// The pure-Python reference implementation.
    Python,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Upb => "upb",
            Backend::Python => "python",
        }
    }
}

/// Runs a script of tests/py under a backend: whether it succeeded, and its stdout and stderr.
pub fn run_script(script: &str, backend: Backend, args: &[&OsStr]) -> (bool, String) {
    let output = Command::new(python())
        .env("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", backend.name())
        .arg(workspace().join("tests/py").join(script))
        .args(args)
        .output()
        .expect("python runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Writes `dir/all.pb`, every testdata proto with its imports (in sorted file order, which decides the type
/// indexes of the scripts' case ids), and returns its path.
pub fn build_descriptor_set(dir: &Path) -> PathBuf {
    let protos = workspace().join("testdata/protos");
    let mut files: Vec<String> = Vec::new();
    collect_protos(&protos, &protos, &mut files);
    files.sort();
    let descriptor_set = dir.join("all.pb");
    let output = Command::new(protoc_bin_vendored::protoc_bin_path().expect("vendored protoc"))
        .arg("-I")
        .arg(&protos)
        .arg("-I")
        .arg(protoc_bin_vendored::include_path().expect("vendored includes"))
        .arg(format!("--descriptor_set_out={}", descriptor_set.display()))
        .arg("--include_imports")
        .args(&files)
        .current_dir(&protos)
        .output()
        .expect("protoc runs");
    assert!(output.status.success(), "protoc: {}", String::from_utf8_lossy(&output.stderr));
    descriptor_set
}

fn collect_protos(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect_protos(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path.strip_prefix(base).expect("under base").to_string_lossy().into_owned());
        }
    }
}

/// One record of the corpus files: case id, full type name, payload.
pub struct Record {
    pub id: String,
    pub type_name: String,
    pub payload: Vec<u8>,
}

/// The records of a file: u32 little-endian length and bytes of the name (`id|type`), then of the payload.
pub fn read_records(path: &Path) -> Vec<Record> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rest = &bytes[..];
    let take = |rest: &mut &[u8]| {
        let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
        let (value, tail) = rest[4..].split_at(len);
        *rest = tail;
        value.to_vec()
    };
    let mut records = Vec::new();
    while !rest.is_empty() {
        let name = String::from_utf8(take(&mut rest)).expect("utf-8 name");
        let payload = take(&mut rest);
        let (id, type_name) = name.split_once('|').expect("name is id|type");
        records.push(Record { id: id.to_owned(), type_name: type_name.to_owned(), payload });
    }
    records
}

/// Writes records in the format [`read_records`] reads.
pub fn write_records(path: &Path, records: &[Record]) {
    let mut bytes = Vec::new();
    for record in records {
        let name = format!("{}|{}", record.id, record.type_name);
        bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(&(record.payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&record.payload);
    }
    std::fs::write(path, bytes).expect("write records");
}

/// A map from the full name of every message type of testdata to `$entry::<T>()`, for one generated module
/// (`$root`): `$entry` is a generic function that gives what a test needs of a type, as a value.
macro_rules! testdata_types {
    ($root:path, $entry:ident) => {
        registry!($root, $entry;
            TopLevel, top_level::Nested,
            rsgrpc::test::common::Money,
            rsgrpc::test::docs::Documented, rsgrpc::test::docs::Old, rsgrpc::test::docs::UsesOld,
            rsgrpc::test::docs::UsesLegacy,
            rsgrpc::test::evolution::v1::Record, rsgrpc::test::evolution::v1::Sub,
            rsgrpc::test::evolution::v1proto2::Record, rsgrpc::test::evolution::v1proto2::Sub,
            rsgrpc::test::evolution::v2::Record, rsgrpc::test::evolution::v2::Sub,
            rsgrpc::test::evolution::v2groups::Record, rsgrpc::test::evolution::v2groups::record::Added,
            rsgrpc::test::evolution::v2groups::record::added::Deeper, rsgrpc::test::evolution::v2groups::record::Many,
            rsgrpc::test::evolution::v2groups::Sub,
            rsgrpc::test::shop::Item, rsgrpc::test::shop::Order,
            rsgrpc::test::v3::Scalars, rsgrpc::test::v3::OptionalScalars, rsgrpc::test::v3::RepeatedScalars,
            rsgrpc::test::v3::Outer, rsgrpc::test::v3::outer::Middle, rsgrpc::test::v3::outer::middle::Inner,
            rsgrpc::test::v3::Choice, rsgrpc::test::v3::Maps, rsgrpc::test::v3::Node, rsgrpc::test::v3::Ping,
            rsgrpc::test::v3::Pong,
            rsgrpc::test::r#type::Option, rsgrpc::test::r#type::Result, rsgrpc::test::r#type::String,
            rsgrpc::test::r#type::Box, rsgrpc::test::r#type::Vec, rsgrpc::test::r#type::Self_,
            rsgrpc::test::r#type::Default, rsgrpc::test::r#type::Some, rsgrpc::test::r#type::Keywords,
            rsgrpc::test::r#type::Outer, rsgrpc::test::r#type::outer::Outer,
            rsgrpc::test::v2::Required, rsgrpc::test::v2::Leaf, rsgrpc::test::v2::Defaults,
            rsgrpc::test::v2::Repeated, rsgrpc::test::v2::WithGroups, rsgrpc::test::v2::with_groups::Item,
            rsgrpc::test::v2::with_groups::Entry, rsgrpc::test::v2::with_groups::Pick,
            rsgrpc::test::v2::Extendable, rsgrpc::test::v2::ClosedEnums,
            rsgrpc::test::wkt::WellKnown,
            rsgrpc::test::ext::Base, rsgrpc::test::ext::Note, rsgrpc::test::ext::Extra, rsgrpc::test::ext::Scope,
            rsgrpc::test::ext::Tagged,
            rsgrpc::test::echo::EchoRequest, rsgrpc::test::echo::EchoResponse,
            rsgrpc::test::collisions::Clone, rsgrpc::test::collisions::Iterator, rsgrpc::test::collisions::Future,
            rsgrpc::test::collisions::Result, rsgrpc::test::collisions::Ok, rsgrpc::test::collisions::Drop,
            rsgrpc::test::collisions::Into, rsgrpc::test::collisions::Default, rsgrpc::test::collisions::Send,
            rsgrpc::test::collisions::Sync, rsgrpc::test::collisions::Sized,
            helloworld::HelloRequest, helloworld::HelloReply,
            routeguide::Point, routeguide::Rectangle, routeguide::Feature, routeguide::RouteNote,
            routeguide::RouteSummary,
            bench::Payload,
        )
    };
}

/// [`testdata_types`] for any list of types (paths relative to `$root`).
macro_rules! registry {
    ($root:path, $entry:ident; $($($segment:ident)::+),* $(,)?) => {{
        use $root as root;
        let mut map = ::std::collections::HashMap::new();
        $(
            {
                use root::$($segment)::+ as T;
                map.insert(<T as ::rsgrpc::Name>::full_name(), $entry::<T>());
            }
        )*
        map
    }};
}
