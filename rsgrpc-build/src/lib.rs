//! `build.rs` support for rsgrpc, as `tonic-build` and `prost-build` are for tonic and prost: compiles
//! `.proto` files into `$OUT_DIR` (messages, gRPC clients and servers, and the REST/JSON gateway if asked
//! for), which the crate then includes with [`rsgrpc::include_proto!`](https://docs.rs/rsgrpc).
//!
//! The `.proto` files are parsed in pure Rust by default (the embedded parser), so no protoc is needed;
//! [`Builder::protoc`] uses protoc instead. Either way the output is what `protoc-gen-rsgrpc` writes.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     rsgrpc_build::configure()
//!         .btree_map(".")
//!         .type_attribute(".shop", "#[derive(Eq, Hash)]")
//!         .compile_protos(&["proto/shop/v1/order.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! Cargo is told to rerun the build script when any file the parser read changes, imports included, and
//! when an include directory changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
pub use rsgrpc_codegen::CodegenError as Error;
use rsgrpc_codegen::{Options, OutputFile};

/// Compiles one `.proto` file (and what it imports) with the default settings, its directory being the
/// include path: the one-line `build.rs`.
pub fn compile_protos(proto: impl AsRef<Path>) -> Result<(), Error> {
    let proto = proto.as_ref();
    let include = proto.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    configure().compile_protos(&[proto], &[include])
}

/// A [`Builder`] with the default settings: clients, servers and JSON on, no gateway, the embedded parser.
pub fn configure() -> Builder {
    Builder::default()
}

/// What to generate and how; each setting is a method (the same settings as `protoc-gen-rsgrpc`'s
/// parameters, see its README section "Parameters").
#[derive(Debug, Clone)]
pub struct Builder {
    client: bool,
    server: bool,
    mocks: bool,
    json: bool,
    file_descriptor_set: bool,
    descriptor_source_info: bool,
    runtime_crate: Option<String>,
    include_file: Option<String>,
    /// `key=value` parameters that take a proto path (and a value), in the order given.
    paths: Vec<String>,
    gateway: Option<Gateway>,
    out_dir: Option<PathBuf>,
    protoc: Option<PathBuf>,
    use_protoc: bool,
    rerun_if_changed: Option<bool>,
}

/// The gateway's own settings.
#[derive(Debug, Clone, Default)]
struct Gateway {
    generate_unbound_methods: bool,
    allow_delete_body: bool,
    allow_patch_feature: bool,
    api_configuration: Option<PathBuf>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            client: true,
            server: true,
            mocks: false,
            json: true,
            file_descriptor_set: true,
            descriptor_source_info: false,
            runtime_crate: None,
            include_file: None,
            paths: Vec::new(),
            gateway: None,
            out_dir: None,
            protoc: None,
            use_protoc: false,
            rerun_if_changed: None,
        }
    }
}

impl Builder {
    /// Whether to generate gRPC clients (default: yes).
    pub fn build_client(mut self, enable: bool) -> Self {
        self.client = enable;
        self
    }

    /// Whether to generate gRPC server traits (default: yes).
    pub fn build_server(mut self, enable: bool) -> Self {
        self.server = enable;
        self
    }

    /// Whether to generate a mock client per service (`MockGreeter`, beside the client; default: no), for
    /// tests of code that takes the client trait (`&impl GreeterApi`). Usually in a build script of
    /// tests only, or behind a feature of the crate.
    pub fn mocks(mut self, enable: bool) -> Self {
        self.mocks = enable;
        self
    }

    /// Whether to generate the proto3 JSON mapping (default: yes).
    pub fn json(mut self, enable: bool) -> Self {
        self.json = enable;
        self
    }

    /// Whether packages with services embed their descriptor set, for reflection (default: yes).
    pub fn file_descriptor_set(mut self, enable: bool) -> Self {
        self.file_descriptor_set = enable;
        self
    }

    /// Whether the embedded descriptor sets keep comments and spans (default: no; reflection clients show
    /// them, at the cost of most of a descriptor's bytes).
    pub fn descriptor_source_info(mut self, enable: bool) -> Self {
        self.descriptor_source_info = enable;
        self
    }

    /// Map fields under `path` (`.` for all, `.pkg`, `.pkg.Message.field`) become `BTreeMap`s.
    pub fn btree_map(self, path: impl AsRef<str>) -> Self {
        self.path_parameter("btree_map", path.as_ref())
    }

    /// `bytes` fields under `path` become `bytes::Bytes` instead of `Vec<u8>`.
    pub fn bytes(self, path: impl AsRef<str>) -> Self {
        self.path_parameter("bytes", path.as_ref())
    }

    /// Items under `path` get no doc comments.
    pub fn disable_comments(self, path: impl AsRef<str>) -> Self {
        self.path_parameter("disable_comments", path.as_ref())
    }

    /// Messages under `path` drop unknown fields, as prost does (no `unknown_fields` field).
    pub fn drop_unknown_fields(self, path: impl AsRef<str>) -> Self {
        self.path_parameter("drop_unknown_fields", path.as_ref())
    }

    /// Types of the proto package or type `proto_path` (`.common`) come from `rust_path` (`::common_types`)
    /// instead of being generated.
    pub fn extern_path(self, proto_path: impl AsRef<str>, rust_path: impl AsRef<str>) -> Self {
        let value = format!("{}={}", proto_path.as_ref(), rust_path.as_ref());
        self.path_parameter("extern_path", &value)
    }

    /// An attribute (`#[derive(Eq, Hash)]`) on the messages, enums and oneofs under `path`.
    pub fn type_attribute(self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.attribute("type_attribute", path.as_ref(), attribute.as_ref())
    }

    /// An attribute on the messages under `path`.
    pub fn message_attribute(self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.attribute("message_attribute", path.as_ref(), attribute.as_ref())
    }

    /// An attribute on the enums and oneofs under `path`.
    pub fn enum_attribute(self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.attribute("enum_attribute", path.as_ref(), attribute.as_ref())
    }

    /// An attribute on the fields under `path`.
    pub fn field_attribute(self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.attribute("field_attribute", path.as_ref(), attribute.as_ref())
    }

    /// The runtime's path in generated code (default `::rsgrpc`), for a crate that renames or re-exports it.
    pub fn runtime_crate(mut self, path: impl Into<String>) -> Self {
        self.runtime_crate = Some(path.into());
        self
    }

    /// The name of the module tree file (default `mod.rs`).
    pub fn include_file(mut self, name: impl Into<String>) -> Self {
        self.include_file = Some(name.into());
        self
    }

    /// Also generates the REST/JSON gateway from the methods' `google.api.http` rules (the protos must be
    /// able to import `google/api/annotations.proto`).
    pub fn gateway(mut self, enable: bool) -> Self {
        self.gateway =
            enable.then(|| self.gateway.take().unwrap_or(Gateway { allow_patch_feature: true, ..Default::default() }));
        self
    }

    /// Gateway: methods without an HTTP rule get `POST /package.Service/Method` (default: no).
    pub fn gateway_unbound_methods(mut self, enable: bool) -> Self {
        self.gateway_settings().generate_unbound_methods = enable;
        self
    }

    /// Gateway: DELETE rules may have a body (default: no).
    pub fn gateway_allow_delete_body(mut self, enable: bool) -> Self {
        self.gateway_settings().allow_delete_body = enable;
        self
    }

    /// Gateway: a PATCH fills its `update_mask` from the fields of its body (default: yes).
    pub fn gateway_patch_feature(mut self, enable: bool) -> Self {
        self.gateway_settings().allow_patch_feature = enable;
        self
    }

    /// Gateway: HTTP rules from a service-config YAML (`http: rules:`), besides the annotations.
    pub fn gateway_api_configuration(mut self, path: impl AsRef<Path>) -> Self {
        self.gateway_settings().api_configuration = Some(path.as_ref().to_owned());
        self
    }

    /// Where to write (default `$OUT_DIR`).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Parses with protoc instead of the embedded parser: the one at `PROTOC`, or `protoc` on the `PATH`.
    pub fn protoc(mut self) -> Self {
        self.use_protoc = true;
        self
    }

    /// Parses with the protoc at `path`.
    pub fn protoc_path(mut self, path: impl AsRef<Path>) -> Self {
        self.use_protoc = true;
        self.protoc = Some(path.as_ref().to_owned());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default: when run by cargo as a build script).
    pub fn emit_rerun_if_changed(mut self, enable: bool) -> Self {
        self.rerun_if_changed = Some(enable);
        self
    }

    /// Compiles `protos` (each under one of `includes`) and everything they import, and writes one file
    /// per proto package and a module tree (`mod.rs`) to the output directory.
    pub fn compile_protos(&self, protos: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<(), Error> {
        let protos: Vec<PathBuf> = protos.iter().map(|p| p.as_ref().to_owned()).collect();
        let includes: Vec<PathBuf> = includes.iter().map(|p| p.as_ref().to_owned()).collect();
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| Error::new("no out_dir given and OUT_DIR is not set (is this a build script?)"))?,
        };
        // The gateway's annotations, for protos whose includes lack googleapis (the user's own copy wins: it
        // comes first). Not watched for changes: they change only with this crate.
        let mut search = includes.clone();
        if self.gateway.is_some() {
            search.push(google_api_include(&out_dir)?);
        }
        let (descriptors, to_generate, encoded) = if self.use_protoc {
            self.parse_with_protoc(&protos, &search)?
        } else {
            rsgrpc_codegen::embedded::parse_with_encoding(&search, &protos)?
        };
        if self.rerun_if_changed.unwrap_or_else(is_build_script) {
            for line in rerun_lines(&descriptors, &protos, &includes, self.gateway.as_ref()) {
                println!("{line}");
            }
        }
        let mut files = rsgrpc_codegen::generate(&descriptors, &to_generate, &self.options()?)?;
        if self.gateway.is_some() {
            let rules = rsgrpc_gateway_codegen::rules::from_descriptor_set(&encoded).map_err(Error::new)?;
            let parameter = self.gateway_parameter();
            for addition in rsgrpc_gateway_codegen::plugin::generate(&descriptors, &to_generate, &rules, &parameter)? {
                insert(&mut files, addition)?;
            }
        }
        rsgrpc_codegen::embedded::write(&out_dir, &files)
    }

    fn path_parameter(mut self, key: &str, value: &str) -> Self {
        self.paths.push(format!("{key}={value}"));
        self
    }

    fn attribute(self, key: &str, path: &str, attribute: &str) -> Self {
        let value = format!("{path}={attribute}");
        self.path_parameter(key, &value)
    }

    fn gateway_settings(&mut self) -> &mut Gateway {
        self.gateway.get_or_insert_with(|| Gateway { allow_patch_feature: true, ..Default::default() })
    }

    /// The settings as the plugin's parameters, one `key=value` each (not yet comma-joined, so values may
    /// hold commas).
    fn parameters(&self) -> Vec<String> {
        let mut items = self.paths.clone();
        let flags = [
            (!self.client, "no_client".to_owned()),
            (!self.server, "no_server".to_owned()),
            (self.mocks, "mocks".to_owned()),
            (!self.json, "json=false".to_owned()),
            (!self.file_descriptor_set, "file_descriptor_set=false".to_owned()),
            (self.descriptor_source_info, "descriptor_source_info=true".to_owned()),
        ];
        items.extend(flags.into_iter().filter(|(on, _)| *on).map(|(_, item)| item));
        items.extend(self.runtime_crate.iter().map(|path| format!("runtime_crate={path}")));
        items.extend(self.include_file.iter().map(|name| format!("include_file={name}")));
        items
    }

    fn options(&self) -> Result<Options, Error> {
        let mut options = Options::default();
        for item in self.parameters() {
            options.apply(&item)?;
        }
        Ok(options)
    }

    /// The gateway plugin's parameter string: the shared settings (which must match) and its own, commas in
    /// values escaped.
    fn gateway_parameter(&self) -> String {
        let mut items = self.parameters();
        if let Some(gateway) = &self.gateway {
            if gateway.generate_unbound_methods {
                items.push("generate_unbound_methods".into());
            }
            if gateway.allow_delete_body {
                items.push("allow_delete_body".into());
            }
            if !gateway.allow_patch_feature {
                items.push("allow_patch_feature=false".into());
            }
            if let Some(path) = &gateway.api_configuration {
                items.push(format!("grpc_api_configuration={}", path.display()));
            }
        }
        items.iter().map(|item| item.replace(',', "\\,")).collect::<Vec<_>>().join(",")
    }

    /// protoc's descriptor set of `protos` (imports and comments included), the names of `protos` in it and
    /// the set's encoding.
    fn parse_with_protoc(
        &self,
        protos: &[PathBuf],
        includes: &[PathBuf],
    ) -> Result<rsgrpc_codegen::embedded::Parsed, Error> {
        let protoc = self
            .protoc
            .clone()
            .or_else(|| std::env::var_os("PROTOC").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("protoc"));
        let scratch = std::env::temp_dir().join(format!(
            "rsgrpc-build-{}-{:?}.pb",
            std::process::id(),
            std::thread::current().id()
        ));
        let mut command = Command::new(&protoc);
        command
            .arg("--include_imports")
            .arg("--include_source_info")
            .arg(format!("--descriptor_set_out={}", scratch.display()));
        for include in includes {
            command.arg(format!("-I{}", include.display()));
        }
        command.args(protos);
        let output = command.output().map_err(|e| {
            Error::new(format!(
                "cannot run protoc ({}): {e}; install protoc, set PROTOC, or use the embedded parser",
                protoc.display()
            ))
        })?;
        if !output.status.success() {
            return Err(Error::new(format!("protoc failed:\n{}", String::from_utf8_lossy(&output.stderr).trim_end())));
        }
        let encoded =
            std::fs::read(&scratch).map_err(|e| Error::new(format!("reading protoc's descriptor set: {e}")))?;
        let _ = std::fs::remove_file(&scratch);
        let set = FileDescriptorSet::decode(encoded.as_slice())
            .map_err(|e| Error::new(format!("protoc's descriptor set does not decode: {e}")))?;
        let to_generate = protos.iter().map(|proto| virtual_name(proto, includes)).collect::<Result<Vec<_>, _>>()?;
        Ok((set.file, to_generate, encoded))
    }
}

/// The name protoc gives a file on the command line: its path under the first include directory holding it.
fn virtual_name(proto: &Path, includes: &[PathBuf]) -> Result<String, Error> {
    let absolute = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let file = absolute(proto);
    includes
        .iter()
        .find_map(|include| file.strip_prefix(absolute(include)).ok().map(Path::to_owned))
        .map(|relative| relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
        .ok_or_else(|| Error::new(format!("{} is not under any include directory", proto.display())))
}

/// Inserts a package's gateway code into the package file, where protoc would.
fn insert(files: &mut [OutputFile], addition: OutputFile) -> Result<(), Error> {
    let file = files
        .iter_mut()
        .find(|file| file.name == addition.name)
        .ok_or_else(|| Error::new(format!("internal error: no package file {} for the gateway", addition.name)))?;
    file.content = rsgrpc_gateway_codegen::plugin::insert(&file.content, &addition.content)?;
    Ok(())
}

fn is_build_script() -> bool {
    std::env::var_os("CARGO").is_some() && std::env::var_os("OUT_DIR").is_some()
}

/// `cargo:rerun-if-changed` lines for every file the parse read (found under the include directories,
/// imports included; the built-in well-known types are not files), the files asked for, the include
/// directories (a new file there may shadow an import) and the gateway's YAML.
/// `google/api/http.proto` and `annotations.proto` (this crate's own definitions, wire-compatible with
/// googleapis') in a directory under `out_dir`, written only when missing or different so that their times
/// do not make cargo rerun the build script.
fn google_api_include(out_dir: &Path) -> Result<PathBuf, Error> {
    const FILES: [(&str, &str); 2] = [
        ("http.proto", include_str!("../proto/google/api/http.proto")),
        ("annotations.proto", include_str!("../proto/google/api/annotations.proto")),
    ];
    let root = out_dir.join(".rsgrpc-build-include");
    let dir = root.join("google/api");
    std::fs::create_dir_all(&dir).map_err(|e| Error::new(format!("cannot create {}: {e}", dir.display())))?;
    for (name, text) in FILES {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
            std::fs::write(&path, text).map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    Ok(root)
}

fn rerun_lines(
    descriptors: &[FileDescriptorProto],
    protos: &[PathBuf],
    includes: &[PathBuf],
    gateway: Option<&Gateway>,
) -> Vec<String> {
    let mut paths: Vec<PathBuf> = protos.to_vec();
    for descriptor in descriptors {
        let name = descriptor.name();
        if let Some(found) = includes.iter().map(|include| include.join(name)).find(|path| path.is_file()) {
            paths.push(found);
        }
    }
    paths.extend(includes.iter().cloned());
    paths.extend(gateway.and_then(|g| g.api_configuration.clone()));
    let mut lines: Vec<String> =
        paths.iter().map(|path| format!("cargo:rerun-if-changed={}", path.display())).collect();
    lines.sort();
    lines.dedup();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_settings_become_the_plugins_parameters_with_commas_kept_inside_values() {
        let builder = configure()
            .btree_map(".")
            .type_attribute(".shop", "#[derive(Eq, Hash)]")
            .extern_path(".common", "::common_types")
            .build_client(false)
            .json(false)
            .gateway(true)
            .gateway_allow_delete_body(true);
        let options = builder.options().unwrap();
        assert!(!options.client && options.server && !options.json && !options.mocks);
        assert!(configure().mocks(true).options().unwrap().mocks);
        assert_eq!(options.extern_paths, [(".common".to_owned(), "::common_types".to_owned())]);
        let parameter = builder.gateway_parameter();
        assert!(parameter.contains("type_attribute=.shop=#[derive(Eq\\, Hash)]"), "{parameter}");
        assert!(parameter.contains("allow_delete_body"), "{parameter}");
        let (_, shared) = rsgrpc_gateway_codegen::params::parse(&parameter).unwrap();
        assert_eq!(shared, options, "the gateway sees the same layout settings");
    }

    #[test]
    fn a_bad_setting_is_an_error_naming_it() {
        let error = configure().runtime_crate("not a path!").options().unwrap_err().to_string();
        assert!(error.contains("runtime_crate"), "{error}");
    }

    #[test]
    fn files_and_their_imports_are_watched_but_built_in_types_are_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/one.proto"), "syntax = \"proto3\"; package a; import \"a/two.proto\"; import \"google/protobuf/empty.proto\"; message One { Two two = 1; google.protobuf.Empty e = 2; }").unwrap();
        std::fs::write(dir.path().join("a/two.proto"), "syntax = \"proto3\"; package a; message Two {}").unwrap();
        let includes = [dir.path().to_owned()];
        let protos = [dir.path().join("a/one.proto")];
        let (descriptors, _, _) = rsgrpc_codegen::embedded::parse_with_encoding(&includes, &protos).unwrap();
        let lines = rerun_lines(&descriptors, &protos, &includes, None);
        let watched = |name: &str| lines.iter().any(|line| line.ends_with(name));
        assert!(watched("a/one.proto") && watched("a/two.proto"), "{lines:?}");
        assert!(!lines.iter().any(|line| line.contains("empty.proto")), "{lines:?}");
        assert!(lines.contains(&format!("cargo:rerun-if-changed={}", dir.path().display())), "{lines:?}");
    }
}
