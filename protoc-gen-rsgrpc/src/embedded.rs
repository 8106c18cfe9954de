//! The embedded route: `.proto` files parsed in pure Rust (protox), no protoc needed, for the `generate`
//! command and for `build.rs`. It feeds the same [`generate`] as the plugin, so the output is identical.

use std::fs;
use std::path::{Path, PathBuf};

use prost_types::FileDescriptorProto;

use crate::{generate, CodegenError, Options, OutputFile};

/// Parses `files` (paths under one of `includes`) with everything they import.
///
/// Returns all files, imports first, and the names of the files that were asked for.
pub fn parse(includes: &[PathBuf], files: &[PathBuf]) -> Result<(Vec<FileDescriptorProto>, Vec<String>), CodegenError> {
    let (descriptors, to_generate, _) = parse_with_encoding(includes, files)?;
    Ok((descriptors, to_generate))
}

/// What [`parse_with_encoding`] returns: every file (imports first), the names asked for, and the
/// encoded `FileDescriptorSet`.
pub type Parsed = (Vec<FileDescriptorProto>, Vec<String>, Vec<u8>);

/// [`parse`], plus the encoded `FileDescriptorSet`, which keeps what prost-types drops (custom options
/// such as `google.api.http`).
pub fn parse_with_encoding(includes: &[PathBuf], files: &[PathBuf]) -> Result<Parsed, CodegenError> {
    let mut compiler = protox::Compiler::new(includes).map_err(parse_error)?;
    compiler.include_source_info(true).include_imports(true);
    for file in files {
        compiler.open_file(file).map_err(parse_error)?;
    }
    let to_generate = compiler.files().filter(|f| !f.is_import()).map(|f| f.name().to_owned()).collect();
    Ok((compiler.file_descriptor_set().file, to_generate, compiler.encode_file_descriptor_set()))
}

/// The arguments of a `generate` command: `-I DIR`... `--out DIR` `--opt PARAMS`... and files or
/// directories (each standing for the `.proto` files under it, sorted).
#[derive(Debug, Clone, Default)]
pub struct GenerateArgs {
    /// The include directories (`.` when none is given).
    pub includes: Vec<PathBuf>,
    /// The output directory.
    pub out: PathBuf,
    /// The parameters, as protoc would pass them (comma-separated).
    pub parameter: String,
    /// The `.proto` files.
    pub files: Vec<PathBuf>,
}

impl GenerateArgs {
    /// Parses the arguments after `generate`.
    pub fn parse(args: &[String]) -> Result<GenerateArgs, CodegenError> {
        let mut parsed = GenerateArgs::default();
        let mut out = None;
        let mut parameters = Vec::new();
        let mut paths = Vec::new();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value =
                |flag: &str| args.next().cloned().ok_or_else(|| CodegenError::new(format!("{flag} needs a value")));
            match arg.as_str() {
                "-I" | "--include" => parsed.includes.push(PathBuf::from(value(arg)?)),
                "--out" => out = Some(PathBuf::from(value(arg)?)),
                "--opt" => parameters.push(value(arg)?),
                flag if flag.starts_with("-I") => parsed.includes.push(PathBuf::from(&flag[2..])),
                flag if flag.starts_with('-') => {
                    return Err(CodegenError::new(format!("unknown option `{flag}` (see --help)")))
                }
                path => paths.push(PathBuf::from(path)),
            }
        }
        parsed.out = out.ok_or_else(|| CodegenError::new("missing --out OUT_DIR"))?;
        parsed.parameter = parameters.join(",");
        parsed.files = expand_directories(paths)?;
        if parsed.files.is_empty() {
            return Err(CodegenError::new("no .proto files given"));
        }
        if parsed.includes.is_empty() {
            parsed.includes.push(PathBuf::from("."));
        }
        Ok(parsed)
    }
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

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

/// protox's error as ours, with `file:line:column` where protox knows the span (its `Display` omits it).
fn parse_error(error: protox::Error) -> CodegenError {
    use miette::Diagnostic;
    let file = error.file().map(str::to_owned);
    let position = error.labels().and_then(|mut labels| labels.next()).and_then(|label| {
        let contents = error.source_code()?.read_span(label.inner(), 0, 0).ok()?;
        Some(format!("{}:{}", contents.line() + 1, contents.column() + 1))
    });
    let mut message = error.to_string();
    // protox 0.10 (the newest release) has no editions support: it stops at the `edition` keyword.
    if message.contains("found 'edition'") {
        let file = file.unwrap_or_else(|| "a .proto file".to_owned());
        return CodegenError::at(
            file,
            "protobuf editions (`edition = \"2023\"` / `\"2024\"`) cannot be generated without protoc: the \
             embedded parser (protox 0.10) does not read them",
        )
        .with_hint("run protoc with protoc-gen-rsgrpc as its plugin (protoc 27 or newer) for editions files");
    }
    if let Some(source) = std::error::Error::source(&error) {
        message = format!("{message}: {source}");
    }
    if let Some(help) = error.help() {
        message = format!("{message} ({help})");
    }
    match (file, position) {
        (Some(file), Some(position)) => CodegenError::at(format!("{file}:{position}"), message),
        (Some(file), None) => CodegenError::at(file, message),
        (None, _) => CodegenError::new(message),
    }
}

/// Writes generated files under `out_dir`, creating directories as needed.
pub fn write(out_dir: &Path, files: &[OutputFile]) -> Result<(), CodegenError> {
    for file in files {
        let path = out_dir.join(&file.name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| CodegenError::at(parent.display().to_string(), format!("cannot create directory: {e}")))?;
        }
        fs::write(&path, &file.content)
            .map_err(|e| CodegenError::at(path.display().to_string(), format!("cannot write: {e}")))?;
    }
    Ok(())
}

/// Generation from `build.rs` (or any Rust program) without protoc.
///
/// ```no_run
/// rsgrpc_codegen::Builder::new()
///     .include("protos")
///     .parameter("btree_map=.")
///     .out_dir(std::env::var("OUT_DIR").unwrap())
///     .compile(&["protos/greeter.proto"])
///     .unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    includes: Vec<PathBuf>,
    parameters: Vec<String>,
    out_dir: Option<PathBuf>,
}

impl Builder {
    /// A builder with no include paths and default options.
    pub fn new() -> Self {
        Builder::default()
    }

    /// Adds an include path (like protoc's `-I`).
    pub fn include(mut self, path: impl AsRef<Path>) -> Self {
        self.includes.push(path.as_ref().to_owned());
        self
    }

    /// Adds parameters, as protoc's `--rsgrpc_opt` would (`btree_map=.,bytes=.`).
    pub fn parameter(mut self, parameter: impl Into<String>) -> Self {
        self.parameters.push(parameter.into());
        self
    }

    /// Where to write; defaults to `$OUT_DIR`.
    pub fn out_dir(mut self, path: impl AsRef<Path>) -> Self {
        self.out_dir = Some(path.as_ref().to_owned());
        self
    }

    /// Generates the files in memory.
    pub fn generate(&self, files: &[impl AsRef<Path>]) -> Result<Vec<OutputFile>, CodegenError> {
        let mut options = Options::default();
        for parameter in &self.parameters {
            options.apply_all(parameter)?;
        }
        let files: Vec<PathBuf> = files.iter().map(|f| f.as_ref().to_owned()).collect();
        let (descriptors, to_generate) = parse(&self.includes, &files)?;
        generate(&descriptors, &to_generate, &options)
    }

    /// Generates and writes the files; in `build.rs`, also asks cargo to rerun when a `.proto` changes.
    pub fn compile(&self, files: &[impl AsRef<Path>]) -> Result<(), CodegenError> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| CodegenError::new("no out_dir given and OUT_DIR is not set"))?,
        };
        let generated = self.generate(files)?;
        if std::env::var_os("CARGO").is_some() && std::env::var_os("OUT_DIR").is_some() {
            for file in files {
                println!("cargo:rerun-if-changed={}", file.as_ref().display());
            }
        }
        write(&out_dir, &generated)
    }
}
