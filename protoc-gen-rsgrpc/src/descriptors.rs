//! The descriptor sets generated packages embed for reflection. Each file is embedded once, by the package
//! generated from it: a package's `FILE_DESCRIPTOR_SET` holds its own files, and its `FILE_DESCRIPTOR_SETS`
//! lists that constant with those of every package its files import, transitively, so that the server
//! assembles the whole set at run time instead of every package repeating the files it imports.
//!
//! An imported file is provided by:
//! - the package generated from it in this request (its constant, by path in the generated tree);
//! - the runtime, for the well-known types it generates itself (`rsgrpc::well_known::FILE_DESCRIPTOR_SET`),
//!   unless `google.protobuf` is generated here or mapped elsewhere with `extern_path`;
//! - otherwise the importing package itself, which embeds a copy: a file of an `extern_path` package or one
//!   not generated in this request may come from a crate that has no such constant (prost's, an older
//!   rsgrpc's, or one generated with `file_descriptor_set=false`), so it is never referenced.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use prost::Message as _;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};

use crate::editions::Editions;

use crate::index::DescriptorIndex;
use crate::model::{Descriptors, Package, TypePath};
use crate::params::Options;

/// The files the runtime's `well_known::FILE_DESCRIPTOR_SET` holds (those it is generated from).
pub const RUNTIME_WELL_KNOWN_FILES: [&str; 11] = [
    "google/protobuf/any.proto",
    "google/protobuf/api.proto",
    "google/protobuf/descriptor.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/empty.proto",
    "google/protobuf/field_mask.proto",
    "google/protobuf/source_context.proto",
    "google/protobuf/struct.proto",
    "google/protobuf/timestamp.proto",
    "google/protobuf/type.proto",
    "google/protobuf/wrappers.proto",
];

/// The name of each package's own descriptor constant.
const CONSTANT: &str = "FILE_DESCRIPTOR_SET";

/// Where an imported file's descriptor comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Provider<'a> {
    /// The constant of a package generated in this request.
    Package(&'a str),
    /// The runtime's well-known types.
    Runtime,
    /// The importing package's own constant.
    Embedded,
}

/// Fills in [`Package::descriptors`] for the packages that embed a set: those with services, the packages
/// they import from, and `google.protobuf` when it is generated (the runtime's own well-known types, which
/// other requests' packages reference). `files` holds each package's files to generate, by package name.
pub fn embed(
    packages: &mut [Package],
    files: &BTreeMap<&str, Vec<&FileDescriptorProto>>,
    index: &DescriptorIndex<'_>,
    options: &Options,
    editions: &Editions,
) {
    if !options.file_descriptor_set {
        return;
    }
    let generated: HashMap<&str, &str> =
        files.iter().flat_map(|(package, files)| files.iter().map(move |file| (file.name(), *package))).collect();
    let generating_well_known = files.contains_key("google.protobuf");
    let runtime_well_known =
        !generating_well_known && !options.extern_paths.iter().any(|(proto, _)| proto == ".google.protobuf");
    let provider = |file: &FileDescriptorProto| match generated.get(file.name()) {
        Some(package) => Provider::Package(package),
        None if runtime_well_known
            && file.package() == "google.protobuf"
            && RUNTIME_WELL_KNOWN_FILES.contains(&file.name()) =>
        {
            Provider::Runtime
        }
        None => Provider::Embedded,
    };
    // Each package's files and what they import, in dependency order, with the provider of each.
    let closures: BTreeMap<&str, Vec<(&FileDescriptorProto, Provider<'_>)>> = files
        .iter()
        .map(|(package, files)| {
            let closure = with_imports(files, index).into_iter().map(|file| (file, provider(file))).collect();
            (*package, closure)
        })
        .collect();
    let mut needed: BTreeSet<String> =
        packages.iter().filter(|p| !p.services.is_empty()).map(|p| p.name.clone()).collect();
    if generating_well_known {
        needed.insert("google.protobuf".to_owned());
    }
    let imported: Vec<String> = needed
        .iter()
        .flat_map(|package| &closures[package.as_str()])
        .filter_map(|(_, provider)| match provider {
            Provider::Package(other) => Some(other.to_string()),
            _ => None,
        })
        .collect();
    needed.extend(imported);
    let modules: HashMap<String, Vec<String>> = packages.iter().map(|p| (p.name.clone(), p.module.clone())).collect();
    for package in packages.iter_mut().filter(|p| needed.contains(&p.name)) {
        let closure = &closures[package.name.as_str()];
        let mut set = Vec::new();
        for (file, _) in closure
            .iter()
            .filter(|(_, provider)| *provider == Provider::Embedded || *provider == Provider::Package(&package.name))
        {
            // An editions file's edition and features are only in the request's bytes (prost-types drops
            // them), so those bytes are embedded; only protoc sends editions files, so no other route's
            // bytes have to match.
            let encoded = match editions.raw_file(file.name()).filter(|_| file.syntax() == "editions") {
                Some(raw) => without_source_info(raw, options.descriptor_source_info),
                None => normalized(file, options.descriptor_source_info).encode_to_vec(),
            };
            prost::encoding::bytes::encode(1, &encoded, &mut set);
        }
        let providers: BTreeSet<&Provider<'_>> = closure.iter().map(|(_, provider)| provider).collect();
        let imports = providers
            .into_iter()
            .filter_map(|provider| match provider {
                Provider::Package(other) if *other != package.name => {
                    Some(TypePath::Local { modules: modules[*other].clone(), name: CONSTANT.to_owned() })
                }
                Provider::Runtime => {
                    Some(TypePath::Extern(format!("{}::well_known::{CONSTANT}", options.runtime_crate)))
                }
                _ => None,
            })
            .collect();
        package.descriptors = Some(Descriptors { set, imports });
    }
}

/// `files` and everything they import, each once, every file after its imports (depth first). Iterative,
/// with an explicit stack, because a request can chain imports deeper than the thread's stack; a cycle is
/// cut where it closes, a missing import skipped.
fn with_imports<'a>(files: &[&'a FileDescriptorProto], index: &DescriptorIndex<'a>) -> Vec<&'a FileDescriptorProto> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for file in files {
        if !seen.insert(file.name()) {
            continue;
        }
        // Each entry: a file and how many of its imports have been visited.
        let mut stack: Vec<(&'a FileDescriptorProto, usize)> = vec![(file, 0)];
        while let Some((current, next)) = stack.last_mut() {
            let Some(dependency) = current.dependency.get(*next) else {
                out.push(*current);
                stack.pop();
                continue;
            };
            *next += 1;
            if let Some(imported) = index.file(dependency) {
                if seen.insert(imported.name()) {
                    stack.push((imported, 0));
                }
            }
        }
    }
    out
}

/// A file descriptor as embedded for reflection: without source info unless asked for (reflection clients
/// show comments with it, but nothing else needs it), and without empty options messages, which protoc
/// keeps (`rpc X(...) returns (...) {}`) and protox drops, so that both routes embed the same bytes (source
/// info, when kept, is each parser's own: its spans and comments can differ between the two routes).
fn normalized(file: &FileDescriptorProto, source_info: bool) -> FileDescriptorProto {
    fn clear<T: Default + PartialEq>(options: &mut Option<T>) {
        if options.as_ref().is_some_and(|o| *o == T::default()) {
            *options = None;
        }
    }
    fn normalize_message(message: &mut DescriptorProto) {
        clear(&mut message.options);
        message.field.iter_mut().chain(message.extension.iter_mut()).for_each(|f| clear(&mut f.options));
        message.oneof_decl.iter_mut().for_each(|o| clear(&mut o.options));
        message.enum_type.iter_mut().for_each(enumeration);
        message.nested_type.iter_mut().for_each(normalize_message);
    }
    fn enumeration(enumeration: &mut EnumDescriptorProto) {
        clear(&mut enumeration.options);
        enumeration.value.iter_mut().for_each(|v| clear(&mut v.options));
    }
    let mut file = file.clone();
    if !source_info {
        file.source_code_info = None;
    }
    clear(&mut file.options);
    file.message_type.iter_mut().for_each(normalize_message);
    file.enum_type.iter_mut().for_each(enumeration);
    file.extension.iter_mut().for_each(|f| clear(&mut f.options));
    for service in &mut file.service {
        clear(&mut service.options);
        service.method.iter_mut().for_each(|m| clear(&mut m.options));
    }
    file
}

/// An encoded `FileDescriptorProto` without its `source_code_info` (field 9) unless `keep`; the other fields
/// are copied as they are. Bytes that do not parse (protoc never sends such) are kept whole.
fn without_source_info(raw: &[u8], keep: bool) -> Vec<u8> {
    if keep {
        return raw.to_vec();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while !rest.is_empty() {
        let before = rest;
        let Ok((number, wire_type)) = prost::encoding::decode_key(&mut rest) else { return raw.to_vec() };
        let skipped =
            prost::encoding::skip_field(wire_type, number, &mut rest, prost::encoding::DecodeContext::default());
        if skipped.is_err() {
            return raw.to_vec();
        }
        if number != 9 {
            out.extend_from_slice(&before[..before.len() - rest.len()]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use prost_types::{FileDescriptorSet, MethodDescriptorProto, ServiceDescriptorProto};

    use super::*;

    fn file(name: &str, package: &str, message: &str, dependency: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.into()),
            package: Some(package.into()),
            dependency: dependency.iter().map(|d| d.to_string()).collect(),
            message_type: vec![DescriptorProto { name: Some(message.into()), ..Default::default() }],
            syntax: Some("proto3".into()),
            ..Default::default()
        }
    }

    /// `a` (with a service) imports `b` (generated too), an `extern_path` package and a well-known type;
    /// `c` is generated but imported by nothing.
    fn request() -> Vec<FileDescriptorProto> {
        let mut a = file("a/a.proto", "a", "A", &["b/b.proto", "google/protobuf/empty.proto", "ext/e.proto"]);
        a.service.push(ServiceDescriptorProto {
            name: Some("S".into()),
            method: vec![MethodDescriptorProto {
                name: Some("M".into()),
                input_type: Some(".b.B".into()),
                output_type: Some(".ext.E".into()),
                ..Default::default()
            }],
            ..Default::default()
        });
        vec![
            file("google/protobuf/empty.proto", "google.protobuf", "Empty", &[]),
            file("ext/e.proto", "ext", "E", &["google/protobuf/empty.proto"]),
            file("b/b.proto", "b", "B", &[]),
            a,
            file("c/c.proto", "c", "C", &["b/b.proto"]),
        ]
    }

    /// Per package: the names of the files of its own set, and the constants it lists.
    type Embedded = Option<(Vec<String>, Vec<TypePath>)>;

    fn lowered(parameter: &str) -> BTreeMap<String, Embedded> {
        let files = request();
        let to_generate = ["a/a.proto", "b/b.proto", "c/c.proto"].map(String::from);
        let options = Options::parse(parameter).unwrap();
        let packages = crate::lower::lower(&files, &to_generate, &options).unwrap();
        let names = |set: &[u8]| -> Vec<String> {
            FileDescriptorSet::decode(set).unwrap().file.into_iter().map(|f| f.name().to_owned()).collect()
        };
        packages.into_iter().map(|p| (p.name, p.descriptors.map(|d| (names(&d.set), d.imports)))).collect()
    }

    fn local(package: &str) -> TypePath {
        TypePath::Local { modules: vec![package.to_owned()], name: CONSTANT.to_owned() }
    }

    #[test]
    fn each_file_is_embedded_by_its_package_and_extern_files_by_their_importers() {
        let packages = lowered("extern_path=.ext=::ext");
        let runtime = TypePath::Extern("::rsgrpc::well_known::FILE_DESCRIPTOR_SET".into());
        let (a_files, a_imports) = packages["a"].clone().unwrap();
        assert_eq!(a_files, ["ext/e.proto", "a/a.proto"]);
        assert_eq!(a_imports, [local("b"), runtime]);
        let (b_files, b_imports) = packages["b"].clone().unwrap();
        assert_eq!((b_files, b_imports.len()), (vec!["b/b.proto".to_owned()], 0));
        assert!(packages["c"].is_none(), "nothing with services imports c");
    }

    #[test]
    fn well_known_types_mapped_elsewhere_are_embedded() {
        let packages = lowered("extern_path=.ext=::ext,extern_path=.google.protobuf=::pbt");
        let (a_files, a_imports) = packages["a"].clone().unwrap();
        assert_eq!(a_files, ["google/protobuf/empty.proto", "ext/e.proto", "a/a.proto"]);
        assert_eq!(a_imports, [local("b")]);
    }

    #[test]
    fn source_info_is_kept_only_when_asked_for() {
        let mut files = request();
        files[2].source_code_info = Some(prost_types::SourceCodeInfo::default());
        let to_generate = ["a/a.proto", "b/b.proto"].map(String::from);
        for (parameter, kept) in [("", false), ("descriptor_source_info=true", true)] {
            let options = Options::parse(parameter).unwrap();
            let packages = crate::lower::lower(&files, &to_generate, &options).unwrap();
            let set = &packages.iter().find(|p| p.name == "b").unwrap().descriptors.as_ref().unwrap().set;
            let file = &FileDescriptorSet::decode(set.as_slice()).unwrap().file[0];
            assert_eq!(file.source_code_info.is_some(), kept, "{parameter:?}");
        }
    }

    #[test]
    fn nothing_without_file_descriptor_set() {
        let packages = lowered("extern_path=.ext=::ext,file_descriptor_set=false");
        assert!(packages.values().all(Option::is_none));
    }
}
