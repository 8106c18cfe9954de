//! The README's "Observability" example, as a user would run it: its files (each fenced block after a
//! `<!-- observability: PATH -->` line) with the Quickstart's proto and `build.rs`, in a scratch crate
//! built against this checkout; the program serves, calls itself and prints its connectivity states, the
//! reply, its spans and the names of its A66 metrics.

#[path = "scratch/mod.rs"]
mod scratch;
use scratch::{cargo, local_dependencies, target_dir, workspace, write};

/// The README's `(path, content)` pairs after markers `<!-- {kind}: PATH -->`.
fn readme_files(kind: &str) -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let marker = format!("<!-- {kind}: ");
    let mut files = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix(marker.as_str()).and_then(|rest| rest.strip_suffix(" -->")) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "README: a code block must follow the marker of {path}");
        let content: Vec<&str> = lines.by_ref().take_while(|line| !line.starts_with("```")).collect();
        files.push((path.to_owned(), content.join("\n") + "\n"));
    }
    files
}

#[test]
fn the_readme_observability_example_builds_and_prints_its_states_spans_and_metrics() {
    let files = readme_files("observability");
    let names: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(names, ["Cargo.toml", "src/main.rs"]);
    let quickstart = readme_files("file");
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in quickstart.iter().filter(|(path, _)| path == "proto/helloworld.proto" || path == "build.rs")
    {
        write(dir.path(), path, content);
    }
    for (path, content) in &files {
        let content = if path == "Cargo.toml" { local_dependencies(content) } else { content.clone() };
        write(dir.path(), path, &content);
    }
    std::fs::copy(workspace().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    let built = cargo(dir.path(), &["build", "--offline"]);
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "the example does not build:\n{stderr}");
    assert!(!stderr.contains("warning"), "the example builds with warnings:\n{stderr}");

    let output = std::process::Command::new(target_dir().join("debug/observed")).output().expect("it runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the example failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    // tracing-subscriber's fmt writes to stdout too; the program's own lines are in order among them.
    let own: Vec<&str> = stdout.lines().filter(|l| l.starts_with("state:") || l.starts_with("Hello")).collect();
    assert_eq!(own, ["state: Idle", "state: Ready", "Hello world!", "state: Shutdown"], "{stdout}");
    let spans: Vec<&str> = stdout.lines().filter(|l| l.contains("close")).collect();
    let client = spans.iter().find(|l| l.contains("grpc.client")).unwrap_or_else(|| panic!("{stdout}"));
    let server = spans.iter().find(|l| l.contains("grpc.server")).unwrap_or_else(|| panic!("{stdout}"));
    for span in [client, server] {
        for field in ["rpc.method=\"SayHello\"", "grpc.status=\"OK\"", "rpc.messages_sent=1", "trace_id="] {
            assert!(span.contains(field), "{field} in {span}");
        }
    }
    let metrics: Vec<&str> = stdout.lines().filter_map(|l| l.strip_prefix("metric: ")).collect();
    for name in [
        "grpc.client.attempt.started ({attempt})",
        "grpc.client.attempt.duration (s)",
        "grpc.client.attempt.sent_total_compressed_message_size (By)",
        "grpc.client.attempt.rcvd_total_compressed_message_size (By)",
        "grpc.client.call.duration (s)",
        "grpc.server.call.started ({call})",
        "grpc.server.call.duration (s)",
        "grpc.server.call.sent_total_compressed_message_size (By)",
        "grpc.server.call.rcvd_total_compressed_message_size (By)",
    ] {
        assert!(metrics.contains(&name), "{name} in {metrics:?}");
    }
}
