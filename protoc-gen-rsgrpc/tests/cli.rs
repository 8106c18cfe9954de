//! The plugin's two front doors, protoc's stdin and the `generate` command: bad input gets one clear error
//! naming what and where (never a panic), and the command line does what --help says.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::*;

fn run_plugin_with_stdin(input: &[u8]) -> Output {
    let mut child = Command::new(plugin())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("plugin starts");
    child.stdin.take().expect("piped").write_all(input).expect("write stdin");
    child.wait_with_output().expect("plugin finishes")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failure with one line on stderr (no panic, no backtrace) containing every `expected` part.
fn assert_clear_failure(output: &Output, expected: &[&str]) {
    let text = stderr(output);
    assert!(!output.status.success(), "expected failure, stderr: {text}");
    assert!(!text.contains("panicked"), "panicked: {text}");
    for part in expected {
        assert!(text.contains(part), "stderr lacks {part:?}: {text}");
    }
}

/// Runs `protoc-gen-rsgrpc generate -I include --out out files...`.
fn generate(include: &Path, out: &Path, files: &[std::path::PathBuf]) -> Output {
    Command::new(plugin()).args(["generate", "-I"]).arg(include).arg("--out").arg(out).args(files).output().unwrap()
}

fn write_proto(dir: &Path, name: &str, source: &str) {
    std::fs::write(dir.join(name), source).expect("write proto");
}

#[test]
fn garbage_on_stdin_is_one_line_on_stderr() {
    let output = run_plugin_with_stdin(b"\xff\xff\xff\xff this is not a protobuf message");
    assert_clear_failure(&output, &["protoc-gen-rsgrpc: stdin does not hold a CodeGeneratorRequest"]);
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(output.stdout.is_empty());
}

#[test]
fn empty_stdin_says_it_is_a_plugin() {
    let output = run_plugin_with_stdin(b"");
    assert_clear_failure(&output, &["input is empty", "run it through protoc"]);
}

#[test]
fn well_formed_bytes_that_are_not_a_request_are_refused() {
    // A valid protobuf message (field 100 = 1), but not a request: it names no files.
    let output = run_plugin_with_stdin(&[0xa0, 0x06, 0x01]);
    assert_clear_failure(&output, &["names no files to generate"]);
}

#[test]
fn unknown_parameter_is_reported_through_protoc() {
    let out = tempfile::tempdir().unwrap();
    let output =
        run_protoc(&protos_dir(), &["rsgrpc/test/common/common.proto".into()], "btree_map=.,bogus=1", out.path());
    assert_clear_failure(
        &output,
        &["--rsgrpc_out: parameter `bogus=1`: unknown parameter `bogus`", "known parameters:"],
    );
    assert!(read_tree(out.path()).is_empty(), "nothing is written on error");
}

#[test]
fn invalid_parameter_values_are_reported_through_protoc() {
    let out = tempfile::tempdir().unwrap();
    let files = ["rsgrpc/test/common/common.proto".to_owned()];
    let output = run_protoc(&protos_dir(), &files, "type_attribute=.a=derive(Eq)", out.path());
    assert_clear_failure(&output, &["parameter `type_attribute=.a=derive(Eq)`", "is not an attribute"]);
    let output = run_protoc(&protos_dir(), &files, "runtime_crate=not a path", out.path());
    assert_clear_failure(&output, &["parameter `runtime_crate=not a path`", "is not a Rust path"]);
}

#[test]
fn rust_name_collisions_name_both_elements() {
    let dir = tempfile::tempdir().unwrap();
    // proto2: protoc itself rejects the equal JSON names in proto3.
    let source = "syntax = \"proto2\";\npackage clash;\nmessage M {\n  optional int32 fooBar = 1;\n  optional int32 foo_bar = 2;\n}\n";
    write_proto(dir.path(), "clash.proto", source);
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(dir.path(), &["clash.proto".into()], "", out.path());
    assert_clear_failure(&output, &["clash.proto: message clash.M", "`foo_bar`", "rename one of them"]);

    write_proto(
        dir.path(),
        "types.proto",
        "syntax = \"proto3\";\npackage types;\nmessage Foo_Bar {}\nmessage FooBar {}\n",
    );
    let output = run_protoc(dir.path(), &["types.proto".into()], "", out.path());
    assert_clear_failure(&output, &["types.proto: package `types`", "`types.Foo_Bar` and `types.FooBar`", "`FooBar`"]);
}

#[test]
fn editions_go_through_protoc_and_the_embedded_route_refuses_them_clearly() {
    let dir = tempfile::tempdir().unwrap();
    write_proto(dir.path(), "ed.proto", "edition = \"2023\";\npackage ed;\nmessage M { int32 a = 1; }\n");
    write_proto(dir.path(), "uses.proto", "syntax = \"proto3\";\nimport \"ed.proto\";\nmessage U { ed.M m = 1; }\n");
    let out = tempfile::tempdir().unwrap();
    // The plugin declares editions 2023 to 2024, so protoc hands it the file.
    let output = run_protoc(dir.path(), &["ed.proto".into()], "", out.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(read_tree(out.path()).contains_key("ed.rs"));
    // Without protoc the file is refused, by name, with the way out; also when it is only imported.
    for file in ["ed.proto", "uses.proto"] {
        let out = tempfile::tempdir().unwrap();
        let output = generate(dir.path(), out.path(), &[dir.path().join(file)]);
        assert_clear_failure(&output, &["ed.proto", "editions", "without protoc", "protoc-gen-rsgrpc as its plugin"]);
        assert!(read_tree(out.path()).is_empty(), "nothing is written on error");
    }
    // An edition newer than the plugin declares is protoc's to refuse.
    write_proto(dir.path(), "future.proto", "edition = \"2025\";\npackage f;\nmessage M {}\n");
    let output = run_protoc(dir.path(), &["future.proto".into()], "", out.path());
    assert_clear_failure(&output, &["future.proto"]);
}

#[test]
fn embedded_parse_errors_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write_proto(dir.path(), "bad.proto", "syntax = \"proto3\";\n\nmessage M {\n  int32 a = ;\n}\n");
    let out = tempfile::tempdir().unwrap();
    let output = generate(dir.path(), out.path(), &[dir.path().join("bad.proto")]);
    assert_clear_failure(&output, &["protoc-gen-rsgrpc: bad.proto:4:13:"]);
    assert!(read_tree(out.path()).is_empty(), "nothing is written on error");
}

#[test]
fn embedded_missing_import_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_proto(dir.path(), "a.proto", "syntax = \"proto3\";\nimport \"missing/b.proto\";\nmessage A {}\n");
    let out = tempfile::tempdir().unwrap();
    let output = generate(dir.path(), out.path(), &[dir.path().join("a.proto")]);
    assert_clear_failure(&output, &["a.proto:2:", "import 'missing/b.proto' not found"]);
}

#[test]
fn command_line_mistakes_are_explained() {
    let output = Command::new(plugin()).args(["generate", "x.proto"]).output().unwrap();
    assert_clear_failure(&output, &["missing --out OUT_DIR"]);
    let output = Command::new(plugin()).args(["generate", "--out"]).output().unwrap();
    assert_clear_failure(&output, &["--out needs a value"]);
    let output = Command::new(plugin()).args(["generate", "--bogus"]).output().unwrap();
    assert_clear_failure(&output, &["unknown option `--bogus`"]);
    let output = Command::new(plugin()).args(["--bogus"]).output().unwrap();
    assert_clear_failure(&output, &["unknown argument `--bogus`"]);
    let output =
        Command::new(plugin()).args(["generate", "--out", "x", "--opt", "nope=1", "a.proto"]).output().unwrap();
    assert_clear_failure(&output, &["unknown parameter `nope`"]);
}

#[test]
fn version_and_help() {
    let output = Command::new(plugin()).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("protoc-gen-rsgrpc {}", env!("CARGO_PKG_VERSION"))
    );
    let output = Command::new(plugin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for expected in ["protoc --rsgrpc_out", "protoc-gen-rsgrpc generate", "extern_path", "runtime_crate", "btree_map"] {
        assert!(help.contains(expected), "help lacks {expected}: {help}");
    }
}

#[test]
fn a_directory_stands_for_its_protos_and_matches_listing_them() {
    let by_directory = tempfile::tempdir().unwrap();
    let output = generate(&protos_dir(), by_directory.path(), &[protos_dir()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let by_protoc = tempfile::tempdir().unwrap();
    let output = run_protoc(&protos_dir(), &all_protos(), "", by_protoc.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_tree("generate DIR vs protoc", &read_tree(by_protoc.path()), &read_tree(by_directory.path()));
}
