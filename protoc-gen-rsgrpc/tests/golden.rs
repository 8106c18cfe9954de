//! Golden tests: every case generates identical bytes through protoc, through the embedded parser and (for
//! the default case) through `buf generate`, twice in a row, and equal to the committed files.
//!
//! `RSGRPC_BLESS=1` rewrites the committed files instead of comparing; nothing is ever rewritten on failure.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use rsgrpc_codegen::Builder;
use support::*;

/// One golden case: inputs, parameters, and where the expected output is committed.
struct Case {
    name: &'static str,
    include: PathBuf,
    files: Vec<String>,
    params: &'static str,
    /// The committed output: a directory holding every generated file, or one file (the others ignored).
    golden: Golden,
    /// Whether the embedded parser can read the inputs.
    embedded: bool,
}

enum Golden {
    Dir(PathBuf),
    File { generated: &'static str, committed: PathBuf },
}

const OPTIONS_PARAMS: &str = "extern_path=.rsgrpc.test.common=crate::gen::rsgrpc::test::common,\
extern_path=.rsgrpc.test.v3=crate::gen::rsgrpc::test::v3,\
type_attribute=.rsgrpc.test.docs.Documented.choice=#[derive(Eq\\, Hash)],\
message_attribute=.rsgrpc.test.shop.Item=#[must_use],\
enum_attribute=.rsgrpc.test.docs.Phase=#[doc(alias = \"stage\")],\
field_attribute=.rsgrpc.test.shop.Order.id=#[doc(alias = \"identifier\")],\
btree_map=.rsgrpc.test.shop.Order.prices,\
disable_comments=.rsgrpc.test.docs.Old,\
include_file=lib.rs,\
runtime_crate=crate::rt";

fn cases() -> Vec<Case> {
    let golden = workspace().join("testdata/golden");
    let (_, wkt_include) = protoc();
    // The files whose descriptors other packages reference in the runtime's constant, rather than embed.
    let wkt_files = rsgrpc_codegen::descriptors::RUNTIME_WELL_KNOWN_FILES.map(String::from).to_vec();
    vec![
        Case {
            name: "default",
            include: protos_dir(),
            files: all_protos(),
            params: "",
            golden: Golden::Dir(golden.join("default")),
            embedded: true,
        },
        Case {
            name: "wire",
            include: protos_dir(),
            files: all_protos(),
            params: "btree_map=.,bytes=.rsgrpc.test.v3.OptionalScalars,mocks",
            golden: Golden::Dir(golden.join("wire")),
            embedded: true,
        },
        Case {
            name: "options",
            include: protos_dir(),
            files: vec![
                "rsgrpc/test/docs.proto".into(),
                "rsgrpc/test/imports/item.proto".into(),
                "rsgrpc/test/imports/order.proto".into(),
            ],
            params: OPTIONS_PARAMS,
            golden: Golden::Dir(golden.join("options")),
            embedded: true,
        },
        Case {
            name: "well_known",
            include: wkt_include,
            files: wkt_files,
            // BTreeMap for Struct.fields, as prost-types has it: a Struct then encodes deterministically.
            params: "runtime_crate=crate,btree_map=.google.protobuf.Struct.fields",
            golden: Golden::File {
                generated: "google.protobuf.rs",
                committed: workspace().join("runtime/src/well_known/google.protobuf.rs"),
            },
            // protox 0.10 cannot parse the descriptor.proto that protoc 36 ships (`extensions ... [declaration
            // = ...]`); users' files that import it are served protox's own copy, which parses.
            embedded: false,
        },
        Case {
            name: "client_only",
            include: protos_dir(),
            files: vec!["rsgrpc/test/services/echo.proto".into()],
            params: "no_server,json=false,extern_path=.rsgrpc.test.common=crate::gen::rsgrpc::test::common",
            golden: Golden::Dir(golden.join("client_only")),
            embedded: true,
        },
        Case {
            name: "server_only",
            include: protos_dir(),
            files: vec!["rsgrpc/test/services/echo.proto".into()],
            params: "no_client,extern_path=.rsgrpc.test.common=crate::gen::rsgrpc::test::common",
            golden: Golden::Dir(golden.join("server_only")),
            embedded: true,
        },
        Case {
            // The gRPC interop service, from Debian's grpc-proto (tests/env/setup.sh installs it).
            name: "interop",
            include: grpc_proto_dir(),
            files: ["empty", "messages", "test"].iter().map(|name| format!("grpc/testing/{name}.proto")).collect(),
            params: "",
            golden: Golden::Dir(golden.join("interop")),
            embedded: true,
        },
        Case {
            // The protobuf conformance suite's messages (tests/env/conformance.sh copies them).
            name: "conformance",
            include: conformance_protos(),
            files: vec![
                "conformance/conformance.proto".into(),
                "google/protobuf/test_messages_proto2.proto".into(),
                "google/protobuf/test_messages_proto3.proto".into(),
            ],
            params: "",
            golden: Golden::Dir(golden.join("conformance")),
            embedded: true,
        },
        Case {
            // protobuf 27.1's conformance messages, editions forms included (tests/env/conformance27.sh
            // caches them): protoc only, as the editions files need it.
            name: "conformance27",
            include: conformance27_protos(),
            files: vec![
                "conformance/conformance.proto".into(),
                "conformance/test_protos/test_messages_edition2023.proto".into(),
                "editions/golden/test_messages_proto2_editions.proto".into(),
                "editions/golden/test_messages_proto3_editions.proto".into(),
                "google/protobuf/test_messages_proto2.proto".into(),
                "google/protobuf/test_messages_proto3.proto".into(),
            ],
            params: "",
            golden: Golden::Dir(golden.join("conformance27")),
            embedded: false,
        },
        Case {
            // Editions 2023 and 2024: protoc only, the embedded parser (protox 0.10) cannot read them.
            name: "editions",
            include: workspace().join("testdata/editions"),
            files: vec!["rsgrpc/test/editions/ed2023.proto".into(), "rsgrpc/test/editions/ed2024.proto".into()],
            params: "",
            golden: Golden::Dir(golden.join("editions")),
            embedded: false,
        },
        runtime_case("health", "grpc/health/v1/health.proto", "grpc.health.v1.rs", "runtime/src/health"),
        runtime_case(
            "reflection_v1",
            "grpc/reflection/v1/reflection.proto",
            "grpc.reflection.v1.rs",
            "runtime/src/reflection",
        ),
        runtime_case(
            "reflection_v1alpha",
            "grpc/reflection/v1alpha/reflection.proto",
            "grpc.reflection.v1alpha.rs",
            "runtime/src/reflection",
        ),
        Case {
            // channelz, from Debian's grpc-proto (tests/env/setup.sh installs it), served by the runtime.
            name: "channelz",
            include: grpc_proto_dir(),
            files: vec!["grpc/channelz/v1/channelz.proto".into()],
            params: "runtime_crate=crate",
            golden: Golden::File {
                generated: "grpc.channelz.v1.rs",
                committed: workspace().join("runtime/src/channelz/grpc.channelz.v1.rs"),
            },
            embedded: true,
        },
        // ORCA (gRFC A51): the load report the client reads, apart from the service, whose generated server
        // depends on the runtime's server (the client must not).
        runtime_case(
            "orca_load_report",
            "xds/data/orca/v3/orca_load_report.proto",
            "xds.data.orca.v3.rs",
            "runtime/src/load_report",
        ),
        Case {
            name: "orca_service",
            include: workspace().join("runtime/proto"),
            files: vec!["xds/service/orca/v3/orca.proto".into()],
            params: "runtime_crate=crate,no_client,extern_path=.xds.data.orca.v3=crate::load_report::proto",
            golden: Golden::File {
                generated: "xds.service.orca.v3.rs",
                committed: workspace().join("runtime/src/orca/xds.service.orca.v3.rs"),
            },
            embedded: true,
        },
        Case {
            name: "rpc",
            include: workspace().join("runtime/proto"),
            files: vec!["google/rpc/error_details.proto".into(), "google/rpc/status.proto".into()],
            params: "runtime_crate=crate",
            golden: Golden::File {
                generated: "google.rpc.rs",
                committed: workspace().join("runtime/src/rpc/google.rpc.rs"),
            },
            embedded: true,
        },
    ]
}

/// A service the runtime serves itself, generated into the runtime from runtime/proto.
fn runtime_case(name: &'static str, proto: &str, generated: &'static str, dir: &str) -> Case {
    Case {
        name,
        include: workspace().join("runtime/proto"),
        files: vec![proto.to_owned()],
        params: "runtime_crate=crate",
        golden: Golden::File { generated, committed: workspace().join(dir).join(generated) },
        embedded: true,
    }
}

fn grpc_proto_dir() -> PathBuf {
    let dir = PathBuf::from("/usr/share/grpc-proto");
    assert!(
        dir.join("grpc/testing/test.proto").exists(),
        "Debian's grpc-proto is not installed: run `bash tests/env/setup.sh` (or apt-get install grpc-proto)"
    );
    dir
}

fn conformance_protos() -> PathBuf {
    let dir = std::env::var_os("RSGRPC_TEST_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/test-env"))
        .join("conformance/protos");
    assert!(
        dir.join("conformance/conformance.proto").exists(),
        "{} is missing: run `bash tests/env/setup.sh`",
        dir.display()
    );
    dir
}

/// Where tests/env/conformance27.sh caches protobuf 27.1's conformance runner and protos (outside the clone).
fn conformance27_protos() -> PathBuf {
    let cache = std::env::var_os("RSGRPC_CACHE_DIR").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"))
            .join("rsgrpc")
    });
    let dir = cache.join("protobuf-27.1-conformance/protos");
    assert!(
        dir.join("conformance/conformance.proto").exists(),
        "{} is missing: run `bash tests/env/setup.sh`",
        dir.display()
    );
    dir
}

fn through_protoc(case: &Case) -> BTreeMap<String, String> {
    let out = tempfile::tempdir().expect("temp dir");
    let output = run_protoc(&case.include, &case.files, case.params, out.path());
    assert!(output.status.success(), "{}: protoc failed: {}", case.name, String::from_utf8_lossy(&output.stderr));
    read_tree(out.path())
}

fn through_embedded(case: &Case) -> BTreeMap<String, String> {
    let files: Vec<PathBuf> = case.files.iter().map(|f| case.include.join(f)).collect();
    let mut builder = Builder::new().include(&case.include);
    if !case.params.is_empty() {
        builder = builder.parameter(case.params);
    }
    let generated = builder.generate(&files).unwrap_or_else(|e| panic!("{}: embedded route failed: {e}", case.name));
    generated.into_iter().map(|file| (file.name, file.content)).collect()
}

fn committed(case: &Case) -> BTreeMap<String, String> {
    match &case.golden {
        Golden::Dir(dir) => read_tree(dir),
        Golden::File { generated, committed } => {
            BTreeMap::from([(generated.to_string(), std::fs::read_to_string(committed).unwrap_or_default())])
        }
    }
}

fn only_golden_files(case: &Case, mut files: BTreeMap<String, String>) -> BTreeMap<String, String> {
    if let Golden::File { generated, .. } = &case.golden {
        files.retain(|name, _| name == generated);
    }
    files
}

fn bless(case: &Case, files: &BTreeMap<String, String>) {
    match &case.golden {
        Golden::Dir(dir) => {
            let _ = std::fs::remove_dir_all(dir);
            for (name, content) in files {
                let path = dir.join(name);
                std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create golden dir");
                std::fs::write(path, content).expect("write golden file");
            }
        }
        Golden::File { generated, committed } => std::fs::write(committed, &files[*generated]).expect("write golden"),
    }
}

#[test]
fn protoc_and_embedded_routes_match_each_other_and_the_committed_files() {
    for case in cases() {
        let protoc = only_golden_files(&case, through_protoc(&case));
        let again = only_golden_files(&case, through_protoc(&case));
        assert_same_tree(&format!("{}: second run", case.name), &protoc, &again);
        if case.embedded {
            let embedded = only_golden_files(&case, through_embedded(&case));
            assert_same_tree(&format!("{}: embedded route vs protoc route", case.name), &protoc, &embedded);
        }
        if std::env::var_os("RSGRPC_BLESS").is_some() {
            bless(&case, &protoc);
        } else {
            assert_same_tree(
                &format!("{}: committed golden files vs generated (RSGRPC_BLESS=1 to update)", case.name),
                &committed(&case),
                &protoc,
            );
        }
    }
}

#[test]
fn every_generated_file_starts_with_the_generated_header() {
    for case in cases() {
        for (name, content) in committed(&case) {
            assert!(
                content.starts_with(&format!(
                    "// @generated by protoc-gen-rsgrpc {}. DO NOT EDIT.\n",
                    env!("CARGO_PKG_VERSION")
                )),
                "{}: {name} lacks the header",
                case.name
            );
        }
    }
}

#[test]
fn buf_generate_with_the_local_plugin_matches_protoc() {
    let buf = test_env_tool("buf");
    let testdata = workspace().join("testdata");
    let out = tempfile::tempdir().expect("temp dir");
    let plugin_dir = plugin().parent().expect("binary has a directory").to_owned();
    let path = std::env::join_paths(
        std::iter::once(plugin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("valid PATH");
    let cache = tempfile::tempdir().expect("temp dir");
    let output = Command::new(&buf)
        .current_dir(&testdata)
        .env("PATH", path)
        .env("BUF_CACHE_DIR", cache.path())
        .args(["generate", "--template", "buf.gen.yaml", "-o"])
        .arg(out.path())
        .output()
        .expect("buf runs");
    assert!(output.status.success(), "buf generate failed: {}", String::from_utf8_lossy(&output.stderr));
    let generated = read_tree(&out.path().join("gen"));
    // Against protoc's output, not the committed files (the other test compares those), so that blessing does
    // not depend on the order tests run in.
    let default_case = cases().into_iter().find(|case| case.name == "default").expect("default case");
    assert_same_tree("buf generate vs protoc", &through_protoc(&default_case), &generated);
}
