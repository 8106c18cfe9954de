//! Shared by the OpenAPI plugin's tests: paths, the cases, and running the plugin through protoc, buf and
//! its own `generate` command.

#![allow(dead_code)] // each test file uses a different part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("in the workspace").to_owned()
}

/// This crate's plugin.
pub fn plugin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_protoc-gen-rsgrpc-openapi"))
}

/// The test environment (tests/env/setup.sh).
pub fn test_env() -> PathBuf {
    std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"))
}

/// A tool of the test environment.
pub fn test_env_tool(name: &str) -> PathBuf {
    let tool = test_env().join("bin").join(name);
    assert!(tool.exists(), "{} not found: run `bash tests/env/setup.sh`", tool.display());
    tool
}

/// The include root with google/api (PyPI's googleapis-common-protos).
pub fn googleapis() -> PathBuf {
    let dir = test_env().join("googleapis");
    assert!(
        dir.join("google/api/field_behavior.proto").exists(),
        "{} has no google/api: run `bash tests/env/setup.sh`",
        dir.display()
    );
    dir
}

/// The gateway's test protos (every rule shape).
pub fn gateway_protos() -> PathBuf {
    workspace().join("testdata/gateway/protos")
}

/// The OpenAPI test protos (every type, behaviour and openapiv2 option) with grpc-gateway's options protos.
pub fn openapi_protos() -> PathBuf {
    workspace().join("testdata/openapi/protos")
}

/// A golden case: the files of one include root, generated with `params` into testdata/golden/openapi/NAME.
pub struct Case {
    /// The directory under testdata/golden/openapi.
    pub name: &'static str,
    /// Include roots besides googleapis and the well-known types.
    pub includes: Vec<PathBuf>,
    /// Files relative to an include root.
    pub files: Vec<&'static str>,
    /// The plugin's parameters.
    pub params: &'static str,
}

const LIBRARY: &str = "rsgrpc/test/gateway/library.proto";
const KITCHEN: &str = "rsgrpc/test/openapi/kitchen.proto";
/// google.api.HttpBody requests and responses.
const FILES: &str = "rsgrpc/test/files/files.proto";

/// Every golden case.
pub fn cases() -> Vec<Case> {
    let gateway = || vec![gateway_protos()];
    let kitchen = || vec![openapi_protos()];
    vec![
        Case { name: "gateway_v2", includes: gateway(), files: vec![LIBRARY], params: "" },
        Case { name: "gateway_v31", includes: gateway(), files: vec![LIBRARY], params: "openapi_version=3.1" },
        Case { name: "files_v2", includes: gateway(), files: vec![FILES], params: "" },
        Case { name: "files_v31", includes: gateway(), files: vec![FILES], params: "openapi_version=3.1" },
        Case { name: "kitchen_v2", includes: kitchen(), files: vec![KITCHEN], params: "" },
        Case { name: "kitchen_v31", includes: kitchen(), files: vec![KITCHEN], params: "openapi_version=3.1" },
        Case {
            name: "kitchen_v31_yaml",
            includes: kitchen(),
            files: vec![KITCHEN],
            params: "openapi_version=3.1,output_format=yaml",
        },
        Case {
            name: "merged_v31",
            includes: vec![gateway_protos(), openapi_protos()],
            files: vec![LIBRARY, KITCHEN],
            params: "openapi_version=3.1,merge=apidocs",
        },
        Case {
            name: "gateway_v2_pattern",
            includes: gateway(),
            files: vec![LIBRARY],
            params: "pattern_variables=pattern",
        },
        Case {
            name: "unbound_v2_yaml",
            includes: gateway(),
            files: vec![LIBRARY],
            params: "generate_unbound_methods,output_format=yaml",
        },
    ]
}

/// Runs protoc with this plugin.
pub fn run_protoc(includes: &[PathBuf], files: &[&str], params: &str, out: &Path) -> Output {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("a vendored protoc");
    let wkt = protoc_bin_vendored::include_path().expect("its include directory");
    let mut command = Command::new(protoc);
    command
        .arg(format!("--plugin=protoc-gen-rsgrpc-openapi={}", plugin().display()))
        .arg(format!("--rsgrpc-openapi_out={}", out.display()));
    if !params.is_empty() {
        command.arg(format!("--rsgrpc-openapi_opt={params}"));
    }
    for include in includes {
        command.arg("-I").arg(include);
    }
    command.arg("-I").arg(googleapis()).arg("-I").arg(wkt).args(files);
    command.output().expect("protoc runs")
}

/// A case's files through protoc, by path.
pub fn through_protoc(case: &Case) -> BTreeMap<String, String> {
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(&case.includes, &case.files, case.params, out.path());
    assert!(output.status.success(), "{}: protoc failed: {}", case.name, String::from_utf8_lossy(&output.stderr));
    read_tree(out.path())
}

/// A case's files through the plugin's `generate` command (protox, no protoc), by path.
pub fn through_generate(case: &Case) -> BTreeMap<String, String> {
    let out = tempfile::tempdir().unwrap();
    let mut command = Command::new(plugin());
    command.arg("generate");
    for include in case.includes.iter().chain([&googleapis()]) {
        command.arg("-I").arg(include);
    }
    command.arg("--out").arg(out.path());
    if !case.params.is_empty() {
        command.arg("--opt").arg(case.params);
    }
    for file in &case.files {
        let root = case.includes.iter().find(|dir| dir.join(file).exists()).expect("the file is under an include");
        command.arg(root.join(file));
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}: generate failed: {}", case.name, String::from_utf8_lossy(&output.stderr));
    read_tree(out.path())
}

/// Every file under `dir`, by path relative to it.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                files.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
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

/// The test environment's python (with openapi-spec-validator).
pub fn python() -> PathBuf {
    let python = test_env().join("venv/bin/python");
    assert!(python.exists(), "{} not found: run `bash tests/env/setup.sh`", python.display());
    python
}
