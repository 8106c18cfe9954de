fn main() -> Result<(), Box<dyn std::error::Error>> {
    rsgrpc_build::configure()
        // The REST/JSON gateway for services with google.api.http rules (bookstore.proto).
        .gateway(true)
        .compile_protos(&["proto/helloworld.proto", "proto/route_guide.proto", "proto/bookstore.proto"], &["proto"])?;
    Ok(())
}
