//! The example programs run: each server starts, its client talks to it and prints what it got.

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

/// Runs a server example on port 0 and a client example against it; returns the client's output.
fn run_pair(server: &str, client: &str, client_args: &[&str]) -> String {
    let mut child = Command::new(example(server)).arg("0").stdout(Stdio::piped()).spawn().expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("server prints its address");
    let addr =
        line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}")).to_owned();
    let output =
        Command::new(example(client)).arg(format!("http://{addr}")).args(client_args).output().expect("client runs");
    let _ = child.kill();
    let _ = child.wait();
    assert!(output.status.success(), "{client} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 output")
}

#[test]
fn helloworld() {
    assert_eq!(run_pair("helloworld-server", "helloworld-client", &["rsgrpc"]), "Hello rsgrpc!\n");
}

#[test]
fn route_guide_all_four_kinds() {
    let output = run_pair("route-guide-server", "route-guide-client", &[]);
    let count = |prefix: &str| output.lines().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("GetFeature:"), 1, "{output}");
    assert_eq!(count("ListFeatures:"), 4, "{output}");
    assert!(output.contains("RecordRoute: 3 points, 3 features"), "{output}");
    // Notes 3 and 4 land where notes 1 and 2 were left, and get them back.
    assert_eq!(count("RouteChat:"), 2, "{output}");
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
