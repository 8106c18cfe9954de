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
    #[cfg(feature = "bench-tonic")]
    tonic_bench_code();
}

/// tonic's code for the benchmark proto, so that both servers serve the same service.
#[cfg(feature = "bench-tonic")]
fn tonic_bench_code() {
    let protoc = protoc_bin_vendored::protoc_bin_path().expect("vendored protoc");
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    tonic_prost_build::configure()
        .build_client(false)
        .compile_protos(&["../testdata/protos/bench/bench.proto"], &["../testdata/protos"])
        .unwrap_or_else(|error| panic!("tonic code for the benchmark: {error}"));
}
