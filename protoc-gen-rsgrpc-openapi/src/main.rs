//! `protoc-gen-rsgrpc-openapi`: a protoc plugin writing OpenAPI documents of the REST/JSON gateway.

use std::io::{Read, Write};
use std::process::ExitCode;

use prost::Message;

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => run_plugin(),
        Some("-h" | "--help") => {
            print!("{USAGE}");
            for (name, what) in rsgrpc_openapi_codegen::params::PARAMETERS {
                println!("    {name:<36} {what}");
            }
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("{}", rsgrpc_openapi_codegen::plugin::GENERATOR);
            ExitCode::SUCCESS
        }
        Some("generate") => {
            let result = rsgrpc_codegen::embedded::GenerateArgs::parse(&args[1..])
                .and_then(|args| rsgrpc_openapi_codegen::plugin::generate_embedded(&args));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error.to_string()),
            }
        }
        Some(other) => fail(&format!("unknown argument `{other}` (see --help)")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("protoc-gen-rsgrpc-openapi: {message}");
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
    let response = rsgrpc_openapi_codegen::plugin::run(&request, &input);
    if let Err(error) = std::io::stdout().write_all(&response.encode_to_vec()) {
        return fail(&format!("cannot write the response: {error}"));
    }
    ExitCode::SUCCESS
}
