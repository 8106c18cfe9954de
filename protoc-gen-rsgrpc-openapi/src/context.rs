//! What every part of a document is built from: the descriptor index, the options, the comments, the
//! parameters and the gateway's bindings, gathered once per request.

use std::collections::HashMap;

use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};
use rsgrpc_codegen::comments::{path, FileComments};
use rsgrpc_codegen::index::DescriptorIndex;
use rsgrpc_gateway_codegen::bindings::Bindings;

use crate::options::Annotations;
use crate::params::Params;

/// Proto comments as descriptions, by element.
#[derive(Debug, Default)]
pub struct Docs {
    /// Messages, enums, services and methods, by full name with a leading dot.
    elements: HashMap<String, String>,
    /// Fields and enum values, by their parent's full name and their own name.
    members: HashMap<(String, String), String>,
}

impl Docs {
    /// The comments of every element of `files`.
    pub fn new(files: &[FileDescriptorProto]) -> Self {
        let mut docs = Docs::default();
        for file in files {
            let comments = FileComments::new(file);
            let scope = if file.package().is_empty() { String::new() } else { format!(".{}", file.package()) };
            for (i, message) in file.message_type.iter().enumerate() {
                docs.message(&comments, &scope, message, vec![path::FILE_MESSAGE, i as i32]);
            }
            for (i, enumeration) in file.enum_type.iter().enumerate() {
                docs.enumeration(&comments, &scope, enumeration, vec![path::FILE_ENUM, i as i32]);
            }
            for (i, service) in file.service.iter().enumerate() {
                let at = vec![path::FILE_SERVICE, i as i32];
                let full = format!("{scope}.{}", service.name());
                docs.add(&comments, &at, full.clone());
                for (j, method) in service.method.iter().enumerate() {
                    let at = [at.clone(), vec![path::SERVICE_METHOD, j as i32]].concat();
                    docs.add(&comments, &at, format!("{full}.{}", method.name()));
                }
            }
        }
        docs
    }

    fn add(&mut self, comments: &FileComments, at: &[i32], key: String) {
        if let Some(text) = comments.get(at).map(clean).filter(|t| !t.is_empty()) {
            self.elements.insert(key, text);
        }
    }

    fn member(&mut self, comments: &FileComments, at: &[i32], parent: &str, name: &str) {
        if let Some(text) = comments.get(at).map(clean).filter(|t| !t.is_empty()) {
            self.members.insert((parent.to_owned(), name.to_owned()), text);
        }
    }

    fn message(&mut self, comments: &FileComments, scope: &str, message: &DescriptorProto, at: Vec<i32>) {
        let full = format!("{scope}.{}", message.name());
        self.add(comments, &at, full.clone());
        for (i, field) in message.field.iter().enumerate() {
            self.member(comments, &[at.clone(), vec![path::MESSAGE_FIELD, i as i32]].concat(), &full, field.name());
        }
        for (i, nested) in message.nested_type.iter().enumerate() {
            self.message(comments, &full, nested, [at.clone(), vec![path::MESSAGE_NESTED, i as i32]].concat());
        }
        for (i, nested) in message.enum_type.iter().enumerate() {
            self.enumeration(comments, &full, nested, [at.clone(), vec![path::MESSAGE_ENUM, i as i32]].concat());
        }
    }

    fn enumeration(&mut self, comments: &FileComments, scope: &str, enumeration: &EnumDescriptorProto, at: Vec<i32>) {
        let full = format!("{scope}.{}", enumeration.name());
        self.add(comments, &at, full.clone());
        for (i, value) in enumeration.value.iter().enumerate() {
            self.member(comments, &[at.clone(), vec![path::ENUM_VALUE, i as i32]].concat(), &full, value.name());
        }
    }

    /// The comment of a message, enum, service or method (full name with a leading dot).
    pub fn get(&self, full: &str) -> Option<&str> {
        self.elements.get(full).map(String::as_str)
    }

    /// The comment of a field or enum value of `parent` (full name with a leading dot).
    pub fn field(&self, parent: &str, name: &str) -> Option<&str> {
        self.members.get(&(parent.to_owned(), name.to_owned())).map(String::as_str)
    }
}

/// A comment without the space protoc keeps after each `//`, and without blank lines around it.
fn clean(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end()).collect();
    lines.join("\n").trim().to_owned()
}

/// Everything one request's documents are built from.
pub struct Context<'a> {
    /// Every file of the request.
    pub files: &'a [FileDescriptorProto],
    /// Its types by full name.
    pub index: DescriptorIndex<'a>,
    /// The options this plugin reads.
    pub annotations: &'a Annotations,
    /// The comments.
    pub docs: Docs,
    /// The parameters.
    pub params: &'a Params,
    /// The gateway's bindings, by `package.Service.Method`.
    pub bindings: Bindings,
}
