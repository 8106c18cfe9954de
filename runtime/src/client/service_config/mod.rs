//! The gRPC service config in its standard JSON form: per-method timeouts, wait-for-ready, message size
//! limits, retry and hedging policies, the load-balancing policy and retry throttling. It comes from the
//! channel builder or from the resolver; an invalid one is an error naming the field and the problem.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// The `loadBalancingConfig` policies' own settings.
pub(crate) mod lb;

use crate::status::Code;
pub use lb::{
    FailurePercentageEjection, LeastRequestConfig, LoadBalancing, OutlierDetectionConfig, RingHashConfig,
    SuccessRateEjection, WeightedRoundRobinConfig,
};

/// A parsed service config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceConfig {
    pub(crate) load_balancing: Option<LoadBalancing>,
    pub(crate) methods: Vec<MethodConfig>,
    pub(crate) retry_throttling: Option<RetryThrottling>,
    /// `healthCheckConfig.serviceName` (gRFC A17): the service each backend's health is watched for.
    pub(crate) health_check_service: Option<String>,
}

/// Settings for the methods named in `names`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodConfig {
    pub(crate) names: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) wait_for_ready: Option<bool>,
    pub(crate) max_request_message_bytes: Option<usize>,
    pub(crate) max_response_message_bytes: Option<usize>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) hedging: Option<HedgingPolicy>,
}

/// gRFC A6 retries: failed attempts with a retryable code are tried again after a growing, jittered wait.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (2 to 5; larger values are capped at 5).
    pub max_attempts: u32,
    /// The wait before the first retry is random in `[0, initial_backoff]`.
    pub initial_backoff: Duration,
    /// The largest bound of a wait.
    pub max_backoff: Duration,
    /// How the bound grows per retry.
    pub backoff_multiplier: f64,
    /// The codes worth another attempt.
    pub retryable_status_codes: Vec<Code>,
}

/// gRFC A6 hedging: up to `max_attempts` attempts `hedging_delay` apart, the first to succeed wins.
#[derive(Debug, Clone, PartialEq)]
pub struct HedgingPolicy {
    /// Attempts in all (2 to 5; larger values are capped at 5).
    pub max_attempts: u32,
    /// Time between starting attempts.
    pub hedging_delay: Duration,
    /// Codes after which the next attempt starts at once instead of the call failing.
    pub non_fatal_status_codes: Vec<Code>,
}

/// Retries are allowed only while a channel's token count is above half of `max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryThrottling {
    /// The bucket's size (1 to 1000); a failed attempt takes one token.
    pub max_tokens: f64,
    /// What a successful call gives back.
    pub token_ratio: f64,
}

/// The cap gRPC puts on `maxAttempts`.
const MAX_ATTEMPTS_CAP: u32 = 5;

/// A service config that does not parse or does not make sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfigError {
    /// Where, as a JSON path (`methodConfig[0].retryPolicy.maxAttempts`).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for ServiceConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "invalid service config: {}", self.problem)
        } else {
            write!(f, "invalid service config: {}: {}", self.path, self.problem)
        }
    }
}

impl std::error::Error for ServiceConfigError {}

type Parsed<T> = Result<T, ServiceConfigError>;

fn error<T>(path: &str, problem: impl Into<String>) -> Parsed<T> {
    Err(ServiceConfigError { path: path.to_owned(), problem: problem.into() })
}

impl ServiceConfig {
    /// Parses the JSON form.
    pub fn from_json(json: &str) -> Result<ServiceConfig, ServiceConfigError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| ServiceConfigError { path: String::new(), problem: format!("not JSON: {e}") })?;
        let Value::Object(object) = value else { return error("", "expected a JSON object") };
        let mut config = ServiceConfig { load_balancing: lb::load_balancing(&object)?, ..Default::default() };
        if let Some(methods) = object.get("methodConfig") {
            let Value::Array(methods) = methods else { return error("methodConfig", "expected an array") };
            for (i, method) in methods.iter().enumerate() {
                config.methods.push(method_config(method, &format!("methodConfig[{i}]"))?);
            }
        }
        check_unique_names(&config.methods)?;
        if let Some(throttling) = object.get("retryThrottling") {
            config.retry_throttling = Some(retry_throttling(throttling)?);
        }
        if let Some(health) = object.get("healthCheckConfig") {
            config.health_check_service = health_check(health)?;
        }
        Ok(config)
    }

    /// The config of the method `/service/method`: an entry naming the method, else one naming its
    /// service, else the default entry (a name with neither).
    pub(crate) fn method(&self, service: &str, method: &str) -> Option<&MethodConfig> {
        let named = |s: &str, m: &str| self.methods.iter().find(|c| c.names.iter().any(|(cs, cm)| cs == s && cm == m));
        named(service, method).or_else(|| named(service, "")).or_else(|| named("", ""))
    }

    /// The service whose health each backend is asked for (`healthCheckConfig.serviceName`; `""` is the
    /// server as a whole), if health checking is on.
    pub fn health_check_service(&self) -> Option<&str> {
        self.health_check_service.as_deref()
    }

    /// The load-balancing policy it chooses, if any.
    pub fn load_balancing(&self) -> Option<LoadBalancing> {
        self.load_balancing.clone()
    }
}

fn method_config(value: &Value, path: &str) -> Parsed<MethodConfig> {
    let Value::Object(object) = value else { return error(path, "expected an object") };
    let mut config = MethodConfig::default();
    for (key, value) in object {
        let field = format!("{path}.{key}");
        match key.as_str() {
            "name" => {
                let Value::Array(names) = value else { return error(&field, "expected an array") };
                for (i, name) in names.iter().enumerate() {
                    config.names.push(method_name(name, &format!("{field}[{i}]"))?);
                }
            }
            "timeout" => config.timeout = Some(duration(value, &field)?),
            "waitForReady" => {
                config.wait_for_ready = Some(value.as_bool().ok_or_else(|| expected(&field, "a boolean"))?)
            }
            "maxRequestMessageBytes" => config.max_request_message_bytes = Some(count(value, &field)?),
            "maxResponseMessageBytes" => config.max_response_message_bytes = Some(count(value, &field)?),
            "retryPolicy" => config.retry = Some(retry_policy(value, &field)?),
            "hedgingPolicy" => config.hedging = Some(hedging_policy(value, &field)?),
            // Fields for other clients (the config is shared) are allowed and ignored, as in gRPC.
            _ => {}
        }
    }
    if config.names.is_empty() {
        return error(&format!("{path}.name"), "a method config needs at least one name");
    }
    if config.retry.is_some() && config.hedging.is_some() {
        return error(path, "retryPolicy and hedgingPolicy exclude each other");
    }
    Ok(config)
}

fn method_name(value: &Value, path: &str) -> Parsed<(String, String)> {
    let Value::Object(object) = value else { return error(path, "expected an object") };
    let text = |key: &str| -> Parsed<String> {
        match object.get(key) {
            None => Ok(String::new()),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(_) => error(&format!("{path}.{key}"), "expected a string"),
        }
    };
    let (service, method) = (text("service")?, text("method")?);
    if service.is_empty() && !method.is_empty() {
        return error(path, "a method name needs its service");
    }
    Ok((service, method))
}

fn check_unique_names(methods: &[MethodConfig]) -> Parsed<()> {
    let mut seen = std::collections::HashSet::new();
    for (i, method) in methods.iter().enumerate() {
        for (service, name) in &method.names {
            if !seen.insert((service, name)) {
                return error(&format!("methodConfig[{i}].name"), format!("{service}/{name} is named twice"));
            }
        }
    }
    Ok(())
}

fn retry_policy(value: &Value, path: &str) -> Parsed<RetryPolicy> {
    let Value::Object(object) = value else { return error(path, "expected an object") };
    let field = |key: &str| format!("{path}.{key}");
    let required = |key: &str| object.get(key).ok_or_else(|| expected(&field(key), "a value (it is required)"));
    let policy = RetryPolicy {
        max_attempts: max_attempts(required("maxAttempts")?, &field("maxAttempts"))?,
        initial_backoff: positive_duration(required("initialBackoff")?, &field("initialBackoff"))?,
        max_backoff: positive_duration(required("maxBackoff")?, &field("maxBackoff"))?,
        backoff_multiplier: match required("backoffMultiplier")?.as_f64() {
            Some(m) if m > 0.0 && m.is_finite() => m,
            _ => return error(&field("backoffMultiplier"), "expected a number above 0"),
        },
        retryable_status_codes: codes(required("retryableStatusCodes")?, &field("retryableStatusCodes"))?,
    };
    if policy.retryable_status_codes.is_empty() {
        return error(&field("retryableStatusCodes"), "must name at least one code");
    }
    Ok(policy)
}

fn hedging_policy(value: &Value, path: &str) -> Parsed<HedgingPolicy> {
    let Value::Object(object) = value else { return error(path, "expected an object") };
    let field = |key: &str| format!("{path}.{key}");
    let attempts =
        object.get("maxAttempts").ok_or_else(|| expected(&field("maxAttempts"), "a value (it is required)"))?;
    Ok(HedgingPolicy {
        max_attempts: max_attempts(attempts, &field("maxAttempts"))?,
        hedging_delay: match object.get("hedgingDelay") {
            None => Duration::ZERO,
            Some(delay) => duration(delay, &field("hedgingDelay"))?,
        },
        non_fatal_status_codes: match object.get("nonFatalStatusCodes") {
            None => Vec::new(),
            Some(codes_value) => codes(codes_value, &field("nonFatalStatusCodes"))?,
        },
    })
}

fn retry_throttling(value: &Value) -> Parsed<RetryThrottling> {
    let path = "retryThrottling";
    let Value::Object(object) = value else { return error(path, "expected an object") };
    let max_tokens = match object.get("maxTokens").and_then(Value::as_f64) {
        Some(tokens) if tokens > 0.0 && tokens <= 1000.0 => tokens,
        _ => return error("retryThrottling.maxTokens", "expected a number in (0, 1000]"),
    };
    let token_ratio = match object.get("tokenRatio").and_then(Value::as_f64) {
        Some(ratio) if ratio > 0.0 && ratio.is_finite() => ratio,
        _ => return error("retryThrottling.tokenRatio", "expected a number above 0"),
    };
    Ok(RetryThrottling { max_tokens, token_ratio })
}

/// `{"serviceName": "..."}`; without a name, health checking stays off (as in grpc-go).
fn health_check(value: &Value) -> Parsed<Option<String>> {
    let Value::Object(object) = value else { return error("healthCheckConfig", "expected an object") };
    match object.get("serviceName") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) => Ok(Some(name.clone())),
        Some(_) => error("healthCheckConfig.serviceName", "expected a string"),
    }
}

fn expected(path: &str, what: &str) -> ServiceConfigError {
    ServiceConfigError { path: path.to_owned(), problem: format!("expected {what}") }
}

fn max_attempts(value: &Value, path: &str) -> Parsed<u32> {
    match value.as_u64() {
        Some(n) if n >= 2 => Ok(n.min(u64::from(MAX_ATTEMPTS_CAP)) as u32),
        _ => error(path, "expected an integer of at least 2"),
    }
}

fn count(value: &Value, path: &str) -> Parsed<usize> {
    value.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| expected(path, "a non-negative integer"))
}

/// The protobuf JSON form of a Duration: `"1.5s"`, up to nine fractional digits.
pub(crate) fn duration(value: &Value, path: &str) -> Parsed<Duration> {
    let bad = || expected(path, "a duration such as \"1.5s\"");
    let text = value.as_str().ok_or_else(bad)?;
    let number = text.strip_suffix('s').ok_or_else(bad)?;
    let (seconds, fraction) = number.split_once('.').unwrap_or((number, ""));
    if seconds.is_empty() || !seconds.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return Err(bad());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let seconds: u64 = seconds.parse().map_err(|_| bad())?;
    let nanos: u32 = if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().map_err(|_| bad())? };
    // A year is forever for a timeout, a backoff or a timer period, and deadlines and timers made from
    // longer ones (a config may come from a resolver, so from anyone) would overflow `Instant`.
    Ok(Duration::new(seconds, nanos).min(MAX_DURATION))
}

/// The longest duration a service config setting takes: longer ones are cut to it.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

fn positive_duration(value: &Value, path: &str) -> Parsed<Duration> {
    let duration = duration(value, path)?;
    if duration.is_zero() {
        return error(path, "must be above 0");
    }
    Ok(duration)
}

/// Status codes by name (`"UNAVAILABLE"`) or number.
fn codes(value: &Value, path: &str) -> Parsed<Vec<Code>> {
    let Value::Array(items) = value else { return error(path, "expected an array of status codes") };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("{path}[{i}]");
            let code = match item {
                Value::String(name) => (0..=16).map(Code::from_i32).find(|c| c.as_str() == name),
                Value::Number(n) => n.as_u64().filter(|n| *n <= 16).map(|n| Code::from_i32(n as i32)),
                _ => None,
            };
            match code {
                Some(Code::Ok) => error(&path, "OK is not a failure"),
                Some(code) => Ok(code),
                None => error(&path, format!("{item} is not a status code")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config() {
        let config = ServiceConfig::from_json(
            r#"{
              "loadBalancingConfig": [{"grpclb": {}}, {"round_robin": {}}],
              "methodConfig": [
                {"name": [{"service": "pkg.Svc", "method": "Get"}], "timeout": "0.250s", "waitForReady": true,
                 "maxRequestMessageBytes": 1024, "maxResponseMessageBytes": 2048,
                 "retryPolicy": {"maxAttempts": 9, "initialBackoff": "0.1s", "maxBackoff": "1s",
                                 "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE", 10]}},
                {"name": [{"service": "pkg.Svc"}],
                 "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.05s", "nonFatalStatusCodes": ["ABORTED"]}},
                {"name": [{}], "timeout": "10s"}
              ],
              "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
              "healthCheckConfig": {"serviceName": "pkg.Svc"}
            }"#,
        )
        .unwrap();
        assert_eq!(config.load_balancing(), Some(LoadBalancing::RoundRobin));
        let get = config.method("pkg.Svc", "Get").unwrap();
        assert_eq!(get.timeout, Some(Duration::from_millis(250)));
        assert_eq!(get.wait_for_ready, Some(true));
        let retry = get.retry.as_ref().unwrap();
        assert_eq!(retry.max_attempts, 5, "capped");
        assert_eq!(retry.retryable_status_codes, [Code::Unavailable, Code::Aborted]);
        let other = config.method("pkg.Svc", "List").unwrap();
        assert_eq!(other.hedging.as_ref().unwrap().hedging_delay, Duration::from_millis(50));
        assert_eq!(config.method("other.Svc", "X").unwrap().timeout, Some(Duration::from_secs(10)));
        assert_eq!(config.retry_throttling, Some(RetryThrottling { max_tokens: 10.0, token_ratio: 0.1 }));
        assert_eq!(config.health_check_service(), Some("pkg.Svc"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("[]", "invalid service config: expected a JSON object"),
            ("{\"methodConfig\": {}}", "methodConfig: expected an array"),
            ("{\"methodConfig\": [{\"timeout\": \"1s\"}]}", "methodConfig[0].name: a method config needs at least one name"),
            ("{\"methodConfig\": [{\"name\": [{}], \"timeout\": \"soon\"}]}", "methodConfig[0].timeout: expected a duration such as \"1.5s\""),
            (
                "{\"methodConfig\": [{\"name\": [{\"service\": \"s\"}], \"retryPolicy\": {\"maxAttempts\": 1, \"initialBackoff\": \"1s\", \"maxBackoff\": \"1s\", \"backoffMultiplier\": 2, \"retryableStatusCodes\": [\"UNAVAILABLE\"]}}]}",
                "methodConfig[0].retryPolicy.maxAttempts: expected an integer of at least 2",
            ),
            (
                "{\"methodConfig\": [{\"name\": [{\"service\": \"s\"}], \"retryPolicy\": {\"maxAttempts\": 3, \"initialBackoff\": \"1s\", \"maxBackoff\": \"1s\", \"backoffMultiplier\": 2, \"retryableStatusCodes\": [\"UNAVAILABLY\"]}}]}",
                "methodConfig[0].retryPolicy.retryableStatusCodes[0]: \"UNAVAILABLY\" is not a status code",
            ),
            (
                "{\"methodConfig\": [{\"name\": [{\"service\": \"s\"}], \"retryPolicy\": {\"maxAttempts\": 3}}]}",
                "methodConfig[0].retryPolicy.initialBackoff: expected a value (it is required)",
            ),
            (
                "{\"methodConfig\": [{\"name\": [{\"service\": \"s\"}]}, {\"name\": [{\"service\": \"s\"}]}]}",
                "methodConfig[1].name: s/ is named twice",
            ),
            ("{\"loadBalancingConfig\": [{\"grpclb\": {}}]}", "none of the policies [\"grpclb\"] is supported"),
            ("{\"retryThrottling\": {\"maxTokens\": 0, \"tokenRatio\": 1}}", "retryThrottling.maxTokens: expected a number in (0, 1000]"),
            ("{\"healthCheckConfig\": []}", "healthCheckConfig: expected an object"),
            ("{\"healthCheckConfig\": {\"serviceName\": 1}}", "healthCheckConfig.serviceName: expected a string"),
        ];
        for (json, message) in cases {
            let error = ServiceConfig::from_json(json).unwrap_err().to_string();
            assert!(error.contains(message), "{json}: {error}");
        }
    }
}
