//! The descriptor index: every message and enum of a request by fully qualified name, with the file and
//! package it comes from, so that any type reference can be resolved in one lookup.

use std::collections::HashMap;

use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};

/// A message or enum definition.
#[derive(Debug, Clone, Copy)]
pub enum Definition<'a> {
    /// A message (also a group's or a map entry's message).
    Message(&'a DescriptorProto),
    /// An enum.
    Enum(&'a EnumDescriptorProto),
}

/// What the index knows about one type.
#[derive(Debug, Clone)]
pub struct TypeEntry<'a> {
    /// The definition.
    pub definition: Definition<'a>,
    /// The file that defines it.
    pub file: &'a FileDescriptorProto,
    /// Names of the enclosing messages, outermost first (empty for a top-level type).
    pub parents: Vec<&'a str>,
    /// The type's own name.
    pub name: &'a str,
}

impl TypeEntry<'_> {
    /// The proto package of the defining file (empty when it has none).
    pub fn package(&self) -> &str {
        self.file.package()
    }

    /// Whether the type comes from a proto2 file (whose enums are closed and whose fields have presence).
    pub fn is_proto2(&self) -> bool {
        is_proto2(self.file)
    }
}

/// Whether a file uses proto2 semantics.
pub fn is_proto2(file: &FileDescriptorProto) -> bool {
    matches!(file.syntax.as_deref(), None | Some("") | Some("proto2"))
}

/// Every type of a request, by fully qualified name with a leading dot (`.pkg.Outer.Inner`).
#[derive(Debug, Default)]
pub struct DescriptorIndex<'a> {
    types: HashMap<String, TypeEntry<'a>>,
    files: HashMap<&'a str, &'a FileDescriptorProto>,
}

impl<'a> DescriptorIndex<'a> {
    /// Indexes all files.
    pub fn new(files: &'a [FileDescriptorProto]) -> Self {
        let mut index = DescriptorIndex::default();
        for file in files {
            index.files.insert(file.name(), file);
            let prefix = if file.package().is_empty() { String::new() } else { format!(".{}", file.package()) };
            for message in &file.message_type {
                index.add_message(file, &prefix, &[], message);
            }
            for enumeration in &file.enum_type {
                index.add_enum(file, &prefix, &[], enumeration);
            }
        }
        index
    }

    fn add_message(
        &mut self,
        file: &'a FileDescriptorProto,
        prefix: &str,
        parents: &[&'a str],
        message: &'a DescriptorProto,
    ) {
        let full_name = format!("{prefix}.{}", message.name());
        let entry = TypeEntry {
            definition: Definition::Message(message),
            file,
            parents: parents.to_vec(),
            name: message.name(),
        };
        let mut inner_parents = parents.to_vec();
        inner_parents.push(message.name());
        for nested in &message.nested_type {
            self.add_message(file, &full_name, &inner_parents, nested);
        }
        for enumeration in &message.enum_type {
            self.add_enum(file, &full_name, &inner_parents, enumeration);
        }
        self.types.insert(full_name, entry);
    }

    fn add_enum(
        &mut self,
        file: &'a FileDescriptorProto,
        prefix: &str,
        parents: &[&'a str],
        enumeration: &'a EnumDescriptorProto,
    ) {
        let entry = TypeEntry {
            definition: Definition::Enum(enumeration),
            file,
            parents: parents.to_vec(),
            name: enumeration.name(),
        };
        self.types.insert(format!("{prefix}.{}", enumeration.name()), entry);
    }

    /// The type with this fully qualified name.
    pub fn get(&self, full_name: &str) -> Option<&TypeEntry<'a>> {
        self.types.get(full_name)
    }

    /// The message with this fully qualified name.
    pub fn message(&self, full_name: &str) -> Option<&'a DescriptorProto> {
        match self.get(full_name)?.definition {
            Definition::Message(message) => Some(message),
            Definition::Enum(_) => None,
        }
    }

    /// The enum with this fully qualified name.
    pub fn enumeration(&self, full_name: &str) -> Option<&'a EnumDescriptorProto> {
        match self.get(full_name)?.definition {
            Definition::Enum(enumeration) => Some(enumeration),
            Definition::Message(_) => None,
        }
    }

    /// Every message, with its fully qualified name (in no particular order).
    pub fn messages(&self) -> impl Iterator<Item = (&str, &'a DescriptorProto)> + '_ {
        self.types.iter().filter_map(|(name, entry)| match entry.definition {
            Definition::Message(message) => Some((name.as_str(), message)),
            Definition::Enum(_) => None,
        })
    }

    /// The file with this name.
    pub fn file(&self, name: &str) -> Option<&'a FileDescriptorProto> {
        self.files.get(name).copied()
    }
}
