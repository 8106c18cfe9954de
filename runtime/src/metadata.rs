//! Custom metadata of a call: request headers, response headers and trailers.
//!
//! Keys are lowercase; keys ending in `-bin` hold bytes (base64 on the wire), others printable ASCII. Keys the
//! protocol reserves (`grpc-*`, `content-type`, `te`, pseudo-headers) cannot be set. Invalid keys or values
//! are an error, never a panic.

use std::fmt;

use base64::Engine as _;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::wire;

/// The metadata of one direction of a call; a key may have several values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MetadataMap {
    headers: HeaderMap,
}

/// Why a key or value was refused: what kind of problem, and a message naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError {
    kind: MetadataErrorKind,
    message: String,
}

/// What was wrong with a metadata entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataErrorKind {
    /// The key is empty or has characters keys may not have.
    Key,
    /// The key is one the protocol uses itself (`content-type`, `te`, ...).
    ReservedKey,
    /// A text value for a `-bin` key, or bytes for a text key.
    Binary,
    /// The value has characters values may not have, or is not valid base64 (`-bin`).
    Value,
}

impl MetadataError {
    fn new(kind: MetadataErrorKind, message: String) -> Self {
        MetadataError { kind, message }
    }

    /// What was wrong.
    pub fn kind(&self) -> MetadataErrorKind {
        self.kind
    }

    /// The message, naming the key.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MetadataError {}

/// Headers that belong to the protocol or to HTTP/2 and never appear as metadata.
const RESERVED: &[&str] =
    &["content-type", "te", "user-agent", "connection", "keep-alive", "transfer-encoding", "upgrade", "host"];

impl MetadataMap {
    /// An empty map.
    pub fn new() -> Self {
        MetadataMap::default()
    }

    /// The metadata in received headers: everything but reserved and protocol headers. The values are kept
    /// as received; binary values are checked when read.
    pub fn from_headers(mut headers: HeaderMap) -> Self {
        let reserved: Vec<HeaderName> = headers
            .keys()
            // user-agent stays visible to handlers (as in grpc-go), though callers cannot set it as metadata.
            .filter(|name| is_reserved(name.as_str()) && **name != http::header::USER_AGENT)
            .cloned()
            .collect();
        for name in reserved {
            headers.remove(&name);
        }
        MetadataMap { headers }
    }

    /// The metadata as headers to send.
    pub fn into_headers(self) -> HeaderMap {
        self.headers
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.headers.len()
    }

    /// Sets an ASCII key to one value, replacing any others.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        let (name, value) = ascii_entry(key, value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds a value to an ASCII key.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        let (name, value) = ascii_entry(key, value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// Sets a binary key (ending in `-bin`) to one value, replacing any others.
    pub fn insert_bin(&mut self, key: &str, value: &[u8]) -> Result<(), MetadataError> {
        let (name, value) = binary_entry(key, value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds a value to a binary key.
    pub fn append_bin(&mut self, key: &str, value: &[u8]) -> Result<(), MetadataError> {
        let (name, value) = binary_entry(key, value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// The first value of an ASCII key; `None` if absent, binary or not printable ASCII.
    pub fn get(&self, key: &str) -> Option<&str> {
        if key.ends_with(wire::BINARY_SUFFIX) {
            return None;
        }
        self.headers.get(key).and_then(|value| value.to_str().ok())
    }

    /// All values of an ASCII key, in order (values that are not printable ASCII are skipped).
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        if key.ends_with(wire::BINARY_SUFFIX) {
            return Vec::new();
        }
        self.headers.get_all(key).iter().filter_map(|value| value.to_str().ok()).collect()
    }

    /// The first value of a binary key, decoded; an error if it is not valid base64.
    pub fn get_bin(&self, key: &str) -> Option<Result<Vec<u8>, MetadataError>> {
        if !key.ends_with(wire::BINARY_SUFFIX) {
            return None;
        }
        self.headers.get(key).map(|value| decode_binary(value.as_bytes()))
    }

    /// All values of a binary key, decoded.
    pub fn get_all_bin(&self, key: &str) -> Vec<Result<Vec<u8>, MetadataError>> {
        if !key.ends_with(wire::BINARY_SUFFIX) {
            return Vec::new();
        }
        self.headers.get_all(key).iter().map(|value| decode_binary(value.as_bytes())).collect()
    }

    /// Removes a key and all its values.
    pub fn remove(&mut self, key: &str) {
        self.headers.remove(key);
    }

    /// Whether the key is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.headers.contains_key(key)
    }

    /// The keys, each once.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.headers.keys().map(HeaderName::as_str)
    }

    /// Checks every binary value decodes; used on received metadata, where a malformed value is the peer's
    /// error (the call fails with `INTERNAL`, as in grpc-go).
    pub fn validate(&self) -> Result<(), MetadataError> {
        for (name, value) in &self.headers {
            if name.as_str().ends_with(wire::BINARY_SUFFIX) {
                decode_binary(value.as_bytes())
                    .map_err(|e| MetadataError::new(MetadataErrorKind::Value, format!("metadata `{name}`: {e}")))?;
            }
        }
        Ok(())
    }

    /// Adds every entry of `other`.
    pub fn extend(&mut self, other: MetadataMap) {
        let mut last = None;
        for (name, value) in other.headers {
            if let Some(name) = name {
                last = Some(name);
            }
            if let Some(name) = &last {
                self.headers.append(name.clone(), value);
            }
        }
    }
}

impl fmt::Debug for MetadataMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.headers.iter().map(|(k, v)| (k.as_str(), v))).finish()
    }
}

fn is_reserved(name: &str) -> bool {
    // The retry protocol's two keys travel as metadata on purpose (as in grpc-go): a server sets the
    // pushback in its trailers, and handlers may read how many attempts came before.
    if name == wire::GRPC_PREVIOUS_RPC_ATTEMPTS || name == wire::GRPC_RETRY_PUSHBACK_MS {
        return false;
    }
    name.starts_with(wire::RESERVED_PREFIX) || name.starts_with(':') || RESERVED.contains(&name)
}

fn checked_key(key: &str) -> Result<HeaderName, MetadataError> {
    if key.is_empty() {
        return Err(MetadataError::new(MetadataErrorKind::Key, "metadata key is empty".to_owned()));
    }
    if let Some(bad) =
        key.chars().find(|&c| !(c.is_ascii_digit() || c.is_ascii_lowercase() || matches!(c, '-' | '_' | '.')))
    {
        return Err(MetadataError::new(
            MetadataErrorKind::Key,
            format!(
                "metadata key `{key}` has the character {bad:?}; keys are lowercase letters, digits, `-`, `_` and `.`"
            ),
        ));
    }
    if is_reserved(key) {
        return Err(MetadataError::new(
            MetadataErrorKind::ReservedKey,
            format!("metadata key `{key}` is reserved by the gRPC protocol"),
        ));
    }
    HeaderName::from_bytes(key.as_bytes())
        .map_err(|e| MetadataError::new(MetadataErrorKind::Key, format!("metadata key `{key}`: {e}")))
}

fn ascii_entry(key: &str, value: &str) -> Result<(HeaderName, HeaderValue), MetadataError> {
    if key.ends_with(wire::BINARY_SUFFIX) {
        return Err(MetadataError::new(
            MetadataErrorKind::Binary,
            format!("metadata key `{key}` is binary: use insert_bin/append_bin"),
        ));
    }
    let name = checked_key(key)?;
    if let Some(bad) = value.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(MetadataError::new(
            MetadataErrorKind::Value,
            format!(
            "metadata `{key}`: the value has {bad:?}; ASCII values are printable ASCII (use a `-bin` key for bytes)"
        ),
        ));
    }
    let value = HeaderValue::from_str(value)
        .map_err(|e| MetadataError::new(MetadataErrorKind::Value, format!("metadata `{key}`: {e}")))?;
    Ok((name, value))
}

fn binary_entry(key: &str, value: &[u8]) -> Result<(HeaderName, HeaderValue), MetadataError> {
    if !key.ends_with(wire::BINARY_SUFFIX) {
        return Err(MetadataError::new(
            MetadataErrorKind::Binary,
            format!("metadata key `{key}` holds bytes, so it must end in `-bin`"),
        ));
    }
    let name = checked_key(key)?;
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(value);
    let value = HeaderValue::from_str(&encoded)
        .map_err(|e| MetadataError::new(MetadataErrorKind::Value, format!("metadata `{key}`: {e}")))?;
    Ok((name, value))
}

/// Decodes a binary header value: base64, padded or not, as the spec requires receivers to accept.
pub(crate) fn decode_binary(value: &[u8]) -> Result<Vec<u8>, MetadataError> {
    let trimmed: &[u8] = {
        let end = value.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
        &value[..end]
    };
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|e| MetadataError::new(MetadataErrorKind::Value, format!("invalid base64 in a binary value: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_entry_says_what_kind_of_problem_it_has() {
        let mut map = MetadataMap::new();
        let kind = |result: Result<(), MetadataError>| result.unwrap_err().kind();
        assert_eq!(kind(map.insert("Bad Key", "v")), MetadataErrorKind::Key);
        assert_eq!(kind(map.insert("te", "trailers")), MetadataErrorKind::ReservedKey);
        assert_eq!(kind(map.insert("trace-bin", "v")), MetadataErrorKind::Binary);
        assert_eq!(kind(map.insert("note", "tab\there")), MetadataErrorKind::Value);
        let error = map.insert("note", "tab\there").unwrap_err();
        assert!(error.message().contains("`note`"), "{error}");
    }

    #[test]
    fn ascii_and_binary_values_with_several_values_per_key() {
        let mut map = MetadataMap::new();
        map.insert("x-user", "alice").unwrap();
        map.append("x-user", "bob").unwrap();
        map.insert_bin("x-trace-bin", &[0, 1, 0xfe, 0xff]).unwrap();
        assert_eq!(map.get("x-user"), Some("alice"));
        assert_eq!(map.get_all("x-user"), ["alice", "bob"]);
        assert_eq!(map.get_bin("x-trace-bin").unwrap().unwrap(), [0, 1, 0xfe, 0xff]);
        let headers = map.clone().into_headers();
        assert_eq!(headers["x-trace-bin"], "AAH+/w");
        assert_eq!(MetadataMap::from_headers(headers), map);
    }

    #[test]
    fn invalid_keys_and_values_are_errors() {
        let mut map = MetadataMap::new();
        for (key, value) in [
            ("", "v"),
            ("Upper", "v"),
            ("sp ace", "v"),
            ("grpc-timeout", "1S"),
            ("content-type", "x"),
            ("te", "x"),
            ("ok", "new\nline"),
            ("ok", "ünïcode"),
            ("data-bin", "text"),
        ] {
            assert!(map.insert(key, value).is_err(), "{key:?} = {value:?}");
        }
        assert!(map.insert_bin("not-binary", b"x").is_err());
        assert!(map.is_empty());
    }

    #[test]
    fn received_headers_lose_reserved_keys_and_padding_is_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/grpc"));
        headers.insert("grpc-timeout", HeaderValue::from_static("1S"));
        headers.insert("x-a-bin", HeaderValue::from_static("AAE="));
        headers.insert("x-bad-bin", HeaderValue::from_static("@@@"));
        let map = MetadataMap::from_headers(headers);
        let mut keys: Vec<&str> = map.keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, ["x-a-bin", "x-bad-bin"]);
        assert_eq!(map.get_bin("x-a-bin").unwrap().unwrap(), [0, 1]);
        assert!(map.get_bin("x-bad-bin").unwrap().is_err());
        assert!(map.validate().is_err());
    }
}
