//! `protoc-gen-rsgrpc-openapi`: a protoc plugin writing OpenAPI documents of the REST/JSON gateway.

use std::process::ExitCode;

const USAGE: &str = "\
protoc-gen-rsgrpc-openapi: OpenAPI 2.0 or 3.1 documents of the rsgrpc REST/JSON gateway, from google.api.http rules.

As a protoc plugin:
    protoc --rsgrpc-openapi_out=OUT_DIR [--rsgrpc-openapi_opt=PARAM,...] FILE.proto...

Without protoc:
    protoc-gen-rsgrpc-openapi generate -I INCLUDE_DIR... --out OUT_DIR [--opt PARAM,PARAM]... (FILE.proto | DIR)...

Options:
    -h, --help       this text
    -V, --version    the version

Parameters:
";

fn main() -> ExitCode {
    rsgrpc_codegen::cli::main(&rsgrpc_codegen::cli::Cli {
        name: "protoc-gen-rsgrpc-openapi",
        usage: USAGE,
        parameters: rsgrpc_openapi_codegen::params::PARAMETERS,
        version: rsgrpc_openapi_codegen::plugin::GENERATOR,
        run: rsgrpc_openapi_codegen::plugin::run,
        generate: rsgrpc_openapi_codegen::plugin::generate_embedded,
    })
}
