//! `protoc-gen-rsgrpc`: as a protoc plugin (no arguments) or, with `generate`, without protoc.

use std::io::{Read, Write};
use std::path::PathBuf;
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
    let mut includes = Vec::new();
    let mut out = None;
    let mut options = Options::default();
    let mut files = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value =
            |flag: &str| args.next().cloned().ok_or_else(|| CodegenError::new(format!("{flag} needs a value")));
        match arg.as_str() {
            "-I" | "--include" => includes.push(PathBuf::from(value(arg)?)),
            "--out" => out = Some(PathBuf::from(value(arg)?)),
            "--opt" => options.apply_all(&value(arg)?)?,
            flag if flag.starts_with("-I") => includes.push(PathBuf::from(&flag[2..])),
            flag if flag.starts_with('-') => {
                return Err(CodegenError::new(format!("unknown option `{flag}` (see --help)")))
            }
            file => files.push(PathBuf::from(file)),
        }
    }
    let out = out.ok_or_else(|| CodegenError::new("missing --out OUT_DIR"))?;
    let files = expand_directories(files)?;
    if files.is_empty() {
        return Err(CodegenError::new("no .proto files given"));
    }
    if includes.is_empty() {
        includes.push(PathBuf::from("."));
    }
    let (descriptors, to_generate) = embedded::parse(&includes, &files)?;
    let generated = rsgrpc_codegen::generate(&descriptors, &to_generate, &options)?;
    embedded::write(&out, &generated)?;
    Ok(())
}

/// Replaces each directory by the `.proto` files under it, sorted, so output does not depend on the file system.
fn expand_directories(paths: Vec<PathBuf>) -> Result<Vec<PathBuf>, CodegenError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            collect_protos(&path, &mut found)
                .map_err(|e| CodegenError::at(path.display().to_string(), format!("cannot read directory: {e}")))?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

fn collect_protos(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
