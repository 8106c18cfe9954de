//! The README's quickstart, as a new user would run it: its files are taken from the README (each fenced
//! block after a `<!-- file: PATH -->` line), written into a scratch crate whose `rsgrpc` and
//! `rsgrpc-build` dependencies point at this checkout, built, and the client run against the server.
//! Also: a crate using rsgrpc-build rebuilds when a proto that another one imports changes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "scratch/mod.rs"]
mod scratch;
use scratch::{cargo, local_dependencies, target_dir, workspace, write};

/// The README's `(path, content)` pairs.
fn readme_files() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README.md");
    let mut files = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line.strip_prefix("<!-- file: ").and_then(|rest| rest.strip_suffix(" -->")) else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "README: a code block must follow the marker of {path}");
        let content: Vec<&str> = lines.by_ref().take_while(|line| !line.starts_with("```")).collect();
        files.push((path.to_owned(), content.join("\n") + "\n"));
    }
    files
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kills the server when the test ends, however it ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_readme_quickstart_builds_and_its_client_gets_the_servers_answer() {
    let files = readme_files();
    let names: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(names, ["Cargo.toml", "proto/helloworld.proto", "build.rs", "src/bin/server.rs", "src/bin/client.rs"]);
    let dir = tempfile::tempdir().unwrap();
    // Its own port, so that other tests (and a quickstart someone runs by hand) do not collide.
    let port = free_port().to_string();
    for (path, content) in &files {
        let content = match path.as_str() {
            "Cargo.toml" => local_dependencies(content),
            _ => content.replace("50051", &port),
        };
        write(dir.path(), path, &content);
    }
    std::fs::copy(workspace().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    let built = cargo(dir.path(), &["build", "--offline", "--bins"]);
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "the quickstart does not build:\n{stderr}");
    assert!(!stderr.contains("warning"), "the quickstart builds with warnings:\n{stderr}");

    let bin = target_dir().join("debug");
    let server = Command::new(bin.join("server")).stdout(Stdio::null()).spawn().expect("the server starts");
    let _server = Killed(server);
    let started = Instant::now();
    let output = loop {
        let output = Command::new(bin.join("client")).output().expect("the client runs");
        if output.status.success() || started.elapsed() > Duration::from_secs(20) {
            break output;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(output.status.success(), "the client failed: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Hello world!\n");
}

#[test]
fn a_build_script_reruns_when_an_imported_proto_changes() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = "[package]\nname = \"imports\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n\
                    rsgrpc = \"0.1\"\n\n[build-dependencies]\nrsgrpc-build = \"0.1\"\n";
    write(dir.path(), "Cargo.toml", &local_dependencies(manifest));
    // Only order.proto is compiled; item.proto is read because order.proto imports it. (Nothing of it is
    // used, so that it need not be generated: what matters is that the parser read it.)
    write(
        dir.path(),
        "build.rs",
        "fn main() {\n    rsgrpc_build::configure().build_client(false).build_server(false)\n        \
         .compile_protos(&[\"proto/app/order.proto\"], &[\"proto\"]).unwrap();\n}\n",
    );
    let order = |field: &str| {
        format!("syntax = \"proto3\";\npackage app;\nimport \"app/item.proto\";\nmessage Order {{ {field} }}\n")
    };
    write(dir.path(), "proto/app/order.proto", &order("string id = 1;"));
    let item = |values: &str| {
        format!("syntax = \"proto3\";\npackage app.item_types;\nmessage Item {{ enum Kind {{ {values} }} }}\n")
    };
    write(dir.path(), "proto/app/item.proto", &item("UNKNOWN = 0;"));
    write(dir.path(), "src/main.rs", "mod pb {\n    rsgrpc::include_proto!();\n}\n\nfn main() {}\n");
    std::fs::copy(workspace().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    let build = || {
        let output = cargo(dir.path(), &["build", "--offline", "-v"]);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        stderr
            .lines()
            .any(|line| line.contains("Running") && line.contains("imports-") && line.contains("build-script-build"))
    };
    let _ = build();
    assert!(!build(), "nothing changed: the build script must not rerun");
    // Only the imported file changes (its mtime must move past the last build's).
    std::thread::sleep(Duration::from_millis(1100));
    write(dir.path(), "proto/app/item.proto", &item("UNKNOWN = 0; BOOK = 1;"));
    assert!(build(), "the build script did not rerun when the imported file changed");
}
