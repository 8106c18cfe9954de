//! The gateway example of this crate runs and answers the curl lines it prints (the standalone examples are
//! run by `examples/tests/examples.rs`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// target/<profile>/examples/<name>, built by `cargo test` along with this test.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is not built (cargo test builds examples)", path.display());
    path
}

#[test]
fn the_gateway_example_answers_the_curl_lines_it_prints() {
    let mut child = Command::new(example("gateway")).arg("0").stdout(Stdio::piped()).spawn().expect("gateway starts");
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("the address");
    let addr =
        line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}")).to_owned();
    let mut first_curl = String::new();
    reader.read_line(&mut first_curl).expect("a curl line");
    assert_eq!(first_curl.trim(), format!("curl http://{addr}/v1/shelves/s1"));
    let output =
        Command::new("curl").args(["-sS", "--max-time", "10"]).arg(format!("http://{addr}/v1/shelves/s1")).output();
    let _ = child.kill();
    let _ = child.wait();
    let output = output.expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&output.stdout), r#"{"id":"s1","theme":"theme of s1"}"#);
}
