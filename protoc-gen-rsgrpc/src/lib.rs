//! The code generator behind `protoc-gen-rsgrpc`: protobuf descriptors in, formatted Rust source out.
//!
//! The pipeline: a [descriptor index](index), [lowered](lower) into a normalised [model], then
//! [emitted](emit) per kind of item. The same [`generate`] serves the protoc plugin ([`plugin`]) and the
//! embedded parser ([`embedded`]), so both routes give the same bytes.

pub mod cli;
pub mod comments;
pub mod defaults;
pub mod descriptors;
pub mod editions;
pub mod embedded;
pub mod emit;
pub mod error;
pub mod ident;
pub mod index;
pub mod lower;
pub mod model;
pub mod params;
pub mod path_match;
pub mod plugin;

use prost_types::FileDescriptorProto;

pub use embedded::Builder;
pub use error::CodegenError;
pub use params::Options;

/// One generated file: a path relative to the output directory, and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// The path relative to the output directory.
    pub name: String,
    /// The Rust source.
    pub content: String,
}

/// Generates the Rust files for `to_generate` (names of files in `files`, which also holds every import),
/// sorted by name.
pub fn generate(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    options: &Options,
) -> Result<Vec<OutputFile>, CodegenError> {
    generate_with_editions(files, to_generate, options, &editions::Editions::unknown())
}

/// [`generate`], with the editions and features the descriptors' encoding holds (see [`editions`]):
/// editions files need them.
pub fn generate_with_editions(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    options: &Options,
    editions: &editions::Editions,
) -> Result<Vec<OutputFile>, CodegenError> {
    options.validate()?;
    let packages = lower::lower_with_editions(files, to_generate, options, editions)?;
    let context = emit::Context::new(options);
    let mut output = Vec::new();
    for package in &packages {
        output.push(OutputFile {
            name: emit::layout::package_file_name(&package.name),
            content: emit::package_file(package, &context)?,
        });
    }
    output.push(OutputFile { name: options.include_file.clone(), content: emit::layout::include_file(&packages)? });
    output.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(output)
}
