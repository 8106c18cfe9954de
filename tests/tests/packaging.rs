//! The user-facing crates package for crates.io: `cargo package` accepts each (versions on every path
//! dependency, the metadata crates.io wants) and each package carries both license files and its readme.
//! (Whether the packaged crates build on their own is checked by `cargo package` without `--no-verify`,
//! which takes minutes; the note of issue 13 records that run.)

use std::path::Path;
use std::process::Command;

const CRATES: [&str; 6] = [
    "rsgrpc",
    "protoc-gen-rsgrpc",
    "protoc-gen-rsgrpc-gateway",
    "protoc-gen-rsgrpc-openapi",
    "rsgrpc-build",
    "rsgrpc-etcd",
];

#[test]
fn every_user_facing_crate_packages_with_its_licenses() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace");
    let target = workspace.join("target/user-crate");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command.args(["package", "--no-verify", "--allow-dirty", "--offline"]).current_dir(workspace);
    for name in CRATES {
        command.args(["-p", name]);
    }
    // Its own target directory: the workspace's is locked by the cargo running this test.
    let output = command.env("CARGO_TARGET_DIR", &target).output().expect("cargo package runs");
    assert!(output.status.success(), "cargo package failed:\n{}", String::from_utf8_lossy(&output.stderr));
    for name in CRATES {
        let listed = Command::new(&cargo)
            .args(["package", "--list", "--allow-dirty", "--offline", "-p", name])
            .current_dir(workspace)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .expect("cargo package --list runs");
        let files = String::from_utf8_lossy(&listed.stdout);
        for required in ["LICENSE-MIT", "LICENSE-APACHE", "README.md", "Cargo.toml"] {
            assert!(files.lines().any(|line| line == required), "{name} does not package {required}:\n{files}");
        }
        assert!(target.join(format!("package/{name}-{}.crate", env!("CARGO_PKG_VERSION"))).is_file(), "{name}");
    }
}
