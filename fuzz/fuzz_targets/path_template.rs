//! The `google.api.http` path-template parser and matcher. Input: a template, a newline, a request path.
//! Properties: no panic; a parsed template parses again from its text to the same shape; matching any
//! path never panics and gives one value per variable; and a path built from the template's own segments
//! (literals percent-encoded, a value for each wildcard, the verb) matches it, with those values.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rsgrpc::gateway::{PathTemplate, Segment};

/// Percent-encodes all but RFC 3986's unreserved characters, so the matcher must decode to compare.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A path the template must match: each literal encoded, `*` as `v<i>`, `**` as `r<i>/s<i>`.
fn path_for(template: &PathTemplate) -> String {
    let mut path = String::new();
    for (i, segment) in template.segments().iter().enumerate() {
        path.push('/');
        match segment {
            Segment::Literal(literal) => path.push_str(&encode(literal)),
            Segment::Single => path.push_str(&format!("v{i}")),
            Segment::Rest => path.push_str(&format!("r{i}/s{i}")),
        }
    }
    if path.is_empty() {
        path.push('/');
    }
    if let Some(verb) = template.verb() {
        path.push(':');
        path.push_str(verb);
    }
    path
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (template_text, request_path) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(template) = PathTemplate::parse(template_text) else { return };
    let again = PathTemplate::parse(&template.to_string()).expect("a template's text parses again");
    assert!(again.same_shape(&template) && again.variables() == template.variables());

    if let Some(values) = template.match_path(request_path) {
        assert_eq!(values.len(), template.variables().len());
    }

    let own_path = path_for(&template);
    let Some(values) = template.match_path(&own_path) else {
        panic!("{template_text:?} does not match its own path {own_path:?}");
    };
    assert_eq!(values.len(), template.variables().len());
    for (variable, (name, _)) in template.variables().iter().zip(&values) {
        assert_eq!(*name, variable.name());
    }
});
