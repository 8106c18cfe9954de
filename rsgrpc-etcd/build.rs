fn main() -> Result<(), Box<dyn std::error::Error>> {
    rsgrpc_build::configure()
        // Only the client side (etcd is the server), and no proto3 JSON mapping: etcd speaks binary gRPC.
        .build_server(false)
        .json(false)
        .compile_protos(&["proto/etcd/api/mvccpb/kv.proto", "proto/etcd/api/etcdserverpb/rpc.proto"], &["proto"])?;
    Ok(())
}
