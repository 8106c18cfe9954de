//! `protoc-gen-rsgrpc-gateway`: a protoc plugin run after protoc-gen-rsgrpc in the same invocation.

use std::io::{Read, Write};
use std::process::ExitCode;

use prost::Message;

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => run_plugin(),
        Some("-h" | "--help") => {
            print!("{USAGE}");
            for (name, what) in rsgrpc_gateway_codegen::params::GATEWAY_PARAMETERS {
                println!("    {name:<36} {what}");
            }
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("{}", rsgrpc_gateway_codegen::emit::GENERATOR);
            ExitCode::SUCCESS
        }
        Some("generate") => {
            let result = rsgrpc_codegen::embedded::GenerateArgs::parse(&args[1..])
                .and_then(|args| rsgrpc_gateway_codegen::plugin::generate_embedded(&args));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error.to_string()),
            }
        }
        Some(other) => fail(&format!("unknown argument `{other}` (see --help)")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("protoc-gen-rsgrpc-gateway: {message}");
    ExitCode::FAILURE
}

fn run_plugin() -> ExitCode {
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut input) {
        return fail(&format!("cannot read stdin: {error}"));
    }
    let request = match rsgrpc_codegen::plugin::decode_request(&input) {
        Ok(request) => request,
        Err(error) => return fail(&error),
    };
    let response = rsgrpc_gateway_codegen::plugin::run(&request, &input);
    if let Err(error) = std::io::stdout().write_all(&response.encode_to_vec()) {
        return fail(&format!("cannot write the response: {error}"));
    }
    ExitCode::SUCCESS
}
