//! The load-balancing part of a service config: `loadBalancingConfig` (gRFC A24: a list of
//! `{"policy_name": {config}}`, the first policy this client knows wins) or the older
//! `loadBalancingPolicy` name, parsed into a [`LoadBalancing`] with each policy's settings checked. An
//! invalid setting of the chosen policy is an error naming its JSON path, as grpc-go rejects it.

use std::time::Duration;

use serde_json::{Map, Value};

use super::{duration, ServiceConfigError};

/// The load-balancing policies a channel knows, with their settings.
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// gRFC A50 `outlier_detection_experimental`: the child policy over the backends, minus those whose
    /// calls fail far more often than the others', each left out for a while.
    OutlierDetection(Box<OutlierDetectionConfig>),
    /// gRFC A58 `weighted_round_robin`: round robin weighted by what each backend reports of its load
    /// (ORCA, gRFC A51): queries per second over utilization.
    WeightedRoundRobin(WeightedRoundRobinConfig),
}

/// `weighted_round_robin`'s settings (gRFC A58's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedRoundRobinConfig {
    /// Take load reports from an out-of-band stream per backend instead of from each call's trailers
    /// (default false).
    pub enable_oob_load_report: bool,
    /// How often out-of-band reports are asked for (default 10 s).
    pub oob_reporting_period: Duration,
    /// How long a backend's reports must have been coming before its weight counts (default 10 s), so
    /// one early report from a backend just started does not draw a flood.
    pub blackout_period: Duration,
    /// How long a weight lasts without a new report (default 3 min); then the backend is weighted as the
    /// mean again.
    pub weight_expiration_period: Duration,
    /// How often weights are recomputed (default 1 s, at least 100 ms).
    pub weight_update_period: Duration,
    /// How much errors count as load: the weight is `qps / (utilization + eps / qps * penalty)` (default
    /// 1.0, never negative).
    pub error_utilization_penalty: f64,
}

impl Default for WeightedRoundRobinConfig {
    fn default() -> Self {
        WeightedRoundRobinConfig {
            enable_oob_load_report: false,
            oob_reporting_period: Duration::from_secs(10),
            blackout_period: Duration::from_secs(10),
            weight_expiration_period: Duration::from_secs(180),
            weight_update_period: Duration::from_secs(1),
            error_utilization_penalty: 1.0,
        }
    }
}

/// gRFC A58: weights are not recomputed more often than this.
pub(crate) const MIN_WEIGHT_UPDATE_PERIOD: Duration = Duration::from_millis(100);

/// `outlier_detection_experimental`'s settings (gRFC A50's names and defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct OutlierDetectionConfig {
    /// How often backends are judged (default 10 s).
    pub interval: Duration,
    /// How long a first ejection lasts; each further ejection of the same backend lasts one more of these
    /// (default 30 s).
    pub base_ejection_time: Duration,
    /// The longest an ejection lasts (default 300 s, never below `base_ejection_time`).
    pub max_ejection_time: Duration,
    /// The most backends ejected at once, as a percentage of all (default 10; one is always allowed).
    pub max_ejection_percent: u32,
    /// Eject backends whose success rate is far below the mean.
    pub success_rate_ejection: Option<SuccessRateEjection>,
    /// Eject backends whose calls fail more often than a threshold.
    pub failure_percentage_ejection: Option<FailurePercentageEjection>,
    /// The policy that picks among the backends not ejected.
    pub child_policy: LoadBalancing,
}

/// Success-rate ejection: a backend whose success rate is below `mean - stdev * stdev_factor / 1000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuccessRateEjection {
    /// In thousandths of a standard deviation (default 1900: 1.9).
    pub stdev_factor: u32,
    /// The chance, in percent, that an outlier is ejected (default 100).
    pub enforcement_percentage: u32,
    /// Judged only when at least this many backends had `request_volume` calls (default 5).
    pub minimum_hosts: u32,
    /// Calls a backend needs in an interval to be judged (default 100).
    pub request_volume: u32,
}

/// Failure-percentage ejection: a backend with more than `threshold` percent of its calls failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePercentageEjection {
    /// Percent of failed calls above which a backend is an outlier (default 85).
    pub threshold: u32,
    /// The chance, in percent, that an outlier is ejected (default 100).
    pub enforcement_percentage: u32,
    /// Judged only when at least this many backends had `request_volume` calls (default 5).
    pub minimum_hosts: u32,
    /// Calls a backend needs in an interval to be judged (default 50).
    pub request_volume: u32,
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

const SUPPORTED: &str = "pick_first, round_robin, weighted_round_robin, least_request_experimental, \
    ring_hash_experimental, outlier_detection_experimental";

type Parsed<T> = Result<T, ServiceConfigError>;

fn error<T>(path: &str, problem: impl Into<String>) -> Parsed<T> {
    Err(ServiceConfigError { path: path.to_owned(), problem: problem.into() })
}

/// The policy a service config object chooses, if it chooses one.
pub(crate) fn load_balancing(object: &Map<String, Value>) -> Parsed<Option<LoadBalancing>> {
    if let Some(configs) = object.get("loadBalancingConfig") {
        return policy_list(configs, "loadBalancingConfig").map(Some);
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

/// A24's list of `{"name": {config}}`: the first policy this client knows wins; others are for other
/// clients.
fn policy_list(configs: &Value, path: &str) -> Parsed<LoadBalancing> {
    let Value::Array(configs) = configs else { return error(path, "expected an array") };
    for (i, entry) in configs.iter().enumerate() {
        let path = format!("{path}[{i}]");
        let Value::Object(entry) = entry else { return error(&path, "expected an object") };
        let mut names = entry.iter();
        let (Some((name, config)), None) = (names.next(), names.next()) else {
            return error(&path, "expected exactly one policy name");
        };
        if let Some(policy) = policy(name, config, &format!("{path}.{name}"))? {
            return Ok(policy);
        }
    }
    let names: Vec<_> = configs.iter().filter_map(Value::as_object).flat_map(|e| e.keys()).collect();
    error(path, format!("none of the policies {names:?} is supported ({SUPPORTED})"))
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
        "outlier_detection_experimental" => LoadBalancing::OutlierDetection(Box::new(outlier_detection(config, path)?)),
        "weighted_round_robin" => LoadBalancing::WeightedRoundRobin(weighted_round_robin(config, path)?),
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

/// A58's settings. The service config is proto3 JSON of `WeightedRoundRobinLbConfig`, so each field is read
/// by its JSON name or its proto name (grpc-js writes the latter).
fn weighted_round_robin(config: &Value, path: &str) -> Parsed<WeightedRoundRobinConfig> {
    let mut parsed = WeightedRoundRobinConfig::default();
    let Some(object) = settings(config, path)? else { return Ok(parsed) };
    let field = |camel: &str, snake: &str| -> Option<(String, &Value)> {
        [camel, snake].into_iter().find_map(|key| object.get(key).map(|value| (format!("{path}.{key}"), value)))
    };
    if let Some((path, value)) = field("enableOobLoadReport", "enable_oob_load_report") {
        let Value::Bool(enabled) = value else { return error(&path, "expected true or false") };
        parsed.enable_oob_load_report = *enabled;
    }
    let times = [
        ("oobReportingPeriod", "oob_reporting_period", &mut parsed.oob_reporting_period),
        ("blackoutPeriod", "blackout_period", &mut parsed.blackout_period),
        ("weightExpirationPeriod", "weight_expiration_period", &mut parsed.weight_expiration_period),
        ("weightUpdatePeriod", "weight_update_period", &mut parsed.weight_update_period),
    ];
    for (camel, snake, slot) in times {
        if let Some((path, value)) = field(camel, snake) {
            *slot = duration(value, &path)?;
        }
    }
    parsed.weight_update_period = parsed.weight_update_period.max(MIN_WEIGHT_UPDATE_PERIOD);
    if parsed.oob_reporting_period.is_zero() {
        parsed.oob_reporting_period = WeightedRoundRobinConfig::default().oob_reporting_period;
    }
    if parsed.weight_expiration_period.is_zero() {
        parsed.weight_expiration_period = WeightedRoundRobinConfig::default().weight_expiration_period;
    }
    if let Some((path, value)) = field("errorUtilizationPenalty", "error_utilization_penalty") {
        match value.as_f64() {
            Some(penalty) if penalty >= 0.0 && penalty.is_finite() => parsed.error_utilization_penalty = penalty,
            _ => return error(&path, "expected a number of at least 0"),
        }
    }
    Ok(parsed)
}

fn outlier_detection(config: &Value, path: &str) -> Parsed<OutlierDetectionConfig> {
    let Value::Object(object) = config else { return error(path, "expected an object with a childPolicy") };
    let field = |key: &str| format!("{path}.{key}");
    let time = |key: &str, default: u64| -> Parsed<Duration> {
        object.get(key).map_or(Ok(Duration::from_secs(default)), |value| duration(value, &field(key)))
    };
    let interval = time("interval", 10)?;
    if interval.is_zero() {
        return error(&field("interval"), "must be above 0");
    }
    let base_ejection_time = time("baseEjectionTime", 30)?;
    let max_ejection_time = time("maxEjectionTime", 300)?.max(base_ejection_time);
    let child = object.get("childPolicy").ok_or_else(|| ServiceConfigError {
        path: field("childPolicy"),
        problem: "expected a policy list (it is required)".into(),
    })?;
    Ok(OutlierDetectionConfig {
        interval,
        base_ejection_time,
        max_ejection_time,
        max_ejection_percent: percent(object, "maxEjectionPercent", 10, path)?,
        success_rate_ejection: match object.get("successRateEjection") {
            None => None,
            Some(value) => {
                let path = field("successRateEjection");
                let Value::Object(o) = value else { return error(&path, "expected an object") };
                Some(SuccessRateEjection {
                    stdev_factor: number(o, "stdevFactor", 1900, &path)?,
                    enforcement_percentage: percent(o, "enforcementPercentage", 100, &path)?,
                    minimum_hosts: number(o, "minimumHosts", 5, &path)?,
                    request_volume: number(o, "requestVolume", 100, &path)?,
                })
            }
        },
        failure_percentage_ejection: match object.get("failurePercentageEjection") {
            None => None,
            Some(value) => {
                let path = field("failurePercentageEjection");
                let Value::Object(o) = value else { return error(&path, "expected an object") };
                Some(FailurePercentageEjection {
                    threshold: percent(o, "threshold", 85, &path)?,
                    enforcement_percentage: percent(o, "enforcementPercentage", 100, &path)?,
                    minimum_hosts: number(o, "minimumHosts", 5, &path)?,
                    request_volume: number(o, "requestVolume", 50, &path)?,
                })
            }
        },
        child_policy: policy_list(child, &field("childPolicy"))?,
    })
}

/// A `uint32` setting.
fn number(object: &Map<String, Value>, key: &str, default: u32, path: &str) -> Parsed<u32> {
    match object.get(key) {
        None => Ok(default),
        Some(value) => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Ok(n),
            None => error(&format!("{path}.{key}"), "expected a non-negative 32-bit integer"),
        },
    }
}

/// A percentage, 0 to 100.
fn percent(object: &Map<String, Value>, key: &str, default: u32, path: &str) -> Parsed<u32> {
    match number(object, key, default, path) {
        Ok(n) if n <= 100 => Ok(n),
        _ => error(&format!("{path}.{key}"), "expected a percentage from 0 to 100"),
    }
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
            (
                r#"{"loadBalancingConfig": [{"weighted_round_robin": {"enableOobLoadReport": true,
                    "oobReportingPeriod": "2s", "blackoutPeriod": "0s", "weightExpirationPeriod": "60s",
                    "weightUpdatePeriod": "0.01s", "errorUtilizationPenalty": 2.5}}]}"#,
                LoadBalancing::WeightedRoundRobin(WeightedRoundRobinConfig {
                    enable_oob_load_report: true,
                    oob_reporting_period: Duration::from_secs(2),
                    blackout_period: Duration::ZERO,
                    weight_expiration_period: Duration::from_secs(60),
                    weight_update_period: MIN_WEIGHT_UPDATE_PERIOD,
                    error_utilization_penalty: 2.5,
                }),
            ),
            (
                r#"{"loadBalancingConfig": [{"weighted_round_robin": {"blackout_period": "1s",
                    "weight_update_period": "0.5s"}}]}"#,
                LoadBalancing::WeightedRoundRobin(WeightedRoundRobinConfig {
                    blackout_period: Duration::from_secs(1),
                    weight_update_period: Duration::from_millis(500),
                    ..Default::default()
                }),
            ),
            (
                r#"{"loadBalancingConfig": [{"weighted_round_robin": {}}]}"#,
                LoadBalancing::WeightedRoundRobin(Default::default()),
            ),
            (
                r#"{"loadBalancingConfig": [{"weighted_round_robin": {"weightUpdatePeriod": "315576000000s"}}]}"#,
                LoadBalancing::WeightedRoundRobin(WeightedRoundRobinConfig {
                    weight_update_period: super::super::MAX_DURATION,
                    ..Default::default()
                }),
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(parse(json).unwrap(), Some(expected), "{json}");
        }
        assert_eq!(parse("{}").unwrap(), None);
        let outlier = parse(
            r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"interval": "0.5s",
                "baseEjectionTime": "2s", "maxEjectionTime": "1s", "failurePercentageEjection": {"threshold": 50},
                "childPolicy": [{"grpclb": {}}, {"least_request_experimental": {}}]}}]}"#,
        )
        .unwrap();
        let expected = OutlierDetectionConfig {
            interval: Duration::from_millis(500),
            base_ejection_time: Duration::from_secs(2),
            max_ejection_time: Duration::from_secs(2),
            max_ejection_percent: 10,
            success_rate_ejection: None,
            failure_percentage_ejection: Some(FailurePercentageEjection {
                threshold: 50,
                enforcement_percentage: 100,
                minimum_hosts: 5,
                request_volume: 50,
            }),
            child_policy: LoadBalancing::LeastRequest(Default::default()),
        };
        assert_eq!(outlier, Some(LoadBalancing::OutlierDetection(Box::new(expected))));
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
            (
                r#"{"loadBalancingConfig": [{"weighted_round_robin": {"errorUtilizationPenalty": -1}}]}"#,
                "weighted_round_robin.errorUtilizationPenalty: expected a number of at least 0",
            ),
            (
                r#"{"loadBalancingConfig": [{"weighted_round_robin": {"enableOobLoadReport": "yes"}}]}"#,
                "weighted_round_robin.enableOobLoadReport: expected true or false",
            ),
            (
                r#"{"loadBalancingConfig": [{"weighted_round_robin": {"blackoutPeriod": 10}}]}"#,
                "weighted_round_robin.blackoutPeriod: ",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {}}]}"#,
                "outlier_detection_experimental.childPolicy: expected a policy list (it is required)",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"maxEjectionPercent": 101,
                    "childPolicy": [{"round_robin": {}}]}}]}"#,
                "outlier_detection_experimental.maxEjectionPercent: expected a percentage from 0 to 100",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"interval": "0s",
                    "childPolicy": [{"round_robin": {}}]}}]}"#,
                "outlier_detection_experimental.interval: must be above 0",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"childPolicy": [{"grpclb": {}}]}}]}"#,
                "outlier_detection_experimental.childPolicy: none of the policies [\"grpclb\"] is supported",
            ),
            (
                r#"{"loadBalancingConfig": [{"outlier_detection_experimental": {"childPolicy": [{"round_robin": {}}],
                    "failurePercentageEjection": {"requestVolume": -3}}}]}"#,
                "failurePercentageEjection.requestVolume: expected a non-negative 32-bit integer",
            ),
        ];
        for (json, message) in cases {
            let error = parse(json).unwrap_err().to_string();
            assert!(error.contains(message), "{json}: {error}");
        }
    }
}
