//! The endpoint entries of etcd's Go naming package (`go.etcd.io/etcd/client/v3/naming/endpoints`), so that
//! servers registered by Go and by us are found by both: the key is `<service>/<addr>` (any key under
//! `<service>/` counts) and the value is the JSON of its `Update`, `{"Op":0,"Addr":"10.0.0.1:50051",
//! "Metadata":null}`.
//!
//! Reading follows Go's `encoding/json`, which wrote the entry: field names match without regard to case,
//! unknown fields are ignored, `Op` is a number from 0 to 255 (the Go reader ignores its value for stored
//! entries, and so do we). Unlike Go, an entry with an empty or missing `Addr` is refused: it names nothing
//! to connect to.

use std::fmt;

use serde_json::{Map, Value};

/// Where a registered server listens, with the metadata Go's `endpoints.Endpoint` carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The address clients connect to: `ip:port`, `host:port` (resolved by DNS when read) or `unix:/path`.
    pub addr: String,
    /// Anything JSON; `null` when there is none. Stored for Go readers, not used by the resolver.
    pub metadata: Value,
}

impl Endpoint {
    /// An endpoint at `addr` without metadata.
    pub fn new(addr: impl Into<String>) -> Self {
        Endpoint { addr: addr.into(), metadata: Value::Null }
    }

    /// The endpoint with `metadata` attached.
    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    /// The stored value, byte for byte what Go's `json.Marshal` of the naming package's `Update` gives.
    pub fn to_json(&self) -> String {
        // serde_json writes map keys sorted (no preserve_order), so the object is built in Go's field order.
        format!("{{\"Op\":0,\"Addr\":{},\"Metadata\":{}}}", Value::String(self.addr.clone()), self.metadata)
    }

    /// Reads a stored value.
    pub fn from_json(value: &[u8]) -> Result<Endpoint, InvalidEndpoint> {
        let bad = |why: String| InvalidEndpoint(why);
        let parsed: Value = serde_json::from_slice(value).map_err(|e| bad(format!("not JSON: {e}")))?;
        let Value::Object(fields) = parsed else {
            return Err(bad("not a JSON object".into()));
        };
        match field(&fields, "Op") {
            None | Some(Value::Null) => {}
            Some(Value::Number(op)) if op.as_u64().is_some_and(|op| op <= 255) => {}
            Some(other) => return Err(bad(format!("Op is {other}, not a number from 0 to 255"))),
        }
        let addr = match field(&fields, "Addr") {
            Some(Value::String(addr)) if !addr.is_empty() => addr.clone(),
            None | Some(Value::Null) => return Err(bad("Addr is missing".into())),
            Some(Value::String(_)) => return Err(bad("Addr is empty".into())),
            Some(other) => return Err(bad(format!("Addr is {other}, not a string"))),
        };
        let metadata = field(&fields, "Metadata").cloned().unwrap_or(Value::Null);
        Ok(Endpoint { addr, metadata })
    }
}

/// The field `name`, matched as Go's `encoding/json` does: the exact name first, then any that equals it
/// without regard to case.
fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).or_else(|| fields.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// The key prefix under which `service`'s endpoints live (`<service>/`).
pub fn service_prefix(service: &str) -> String {
    format!("{service}/")
}

/// The key a server of `service` at `addr` registers under, as Go's naming examples do (`<service>/<addr>`).
pub fn endpoint_key(service: &str, addr: &str) -> String {
    format!("{service}/{addr}")
}

/// A stored value that is not an endpoint entry; the resolver skips such keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEndpoint(String);

impl fmt::Display for InvalidEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid etcd endpoint entry: {}", self.0)
    }
}

impl std::error::Error for InvalidEndpoint {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_go_writes() {
        assert_eq!(Endpoint::new("10.0.0.1:80").to_json(), r#"{"Op":0,"Addr":"10.0.0.1:80","Metadata":null}"#);
        let with = Endpoint::new("a\"b:1").with_metadata(serde_json::json!({"zone": "eu", "weight": 2}));
        assert_eq!(with.to_json(), r#"{"Op":0,"Addr":"a\"b:1","Metadata":{"weight":2,"zone":"eu"}}"#);
        assert_eq!(Endpoint::from_json(with.to_json().as_bytes()).unwrap(), with);
    }

    #[test]
    fn reads_what_go_reads() {
        let read = |text: &str| Endpoint::from_json(text.as_bytes());
        assert_eq!(read(r#"{"Op":0,"Addr":"1.2.3.4:5","Metadata":null}"#).unwrap(), Endpoint::new("1.2.3.4:5"));
        // Go matches field names without regard to case, ignores unknown fields, and takes a missing Op as 0.
        assert_eq!(read(r#"{"addr":"h:1","extra":[1]}"#).unwrap(), Endpoint::new("h:1"));
        assert_eq!(read(r#"{"ADDR":"h:1","metadata":"m"}"#).unwrap().metadata, Value::String("m".into()));
    }

    #[test]
    fn refuses_what_names_no_endpoint() {
        let cases = [
            ("", "not JSON"),
            ("not json", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"Op":0}"#, "Addr is missing"),
            (r#"{"Addr":""}"#, "Addr is empty"),
            (r#"{"Addr":5}"#, "not a string"),
            (r#"{"Op":256,"Addr":"h:1"}"#, "from 0 to 255"),
            (r#"{"Op":"add","Addr":"h:1"}"#, "from 0 to 255"),
            (r#"{"Op":-1,"Addr":"h:1"}"#, "from 0 to 255"),
        ];
        for (text, expected) in cases {
            let error = Endpoint::from_json(text.as_bytes()).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
