//! Shared by the gateway plugin's tests: paths, and running protoc with both plugins.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("in the workspace").to_owned()
}

/// This crate's plugin.
pub fn gateway_plugin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_protoc-gen-rsgrpc-gateway"))
}

/// protoc-gen-rsgrpc, built beside this plugin (`cargo test --workspace` builds every binary first).
pub fn rsgrpc_plugin() -> PathBuf {
    let path = gateway_plugin().with_file_name("protoc-gen-rsgrpc");
    assert!(path.exists(), "{} is missing: build it first (cargo build -p protoc-gen-rsgrpc)", path.display());
    path
}

/// The test environment's tools (tests/env/setup.sh).
pub fn test_env() -> PathBuf {
    std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"))
}

/// A tool of the test environment.
pub fn test_env_tool(name: &str) -> PathBuf {
    let tool = test_env().join("bin").join(name);
    assert!(tool.exists(), "{} not found: run `bash tests/env/setup.sh`", tool.display());
    tool
}

/// The include root with google/api/annotations.proto (PyPI's googleapis-common-protos).
pub fn googleapis() -> PathBuf {
    let dir = test_env().join("googleapis");
    assert!(
        dir.join("google/api/annotations.proto").exists(),
        "{} has no google/api: run `bash tests/env/setup.sh`",
        dir.display()
    );
    dir
}

/// Runs protoc with both plugins on `files` under `include` (plus googleapis and the WKTs).
pub fn run_protoc(include: &Path, files: &[&str], gateway_params: &str, out: &Path) -> Output {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("a vendored protoc");
    let wkt = protoc_bin_vendored::include_path().expect("its include directory");
    let mut command = Command::new(protoc);
    command
        .arg(format!("--plugin=protoc-gen-rsgrpc={}", rsgrpc_plugin().display()))
        .arg(format!("--plugin=protoc-gen-rsgrpc-gateway={}", gateway_plugin().display()))
        .arg(format!("--rsgrpc_out={}", out.display()))
        .arg(format!("--rsgrpc-gateway_out={}", out.display()));
    if !gateway_params.is_empty() {
        command.arg(format!("--rsgrpc-gateway_opt={gateway_params}"));
    }
    command.arg("-I").arg(include).arg("-I").arg(googleapis()).arg("-I").arg(wkt).args(files);
    command.output().expect("protoc runs")
}

/// The files of testdata/gateway/protos generated through protoc, by name.
pub fn through_protoc(files: &[&str], gateway_params: &str) -> BTreeMap<String, String> {
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(&workspace().join("testdata/gateway/protos"), files, gateway_params, out.path());
    assert!(output.status.success(), "protoc failed: {}", String::from_utf8_lossy(&output.stderr));
    read_tree(out.path())
}

/// Every file under `dir`, by path relative to it.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    files
}

/// Asserts two trees are equal, naming the first differing file and line.
pub fn assert_same_tree(what: &str, want: &BTreeMap<String, String>, got: &BTreeMap<String, String>) {
    let names = |tree: &BTreeMap<String, String>| tree.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(want), names(got), "{what}: different files");
    for (name, want) in want {
        let got = &got[name];
        if want != got {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(want.lines().count().min(got.lines().count()));
            panic!(
                "{what}: {name} differs at line {}:\n  expected: {:?}\n  actual:   {:?}",
                line + 1,
                want.lines().nth(line).unwrap_or(""),
                got.lines().nth(line).unwrap_or("")
            );
        }
    }
}

/// The tree without the embedded `FILE_DESCRIPTOR_SET` lines, which differ between tools that ship
/// different versions of google/protobuf/descriptor.proto.
pub fn without_descriptors(tree: BTreeMap<String, String>) -> BTreeMap<String, String> {
    tree.into_iter()
        .map(|(name, content)| {
            let kept: Vec<&str> =
                content.lines().filter(|line| !line.starts_with("pub const FILE_DESCRIPTOR_SET")).collect();
            (name, kept.join("\n"))
        })
        .collect()
}
