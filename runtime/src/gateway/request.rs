//! Request building: the message a route's service gets, from the path's variables, the query and the
//! body (a PATCH's field mask filled from the body), or the stream of messages a streaming body carries;
//! and the call's metadata and deadline from its headers.

use std::time::Instant;

use serde_json::Value;

use super::fields::{request_json, BodyRule};
use super::headers;
use super::route::{Call, RouteSpec, UpdateMask};
use crate::json::{from_json_with, JsonMessage};
use crate::request::Request;
use crate::status::Status;
use crate::streaming::Streaming;

/// The request's metadata and deadline, and the request message built from path, query and body.
pub(crate) fn single_request<Req: JsonMessage>(
    call: &Call,
    spec: &RouteSpec,
) -> Result<(Request<Req>, Option<Instant>), Status> {
    let (metadata, deadline) = incoming_metadata(call)?;
    let body = match spec.body {
        BodyRule::None => None,
        _ if call.raw.request => Some(http_body_json(call)),
        _ if call.body.iter().all(u8::is_ascii_whitespace) => None,
        _ => Some(parse_body(&call.body)?),
    };
    let query = call.head.uri.query();
    let (mut json, params) =
        request_json(spec.body, body, query, spec.query_fields, &call.path_values, spec.path_fields)?;
    if let (Some(mask), BodyRule::Field(body_field)) = (spec.update_mask, spec.body) {
        fill_update_mask(&mut json, &params, mask, body_field);
    }
    let invalid = |e: crate::json::JsonError| Status::invalid_argument(format!("invalid request: {e}"));
    if call.options.read.ignore_unknown && params.as_object().is_some_and(|p| !p.is_empty()) {
        let strict = crate::json::JsonOptions { ignore_unknown: false, ..call.options.read.clone() };
        from_json_with::<Req>(&params.to_string(), &strict).map_err(invalid)?;
    }
    let message: Req = from_json_with(&json.to_string(), &call.options.read).map_err(invalid)?;
    Ok((into_request(message, metadata, deadline, call), deadline))
}

/// A raw body as the JSON of a `google.api.HttpBody`: its bytes and the request's content type (empty
/// when it has none).
fn http_body_json(call: &Call) -> Value {
    use base64::Engine as _;
    let content_type = call.head.headers.get(http::header::CONTENT_TYPE).map(|value| value.as_bytes());
    let content_type = String::from_utf8_lossy(content_type.unwrap_or_default());
    serde_json::json!({
        "contentType": content_type,
        "data": base64::engine::general_purpose::STANDARD.encode(&call.body),
    })
}

/// The request's metadata and deadline, and the messages of its body: JSON objects one after another.
pub(crate) fn stream_request<Req: JsonMessage + prost::Message + Default + 'static>(
    call: &Call,
) -> Result<(Request<Streaming<Req>>, Option<Instant>), Status> {
    let (metadata, deadline) = incoming_metadata(call)?;
    let options = call.options.clone();
    let values: super::input::ValueStream = match call.frames.lock().unwrap_or_else(|e| e.into_inner()).take() {
        Some(frames) => frames,
        None => {
            let streamed = call.stream.lock().unwrap_or_else(|e| e.into_inner()).take();
            let chunks = streamed.unwrap_or_else(|| Box::pin(futures_util::stream::iter([Ok(call.body.clone())])));
            Box::pin(super::input::json_values(chunks, options.max_body_size))
        }
    };
    let mut index = 0;
    let messages = futures_util::StreamExt::map(values, move |value| {
        let at = index;
        index += 1;
        let value =
            value.map_err(|e| Status::new(e.code(), format!("message {at} of the request body: {}", e.message())))?;
        from_json_with::<Req>(&value.to_string(), &options.read)
            .map_err(|e| Status::invalid_argument(format!("message {at} of the request body: {e}")))
    });
    let stream = Streaming::from_stream(messages, None);
    Ok((into_request(stream, metadata, deadline, call), deadline))
}

/// The service's request, with the peer's address and, with mutual TLS, its verified certificates.
fn into_request<T>(
    message: T,
    metadata: crate::metadata::MetadataMap,
    deadline: Option<Instant>,
    call: &Call,
) -> Request<T> {
    let mut request = Request::new(message).with_deadline(deadline);
    *request.metadata_mut() = metadata;
    request.set_peer(call.peer);
    let certificates = call.head.extensions.get::<super::PeerCertificates>();
    request.set_peer_certificates(certificates.map(|c| c.0.clone()));
    request
}

/// Sets the field mask to the paths the body gives, unless the query set it.
fn fill_update_mask(json: &mut Value, params: &Value, mask: UpdateMask, body_field: &str) {
    if params.get(mask.field).is_some() {
        return;
    }
    // Keys may be JSON (`pageCount`) or proto names (`page_count`); a mask's JSON form is camelCase. A key
    // that is neither stays as it is (the backend says what is wrong with it).
    fn camel(key: &str) -> String {
        crate::well_known::camel_path(key).unwrap_or_else(|| key.to_owned())
    }
    fn snake(path: &str) -> String {
        crate::well_known::snake_path(path).unwrap_or_else(|| path.to_owned())
    }
    fn paths(object: &serde_json::Map<String, Value>, prefix: &str, messages: &[&str], out: &mut Vec<String>) {
        for (key, value) in object {
            let key = camel(key);
            let path = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
            let proto_path = snake(&path);
            match value {
                Value::Object(inner) if messages.contains(&proto_path.as_str()) => paths(inner, &path, messages, out),
                _ => out.push(path),
            }
        }
    }
    let Some(Value::Object(body)) = json.get(body_field) else { return };
    let mut found = Vec::new();
    paths(body, "", mask.messages, &mut found);
    found.sort();
    if let Some(root) = json.as_object_mut() {
        root.insert(mask.field.to_owned(), Value::String(found.join(",")));
    }
}

/// The request's metadata and deadline from its headers.
fn incoming_metadata(call: &Call) -> Result<(crate::metadata::MetadataMap, Option<Instant>), Status> {
    let authority = call.head.uri.authority().map(|a| a.as_str());
    let options = &call.options;
    headers::incoming(
        &call.head.headers,
        authority,
        options.header_matcher.as_ref(),
        call.peer,
        options.trust_forwarded,
    )
}

fn parse_body(body: &[u8]) -> Result<Value, Status> {
    serde_json::from_slice(body)
        .map_err(|e| Status::invalid_argument(format!("the request body is not valid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MASK: UpdateMask = UpdateMask { field: "update_mask", messages: &["shelf", "shelf.location"] };

    fn filled(body: Value, params: Value) -> Value {
        let mut json = json!({ "book": body });
        fill_update_mask(&mut json, &params, MASK, "book");
        json.get("update_mask").cloned().unwrap_or(Value::Null)
    }

    #[test]
    fn the_mask_lists_the_bodys_paths_in_camel_case_descending_only_into_message_fields() {
        let body = json!({
            "title": "x",
            "page_count": 3,
            "shelf": { "theme": "t", "location": { "floor": 2 } },
            "labels": { "a": "b" },
        });
        // `labels` is a map (not a message field of the mask), so it is one path, not one per key.
        assert_eq!(filled(body, json!({})), json!("labels,pageCount,shelf.location.floor,shelf.theme,title"));
    }

    #[test]
    fn a_mask_given_in_the_query_is_kept_and_a_body_that_is_not_an_object_leaves_it_unset() {
        assert_eq!(filled(json!({ "title": "x" }), json!({ "update_mask": "title" })), Value::Null);
        assert_eq!(filled(json!("not an object"), json!({})), Value::Null);
        // Keys that are neither JSON nor proto names stay as they are, for the backend to refuse.
        assert_eq!(filled(json!({ "Weird-Key": 1 }), json!({})), json!("Weird-Key"));
    }
}
