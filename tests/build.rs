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
}
