//! A crate that only uses generated messages pays for messages only: with the runtime's default features
//! off (no `transport`), its dependency tree has no tokio, h2, rustls or flate2, and its messages still
//! encode, decode and speak proto3 JSON, well-known types included.

#[path = "scratch/mod.rs"]
mod scratch;
use scratch::{cargo, local_dependencies, write};

const MAIN: &str = r#"mod pb {
    rsgrpc::include_proto!();
}

use rsgrpc::Message;

fn main() {
    let event = pb::events::Event {
        name: "launch".into(),
        at: Some(rsgrpc::well_known::Timestamp { seconds: 1_700_000_000, ..Default::default() }),
        ..Default::default()
    };
    let bytes = event.encode_to_vec();
    let back = pb::events::Event::decode(bytes.as_slice()).unwrap();
    assert_eq!(back, event);
    println!("{}", rsgrpc::json::to_json(&back).unwrap());
}
"#;

#[test]
fn a_messages_only_crate_builds_without_the_transport() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = "[package]\nname = \"messages-only\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n\
                    rsgrpc = { version = \"0.1\", default-features = false }\n\n[build-dependencies]\n\
                    rsgrpc-build = \"0.1\"\n";
    write(dir.path(), "Cargo.toml", &local_dependencies(manifest));
    write(
        dir.path(),
        "build.rs",
        "fn main() {\n    rsgrpc_build::configure().build_client(false).build_server(false)\n        \
         .compile_protos(&[\"proto/events.proto\"], &[\"proto\"]).unwrap();\n}\n",
    );
    write(
        dir.path(),
        "proto/events.proto",
        "syntax = \"proto3\";\npackage events;\nimport \"google/protobuf/timestamp.proto\";\n\
         message Event { string name = 1; google.protobuf.Timestamp at = 2; }\n\
         service Events { rpc Publish(Event) returns (Event); }\n",
    );
    write(dir.path(), "src/main.rs", MAIN);
    std::fs::copy(scratch::workspace().join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();

    let tree = cargo(dir.path(), &["tree", "--offline", "-e", "normal", "--prefix", "none"]);
    assert!(tree.status.success(), "{}", String::from_utf8_lossy(&tree.stderr));
    let tree = String::from_utf8_lossy(&tree.stdout);
    let names: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    for heavy in ["tokio", "h2", "rustls", "tokio-rustls", "flate2", "hyper"] {
        assert!(!names.contains(&heavy), "{heavy} is in the messages-only tree:\n{tree}");
    }
    assert!(names.contains(&"rsgrpc") && names.contains(&"prost"), "{tree}");

    let run = cargo(dir.path(), &["run", "--offline", "--quiet"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "the messages-only crate does not build or run:\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), r#"{"name":"launch","at":"2023-11-14T22:13:20Z"}"#);
}
