fn main() -> Result<(), Box<dyn std::error::Error>> {
    rsgrpc_build::compile_protos("proto/helloworld.proto")?;
    Ok(())
}
