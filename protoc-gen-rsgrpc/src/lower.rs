//! Descriptors lowered into the [model](crate::model): names resolved, types mapped, presence, packing,
//! boxing and defaults decided, problems reported with the element they concern.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto, ServiceDescriptorProto,
};

use crate::comments::{path, FileComments};
use crate::defaults;
use crate::editions::{Editions, Features, Presence};
use crate::error::CodegenError;
use crate::ident::{camel, constant, enum_variants, escape, snake};
use crate::index::{is_proto2, Definition, DescriptorIndex};
use crate::model::{
    Cardinality, Enum, EnumRef, EnumValue, Extension, Field, Item, Message, Method, Oneof, Package, Scalar, Service,
    TypePath, ValueType,
};
use crate::params::Options;

/// The associated functions of every generated client, which RPC methods must not be named after.
const CLIENT_CONSTRUCTORS: [&str; 2] = ["new", "connect"];

/// Lowers the files to generate into one [`Package`] per proto package, in sorted order. Editions files are
/// refused: their features are not in prost-types' descriptors (see [`lower_with_editions`]).
pub fn lower(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    options: &Options,
) -> Result<Vec<Package>, CodegenError> {
    lower_with_editions(files, to_generate, options, &Editions::unknown())
}

/// [`lower`], with the editions and features read from the descriptors' encoding.
pub fn lower_with_editions(
    files: &[FileDescriptorProto],
    to_generate: &[String],
    options: &Options,
    editions: &Editions,
) -> Result<Vec<Package>, CodegenError> {
    files.iter().try_for_each(check_names)?;
    let index = DescriptorIndex::new(files);
    let mut by_package: BTreeMap<&str, Vec<&FileDescriptorProto>> = BTreeMap::new();
    for name in to_generate {
        let file = index
            .file(name)
            .ok_or_else(|| CodegenError::at(name.as_str(), "listed to generate but not in the request"))?;
        check_syntax(file, editions)?;
        by_package.entry(file.package()).or_default().push(file);
    }
    let lowering = Lowering::new(&index, options, editions, by_package.keys().copied());
    let mut packages = Vec::new();
    let mut modules: BTreeMap<Vec<String>, String> = BTreeMap::new();
    by_package.values_mut().for_each(|files| files.sort_by_key(|file| file.name()));
    for (package, files) in &by_package {
        let lowered = lowering.package(package, files)?;
        // `Foo` and `foo` are two proto packages but one Rust module, and the include file holds one of them.
        if let Some(first) = modules.insert(lowered.module.clone(), (*package).to_owned()) {
            return Err(CodegenError::at(
                format!("package `{package}`"),
                format!("package `{first}` maps to the same Rust module `{}`", lowered.module.join("::")),
            )
            .with_hint("rename one of the packages"));
        }
        packages.push(lowered);
    }
    crate::descriptors::embed(&mut packages, &by_package, &index, options, editions);
    Ok(packages)
}

/// Every name that can end up in generated code must be a proto identifier: protoc guarantees it, but a
/// request from elsewhere may not, and a bad name must be an error, not a panic while building identifiers.
fn check_names(file: &FileDescriptorProto) -> Result<(), CodegenError> {
    // A file name is written into a `// source:` comment line: a line break in it would end the comment.
    if file.name().chars().any(char::is_control) {
        return Err(CodegenError::at(format!("file {:?}", file.name()), "the file name holds a control character"));
    }
    let check = |what: &str, name: &str| {
        if is_identifier(name) {
            Ok(())
        } else {
            Err(CodegenError::at(file.name(), format!("{what} name `{name}` is not a valid identifier")))
        }
    };
    if !file.package().is_empty() {
        file.package().split('.').try_for_each(|segment| check("package", segment))?;
    }
    fn messages<'a>(
        list: &'a [DescriptorProto],
        check: &dyn Fn(&str, &str) -> Result<(), CodegenError>,
    ) -> Result<(), CodegenError> {
        for message in list {
            check("message", message.name())?;
            message.field.iter().try_for_each(|f| check("field", f.name()))?;
            message.oneof_decl.iter().try_for_each(|o| check("oneof", o.name()))?;
            enums(&message.enum_type, check)?;
            messages(&message.nested_type, check)?;
        }
        Ok(())
    }
    fn enums(
        list: &[EnumDescriptorProto],
        check: &dyn Fn(&str, &str) -> Result<(), CodegenError>,
    ) -> Result<(), CodegenError> {
        for enumeration in list {
            check("enum", enumeration.name())?;
            enumeration.value.iter().try_for_each(|v| check("enum value", v.name()))?;
        }
        Ok(())
    }
    for service in &file.service {
        check("service", service.name())?;
        service.method.iter().try_for_each(|m| check("method", m.name()))?;
    }
    messages(&file.message_type, &check)?;
    enums(&file.enum_type, &check)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_syntax(file: &FileDescriptorProto, editions: &Editions) -> Result<(), CodegenError> {
    match file.syntax.as_deref() {
        None | Some("") | Some("proto2") | Some("proto3") => Ok(()),
        Some("editions") if !editions.known() => Err(CodegenError::at(
            file.name(),
            "protobuf editions need the descriptors' encoding, which this route does not have",
        )
        .with_hint("generate editions files through protoc (protoc-gen-rsgrpc as a plugin)")),
        Some("editions") => match editions.edition(file.name()) {
            Some(edition) if crate::editions::SUPPORTED.contains(&edition) => Ok(()),
            Some(edition) => Err(CodegenError::at(
                file.name(),
                format!("edition {} is not supported (2023 and 2024 are)", crate::editions::edition_name(edition)),
            )),
            None => Err(CodegenError::at(file.name(), "syntax is \"editions\" but the file has no edition")),
        },
        Some(other) => Err(CodegenError::at(file.name(), format!("unknown syntax \"{other}\""))),
    }
}

/// Whether a file is an editions file (its features then decide what proto2 and proto3 decide by syntax).
fn is_editions(file: &FileDescriptorProto) -> bool {
    file.syntax() == "editions"
}

/// Context shared by the lowering of every element.
struct Lowering<'a> {
    index: &'a DescriptorIndex<'a>,
    options: &'a Options,
    editions: &'a Editions,
    /// `(proto prefix, Rust path)`, longest prefix first.
    extern_paths: Vec<(String, String)>,
    /// The messages that cannot derive `Eq` and `Hash`, found once for the whole request.
    no_eq_hash: std::cell::OnceCell<HashSet<String>>,
}

/// Where an element is: its file, its comments and its `SourceCodeInfo` path.
struct Site<'f> {
    file: &'f FileDescriptorProto,
    comments: &'f FileComments,
    path: Vec<i32>,
}

impl Site<'_> {
    fn child(&self, field: i32, index: usize) -> Site<'_> {
        let mut path = self.path.clone();
        path.extend([field, index as i32]);
        Site { file: self.file, comments: self.comments, path }
    }
}

impl<'a> Lowering<'a> {
    fn new(
        index: &'a DescriptorIndex<'a>,
        options: &'a Options,
        editions: &'a Editions,
        packages: impl Iterator<Item = &'a str>,
    ) -> Self {
        let mut extern_paths = options.extern_paths.clone();
        let generating_wkt = packages.into_iter().any(|p| p == "google.protobuf");
        if !generating_wkt && !extern_paths.iter().any(|(proto, _)| proto == ".google.protobuf") {
            extern_paths.push((".google.protobuf".to_owned(), format!("{}::well_known", options.runtime_crate)));
        }
        extern_paths.sort_by_key(|(proto, _)| std::cmp::Reverse(proto.len()));
        Lowering { index, options, editions, extern_paths, no_eq_hash: std::cell::OnceCell::new() }
    }

    fn package(&self, name: &str, files: &[&FileDescriptorProto]) -> Result<Package, CodegenError> {
        let module: Vec<String> = if name.is_empty() { Vec::new() } else { name.split('.').map(snake).collect() };
        let mut items = Vec::new();
        let mut extensions = Vec::new();
        for file in files {
            let comments = FileComments::new(file);
            let root = Site { file, comments: &comments, path: Vec::new() };
            let prefix = if name.is_empty() { String::new() } else { format!(".{name}") };
            for (i, message) in file.message_type.iter().enumerate() {
                let site = root.child(path::FILE_MESSAGE, i);
                items.push(Item::Message(Box::new(self.message(&site, &prefix, &module, message)?)));
            }
            for (i, enumeration) in file.enum_type.iter().enumerate() {
                let site = root.child(path::FILE_ENUM, i);
                items.push(Item::Enum(self.enumeration(&site, &prefix, enumeration)?));
            }
            for (i, field) in file.extension.iter().enumerate() {
                extensions.push(self.extension(&root.child(path::FILE_EXTENSION, i), &prefix, field)?);
            }
        }
        let mut services = Vec::new();
        for file in files {
            let comments = FileComments::new(file);
            let root = Site { file, comments: &comments, path: Vec::new() };
            for (i, service) in file.service.iter().enumerate() {
                services.push(self.service(&root.child(path::FILE_SERVICE, i), service)?);
            }
        }
        let first_file = files.first().map_or("", |f| f.name());
        check_unique_names(first_file, &format!("package `{name}`"), &items, &[])?;
        check_unique_modules(first_file, &format!("package `{name}`"), &items, &services)?;
        // The package module also holds the descriptor set constants.
        check_extension_names(first_file, &format!("package `{name}`"), &extensions, PACKAGE_CONSTANTS)?;
        Ok(Package {
            name: name.to_owned(),
            files: files.iter().map(|f| f.name().to_owned()).collect(),
            module,
            items,
            services,
            extensions,
            descriptors: None,
        })
    }

    fn service(&self, site: &Site<'_>, service: &ServiceDescriptorProto) -> Result<Service, CodegenError> {
        let package = site.file.package();
        let full_name =
            if package.is_empty() { service.name().to_owned() } else { format!("{package}.{}", service.name()) };
        let mut methods: Vec<Method> = Vec::new();
        for (i, method) in service.method.iter().enumerate() {
            let element = format!("{}: method {full_name}.{}", site.file.name(), method.name());
            // `getThing` and `GetThing` are two methods but one Rust name: as with enum variants, the later
            // one gets a `_` suffix, so the client and the server trait do not define a function twice.
            // The client's constructors take the names `new` and `connect`: methods of those names get the
            // suffix too (an RPC `Connect` is `connect_`).
            let mut rust_name = snake(method.name());
            while CLIENT_CONSTRUCTORS.contains(&rust_name.as_str()) || methods.iter().any(|m| m.rust_name == rust_name)
            {
                rust_name.push('_');
            }
            let message = |type_name: &str| {
                self.index.message(type_name).map(|_| self.type_path(type_name)).ok_or_else(|| {
                    CodegenError::at(&element, format!("type `{type_name}` is not a message of the request"))
                })
            };
            let method_site = site.child(path::SERVICE_METHOD, i);
            methods.push(Method {
                proto_name: method.name().to_owned(),
                rust_name,
                path: format!("/{full_name}/{}", method.name()),
                input: message(method.input_type())?,
                output: message(method.output_type())?,
                client_streaming: method.client_streaming(),
                server_streaming: method.server_streaming(),
                docs: self.docs(site.comments.get(&method_site.path), &format!(".{full_name}.{}", method.name())),
                deprecated: method.options.as_ref().is_some_and(|o| o.deprecated()),
            });
        }
        let deprecated = service.options.as_ref().is_some_and(|o| o.deprecated());
        let uses_deprecated = deprecated
            || service.method.iter().any(|m| {
                m.options.as_ref().is_some_and(|o| o.deprecated())
                    || self.type_uses_deprecated(m.input_type())
                    || self.type_uses_deprecated(m.output_type())
            });
        Ok(Service {
            rust_name: camel(service.name()),
            module_base: module_base(service.name()),
            docs: self.docs(site.comments.get(&site.path), &format!(".{full_name}")),
            deprecated,
            uses_deprecated,
            full_name,
            methods,
        })
    }

    fn message(
        &self,
        site: &Site<'_>,
        prefix: &str,
        module: &[String],
        message: &DescriptorProto,
    ) -> Result<Message, CodegenError> {
        let full_name = format!("{prefix}.{}", message.name());
        let element = |what: String| format!("{}: {what}", site.file.name());
        let rust_name = camel(message.name());
        let module_name = snake(message.name());
        let mut inner_module = module.to_vec();
        inner_module.push(module_name.clone());

        let mut fields = Vec::new();
        let mut oneof_members: BTreeMap<i32, Vec<Field>> = BTreeMap::new();
        for (i, field) in message.field.iter().enumerate() {
            let field_site = site.child(path::MESSAGE_FIELD, i);
            let lowered = self.field(&field_site, &full_name, field)?;
            match field.oneof_index {
                Some(oneof) if !field.proto3_optional() => oneof_members.entry(oneof).or_default().push(lowered),
                _ => fields.push(lowered),
            }
        }
        if let Some((index, members)) = oneof_members.iter().find(|(i, _)| **i as usize >= message.oneof_decl.len()) {
            return Err(CodegenError::at(
                element(format!("field {}.{}", &full_name[1..], members[0].proto_name)),
                format!("refers to oneof #{index}, which the message does not declare"),
            ));
        }
        let mut oneofs = Vec::new();
        for (i, decl) in message.oneof_decl.iter().enumerate() {
            let Some(members) = oneof_members.remove(&(i as i32)) else { continue };
            let oneof_path = format!("{full_name}.{}", decl.name());
            let docs = self.docs(site.comments.get(&site.child(path::MESSAGE_ONEOF, i).path), &oneof_path);
            let mut attributes: Vec<String> = self.options.type_attributes.all(&oneof_path).cloned().collect();
            attributes.extend(self.options.enum_attributes.all(&oneof_path).cloned());
            let field_attributes = self.options.field_attributes.all(&oneof_path).cloned().collect();
            oneofs.push(Oneof {
                proto_name: decl.name().to_owned(),
                rust_field: snake(decl.name()),
                enum_name: camel(decl.name()),
                docs,
                attributes,
                field_attributes,
                fields: members,
            });
        }

        check_field_numbers(&element(format!("message {}", &full_name[1..])), &fields, &oneofs)?;

        let mut nested = Vec::new();
        for (i, inner) in message.nested_type.iter().enumerate() {
            if inner.options.as_ref().is_some_and(|o| o.map_entry()) {
                continue;
            }
            let inner_site = site.child(path::MESSAGE_NESTED, i);
            nested.push(Item::Message(Box::new(self.message(&inner_site, &full_name, &inner_module, inner)?)));
        }
        for (i, enumeration) in message.enum_type.iter().enumerate() {
            nested.push(Item::Enum(self.enumeration(&site.child(path::MESSAGE_ENUM, i), &full_name, enumeration)?));
        }

        let mut taken: BTreeSet<String> = BTreeSet::new();
        for name in fields.iter().map(|f| &f.rust_name).chain(oneofs.iter().map(|o| &o.rust_field)) {
            if !taken.insert(name.clone()) {
                return Err(CodegenError::at(
                    element(format!("message {}", &full_name[1..])),
                    format!("two fields or oneofs map to the Rust field name `{name}`"),
                )
                .with_hint("rename one of them"));
            }
        }
        let mut extensions = Vec::new();
        for (i, field) in message.extension.iter().enumerate() {
            extensions.push(self.extension(&site.child(path::MESSAGE_EXTENSION, i), &full_name, field)?);
        }
        check_extension_names(site.file.name(), &format!("message {}", &full_name[1..]), &extensions, &[])?;
        let mut unknown_fields = "unknown_fields".to_owned();
        while taken.contains(&unknown_fields) {
            unknown_fields.push('_');
        }
        let oneof_names: Vec<&str> = oneofs.iter().map(|o| o.enum_name.as_str()).collect();
        check_unique_names(site.file.name(), &format!("message {}", &full_name[1..]), &nested, &oneof_names)?;

        let mut attributes: Vec<String> = self.options.type_attributes.all(&full_name).cloned().collect();
        attributes.extend(self.options.message_attributes.all(&full_name).cloned());
        let package = site.file.package().to_owned();
        let name_in_package =
            if package.is_empty() { full_name[1..].to_owned() } else { full_name[package.len() + 2..].to_owned() };
        let deprecated = message.options.as_ref().is_some_and(|o| o.deprecated());
        let uses_deprecated = deprecated
            || message.field.iter().any(|f| {
                f.options.as_ref().is_some_and(|o| o.deprecated())
                    || (!f.type_name().is_empty() && self.type_uses_deprecated(f.type_name()))
            });
        let eq_hash = !self.no_eq_hash().contains(&full_name);
        let keep_unknown = !self.options.drop_unknown_fields.any(&full_name);
        let copy = !keep_unknown
            && oneofs.is_empty()
            && fields.iter().all(|f| {
                matches!(f.cardinality, Cardinality::Implicit | Cardinality::Optional | Cardinality::Required)
                    && match &f.value {
                        ValueType::Scalar(scalar) => !matches!(scalar, Scalar::String | Scalar::Bytes { .. }),
                        ValueType::Enum(_) => true,
                        _ => false,
                    }
            });
        Ok(Message {
            docs: self.docs(site.comments.get(&site.path), &full_name),
            deprecated,
            uses_deprecated,
            eq_hash,
            full_name,
            name_in_package,
            package,
            rust_name,
            module_name,
            module: module.to_vec(),
            attributes,
            fields,
            oneofs,
            nested,
            unknown_fields,
            keep_unknown,
            copy,
            // MessageSet extensions have a wire format of their own (items in groups), which the unknown fields
            // keep but `Extendable` does not decode.
            extendable: keep_unknown && !message.extension_range.is_empty() && !is_message_set(message),
            extensions,
        })
    }

    fn field(&self, site: &Site<'_>, message_name: &str, field: &FieldDescriptorProto) -> Result<Field, CodegenError> {
        let field_path = format!("{message_name}.{}", field.name());
        let element = format!("{}: field {}", site.file.name(), &field_path[1..]);
        let proto2 = is_proto2(site.file);
        let features = self.field_features(site.file, message_name, field);
        let number = field_number(field.number()).map_err(|m| CodegenError::at(&element, m))?;
        let repeated = field.label() == Label::Repeated;

        let map_entry = match field.r#type() {
            Type::Message if repeated => {
                self.index.message(field.type_name()).filter(|m| m.options.as_ref().is_some_and(|o| o.map_entry()))
            }
            _ => None,
        };
        let value;
        let cardinality;
        if let Some(entry) = map_entry {
            let key_field = entry.field.iter().find(|f| f.number() == 1);
            let value_field = entry.field.iter().find(|f| f.number() == 2);
            let (Some(key_field), Some(value_field)) = (key_field, value_field) else {
                return Err(CodegenError::at(&element, "map entry without key or value field"));
            };
            let key = match self.value_type(&element, &field_path, key_field, false)? {
                ValueType::Scalar(key) if !matches!(key, Scalar::Double | Scalar::Float | Scalar::Bytes { .. }) => key,
                _ => return Err(CodegenError::at(&element, "map keys must be integers, bool or string")),
            };
            // A map's values are length-prefixed whatever the features say, as protoc's runtimes have it.
            value = self.value_type(&element, &field_path, value_field, false)?;
            cardinality = Cardinality::Map {
                key,
                value: Box::new(value.clone()),
                btree: self.options.btree_map.any(&field_path),
            };
        } else {
            value = self.value_type(&element, &field_path, field, features.is_some_and(|f| f.delimited))?;
            let is_message = matches!(value, ValueType::Message { .. });
            let packable =
                matches!(&value, ValueType::Scalar(s) if s.packable()) || matches!(value, ValueType::Enum(_));
            cardinality = match features {
                _ if repeated => {
                    let packed = match (features, field.options.as_ref().and_then(|o| o.packed)) {
                        (Some(features), _) => features.packed && packable,
                        (None, Some(packed)) => packed && packable,
                        (None, None) => packable && !proto2,
                    };
                    Cardinality::Repeated { packed }
                }
                _ if is_message => Cardinality::Optional,
                Some(features) => match features.presence {
                    Presence::Explicit => Cardinality::Optional,
                    Presence::Implicit => Cardinality::Implicit,
                    Presence::LegacyRequired => Cardinality::Required,
                },
                None if field.proto3_optional() || (proto2 && field.label() == Label::Optional) => {
                    Cardinality::Optional
                }
                None if field.label() == Label::Required => Cardinality::Required,
                None => Cardinality::Implicit,
            };
        }
        let singular_message = matches!(value, ValueType::Message { .. })
            && matches!(cardinality, Cardinality::Optional | Cardinality::Required);
        let boxed = singular_message && self.reaches(field.type_name(), message_name);
        let default = defaults::lower(field, &value, self.index).map_err(|m| CodegenError::at(&element, m))?;
        let rust_name = snake(field.name());
        let json_name = field.json_name.clone().unwrap_or_else(|| json_name(field.name()));
        Ok(Field {
            proto_name: field.name().to_owned(),
            number,
            rust_name,
            json_name,
            null_value: field.type_name() == ".google.protobuf.NullValue",
            docs: self.docs(site.comments.get(&site.path), &field_path),
            deprecated: field.options.as_ref().is_some_and(|o| o.deprecated()),
            attributes: self.options.field_attributes.all(&field_path).cloned().collect(),
            value,
            cardinality,
            boxed,
            default,
        })
    }

    /// An `extend` field declared in `scope` (the package or message, with a leading dot).
    fn extension(&self, site: &Site<'_>, scope: &str, field: &FieldDescriptorProto) -> Result<Extension, CodegenError> {
        let field_path = format!("{scope}.{}", field.name());
        let element = format!("{}: extension {}", site.file.name(), &field_path[1..]);
        let number = u32::try_from(field.number())
            .ok()
            .filter(|n| (1..=MAX_FIELD_NUMBER as u32).contains(n))
            .ok_or_else(|| CodegenError::at(&element, format!("field number {} is out of range", field.number())))?;
        let extendee = self.index.message(field.extendee()).ok_or_else(|| {
            CodegenError::at(&element, format!("extends `{}`, which is not a message of the request", field.extendee()))
        })?;
        if !extendee.extension_range.iter().any(|r| (r.start()..r.end()).contains(&field.number())) {
            return Err(CodegenError::at(
                &element,
                format!("number {number} is not in an extension range of `{}`", &field.extendee()[1..]),
            ));
        }
        let features = is_editions(site.file).then(|| self.editions.resolve(site.file.name(), &field_path, None));
        let value = self.value_type(&element, &field_path, field, features.is_some_and(|f| f.delimited))?;
        let repeated = (field.label() == Label::Repeated).then(|| {
            let packable =
                matches!(&value, ValueType::Scalar(s) if s.packable()) || matches!(value, ValueType::Enum(_));
            let packed = match (features, field.options.as_ref().and_then(|o| o.packed)) {
                (Some(features), _) => features.packed,
                (None, Some(packed)) => packed,
                (None, None) => !is_proto2(site.file),
            };
            packable && packed
        });
        Ok(Extension {
            full_name: field_path[1..].to_owned(),
            rust_name: constant(field.name()),
            number,
            extendee: self.type_path(field.extendee()),
            // Another crate's type implements `Extendable` only if rsgrpc generated it, which is unknown here,
            // except for the runtime's well-known types; registering an extension of one that does not
            // would not compile, so only those are registered.
            extendee_extendable: match self.type_path(field.extendee()) {
                TypePath::Extern(path) => {
                    field.extendee().starts_with(".google.protobuf.")
                        && path.starts_with(&format!("{}::well_known::", self.options.runtime_crate))
                }
                TypePath::Local { .. } => {
                    !self.options.drop_unknown_fields.any(field.extendee()) && !is_message_set(extendee)
                }
            },
            value,
            repeated,
            docs: self.docs(site.comments.get(&site.path), &field_path),
            deprecated: field.options.as_ref().is_some_and(|o| o.deprecated()),
        })
    }

    /// A field's value type; `delimited` when an editions feature asks for the group wire format.
    fn value_type(
        &self,
        element: &str,
        field_path: &str,
        field: &FieldDescriptorProto,
        delimited: bool,
    ) -> Result<ValueType, CodegenError> {
        let Some(field_type) = field.r#type.and_then(|t| Type::try_from(t).ok()) else {
            return Err(CodegenError::at(element, format!("field has no valid type ({:?})", field.r#type)));
        };
        Ok(match field_type {
            Type::Double => ValueType::Scalar(Scalar::Double),
            Type::Float => ValueType::Scalar(Scalar::Float),
            Type::Int64 => ValueType::Scalar(Scalar::Int64),
            Type::Uint64 => ValueType::Scalar(Scalar::Uint64),
            Type::Int32 => ValueType::Scalar(Scalar::Int32),
            Type::Fixed64 => ValueType::Scalar(Scalar::Fixed64),
            Type::Fixed32 => ValueType::Scalar(Scalar::Fixed32),
            Type::Bool => ValueType::Scalar(Scalar::Bool),
            Type::String => ValueType::Scalar(Scalar::String),
            Type::Bytes => ValueType::Scalar(Scalar::Bytes { shared: self.options.bytes.any(field_path) }),
            Type::Uint32 => ValueType::Scalar(Scalar::Uint32),
            Type::Sfixed32 => ValueType::Scalar(Scalar::Sfixed32),
            Type::Sfixed64 => ValueType::Scalar(Scalar::Sfixed64),
            Type::Sint32 => ValueType::Scalar(Scalar::Sint32),
            Type::Sint64 => ValueType::Scalar(Scalar::Sint64),
            Type::Message | Type::Group => {
                self.index.message(field.type_name()).ok_or_else(|| self.unknown_type(element, field))?;
                let group = field.r#type() == Type::Group || delimited;
                ValueType::Message { path: self.type_path(field.type_name()), group }
            }
            Type::Enum => {
                let entry = self.index.get(field.type_name()).ok_or_else(|| self.unknown_type(element, field))?;
                let Definition::Enum(enumeration) = entry.definition else {
                    return Err(self.unknown_type(element, field));
                };
                let first = enumeration
                    .value
                    .first()
                    .ok_or_else(|| CodegenError::at(element, format!("enum {} has no values", field.type_name())))?;
                ValueType::Enum(EnumRef {
                    path: self.type_path(field.type_name()),
                    closed: self.enum_closed(field.type_name()),
                    first_variant: variant_names(enumeration).into_iter().next().unwrap_or_else(|| camel(first.name())),
                })
            }
        })
    }

    /// The resolved features of a field of message `message_name` in an editions file (`None` otherwise).
    fn field_features(
        &self,
        file: &FileDescriptorProto,
        message_name: &str,
        field: &FieldDescriptorProto,
    ) -> Option<Features> {
        if !is_editions(file) {
            return None;
        }
        let oneof = field.oneof_index.and_then(|index| {
            let message = self.index.message(message_name)?;
            let decl = message.oneof_decl.get(usize::try_from(index).ok()?)?;
            Some(format!("{message_name}.{}", decl.name()))
        });
        Some(self.editions.resolve(file.name(), &format!("{message_name}.{}", field.name()), oneof.as_deref()))
    }

    /// Whether an enum is closed: declared in a proto2 file, or `enum_type = CLOSED` in an editions file.
    fn enum_closed(&self, full_name: &str) -> bool {
        match self.index.get(full_name) {
            Some(entry) if is_editions(entry.file) => {
                self.editions.resolve(entry.file.name(), full_name, None).closed_enum
            }
            Some(entry) => entry.is_proto2(),
            None => false,
        }
    }

    fn unknown_type(&self, element: &str, field: &FieldDescriptorProto) -> CodegenError {
        CodegenError::at(element, format!("type `{}` is not defined in the request", field.type_name()))
    }

    /// The Rust path of a type, from the root of the generated tree or from an extern path.
    fn type_path(&self, full_name: &str) -> TypePath {
        let entry = self.index.get(full_name).expect("resolved types are indexed");
        let package: Vec<&str> =
            if entry.package().is_empty() { Vec::new() } else { entry.package().split('.').collect() };
        let proto_segments: Vec<&str> =
            package.iter().chain(entry.parents.iter()).copied().chain(std::iter::once(entry.name)).collect();
        let mut rust_segments: Vec<String> =
            package.iter().chain(entry.parents.iter()).map(|segment| snake(segment)).collect();
        rust_segments.push(camel(entry.name));
        for (prefix, rust) in &self.extern_paths {
            let prefix_segments: Vec<&str> = prefix[1..].split('.').filter(|s| !s.is_empty()).collect();
            if proto_segments.starts_with(&prefix_segments) {
                let rest = &rust_segments[prefix_segments.len()..];
                let mut path = rust.clone();
                for segment in rest {
                    path.push_str("::");
                    path.push_str(segment);
                }
                return TypePath::Extern(path);
            }
        }
        let name = rust_segments.pop().expect("a type has a name");
        TypePath::Local { modules: rust_segments, name }
    }

    /// Whether a value of message `from` can contain a `to` without a `Vec` or map in between; a field of
    /// type `from` in `to` must then be boxed, or `to` would have infinite size.
    fn reaches(&self, from: &str, to: &str) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(name) = stack.pop() {
            if name == to {
                return true;
            }
            // Types not in the index have been reported where they are used; externs cannot point back to us.
            let Some(message) = self.index.message(&name) else { continue };
            if !seen.insert(name.clone()) || self.is_extern(&name) {
                continue;
            }
            for field in &message.field {
                let singular = field.label() != Label::Repeated;
                if singular && matches!(field.r#type(), Type::Message | Type::Group) {
                    stack.push(field.type_name().to_owned());
                }
            }
        }
        false
    }

    /// Every message that cannot derive `Eq` and `Hash`: those with a float, a `HashMap` or a type of another
    /// crate (whose derives are unknown; the runtime's well-known types follow these rules) in a field, and
    /// then every message with a field of one of those, to a fixed point over the reverse field graph.
    fn no_eq_hash(&self) -> &HashSet<String> {
        self.no_eq_hash.get_or_init(|| {
            let mut bad: HashSet<String> = HashSet::new();
            let mut holders: HashMap<&str, Vec<&str>> = HashMap::new();
            for (name, message) in self.index.messages() {
                for field in &message.field {
                    let type_name = field.type_name();
                    // A type missing from the request is reported where it is used; here it only counts as foreign.
                    let foreign = !type_name.is_empty()
                        && (self.index.get(type_name).is_none()
                            || (self.is_extern(type_name) && !type_name.starts_with(".google.protobuf.")));
                    let float = matches!(field.r#type(), Type::Float | Type::Double);
                    let entry =
                        self.index.message(type_name).filter(|m| m.options.as_ref().is_some_and(|o| o.map_entry()));
                    let hash_map = entry.is_some() && !self.options.btree_map.any(&format!("{name}.{}", field.name()));
                    if float || foreign || hash_map {
                        bad.insert(name.to_owned());
                    }
                    if !type_name.is_empty() {
                        holders.entry(type_name).or_default().push(name);
                    }
                }
            }
            let mut queue: Vec<String> = bad.iter().cloned().collect();
            while let Some(name) = queue.pop() {
                for holder in holders.get(name.as_str()).into_iter().flatten() {
                    if bad.insert((*holder).to_owned()) {
                        queue.push((*holder).to_owned());
                    }
                }
            }
            bad
        })
    }

    fn is_extern(&self, full_name: &str) -> bool {
        matches!(self.type_path(full_name), TypePath::Extern(_))
    }

    fn enumeration(
        &self,
        site: &Site<'_>,
        prefix: &str,
        enumeration: &EnumDescriptorProto,
    ) -> Result<Enum, CodegenError> {
        let full_name = format!("{prefix}.{}", enumeration.name());
        if enumeration.value.is_empty() {
            return Err(CodegenError::at(
                format!("{}: enum {}", site.file.name(), &full_name[1..]),
                "enum has no values",
            ));
        }
        let names = variant_names(enumeration);
        let mut values: Vec<EnumValue> = Vec::new();
        let mut aliases = Vec::new();
        for (i, (value, rust_name)) in enumeration.value.iter().zip(names).enumerate() {
            let value_path = format!("{full_name}.{}", value.name());
            let lowered = EnumValue {
                proto_name: value.name().to_owned(),
                rust_name,
                number: value.number(),
                docs: self.docs(site.comments.get(&site.child(path::ENUM_VALUE, i).path), &value_path),
                deprecated: value.options.as_ref().is_some_and(|o| o.deprecated()),
            };
            match values.iter().find(|v| v.number == lowered.number) {
                Some(original) => {
                    let target = original.rust_name.clone();
                    aliases.push((lowered, target));
                }
                None => values.push(lowered),
            }
        }
        let mut attributes: Vec<String> = self.options.type_attributes.all(&full_name).cloned().collect();
        attributes.extend(self.options.enum_attributes.all(&full_name).cloned());
        let deprecated = enumeration.options.as_ref().is_some_and(|o| o.deprecated());
        let closed = if is_editions(site.file) {
            self.editions.resolve(site.file.name(), &full_name, None).closed_enum
        } else {
            is_proto2(site.file)
        };
        Ok(Enum {
            docs: self.docs(site.comments.get(&site.path), &full_name),
            deprecated,
            uses_deprecated: deprecated
                || values.iter().chain(aliases.iter().map(|(alias, _)| alias)).any(|v| v.deprecated),
            full_name,
            rust_name: camel(enumeration.name()),
            attributes,
            values,
            aliases,
            closed,
        })
    }

    /// Whether code using the message, enum or map entry `type_name` names something deprecated: the type
    /// itself, one of an enum's values (a default or accessor may name it), or a map entry's value type.
    fn type_uses_deprecated(&self, type_name: &str) -> bool {
        if let Some(message) = self.index.message(type_name) {
            if message.options.as_ref().is_some_and(|o| o.map_entry()) {
                return message.field.iter().any(|f| {
                    !f.type_name().is_empty() && f.type_name() != type_name && self.type_uses_deprecated(f.type_name())
                });
            }
            return message.options.as_ref().is_some_and(|o| o.deprecated());
        }
        self.index.enumeration(type_name).is_some_and(|e| {
            e.options.as_ref().is_some_and(|o| o.deprecated())
                || e.value.iter().any(|v| v.options.as_ref().is_some_and(|o| o.deprecated()))
        })
    }

    fn docs(&self, comment: Option<&str>, item_path: &str) -> Option<String> {
        if self.options.disable_comments.any(item_path) {
            return None;
        }
        comment.map(str::to_owned)
    }
}

/// protoc's default JSON name: underscores dropped, the letter after each one uppercased.
fn json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn variant_names(enumeration: &EnumDescriptorProto) -> Vec<String> {
    let value_names: Vec<&str> = enumeration.value.iter().map(|v| v.name()).collect();
    enum_variants(enumeration.name(), &value_names)
}

/// Fails when two types (or oneof enums) of one Rust module would get the same name.
fn check_unique_names(file: &str, scope: &str, items: &[Item], extra: &[&str]) -> Result<(), CodegenError> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let named = items.iter().map(|item| match item {
        Item::Message(m) => (m.rust_name.clone(), m.full_name[1..].to_owned()),
        Item::Enum(e) => (e.rust_name.clone(), e.full_name[1..].to_owned()),
    });
    let oneofs = extra.iter().map(|name| (name.to_string(), format!("oneof {name}")));
    for (rust, proto) in named.chain(oneofs) {
        if let Some(first) = seen.insert(rust.clone(), proto.clone()) {
            return Err(CodegenError::at(
                format!("{file}: {scope}"),
                format!("`{first}` and `{proto}` both map to the Rust name `{rust}`"),
            )
            .with_hint("rename one of them"));
        }
    }
    Ok(())
}

/// Whether a message uses the MessageSet wire format (`option message_set_wire_format = true`).
fn is_message_set(message: &DescriptorProto) -> bool {
    message.options.as_ref().is_some_and(|o| o.message_set_wire_format())
}

/// Constants every package module holds besides its extensions (see `emit::service::descriptors`).
const PACKAGE_CONSTANTS: &[&str] = &["FILE_DESCRIPTOR_SET", "FILE_DESCRIPTOR_SETS"];

/// Fails when two extension constants of one module, or one and a constant the module already holds, would
/// get the same name.
fn check_extension_names(
    file: &str,
    scope: &str,
    extensions: &[Extension],
    taken: &[&str],
) -> Result<(), CodegenError> {
    let mut seen: BTreeMap<&str, &str> = taken.iter().map(|name| (*name, "a generated constant")).collect();
    for extension in extensions {
        if let Some(first) = seen.insert(&extension.rust_name, &extension.full_name) {
            return Err(CodegenError::at(
                format!("{file}: {scope}"),
                format!(
                    "extension `{}` and {first} both map to the Rust constant `{}`",
                    extension.full_name, extension.rust_name
                ),
            )
            .with_hint("rename the extension"));
        }
    }
    Ok(())
}

/// The snake-case base of a service's modules (`greeter` for `greeter_client`): a name case conversion
/// turns into digits (`_1` -> `1`) gets a leading `_`, or `1_client` would be no identifier.
fn module_base(service: &str) -> String {
    let base = heck::ToSnakeCase::to_snake_case(service);
    if base.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{base}")
    } else {
        base
    }
}

/// The largest field number protobuf allows (2^29 - 1).
const MAX_FIELD_NUMBER: i32 = (1 << 29) - 1;

/// A field number as the wire format allows it: 1 to 2^29 - 1, outside the range protobuf reserves for
/// itself (19000 to 19999), which protoc refuses too.
fn field_number(number: i32) -> Result<u32, String> {
    if !(1..=MAX_FIELD_NUMBER).contains(&number) {
        return Err(format!("field number {number} is out of range (1 to {MAX_FIELD_NUMBER})"));
    }
    if (19000..=19999).contains(&number) {
        return Err(format!("field number {number} is reserved for the protobuf implementation (19000 to 19999)"));
    }
    Ok(number as u32)
}

/// Fails when two fields (oneof members included) share a number, or two members of a oneof would get the
/// same variant name: either gives generated code that does not compile or reads the wrong field.
fn check_field_numbers(element: &str, fields: &[Field], oneofs: &[Oneof]) -> Result<(), CodegenError> {
    let mut numbers: BTreeMap<u32, &str> = BTreeMap::new();
    let members = oneofs.iter().flat_map(|oneof| &oneof.fields);
    for field in fields.iter().chain(members) {
        if let Some(first) = numbers.insert(field.number, &field.proto_name) {
            return Err(CodegenError::at(
                element,
                format!("fields `{first}` and `{}` both have number {}", field.proto_name, field.number),
            ));
        }
    }
    for oneof in oneofs {
        let mut variants: BTreeMap<String, &str> = BTreeMap::new();
        for field in &oneof.fields {
            if let Some(first) = variants.insert(camel(&field.proto_name), &field.proto_name) {
                return Err(CodegenError::at(
                    element,
                    format!(
                        "oneof `{}`: members `{first}` and `{}` both map to the Rust variant `{}`",
                        oneof.proto_name,
                        field.proto_name,
                        camel(&field.proto_name)
                    ),
                )
                .with_hint("rename one of them"));
            }
        }
    }
    Ok(())
}

/// Fails when two modules of one Rust module would get the same name: a message's module (for its nested
/// types and oneofs) and a service's client or server module (`FooServer`'s `foo_server`, service `Foo`'s
/// `foo_server`), or two services (`Foo`, `foo`).
fn check_unique_modules(file: &str, scope: &str, items: &[Item], services: &[Service]) -> Result<(), CodegenError> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let messages = items.iter().filter_map(|item| match item {
        Item::Message(m) if !m.nested.is_empty() || !m.oneofs.is_empty() => {
            Some((m.module_name.clone(), format!("message {}", &m.full_name[1..])))
        }
        _ => None,
    });
    let services = services.iter().flat_map(|service| {
        ["client", "server"]
            .map(|side| (escape(&format!("{}_{side}", service.module_base)), format!("service {}", service.full_name)))
    });
    for (module, owner) in messages.chain(services) {
        match seen.insert(module.clone(), owner.clone()) {
            Some(first) if first != owner => {
                return Err(CodegenError::at(
                    format!("{file}: {scope}"),
                    format!("{first} and {owner} both need the Rust module `{module}`"),
                )
                .with_hint("rename one of them"));
            }
            _ => {}
        }
    }
    Ok(())
}
