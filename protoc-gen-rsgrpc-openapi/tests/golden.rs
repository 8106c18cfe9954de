//! The OpenAPI plugin's golden test: each case through protoc gives the same files twice in a row, equal to
//! testdata/golden/openapi/<case>; the `generate` command (protox) and `buf generate` give the same.
//! `RSGRPC_BLESS=1` rewrites the committed files.

mod support;

use support::*;

#[test]
fn protoc_output_is_deterministic_and_matches_the_golden_files() {
    let bless = std::env::var_os("RSGRPC_BLESS").is_some();
    for case in cases() {
        let first = through_protoc(&case);
        assert_eq!(first, through_protoc(&case), "{}: two runs differ", case.name);
        assert!(!first.is_empty(), "{}: no documents", case.name);
        let golden = workspace().join("testdata/golden/openapi").join(case.name);
        if bless {
            let _ = std::fs::remove_dir_all(&golden);
            for (name, content) in &first {
                let path = golden.join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, content).unwrap();
            }
            continue;
        }
        let what = format!("{}: protoc vs testdata/golden/openapi (RSGRPC_BLESS=1 rewrites it)", case.name);
        assert_same_tree(&what, &read_tree(&golden), &first);
    }
}

#[test]
fn the_embedded_parser_matches_protoc() {
    for case in cases() {
        assert_same_tree(
            &format!("{}: generate vs protoc", case.name),
            &through_protoc(&case),
            &through_generate(&case),
        );
    }
}

#[test]
fn buf_generate_matches_protoc() {
    let buf = test_env_tool("buf");
    let bin = tempfile::tempdir().unwrap();
    // buf finds local plugins on PATH.
    std::os::unix::fs::symlink(plugin(), bin.path().join("protoc-gen-rsgrpc-openapi")).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let work = tempfile::tempdir().unwrap();
    let yaml = "version: v2\nmodules:\n  - path: protos\n  - path: googleapis\n";
    std::fs::write(work.path().join("buf.yaml"), yaml).unwrap();
    std::os::unix::fs::symlink(openapi_protos(), work.path().join("protos")).unwrap();
    std::os::unix::fs::symlink(googleapis(), work.path().join("googleapis")).unwrap();
    let template = "version: v2\nplugins:\n  - local: protoc-gen-rsgrpc-openapi\n    out: gen\n    strategy: all\n    opt: [openapi_version=3.1]\n";
    let out = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(buf)
        .current_dir(work.path())
        .env("PATH", path)
        .args(["generate", "--template", template, "--path", "protos/rsgrpc/test/openapi/kitchen.proto", "-o"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "buf generate failed: {}", String::from_utf8_lossy(&output.stderr));
    let case = cases().into_iter().find(|c| c.name == "kitchen_v31").unwrap();
    assert_same_tree("buf generate vs protoc", &through_protoc(&case), &read_tree(&out.path().join("gen")));
}

#[test]
fn the_builder_matches_protoc() {
    let case = cases().into_iter().find(|c| c.name == "kitchen_v31_yaml").unwrap();
    let out = tempfile::tempdir().unwrap();
    rsgrpc_openapi_codegen::plugin::Builder::new()
        .include(openapi_protos())
        .include(googleapis())
        .parameter("openapi_version=3.1")
        .parameter("output_format=yaml")
        .out_dir(out.path())
        .compile(&[openapi_protos().join("rsgrpc/test/openapi/kitchen.proto")])
        .unwrap();
    assert_same_tree("Builder vs protoc", &through_protoc(&case), &read_tree(out.path()));
}
