//! The command line all three rsgrpc plugins share: without arguments a protoc plugin (a
//! `CodeGeneratorRequest` on stdin, the response on stdout), `generate` the same without protoc, and
//! `--help` / `--version`. Each plugin's `main` fills in a [`Cli`].

use std::io::{Read, Write};
use std::process::ExitCode;

use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::embedded::GenerateArgs;
use crate::CodegenError;

/// What a plugin's command line does, in its own words.
pub struct Cli {
    /// The executable's name, which starts every error it prints.
    pub name: &'static str,
    /// The help text, before the parameter list.
    pub usage: &'static str,
    /// The parameters, with what each does, for `--help`.
    pub parameters: &'static [(&'static str, &'static str)],
    /// What `--version` prints (the generator name the `@generated` headers carry).
    pub version: &'static str,
    /// Answers a request from protoc or buf; `raw` is the request as read, for what prost-types drops.
    pub run: fn(&CodeGeneratorRequest, &[u8]) -> CodeGeneratorResponse,
    /// The `generate` command: parses the `.proto` files itself and writes the output.
    pub generate: fn(&GenerateArgs) -> Result<(), CodegenError>,
}

/// Runs the plugin on this process's arguments, stdin and stdout.
pub fn main(cli: &Cli) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => run_plugin(cli),
        Some("-h" | "--help") => {
            print!("{}", cli.usage);
            for (name, what) in cli.parameters {
                println!("    {name:<36} {what}");
            }
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("{}", cli.version);
            ExitCode::SUCCESS
        }
        Some("generate") => match GenerateArgs::parse(&args[1..]).and_then(|args| (cli.generate)(&args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(cli, &error.to_string()),
        },
        Some(other) => fail(cli, &format!("unknown argument `{other}` (see --help)")),
    }
}

fn fail(cli: &Cli, message: &str) -> ExitCode {
    eprintln!("{}: {message}", cli.name);
    ExitCode::FAILURE
}

fn run_plugin(cli: &Cli) -> ExitCode {
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut input) {
        return fail(cli, &format!("cannot read stdin: {error}"));
    }
    let request = match crate::plugin::decode_request(&input) {
        Ok(request) => request,
        Err(message) => {
            return fail(cli, &format!("{message}; this is a protoc plugin: run it through protoc, or see --help"))
        }
    };
    let response = (cli.run)(&request, &input);
    if let Err(error) = std::io::stdout().write_all(&crate::plugin::encode_response(&response)) {
        return fail(cli, &format!("cannot write the response to stdout: {error}"));
    }
    ExitCode::SUCCESS
}
