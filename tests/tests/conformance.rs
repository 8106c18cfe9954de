//! The protobuf conformance suite (conformance_test_runner from Debian's protobuf source, built by
//! tests/env/conformance.sh) against our `conformance-testee`: binary and JSON, required and recommended
//! tests; the expected failures and their reasons are in testdata/conformance/failure_list.txt. Text format
//! is not supported: the testee skips those tests.

use std::path::PathBuf;
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
