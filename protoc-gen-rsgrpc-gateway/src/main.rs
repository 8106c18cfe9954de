//! `protoc-gen-rsgrpc-gateway`: a protoc plugin run after protoc-gen-rsgrpc in the same invocation.

use std::process::ExitCode;

const USAGE: &str = "\
protoc-gen-rsgrpc-gateway: a REST/JSON gateway for rsgrpc services, from google.api.http rules.

As a protoc plugin, after protoc-gen-rsgrpc in the same invocation (the gateway is added to its files):
    protoc --rsgrpc_out=OUT_DIR --rsgrpc-gateway_out=OUT_DIR [--rsgrpc-gateway_opt=PARAM,...] FILE.proto...

Without protoc (writes protoc-gen-rsgrpc's files with the gateway in them):
    protoc-gen-rsgrpc-gateway generate -I INCLUDE_DIR... --out OUT_DIR [--opt PARAM,PARAM]... (FILE.proto | DIR)...

google/api/annotations.proto and http.proto are Google's: get them from googleapis
(or PyPI's googleapis-common-protos, which ships them) and pass their directory with -I.

Options:
    -h, --help       this text
    -V, --version    the version

Parameters (besides protoc-gen-rsgrpc's layout parameters, which must match the ones it was given):
";

fn main() -> ExitCode {
    rsgrpc_codegen::cli::main(&rsgrpc_codegen::cli::Cli {
        name: "protoc-gen-rsgrpc-gateway",
        usage: USAGE,
        parameters: rsgrpc_gateway_codegen::params::GATEWAY_PARAMETERS,
        version: rsgrpc_gateway_codegen::emit::GENERATOR,
        run: rsgrpc_gateway_codegen::plugin::run,
        generate: rsgrpc_gateway_codegen::plugin::generate_embedded,
    })
}
