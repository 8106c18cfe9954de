//! `protoc-gen-rsgrpc`: as a protoc plugin (no arguments) or, with `generate`, without protoc.

use std::io::{Read, Write};
use std::process::ExitCode;

use prost::Message;
use rsgrpc_codegen::{embedded, plugin, CodegenError, Options};

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => run_plugin(),
        Some("-h" | "--help") => {
            print!("{USAGE}");
            for (name, what) in rsgrpc_codegen::params::KNOWN_PARAMETERS {
                println!("    {name:<36} {what}");
            }
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("{}", rsgrpc_codegen::emit::GENERATOR);
            ExitCode::SUCCESS
        }
        Some("generate") => match run_generate(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(&error.to_string()),
        },
        Some(other) => fail(&format!("unknown argument `{other}` (see --help)")),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("protoc-gen-rsgrpc: {message}");
    ExitCode::FAILURE
}

fn run_plugin() -> ExitCode {
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut input) {
        return fail(&format!("cannot read stdin: {error}"));
    }
    let request = match plugin::decode_request(&input) {
        Ok(request) => request,
        Err(message) => {
            return fail(&format!("{message}; this is a protoc plugin: run it through protoc, or see --help"))
        }
    };
    let response = plugin::run(&request);
    if let Err(error) = std::io::stdout().write_all(&response.encode_to_vec()) {
        return fail(&format!("cannot write the response to stdout: {error}"));
    }
    ExitCode::SUCCESS
}

fn run_generate(args: &[String]) -> Result<(), CodegenError> {
    let args = embedded::GenerateArgs::parse(args)?;
    let options = Options::parse(&args.parameter)?;
    let (descriptors, to_generate) = embedded::parse(&args.includes, &args.files)?;
    let generated = rsgrpc_codegen::generate(&descriptors, &to_generate, &options)?;
    embedded::write(&args.out, &generated)?;
    Ok(())
}
