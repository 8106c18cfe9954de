//! The gateway's request builder: a query string (`a.b=1&tags=x&tags=y`, form-encoded), path values and
//! a JSON body merged into the request message's JSON by the binding's rule. Input: a rule selector byte,
//! then the query, a newline, path values (`name=value` per line), a NUL and the body. Properties: no
//! panic; the result is a JSON object; the query and path alone never hold a field no spec names.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rsgrpc::__fuzz::gateway_request_json;
use rsgrpc::gateway::{BodyRule, FieldKind, FieldSpec};
use serde_json::Value;

const QUERY: &[FieldSpec] = &[
    FieldSpec { path: "page_size", json_path: "pageSize", kind: FieldKind::Text, repeated: false },
    FieldSpec { path: "tags", json_path: "tags", kind: FieldKind::Text, repeated: true },
    FieldSpec { path: "filter.active", json_path: "filter.active", kind: FieldKind::Bool, repeated: false },
    FieldSpec { path: "filter.kind", json_path: "filter.kind", kind: FieldKind::Enum, repeated: false },
    FieldSpec { path: "filter", json_path: "filter", kind: FieldKind::Text, repeated: false },
    FieldSpec { path: "a.b.c.d", json_path: "a.b.cD", kind: FieldKind::Enum, repeated: true },
    FieldSpec { path: "labels", json_path: "labels", kind: FieldKind::Map(&FieldKind::Text), repeated: false },
];
const PATH: &[FieldSpec] = &[
    FieldSpec { path: "book.name", json_path: "book.name", kind: FieldKind::Text, repeated: false },
    FieldSpec { path: "book.id", json_path: "book.id", kind: FieldKind::Enum, repeated: false },
    FieldSpec { path: "page_size", json_path: "pageSize", kind: FieldKind::Bool, repeated: false },
];

/// Whether every leaf under `value` is at a path some spec names (or under one).
fn only_named(value: &Value, prefix: &str) -> bool {
    match value {
        Value::Object(object) => object.iter().all(|(key, inner)| {
            let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
            let named = QUERY.iter().chain(PATH).any(|spec| {
                spec.path == path || spec.path.starts_with(&format!("{path}.")) || path.starts_with(spec.path)
            });
            named && only_named(inner, &path)
        }),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&rule, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (head, body) = text.split_once('\0').unwrap_or((text, ""));
    let (query, path_lines) = head.split_once('\n').unwrap_or((head, ""));
    let path_values: Vec<(String, String)> = path_lines
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let body_rule = match rule % 3 {
        0 => BodyRule::None,
        1 => BodyRule::All,
        _ => BodyRule::Field("book"),
    };
    let body: Option<Value> = if body.is_empty() { None } else { serde_json::from_str(body).ok() };
    let Ok((json, params)) = gateway_request_json(body_rule, body, Some(query), QUERY, &path_values, PATH) else {
        return;
    };
    assert!(json.is_object() && params.is_object());
    // Path values name their field themselves; query parameters only set what the specs name.
    if path_values.is_empty() {
        assert!(only_named(&params, ""), "a query set a field no spec names: {params}");
    }
});
