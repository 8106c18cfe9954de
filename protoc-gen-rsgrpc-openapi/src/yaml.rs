//! A JSON value written as YAML: block mappings and sequences, every string double-quoted (a YAML
//! double-quoted scalar accepts JSON's escapes), so no value can be read back as another type (`"2.0"`,
//! `"yes"`, `"null"`) and the output is the same bytes for the same value.

use serde_json::Value;

/// The YAML text of `value`, ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn indent(level: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', level * 2));
}

fn mapping(map: &serde_json::Map<String, Value>, level: usize, out: &mut String) {
    for (key, value) in map {
        indent(level, out);
        out.push_str(&key_text(key));
        out.push(':');
        child(value, level, out);
    }
}

fn sequence(items: &[Value], level: usize, out: &mut String) {
    for item in items {
        indent(level, out);
        out.push('-');
        match item {
            // A mapping in a sequence starts on the dash's line, its other keys indented under it.
            Value::Object(map) if !map.is_empty() => {
                let mut nested = String::new();
                mapping(map, level + 1, &mut nested);
                out.push(' ');
                out.push_str(&nested[(level + 1) * 2..]);
            }
            other => child(other, level, out),
        }
    }
}

/// The value after `key:` or `-`: inline for scalars and empty collections, else on the next lines.
fn child(value: &Value, level: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            mapping(map, level + 1, out);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(items, level + 1, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::String(text) => quoted(text),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        other => other.to_string(),
    }
}

/// A key unquoted when it can only be read as that string.
fn key_text(key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        key.to_owned()
    } else {
        quoted(key)
    }
}

/// JSON's string escapes, plus the characters YAML requires escaped and JSON leaves alone (DEL, the C1
/// controls, and the line and paragraph separators, which YAML would read as line breaks).
fn quoted(text: &str) -> String {
    let json = Value::String(text.to_owned()).to_string();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nesting_quoting_and_empty_collections() {
        let value = json!({
            "swagger": "2.0",
            "paths": {"/v1/{name}": {"get": {"tags": ["A"], "parameters": [{"in": "path", "name": "name"}]}}},
            "empty": {}, "none": [], "n": 1, "yes": true, "text": "a\u{7f}\"b\n"
        });
        let want = "\
empty: {}
\"n\": 1
none: []
paths:
  \"/v1/{name}\":
    get:
      parameters:
        - in: \"path\"
          name: \"name\"
      tags:
        - \"A\"
swagger: \"2.0\"
text: \"a\\u007f\\\"b\\n\"
\"yes\": true
";
        assert_eq!(to_yaml(&value), want);
    }
}
