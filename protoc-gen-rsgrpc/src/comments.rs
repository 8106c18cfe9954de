//! Proto comments (from `SourceCodeInfo`) to rustdoc, made safe for rustdoc and doctests.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use prost_types::FileDescriptorProto;
use quote::quote;

/// Field numbers used in `SourceCodeInfo` paths (see descriptor.proto).
pub mod path {
    /// `FileDescriptorProto.message_type`
    pub const FILE_MESSAGE: i32 = 4;
    /// `FileDescriptorProto.enum_type`
    pub const FILE_ENUM: i32 = 5;
    /// `FileDescriptorProto.service`
    pub const FILE_SERVICE: i32 = 6;
    /// `FileDescriptorProto.extension`
    pub const FILE_EXTENSION: i32 = 7;
    /// `DescriptorProto.extension`
    pub const MESSAGE_EXTENSION: i32 = 6;
    /// `DescriptorProto.field`
    pub const MESSAGE_FIELD: i32 = 2;
    /// `DescriptorProto.nested_type`
    pub const MESSAGE_NESTED: i32 = 3;
    /// `DescriptorProto.enum_type`
    pub const MESSAGE_ENUM: i32 = 4;
    /// `DescriptorProto.oneof_decl`
    pub const MESSAGE_ONEOF: i32 = 8;
    /// `EnumDescriptorProto.value`
    pub const ENUM_VALUE: i32 = 2;
    /// `ServiceDescriptorProto.method`
    pub const SERVICE_METHOD: i32 = 2;
}

/// The comments of one file, by `SourceCodeInfo` path.
#[derive(Debug, Default)]
pub struct FileComments {
    by_path: HashMap<Vec<i32>, String>,
}

impl FileComments {
    /// Collects the leading and trailing comments of every element of `file`.
    pub fn new(file: &FileDescriptorProto) -> Self {
        let mut by_path = HashMap::new();
        for location in file.source_code_info.iter().flat_map(|info| &info.location) {
            let mut text = String::new();
            for comment in [&location.leading_comments, &location.trailing_comments].into_iter().flatten() {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(comment.trim_end());
            }
            if !text.trim().is_empty() {
                by_path.entry(location.path.clone()).or_insert(text);
            }
        }
        FileComments { by_path }
    }

    /// The comment text of the element at `path`, if any.
    pub fn get(&self, path: &[i32]) -> Option<&str> {
        self.by_path.get(path).map(String::as_str)
    }
}

/// `#[doc = "..."]` attributes for a proto comment.
///
/// Proto comments are not written for rustdoc: indented or fenced code in them is rarely Rust, so every code
/// block is marked `text` (or it would run as a failing doctest), and stray brackets are escaped so that they
/// are not taken for intra-doc links.
pub fn doc_attributes(comment: Option<&str>) -> TokenStream {
    let Some(comment) = comment else { return TokenStream::new() };
    let lines = sanitize(comment);
    // Markdown reads a proto comment's list items and their unindented next lines as lazy continuations,
    // which clippy flags in the user's crate; the comment is written for protos, not Markdown, so allow it.
    let lists = lines.iter().any(|line| is_list_item(line.trim_start()));
    let allow = lists.then(|| quote!(#[allow(clippy::doc_lazy_continuation, clippy::doc_overindented_list_items)]));
    quote! { #( #[doc = #lines] )* #allow }
}

fn is_list_item(line: &str) -> bool {
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    line.starts_with("- ")
        || line.starts_with("* ")
        || line.starts_with("+ ")
        || (digits > 0 && (line[digits..].starts_with(". ") || line[digits..].starts_with(") ")))
}

fn sanitize(comment: &str) -> Vec<String> {
    let raw: Vec<&str> = comment.lines().collect();
    // protoc keeps the single space after `//`; drop one leading space so Markdown indentation is preserved.
    // rustc refuses a bare carriage return in a doc comment (`lines` only strips it before a `\n`).
    let lines: Vec<String> =
        raw.iter().map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end().replace('\r', "")).collect();
    let mut out: Vec<String> = Vec::new();
    let mut in_fence = false;
    let mut in_indented = false;
    let mut previous_blank = true;
    for line in lines {
        let blank = line.trim().is_empty();
        if in_indented && !blank && !line.starts_with("    ") {
            let trailing_blanks = out.iter().rev().take_while(|l| l.is_empty()).count();
            out.truncate(out.len() - trailing_blanks);
            out.push(" ```".to_owned());
            out.extend(std::iter::repeat_n(String::new(), trailing_blanks));
            in_indented = false;
        }
        if let Some(rest) = line.trim_start().strip_prefix("```") {
            in_fence = !in_fence;
            if in_fence && rest.trim().is_empty() {
                out.push(" ```text".to_owned());
            } else {
                out.push(format!(" {line}"));
            }
        } else if (in_fence || in_indented) && blank {
            out.push(String::new());
        } else if in_fence || in_indented {
            out.push(format!(" {line}"));
        } else if !blank && previous_blank && line.starts_with("    ") {
            out.push(" ```text".to_owned());
            out.push(format!(" {line}"));
            in_indented = true;
        } else if blank {
            out.push(String::new());
        } else {
            out.push(format!(" {}", escape_brackets(&line)));
        }
        previous_blank = blank;
    }
    if in_indented || in_fence {
        out.push(" ```".to_owned());
    }
    while out.last().is_some_and(|line| line.trim().is_empty()) {
        out.pop();
    }
    out
}

fn escape_brackets(line: &str) -> String {
    line.replace('[', "\\[").replace(']', "\\]")
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn code_blocks_become_text() {
        let input = " Intro.\n\n     let x = y(;\n\n ```\n code {\n ```\n Done [link].\n";
        let expected = [
            " Intro.",
            "",
            " ```text",
            "     let x = y(;",
            " ```",
            "",
            " ```text",
            " code {",
            " ```",
            " Done \\[link\\].",
        ];
        assert_eq!(sanitize(input), expected);
    }
}
