//! Shared by the plugin's end-to-end tests: paths, running protoc and the plugin, reading output trees.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the plugin crate is in the workspace").to_owned()
}

/// testdata/protos.
pub fn protos_dir() -> PathBuf {
    workspace().join("testdata/protos")
}

/// All test protos, relative to testdata/protos, sorted.
pub fn all_protos() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("readable testdata") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "proto") {
                out.push(path.strip_prefix(base).expect("under base").to_string_lossy().into_owned());
            }
        }
    }
    let mut files = Vec::new();
    walk(&protos_dir(), &protos_dir(), &mut files);
    files.sort();
    files
}

/// The plugin binary built for these tests.
pub fn plugin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_protoc-gen-rsgrpc"))
}

/// protoc from protoc-bin-vendored, and its include directory (the well-known types).
pub fn protoc() -> (PathBuf, PathBuf) {
    (
        protoc_bin_vendored::protoc_bin_path().expect("protoc-bin-vendored has a protoc for this platform"),
        protoc_bin_vendored::include_path().expect("protoc-bin-vendored has an include directory"),
    )
}

/// Runs protoc with the plugin on `files` (relative to `include`), with `params`, into `out`.
pub fn run_protoc(include: &Path, files: &[String], params: &str, out: &Path) -> Output {
    let (protoc, wkt) = protoc();
    // Parameters go in --rsgrpc_opt: in --rsgrpc_out=PARAMS:DIR protoc would split at the first `:` of a
    // Rust path like crate::x.
    let mut command = Command::new(protoc);
    if !params.is_empty() {
        command.arg(format!("--rsgrpc_opt={params}"));
    }
    command
        .arg(format!("--plugin=protoc-gen-rsgrpc={}", plugin().display()))
        .arg(format!("-I{}", include.display()))
        .arg(format!("-I{}", wkt.display()))
        .arg(format!("--rsgrpc_out={}", out.display()))
        .args(files)
        .output()
        .expect("protoc runs")
}

/// Every file under `dir`, by path relative to it.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("readable output") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let name = path.strip_prefix(base).expect("under base").to_string_lossy().into_owned();
                out.insert(name, std::fs::read_to_string(&path).expect("utf-8 output"));
            }
        }
    }
    let mut files = BTreeMap::new();
    if dir.exists() {
        walk(dir, dir, &mut files);
    }
    files
}

/// Asserts two trees are equal, naming the first file and line that differ.
pub fn assert_same_tree(what: &str, expected: &BTreeMap<String, String>, actual: &BTreeMap<String, String>) {
    let expected_names: Vec<&String> = expected.keys().collect();
    let actual_names: Vec<&String> = actual.keys().collect();
    assert_eq!(expected_names, actual_names, "{what}: different files");
    for (name, want) in expected {
        let got = &actual[name];
        if want != got {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
            let (want_line, got_line) = (want.lines().nth(line).unwrap_or(""), got.lines().nth(line).unwrap_or(""));
            let column = want_line.chars().zip(got_line.chars()).position(|(a, b)| a != b).unwrap_or(0);
            let window = |text: &str| text.chars().skip(column.saturating_sub(40)).take(100).collect::<String>();
            panic!(
                "{what}: {name} differs at line {}, column {}:\n  expected: …{:?}…\n  actual:   …{:?}…",
                line + 1,
                column + 1,
                window(want_line),
                window(got_line)
            );
        }
    }
}

/// The test environment made by tests/env/setup.sh (`RSGRPC_TEST_ENV`, else target/test-env).
pub fn test_env_tool(name: &str) -> PathBuf {
    let dir =
        std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"));
    let tool = dir.join("bin").join(name);
    assert!(
        tool.exists(),
        "{} not found: run `bash tests/env/setup.sh` (or the whole suite with `bash tests/run.sh`)",
        tool.display()
    );
    tool
}
