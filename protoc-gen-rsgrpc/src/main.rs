//! `protoc-gen-rsgrpc`: as a protoc plugin (no arguments) or, with `generate`, without protoc.

use std::process::ExitCode;

const USAGE: &str = "\
protoc-gen-rsgrpc: Rust protobuf code for the rsgrpc runtime.

As a protoc plugin (reads a CodeGeneratorRequest on stdin):
    protoc --rsgrpc_out=OUT_DIR [--rsgrpc_opt=PARAM,PARAM] FILE.proto...

Without protoc (parses .proto files itself):
    protoc-gen-rsgrpc generate -I INCLUDE_DIR... --out OUT_DIR [--opt PARAM,PARAM]... (FILE.proto | DIR)...
    (a DIR stands for every .proto file under it)

Options:
    -h, --help       this text
    -V, --version    the version

Parameters:
";

fn main() -> ExitCode {
    rsgrpc_codegen::cli::main(&rsgrpc_codegen::cli::Cli {
        name: "protoc-gen-rsgrpc",
        usage: USAGE,
        parameters: rsgrpc_codegen::params::KNOWN_PARAMETERS,
        version: rsgrpc_codegen::emit::GENERATOR,
        run: rsgrpc_codegen::plugin::run_raw,
        generate,
    })
}

fn generate(args: &rsgrpc_codegen::embedded::GenerateArgs) -> Result<(), rsgrpc_codegen::CodegenError> {
    let options = rsgrpc_codegen::Options::parse(&args.parameter)?;
    let (descriptors, to_generate) = rsgrpc_codegen::embedded::parse(&args.includes, &args.files)?;
    let generated = rsgrpc_codegen::generate(&descriptors, &to_generate, &options)?;
    rsgrpc_codegen::embedded::write(&args.out, &generated)?;
    Ok(())
}
