//! The gRPC interop cases both ways against Python's grpcio (tests/py/interop), and Rust against Rust: our
//! `interop-client` against grpcio's server, grpcio's client against our `interop-server`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use rsgrpc_tests::interop::client::CASES;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_owned()
}

fn python() -> PathBuf {
    let dir =
        std::env::var_os("RSGRPC_TEST_ENV").map(PathBuf::from).unwrap_or_else(|| workspace().join("target/test-env"));
    let python = dir.join("bin/python");
    assert!(python.exists(), "{} not found: run `bash tests/env/setup.sh` (or `bash tests/run.sh`)", python.display());
    python
}

/// A server process, killed when dropped.
struct ServerProcess {
    child: Child,
    port: u16,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server with `--port=0` and reads the port from its `listening on 127.0.0.1:PORT` line.
fn start_server(mut command: Command) -> ServerProcess {
    let mut child =
        command.arg("--port=0").stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("server prints its address");
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from the server: {line:?}"));
    ServerProcess { child, port }
}

/// Runs every case with `client`, one process per case, and fails naming the cases that failed.
fn run_all_cases(what: &str, client: impl Fn(&str) -> Command) {
    let mut failures = Vec::new();
    for case in CASES {
        let output = client(case).output().expect("client runs");
        if !output.status.success() {
            failures.push(format!(
                "{case}: exit {:?}\n{}{}",
                output.status.code(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn rust_client_against_python_server() {
    let mut command = Command::new(python());
    command.arg(workspace().join("tests/py/interop/server.py"));
    let server = start_server(command);
    run_all_cases("Rust client vs grpcio server", |case| {
        let mut client = Command::new(env!("CARGO_BIN_EXE_interop-client"));
        client.args([
            "--server_host=127.0.0.1",
            &format!("--server_port={}", server.port),
            &format!("--test_case={case}"),
        ]);
        client
    });
}

#[test]
fn python_client_against_rust_server() {
    let server = start_server(Command::new(env!("CARGO_BIN_EXE_interop-server")));
    run_all_cases("grpcio client vs Rust server", |case| {
        let mut client = Command::new(python());
        client.arg(workspace().join("tests/py/interop/client.py")).args([
            "--server_host=127.0.0.1",
            &format!("--server_port={}", server.port),
            &format!("--test_case={case}"),
        ]);
        client
    });
}

#[test]
fn rust_client_against_rust_server() {
    let server = start_server(Command::new(env!("CARGO_BIN_EXE_interop-server")));
    run_all_cases("Rust client vs Rust server", |case| {
        let mut client = Command::new(env!("CARGO_BIN_EXE_interop-client"));
        client.args([
            "--server_host=127.0.0.1",
            &format!("--server_port={}", server.port),
            &format!("--test_case={case}"),
        ]);
        client
    });
}

#[test]
fn grpcio_health_and_reflection_clients_and_grpcurl_against_rust_server() {
    let server = start_server(Command::new(env!("CARGO_BIN_EXE_interop-server")));
    let output = Command::new(python())
        .arg(workspace().join("tests/py/services_check.py"))
        .args(["all", "--port", &server.port.to_string()])
        .output()
        .expect("services_check.py runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains(" passed, 0 failed"), "{text}");
}
