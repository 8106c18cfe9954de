//! The load-balancing part of a service config: `loadBalancingConfig` (gRFC A24: a list of
//! `{"policy_name": {config}}`, the first policy this client knows wins) or the older
//! `loadBalancingPolicy` name, parsed into a [`LoadBalancing`] with each policy's settings checked. An
//! invalid setting of the chosen policy is an error naming its JSON path, as grpc-go rejects it.

use serde_json::{Map, Value};

use crate::client::service_config::ServiceConfigError;

/// The load-balancing policies a channel knows, with their settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoadBalancing {
    /// Use the first address that connects, in the resolver's order (the default).
    #[default]
    PickFirst,
    /// Spread calls over every address with a working connection.
    RoundRobin,
    /// gRFC A48 `least_request_experimental`: of a few backends drawn at random, the one with the fewest
    /// calls open.
    LeastRequest(LeastRequestConfig),
    /// gRFC A42 `ring_hash_experimental`: a consistent hash of each call's key (a request header) picks
    /// the backend, so one key sticks to one backend while the backends stay the same.
    RingHash(RingHashConfig),
}

/// `least_request_experimental`'s settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeastRequestConfig {
    /// How many backends are drawn for each call (2 to 10; the policy clamps other values).
    pub choice_count: u32,
}

impl Default for LeastRequestConfig {
    fn default() -> Self {
        LeastRequestConfig { choice_count: DEFAULT_CHOICE_COUNT }
    }
}

/// `ring_hash_experimental`'s settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingHashConfig {
    /// The fewest entries on the ring (default 1024); more entries spread keys more evenly.
    pub min_ring_size: u64,
    /// The most entries on the ring (default and cap 4096, as in grpc-go), bounding its memory.
    pub max_ring_size: u64,
    /// The request header whose value is hashed (gRFC A76), lower case. A call without it, or a config
    /// without a header, gets a random hash: it goes to a random backend.
    pub request_hash_header: Option<String>,
}

impl Default for RingHashConfig {
    fn default() -> Self {
        RingHashConfig {
            min_ring_size: DEFAULT_MIN_RING_SIZE,
            max_ring_size: DEFAULT_MAX_RING_SIZE,
            request_hash_header: None,
        }
    }
}

const DEFAULT_CHOICE_COUNT: u32 = 2;
/// gRFC A48: larger counts are clamped to this.
pub(crate) const MAX_CHOICE_COUNT: u32 = 10;
const DEFAULT_MIN_RING_SIZE: u64 = 1024;
const DEFAULT_MAX_RING_SIZE: u64 = 4096;
/// gRFC A42: ring sizes above this are invalid.
const RING_SIZE_LIMIT: u64 = 8 * 1024 * 1024;
/// grpc-go's channel-wide cap on the ring's size: what a config asks beyond it is cut to it.
pub(crate) const RING_SIZE_CAP: u64 = 4096;

const SUPPORTED: &str = "pick_first, round_robin, least_request_experimental, ring_hash_experimental";

type Parsed<T> = Result<T, ServiceConfigError>;

fn error<T>(path: &str, problem: impl Into<String>) -> Parsed<T> {
    Err(ServiceConfigError { path: path.to_owned(), problem: problem.into() })
}

/// The policy a service config object chooses, if it chooses one.
pub(crate) fn load_balancing(object: &Map<String, Value>) -> Parsed<Option<LoadBalancing>> {
    if let Some(configs) = object.get("loadBalancingConfig") {
        let Value::Array(configs) = configs else { return error("loadBalancingConfig", "expected an array") };
        // The first policy this channel knows wins; others are for other clients.
        for (i, entry) in configs.iter().enumerate() {
            let path = format!("loadBalancingConfig[{i}]");
            let Value::Object(entry) = entry else { return error(&path, "expected an object") };
            let mut names = entry.iter();
            let (Some((name, config)), None) = (names.next(), names.next()) else {
                return error(&path, "expected exactly one policy name");
            };
            if let Some(policy) = policy(name, config, &format!("{path}.{name}"))? {
                return Ok(Some(policy));
            }
        }
        let names: Vec<_> = configs.iter().filter_map(Value::as_object).flat_map(|e| e.keys()).collect();
        return error("loadBalancingConfig", format!("none of the policies {names:?} is supported ({SUPPORTED})"));
    }
    match object.get("loadBalancingPolicy") {
        None => Ok(None),
        Some(Value::String(name)) => match policy(&name.to_ascii_lowercase(), &Value::Null, "loadBalancingPolicy")? {
            Some(policy) => Ok(Some(policy)),
            None => error("loadBalancingPolicy", format!("unsupported policy {name:?} ({SUPPORTED})")),
        },
        Some(_) => error("loadBalancingPolicy", "expected a string"),
    }
}

/// The policy `name` with its `config` (`null`: the defaults), or `None` for a name this client does not
/// know.
fn policy(name: &str, config: &Value, path: &str) -> Parsed<Option<LoadBalancing>> {
    Ok(Some(match name {
        "pick_first" => LoadBalancing::PickFirst,
        "round_robin" => LoadBalancing::RoundRobin,
        // A48's name, and the one grpc-go later gave it too.
        "least_request_experimental" | "least_request" => LoadBalancing::LeastRequest(least_request(config, path)?),
        "ring_hash_experimental" | "ring_hash" => LoadBalancing::RingHash(ring_hash(config, path)?),
        _ => return Ok(None),
    }))
}

/// The settings object of a policy: `null` reads as `{}`.
fn settings<'a>(config: &'a Value, path: &str) -> Parsed<Option<&'a Map<String, Value>>> {
    match config {
        Value::Null => Ok(None),
        Value::Object(object) => Ok(Some(object)),
        _ => error(path, "expected an object"),
    }
}

fn least_request(config: &Value, path: &str) -> Parsed<LeastRequestConfig> {
    let mut parsed = LeastRequestConfig::default();
    let Some(object) = settings(config, path)? else { return Ok(parsed) };
    if let Some(count) = object.get("choiceCount") {
        let field = format!("{path}.choiceCount");
        match count.as_u64() {
            // A48: fewer than two choices is no choice at all and is rejected; more than ten is clamped.
            Some(n) if n >= 2 => parsed.choice_count = n.min(u64::from(MAX_CHOICE_COUNT)) as u32,
            _ => return error(&field, "expected an integer of at least 2"),
        }
    }
    Ok(parsed)
}

fn ring_hash(config: &Value, path: &str) -> Parsed<RingHashConfig> {
    let mut parsed = RingHashConfig::default();
    let Some(object) = settings(config, path)? else { return Ok(parsed) };
    let size = |key: &str, default: u64| -> Parsed<u64> {
        let field = format!("{path}.{key}");
        match object.get(key) {
            None => Ok(default),
            Some(value) => match value.as_u64() {
                // 0 is protobuf's unset.
                Some(0) => Ok(default),
                Some(n) if n <= RING_SIZE_LIMIT => Ok(n.min(RING_SIZE_CAP)),
                _ => error(&field, format!("expected an integer from 1 to {RING_SIZE_LIMIT}")),
            },
        }
    };
    parsed.min_ring_size = size("minRingSize", DEFAULT_MIN_RING_SIZE)?;
    parsed.max_ring_size = size("maxRingSize", DEFAULT_MAX_RING_SIZE)?;
    if parsed.min_ring_size > parsed.max_ring_size {
        return error(path, "minRingSize is above maxRingSize");
    }
    if let Some(header) = object.get("requestHashHeader") {
        let field = format!("{path}.requestHashHeader");
        let Value::String(header) = header else { return error(&field, "expected a string") };
        parsed.request_hash_header = request_hash_header(header, &field)?;
    }
    Ok(parsed)
}

/// gRFC A76: a header name, matched without regard to case; empty means none. Pseudo-headers and binary
/// (`-bin`) headers cannot carry a key.
fn request_hash_header(header: &str, path: &str) -> Parsed<Option<String>> {
    if header.is_empty() {
        return Ok(None);
    }
    let name = header.to_ascii_lowercase();
    if name.starts_with(':') {
        return error(path, format!("{header:?} is a pseudo-header"));
    }
    if name.ends_with("-bin") {
        return error(path, format!("{header:?} is a binary header"));
    }
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return error(path, format!("{header:?} is not a header name"));
    }
    Ok(Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Parsed<Option<LoadBalancing>> {
        let Value::Object(object) = serde_json::from_str(json).unwrap() else { panic!("not an object") };
        load_balancing(&object)
    }

    #[test]
    fn the_first_known_policy_wins_with_its_settings() {
        let cases = [
            (r#"{"loadBalancingConfig": [{"grpclb": {}}, {"round_robin": {}}]}"#, LoadBalancing::RoundRobin),
            (r#"{"loadBalancingPolicy": "ROUND_ROBIN"}"#, LoadBalancing::RoundRobin),
            (
                r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 3}}]}"#,
                LoadBalancing::LeastRequest(LeastRequestConfig { choice_count: 3 }),
            ),
            (
                r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 99}}]}"#,
                LoadBalancing::LeastRequest(LeastRequestConfig { choice_count: 10 }),
            ),
            (r#"{"loadBalancingConfig": [{"least_request": {}}]}"#, LoadBalancing::LeastRequest(Default::default())),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"minRingSize": 10, "maxRingSize": 100000,
                    "requestHashHeader": "X-User"}}]}"#,
                LoadBalancing::RingHash(RingHashConfig {
                    min_ring_size: 10,
                    max_ring_size: RING_SIZE_CAP,
                    request_hash_header: Some("x-user".into()),
                }),
            ),
            (r#"{"loadBalancingConfig": [{"ring_hash": {}}]}"#, LoadBalancing::RingHash(Default::default())),
        ];
        for (json, expected) in cases {
            assert_eq!(parse(json).unwrap(), Some(expected), "{json}");
        }
        assert_eq!(parse("{}").unwrap(), None);
    }

    #[test]
    fn bad_settings_are_errors_naming_the_field() {
        let cases = [
            (r#"{"loadBalancingConfig": {}}"#, "loadBalancingConfig: expected an array"),
            (
                r#"{"loadBalancingConfig": [{"a": {}, "b": {}}]}"#,
                "loadBalancingConfig[0]: expected exactly one policy name",
            ),
            (r#"{"loadBalancingConfig": [{"grpclb": {}}]}"#, "none of the policies [\"grpclb\"] is supported"),
            (
                r#"{"loadBalancingConfig": [{"least_request_experimental": {"choiceCount": 1}}]}"#,
                "loadBalancingConfig[0].least_request_experimental.choiceCount: expected an integer of at least 2",
            ),
            (
                r#"{"loadBalancingConfig": [{"least_request_experimental": []}]}"#,
                "loadBalancingConfig[0].least_request_experimental: expected an object",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"minRingSize": 100, "maxRingSize": 10}}]}"#,
                "loadBalancingConfig[0].ring_hash_experimental: minRingSize is above maxRingSize",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"maxRingSize": 8388609}}]}"#,
                "ring_hash_experimental.maxRingSize: expected an integer from 1 to 8388608",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"minRingSize": -1}}]}"#,
                "ring_hash_experimental.minRingSize: expected an integer from 1 to 8388608",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"requestHashHeader": ":path"}}]}"#,
                "requestHashHeader: \":path\" is a pseudo-header",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"requestHashHeader": "key-bin"}}]}"#,
                "requestHashHeader: \"key-bin\" is a binary header",
            ),
            (
                r#"{"loadBalancingConfig": [{"ring_hash_experimental": {"requestHashHeader": "a b"}}]}"#,
                "requestHashHeader: \"a b\" is not a header name",
            ),
            (r#"{"loadBalancingPolicy": 1}"#, "loadBalancingPolicy: expected a string"),
        ];
        for (json, message) in cases {
            let error = parse(json).unwrap_err().to_string();
            assert!(error.contains(message), "{json}: {error}");
        }
    }
}
