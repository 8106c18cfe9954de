//! Generates part of testdata at build time through the library API, the way a user's build.rs would: this
//! is what `rsgrpc_tests::built` compiles.

fn main() {
    let protos = "../testdata/protos";
    rsgrpc_codegen::Builder::new()
        .include(protos)
        .parameter("btree_map=.rsgrpc.test.shop")
        // The imported packages are already compiled in `rsgrpc_tests::gen`.
        .parameter("extern_path=.rsgrpc.test.common=crate::gen::rsgrpc::test::common")
        .parameter("extern_path=.rsgrpc.test.v3=crate::gen::rsgrpc::test::v3")
        .compile(&[
            format!("{protos}/rsgrpc/test/imports/order.proto"),
            format!("{protos}/rsgrpc/test/imports/item.proto"),
        ])
        .unwrap_or_else(|error| panic!("generating testdata protos: {error}"));
    // prost's struct shape: no field of unknown fields, so prost-style struct literals compile; and no
    // embedded descriptor set, as with tonic-build's default.
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    rsgrpc_codegen::Builder::new()
        .include(protos)
        .parameter("drop_unknown_fields=.")
        .parameter("file_descriptor_set=false")
        .out_dir(out_dir.join("prost_compat"))
        .compile(&[format!("{protos}/examples/route_guide.proto"), format!("{protos}/rsgrpc/test/proto2.proto")])
        .unwrap_or_else(|error| panic!("generating testdata protos with drop_unknown_fields: {error}"));
    #[cfg(feature = "bench")]
    {
        tonic_bench_code();
        pbjson_bench_code();
    }
}

/// tonic's code for the benchmark proto, so that both servers serve the same service and both clients call
/// the same server.
#[cfg(feature = "bench")]
fn tonic_bench_code() {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc");
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure()
        .compile_protos(&["../testdata/protos/bench/bench.proto"], &["../testdata/protos"])
        .unwrap_or_else(|error| panic!("tonic code for the benchmark: {error}"));
}

/// prost-build and pbjson-build code for the JSON benchmark's messages, to compare with ours.
#[cfg(feature = "bench")]
fn pbjson_bench_code() {
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let descriptors = out_dir.join("pbjson_descriptors.bin");
    let protos = ["../testdata/protos/rsgrpc/test/scalars.proto", "../testdata/protos/rsgrpc/test/maps.proto"];
    prost_build::Config::new()
        .file_descriptor_set_path(&descriptors)
        .compile_protos(&protos, &["../testdata/protos"])
        .unwrap_or_else(|error| panic!("prost-build for the JSON benchmark: {error}"));
    let bytes = std::fs::read(&descriptors).expect("descriptor set");
    pbjson_build::Builder::new()
        .register_descriptors(&bytes)
        .and_then(|builder| builder.build(&[".rsgrpc.test.v3"]))
        .unwrap_or_else(|error| panic!("pbjson-build for the JSON benchmark: {error}"));
}
