//! Every proto name -> Rust name conversion, in one place, so the plugins never disagree with each other.
//!
//! Case conversion is heck's; Rust keywords become raw identifiers (`r#type`), except the four that cannot be
//! raw (`self`, `super`, `crate`, `Self`), which get a trailing underscore, as prost-build does.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// Keywords in any Rust edition, strict and reserved.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
    "true", "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers.
const NOT_RAW: &[&str] = &["self", "super", "crate", "Self", "_"];

/// Makes `name` usable as an identifier: `type` -> `r#type`, `self` -> `self_`.
pub fn escape(name: &str) -> String {
    if NOT_RAW.contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// A field, module or function name: snake_case, escaped.
pub fn snake(name: &str) -> String {
    escape(&usable(name.to_snake_case()))
}

/// A type or variant name: UpperCamelCase, escaped.
pub fn camel(name: &str) -> String {
    escape(&usable(name.to_upper_camel_case()))
}

/// A constant name: SHOUTY_SNAKE_CASE, escaped (`getBook` -> `GET_BOOK`, `_` -> `__`).
pub fn constant(name: &str) -> String {
    escape(&usable(name.to_shouty_snake_case()))
}

/// Case conversion drops underscores: `_` becomes empty and `_1` becomes `1`; keep such names identifiers.
fn usable(converted: String) -> String {
    if converted.is_empty() || converted.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{converted}")
    } else {
        converted
    }
}

/// The identifier for an already converted and escaped name (`r#type` becomes a raw identifier).
pub fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// The variant names of an enum, in value order: UpperCamelCase with the enum's own name stripped as a
/// prefix (`COLOR_RED` in `Color` -> `Red`), unless stripping would make two names equal or a name invalid.
pub fn enum_variants(enum_name: &str, value_names: &[&str]) -> Vec<String> {
    let prefix = enum_name.to_upper_camel_case();
    let stripped: Vec<String> = value_names
        .iter()
        .map(|value| {
            let camel = value.to_upper_camel_case();
            match camel.strip_prefix(&prefix) {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_uppercase()) => rest.to_owned(),
                _ => camel,
            }
        })
        .collect();
    let unique = stripped.iter().collect::<std::collections::BTreeSet<_>>().len() == stripped.len();
    let names = if unique { stripped } else { value_names.iter().map(|v| v.to_upper_camel_case()).collect() };
    // Names that differ only in case (`MOO` and `moo`, aliases) still collide: later ones get a `_` suffix.
    let mut taken = std::collections::BTreeSet::new();
    names
        .iter()
        .map(|name| {
            let mut name = escape(&usable(name.clone()));
            while !taken.insert(name.clone()) {
                name.push('_');
            }
            name
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names() {
        let cases = [
            ("f_double", "f_double"),
            ("fooBar", "foo_bar"),
            ("FooBar", "foo_bar"),
            ("type", "r#type"),
            ("self", "self_"),
            ("super", "super_"),
            ("crate", "crate_"),
            ("Self", "self_"),
            ("gen", "r#gen"),
            ("try", "r#try"),
            ("match", "r#match"),
            ("HTTPServer", "http_server"),
            ("unknown_fields", "unknown_fields"),
            ("_", "__"),
            ("_1", "_1"),
        ];
        for (input, expected) in cases {
            assert_eq!(snake(input), expected, "{input}");
        }
    }

    #[test]
    fn camel_names() {
        let cases = [
            ("Scalars", "Scalars"),
            ("foo_bar", "FooBar"),
            ("Self", "Self_"),
            ("Option", "Option"),
            ("HTTPRequest", "HttpRequest"),
            ("TopLevel", "TopLevel"),
            ("_", "__"),
            ("_9lives", "_9lives"),
        ];
        for (input, expected) in cases {
            assert_eq!(camel(input), expected, "{input}");
        }
    }

    #[test]
    fn constant_names() {
        // Names that case conversion empties or turns into a number must still be identifiers.
        let cases = [("getBook", "GET_BOOK"), ("GetBook", "GET_BOOK"), ("_", "__"), ("__", "__"), ("_1", "_1")];
        for (input, expected) in cases {
            assert_eq!(constant(input), expected, "{input}");
            ident(&constant(input));
        }
    }

    #[test]
    fn variant_prefixes() {
        assert_eq!(enum_variants("Color", &["COLOR_UNSPECIFIED", "COLOR_RED"]), ["Unspecified", "Red"]);
        assert_eq!(enum_variants("Plain", &["ZERO", "TWO_WORDS"]), ["Zero", "TwoWords"]);
        // Stripping would leave a name starting with a digit: keep the prefix.
        assert_eq!(enum_variants("Foo", &["FOO_1", "FOO_BAR"]), ["Foo1", "Bar"]);
        // Stripping would make two names equal: strip none.
        assert_eq!(enum_variants("Foo", &["FOO_BAR", "BAR"]), ["FooBar", "Bar"]);
        assert_eq!(enum_variants("Mode", &["NONE", "SELF", "TYPE"]), ["None", "Self_", "Type"]);
        // Equal after case conversion: the later one gets a suffix.
        assert_eq!(enum_variants("E", &["MOO", "moo", "bAz"]), ["Moo", "Moo_", "BAz"]);
    }

    #[test]
    fn raw_identifiers() {
        assert_eq!(ident("r#type").to_string(), "r#type");
        assert_eq!(ident("plain").to_string(), "plain");
    }
}
