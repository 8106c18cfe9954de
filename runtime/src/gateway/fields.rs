//! Building a request message from the parts of an HTTP request, as `google.api.http` maps them: the body
//! (all of it, or one field), then query parameters for the fields nothing else binds, then path
//! variables, which win over both. Values from the path and the query are text; the field's kind says
//! what JSON they become, and the message's proto3 JSON reader does the rest (so every type the JSON
//! mapping knows, well-known types included, works in a path or a query).

use serde_json::{Map, Value};

use crate::status::Status;

/// What JSON a path or query value becomes for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A JSON string: strings, bytes (base64), numbers of every width (the JSON mapping reads numbers
    /// from strings), and well-known types in their string forms (Timestamp, Duration, FieldMask,
    /// numeric and string wrappers).
    Text,
    /// `true` or `false`: bool and `google.protobuf.BoolValue`.
    Bool,
    /// An enum: by name, or by number.
    Enum,
    /// A map whose values are of the kind given: query parameters `name[key]=value` set its entries
    /// (grpc-gateway's query syntax for maps); a key may be given once.
    Map(&'static FieldKind),
}

/// A field a path variable or query parameter can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field path in proto names, `book.author_id`.
    pub path: &'static str,
    /// The same path in JSON names, `book.authorId` (query parameters may use either).
    pub json_path: &'static str,
    /// How its text becomes JSON.
    pub kind: FieldKind,
    /// Whether it is repeated (a query parameter may then be given several times).
    pub repeated: bool,
}

/// Which part of the request becomes the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRule {
    /// No body (GET, DELETE): every field comes from the path or the query.
    None,
    /// `body: "*"`: the body is the request message; no query parameters.
    All,
    /// `body: "field"`: the body is that top-level field.
    Field(&'static str),
}

fn bad_request(message: String) -> Status {
    Status::invalid_argument(message)
}

/// The JSON value of a path or query text for a field of `kind`.
fn value_of(text: &str, kind: FieldKind, what: &dyn Fn() -> String) -> Result<Value, Status> {
    match kind {
        FieldKind::Text => Ok(Value::String(text.to_owned())),
        // The spellings Go's strconv.ParseBool takes, as grpc-gateway reads bools.
        FieldKind::Bool => match text {
            "true" | "True" | "TRUE" | "t" | "T" | "1" => Ok(Value::Bool(true)),
            "false" | "False" | "FALSE" | "f" | "F" | "0" => Ok(Value::Bool(false)),
            _ => Err(bad_request(format!("{}: {text:?} is not true or false", what()))),
        },
        FieldKind::Enum => Ok(match text.parse::<i64>() {
            Ok(number) => Value::from(number),
            Err(_) => Value::String(text.to_owned()),
        }),
        FieldKind::Map(_) => Err(bad_request(format!("{}: a map is set by name[key]=value", what()))),
    }
}

/// Sets the field at `path` (`a.b.c`), creating the messages on the way; fails when the way is blocked by
/// a value that is not a message.
fn set_path(root: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), Status> {
    let mut object = root;
    let mut names = path.split('.').peekable();
    while let Some(name) = names.next() {
        if names.peek().is_none() {
            object.insert(name.to_owned(), value);
            return Ok(());
        }
        let next = object.entry(name.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if next.is_null() {
            *next = Value::Object(Map::new());
        }
        object = match next {
            Value::Object(inner) => inner,
            _ => return Err(bad_request(format!("field {path:?}: {name:?} is not a message in the request body"))),
        };
    }
    Ok(())
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space in a query); a malformed escape is an
/// error, as in Go's url.ParseQuery.
fn form_decode(text: &str) -> Result<String, Status> {
    let bytes = text.as_bytes();
    let malformed = bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'%' && !bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    if malformed {
        return Err(bad_request(format!("the query has a malformed percent-escape in {text:?}")));
    }
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| bad_request(format!("the query {text:?} is not UTF-8 once decoded")))
}

/// Whether a query parameter's name is `field`'s path: each dotted part in its proto or its JSON name
/// (`filter.min_pages`, `filter.minPages`), as grpc-gateway looks each part up by either.
fn names_field(name: &str, field: &FieldSpec) -> bool {
    if name == field.path || name == field.json_path {
        return true;
    }
    let (mut given, mut proto, mut json) = (name.split('.'), field.path.split('.'), field.json_path.split('.'));
    loop {
        match (given.next(), proto.next(), json.next()) {
            (None, None, None) => return true,
            (Some(part), Some(p), Some(j)) if part == p || part == j => {}
            _ => return false,
        }
    }
}

/// The request message's JSON: `body` (already parsed) placed by the rule, the query's parameters, then
/// the path's variables; and the same without the body, which is read strictly (unknown enum names in a
/// query are errors even when unknown body fields are ignored). Unknown query parameters are ignored, as
/// grpc-gateway does.
pub(crate) fn request_json(
    body_rule: BodyRule,
    body: Option<Value>,
    query: Option<&str>,
    query_fields: &[FieldSpec],
    path_values: &[(String, String)],
    path_fields: &[FieldSpec],
) -> Result<(Value, Value), Status> {
    let mut root = Map::new();
    let mut params = Map::new();
    match (body_rule, body) {
        (BodyRule::All, Some(Value::Object(object))) => root = object,
        (BodyRule::All, Some(Value::Null) | None) => {}
        (BodyRule::All, Some(_)) => return Err(bad_request("the request body must be a JSON object".into())),
        (BodyRule::Field(name), Some(value)) => {
            root.insert(name.to_owned(), value);
        }
        (BodyRule::Field(_) | BodyRule::None, _) => {}
    }
    if body_rule != BodyRule::All {
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            let mut given: Vec<(&FieldSpec, String, Vec<Value>)> = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let (key, value) = (form_decode(key)?, form_decode(value)?);
                // `name[key]`: an entry of a map field.
                let (name, entry) = match key.strip_suffix(']').and_then(|k| k.split_once('[')) {
                    Some((name, entry)) => (name, Some(entry)),
                    None => (key.as_str(), None),
                };
                let Some(field) = query_fields.iter().find(|f| names_field(name, f)) else {
                    continue;
                };
                let what = || format!("query parameter {key:?}");
                if let FieldKind::Map(kind) = field.kind {
                    let Some(entry) = entry else {
                        return Err(bad_request(format!(
                            "{}: field {:?} is a map, set by {name}[key]=value",
                            what(),
                            field.path
                        )));
                    };
                    let value = value_of(&value, *kind, &what)?;
                    let map = match given.iter_mut().find(|(f, ..)| f.path == field.path) {
                        Some((_, _, values)) => &mut values[0],
                        None => {
                            given.push((field, key.clone(), vec![Value::Object(Map::new())]));
                            &mut given.last_mut().expect("just pushed").2[0]
                        }
                    };
                    let Value::Object(map) = map else { unreachable!("a map's value is an object") };
                    if map.insert(entry.to_owned(), value).is_some() {
                        return Err(bad_request(format!("{}: the key {entry:?} is given more than once", what())));
                    }
                    continue;
                }
                if entry.is_some() {
                    return Err(bad_request(format!("{}: field {:?} is not a map", what(), field.path)));
                }
                let value = value_of(&value, field.kind, &what)?;
                match given.iter_mut().find(|(f, ..)| f.path == field.path) {
                    Some((_, _, values)) if field.repeated => values.push(value),
                    Some(_) => {
                        return Err(bad_request(format!(
                            "query parameter {key:?} is given more than once, but field {:?} is not repeated",
                            field.path
                        )))
                    }
                    None => given.push((field, key.clone(), vec![value])),
                }
            }
            for (field, _, mut values) in given {
                let value = if field.repeated { Value::Array(values) } else { values.remove(0) };
                set_path(&mut params, field.path, value.clone())?;
                set_path(&mut root, field.path, value)?;
            }
        }
    }
    for (name, text) in path_values {
        let kind = path_fields.iter().find(|f| f.path == name).map_or(FieldKind::Text, |f| f.kind);
        let what = || format!("path variable {name:?}");
        let value = value_of(text, kind, &what)?;
        set_path(&mut params, name, value.clone())?;
        set_path(&mut root, name, value)?;
    }
    Ok((Value::Object(root), Value::Object(params)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &[FieldSpec] = &[
        FieldSpec { path: "page_size", json_path: "pageSize", kind: FieldKind::Text, repeated: false },
        FieldSpec { path: "tags", json_path: "tags", kind: FieldKind::Text, repeated: true },
        FieldSpec { path: "filter.active", json_path: "filter.active", kind: FieldKind::Bool, repeated: false },
        FieldSpec { path: "filter.kind", json_path: "filter.kind", kind: FieldKind::Enum, repeated: false },
        FieldSpec { path: "filter.min_pages", json_path: "filter.minPages", kind: FieldKind::Text, repeated: false },
        FieldSpec { path: "labels", json_path: "labels", kind: FieldKind::Map(&FieldKind::Text), repeated: false },
        FieldSpec {
            path: "filter.by_rank",
            json_path: "filter.byRank",
            kind: FieldKind::Map(&FieldKind::Enum),
            repeated: false,
        },
    ];
    const PATH: &[FieldSpec] =
        &[FieldSpec { path: "book.name", json_path: "book.name", kind: FieldKind::Text, repeated: false }];

    fn build(body_rule: BodyRule, body: Option<&str>, query: &str, path: &[(&str, &str)]) -> Result<Value, Status> {
        let body = body.map(|b| serde_json::from_str(b).unwrap());
        let path: Vec<(String, String)> = path.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        request_json(body_rule, body, Some(query), QUERY, &path, PATH).map(|(json, _)| json)
    }

    #[test]
    fn query_path_and_body_merge_with_the_path_winning() {
        let json = build(
            BodyRule::Field("book"),
            Some(r#"{"name": "from body", "title": "T"}"#),
            "pageSize=10&tags=a&tags=b+c&filter.active=true&filter.kind=2&unknown=1",
            &[("book.name", "shelves/1")],
        )
        .unwrap();
        let expected = serde_json::json!({
            "book": {"name": "shelves/1", "title": "T"},
            "page_size": "10", "tags": ["a", "b c"], "filter": {"active": true, "kind": 2}
        });
        assert_eq!(json, expected);
    }

    #[test]
    fn maps_and_mixed_names_in_the_query() {
        let json = build(
            BodyRule::None,
            None,
            "labels[env]=prod&labels%5Bteam%5D=a+b&labels[]=empty&filter.byRank[1]=FICTION&filter.by_rank[2]=2&filter.minPages=3",
            &[],
        )
        .unwrap();
        let expected = serde_json::json!({
            "labels": {"env": "prod", "team": "a b", "": "empty"},
            "filter": {"by_rank": {"1": "FICTION", "2": 2}, "min_pages": "3"},
        });
        assert_eq!(json, expected);
        // Each part by either name.
        assert_eq!(build(BodyRule::None, None, "filter.min_pages=4", &[]).unwrap()["filter"]["min_pages"], "4");
        let error = build(BodyRule::None, None, "labels[a]=1&labels[a]=2", &[]).unwrap_err();
        assert_eq!(error.message(), "query parameter \"labels[a]\": the key \"a\" is given more than once");
        let error = build(BodyRule::None, None, "labels=x", &[]).unwrap_err();
        assert!(error.message().contains("is a map, set by labels[key]=value"), "{error}");
        let error = build(BodyRule::None, None, "tags[0]=x", &[]).unwrap_err();
        assert!(error.message().contains("field \"tags\" is not a map"), "{error}");
        // Unknown names stay ignored, with or without brackets.
        assert_eq!(build(BodyRule::None, None, "nope[a]=1&filter.nope=2", &[]).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn bad_queries_are_named() {
        let error = build(BodyRule::None, None, "page_size=1&pageSize=2", &[]).unwrap_err();
        assert!(error.message().contains("given more than once, but field \"page_size\" is not repeated"), "{error}");
        let error = build(BodyRule::None, None, "filter.active=yes", &[]).unwrap_err();
        assert_eq!(error.message(), "query parameter \"filter.active\": \"yes\" is not true or false");
        assert_eq!(build(BodyRule::None, None, "filter.active=1", &[]).unwrap()["filter"]["active"], true);
        let error = build(BodyRule::None, None, "tags=%zz", &[]).unwrap_err();
        assert!(error.message().contains("malformed percent-escape"), "{error}");
        // With body "*" the query is not read at all.
        assert_eq!(build(BodyRule::All, Some("{}"), "page_size=oops", &[]).unwrap(), serde_json::json!({}));
        let error = build(BodyRule::All, Some("[1]"), "", &[]).unwrap_err();
        assert_eq!(error.message(), "the request body must be a JSON object");
    }
}
