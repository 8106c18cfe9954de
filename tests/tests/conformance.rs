//! The protobuf conformance suite against our testees: binary and JSON, required and recommended tests, with
//! the expected failures (and their reasons) in testdata/conformance/: protobuf 3.21's runner (Debian's
//! source, tests/env/conformance.sh) with `conformance-testee`, and protobuf 27.1's (crates.io protobuf-src,
//! tests/env/conformance27.sh), whose suite has more cases and the editions test messages, with
//! `conformance27-testee`. Text format is not supported: the testees skip those tests.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_owned()
}

#[test]
fn conformance_suite() {
    let env =
        std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"));
    let runner = env.join("conformance/conformance_test_runner");
    assert!(runner.exists(), "{} is missing: run `bash tests/env/setup.sh`", runner.display());
    let output_dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(&runner)
        .arg("--enforce_recommended")
        .arg("--failure_list")
        .arg(workspace().join("testdata/conformance/failure_list.txt"))
        .arg("--output_dir")
        .arg(output_dir.path())
        .arg(env!("CARGO_BIN_EXE_conformance-testee"))
        .current_dir(output_dir.path())
        .output()
        .expect("the conformance runner starts");
    let report = String::from_utf8_lossy(&output.stderr);
    let summaries: Vec<&str> = report.lines().filter(|line| line.starts_with("CONFORMANCE SUITE")).collect();
    for summary in &summaries {
        eprintln!("{summary}");
    }
    let failures: Vec<&str> =
        report.lines().filter(|line| line.starts_with("ERROR")).map(|l| &l[..l.len().min(500)]).collect();
    assert!(
        output.status.success(),
        "the conformance suite failed:\n{}\n{}",
        summaries.join("\n"),
        failures.join("\n")
    );
    assert_eq!(summaries.len(), 2, "both suites (binary+JSON, text format) ran: {summaries:?}");
    assert!(
        summaries[0].starts_with("CONFORMANCE SUITE PASSED: 2017 successes, 0 skipped, 0 expected failures"),
        "{}",
        summaries[0]
    );
}

/// Where tests/env/conformance27.sh caches its build (outside the clone, shared by clones).
fn conformance27_cache() -> PathBuf {
    let cache = std::env::var_os("RSGRPC_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"))
            .join("rsgrpc")
    });
    cache.join("protobuf-27.1-conformance")
}

/// Runs a runner against a testee; returns the summary lines, after asserting success.
fn run_suite(runner: &Path, extra: &[&str], failure_list: &str, testee: &str) -> Vec<String> {
    assert!(runner.exists(), "{} is missing: run `bash tests/env/setup.sh`", runner.display());
    let output_dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(runner)
        .arg("--enforce_recommended")
        .args(extra)
        .arg("--failure_list")
        .arg(workspace().join("testdata/conformance").join(failure_list))
        .arg("--output_dir")
        .arg(output_dir.path())
        .arg(testee)
        .current_dir(output_dir.path())
        .output()
        .expect("the conformance runner starts");
    let report = String::from_utf8_lossy(&output.stderr);
    let summaries: Vec<String> =
        report.lines().filter(|line| line.starts_with("CONFORMANCE SUITE")).map(str::to_owned).collect();
    summaries.iter().for_each(|summary| eprintln!("{summary}"));
    let failures: Vec<&str> =
        report.lines().filter(|line| line.starts_with("ERROR")).map(|l| &l[..l.len().min(500)]).collect();
    assert!(
        output.status.success(),
        "the conformance suite failed:\n{}\n{}",
        summaries.join("\n"),
        failures.join("\n")
    );
    summaries
}

#[test]
fn conformance_suite_27_with_editions() {
    let runner = conformance27_cache().join("conformance_test_runner");
    let summaries = run_suite(
        &runner,
        &["--maximum_edition", "2023"],
        "failure_list_27.txt",
        env!("CARGO_BIN_EXE_conformance27-testee"),
    );
    assert_eq!(summaries.len(), 2, "both suites (binary+JSON, text format) ran: {summaries:?}");
    // 2611 proto2 and proto3 tests, 2625 for the editions messages.
    assert!(
        summaries[0].starts_with("CONFORMANCE SUITE PASSED: 5236 successes, 0 skipped, 0 expected failures"),
        "{}",
        summaries[0]
    );
}
