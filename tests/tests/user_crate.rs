//! Generated code in a user's binary crate: helloworld's module tree in a private module of a `main.rs`
//! that uses only the client, checked by `cargo clippy` with warnings denied and the lints a careful user
//! turns on for their own code (missing_docs, clippy's pedantic group). The parts the crate does not use
//! (the server trait, the service name, the descriptor set) must not warn.

use std::path::Path;
use std::process::Command;

const MAIN: &str = r#"//! A client of the Greeter, and nothing else.
#![warn(missing_docs, unreachable_pub, unused_qualifications, clippy::pedantic)]

mod gen;

use gen::helloworld::greeter_client::GreeterClient;
use gen::helloworld::HelloRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Ok(client) = GreeterClient::connect("http://127.0.0.1:1").await else { return };
    let request = HelloRequest { name: "you".into(), ..Default::default() };
    if let Ok(reply) = client.say_hello(request).await {
        println!("{}", reply.into_inner().message);
    }
}
"#;

/// A scratch binary crate named `name` with helloworld's generated tree in `src/gen` and `MAIN` as its
/// `main.rs`, built against this checkout's runtime.
fn scratch_crate(name: &str) -> (tempfile::TempDir, &'static Path) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    rsgrpc_codegen::Builder::new()
        .include(workspace.join("testdata/protos"))
        .out_dir(src.join("gen"))
        .compile(&[workspace.join("testdata/protos/examples/helloworld.proto")])
        .expect("generate");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nrsgrpc = {{ path = {runtime:?} }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n\n\
         [workspace]\n",
        runtime = workspace.join("runtime").display().to_string(),
    );
    std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
    std::fs::write(src.join("main.rs"), MAIN).unwrap();
    // The workspace's lock file, so the crate builds with the versions the workspace tested.
    std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    (dir, workspace)
}

/// Runs cargo with `args` in `dir`; returns whether it succeeded and what it printed on stderr.
fn cargo(dir: &Path, workspace: &Path, args: &[&str]) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(args)
        .current_dir(dir)
        // Its own target directory: the workspace's is locked by the cargo running this test.
        .env("CARGO_TARGET_DIR", workspace.join("target/user-crate"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_client_only_binary_crate_has_no_warnings() {
    let (dir, workspace) = scratch_crate("greeter-cli");
    let (ok, stderr) = cargo(dir.path(), workspace, &["clippy", "--quiet", "--offline", "--", "-D", "warnings"]);
    assert!(ok, "the client-only crate does not pass clippy -D warnings:\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// Code generated for a runtime interface other than this runtime's fails to build with the runtime's one
/// message naming the fix, not with type errors from deep inside the generated code.
#[test]
fn code_generated_for_another_runtime_fails_with_one_clear_error() {
    for (api, says) in [(rsgrpc::codegen::API + 1, "newer protoc-gen-rsgrpc"), (0, "older protoc-gen-rsgrpc")] {
        let (dir, workspace) = scratch_crate(&format!("greeter-api-{api}"));
        let file = dir.path().join("src/gen/helloworld.rs");
        let text = std::fs::read_to_string(&file).unwrap();
        let current = format!("codegen::require_api({});", rsgrpc::codegen::API);
        assert!(text.contains(&current), "the generated file does not check the runtime's interface");
        std::fs::write(&file, text.replace(&current, &format!("codegen::require_api({api});"))).unwrap();
        let (ok, stderr) = cargo(dir.path(), workspace, &["check", "--quiet", "--offline"]);
        assert!(!ok, "code generated for interface {api} built against interface {}", rsgrpc::codegen::API);
        assert!(stderr.contains(says), "the error does not say {says:?}:\n{stderr}");
        assert_eq!(stderr.matches("error[").count(), 1, "more than the one error:\n{stderr}");
    }
}
