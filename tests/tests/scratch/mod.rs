//! Scratch crates outside the workspace, built against this checkout, as a user's crate would be.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace")
}

/// A scratch crate's `rsgrpc = "0.1"` (or `rsgrpc = { version = "0.1", ... }`) and `rsgrpc-build = "0.1"`
/// lines (as the README writes them), pointed at this checkout.
pub fn local_dependencies(manifest: &str) -> String {
    let path = |dir: &str| workspace().join(dir).display().to_string();
    let replaced = manifest
        .replace("rsgrpc = \"0.1\"", &format!("rsgrpc = {{ path = {:?} }}", path("runtime")))
        .replace("rsgrpc = { version = \"0.1\",", &format!("rsgrpc = {{ path = {:?},", path("runtime")))
        .replace("rsgrpc-build = \"0.1\"", &format!("rsgrpc-build = {{ path = {:?} }}", path("rsgrpc-build")));
    assert_ne!(replaced, manifest, "the README's Cargo.toml names rsgrpc = \"0.1\" and rsgrpc-build = \"0.1\"");
    // A crate of its own, not a member of this workspace.
    replaced + "\n[workspace]\n"
}

pub fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    Command::new(cargo)
        .args(args)
        .current_dir(dir)
        // The workspace's target directory is locked by the cargo running this test; this one is shared
        // with the user-crate test, so the dependencies are built once.
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("cargo runs")
}

pub fn target_dir() -> PathBuf {
    workspace().join("target/user-crate")
}

pub fn write(dir: &Path, path: &str, content: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().expect("a parent")).unwrap();
    std::fs::write(path, content).unwrap();
}
