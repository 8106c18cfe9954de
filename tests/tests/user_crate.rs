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

#[test]
fn a_client_only_binary_crate_has_no_warnings() {
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
        "[package]\nname = \"greeter-cli\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nrsgrpc = {{ path = {runtime:?} }}\ntokio = {{ version = \"1\", features = [\"macros\", \"rt\"] }}\n\n\
         [workspace]\n",
        runtime = workspace.join("runtime").display().to_string(),
    );
    std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
    std::fs::write(src.join("main.rs"), MAIN).unwrap();
    // The workspace's lock file, so the crate builds with the versions the workspace tested.
    std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["clippy", "--quiet", "--offline", "--", "-D", "warnings"])
        .current_dir(dir.path())
        // Its own target directory: the workspace's is locked by the cargo running this test.
        .env("CARGO_TARGET_DIR", workspace.join("target/user-crate"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo clippy runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the client-only crate does not pass clippy -D warnings:\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}
