//! The runtime's modules import each other without cycles (issue 12): among the top-level modules, and
//! among the files of each module directory. `tests/tools/module_cycles.py` reads the `crate::` and `super::`
//! paths each file uses; it is run on the runtime, and on a copy with a cycle added, to show it finds one.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

fn check(source: &Path) -> (bool, String) {
    let output = Command::new("python3")
        .arg(workspace().join("tests/tools/module_cycles.py"))
        .arg(source)
        .output()
        .expect("python3 runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn the_runtime_has_no_import_cycle() {
    let (ok, cycles) = check(&workspace().join("runtime/src"));
    assert!(ok, "import cycles between runtime modules:\n{cycles}");
}

#[test]
fn the_check_finds_a_cycle_when_there_is_one() {
    let copy = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir_all(copy.path().join("client")).unwrap();
    std::fs::write(copy.path().join("lib.rs"), "pub mod client;\npub mod request;\n").unwrap();
    std::fs::write(copy.path().join("client/mod.rs"), "mod channel;\nuse crate::request::Request;\n").unwrap();
    std::fs::write(copy.path().join("client/channel.rs"), "use super::subchannel::Shared;\n").unwrap();
    std::fs::write(copy.path().join("client/subchannel.rs"), "use super::channel::Config;\n").unwrap();
    std::fs::write(copy.path().join("request.rs"), "// crate::client in a comment is not a use\n").unwrap();
    let (ok, cycles) = check(copy.path());
    assert!(!ok);
    assert_eq!(cycles.trim(), "import cycle in client: channel <-> subchannel");
    std::fs::write(copy.path().join("request.rs"), "use crate::client::Credentials;\n").unwrap();
    let (_, cycles) = check(copy.path());
    assert!(cycles.contains("import cycle in crate: client <-> request"), "{cycles}");
}
