//! HTTP headers to gRPC metadata and back, as grpc-gateway does it: `Authorization` is forwarded,
//! `Grpc-Metadata-<key>` becomes `<key>` (`-Bin` keys are base64-decoded), the standard HTTP request
//! headers become `grpcgateway-<name>`, `Grpc-Timeout` sets the deadline, and a user's matcher may forward
//! others. Response header metadata comes back as `Grpc-Metadata-<key>`, trailers as `Grpc-Trailer-<key>`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;

use crate::metadata::MetadataMap;
use crate::status::Status;

/// Chooses the metadata key for an incoming header (its name in lower case), or `None` to apply the
/// default rules.
pub type HeaderMatcher = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The prefix of headers carrying metadata.
const METADATA_PREFIX: &str = "grpc-metadata-";
/// The prefix of response headers carrying trailers.
const TRAILER_PREFIX: &str = "grpc-trailer-";
/// The prefix standard HTTP request headers get as metadata.
const GATEWAY_PREFIX: &str = "grpcgateway-";

/// Standard request headers that reach the service as `grpcgateway-<name>` (grpc-gateway's list).
const PERMANENT: &[&str] = &[
    "accept",
    "accept-charset",
    "accept-language",
    "accept-ranges",
    "cache-control",
    "content-type",
    "cookie",
    "date",
    "expect",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-schedule-tag-match",
    "if-unmodified-since",
    "max-forwards",
    "origin",
    "pragma",
    "referer",
    "user-agent",
    "via",
    "warning",
];

/// Whether a `Grpc-Metadata-<key>` header would forge metadata the gateway itself sets: `authorization`
/// comes only from the `Authorization` header (a front proxy that checks or strips that header must not be
/// bypassed by another spelling), `x-forwarded-*` and `grpcgateway-*` only from the gateway.
fn is_reserved(key: &str) -> bool {
    key == "authorization" || key.starts_with("x-forwarded-") || key.starts_with(GATEWAY_PREFIX)
}

/// The metadata and deadline of a gateway request. `trust_forwarded` believes the client's own
/// `X-Forwarded-For` and `X-Forwarded-Host` (behind a proxy that sets them).
pub(crate) fn incoming(
    headers: &http::HeaderMap,
    authority: Option<&str>,
    matcher: Option<&HeaderMatcher>,
    peer: Option<SocketAddr>,
    trust_forwarded: bool,
) -> Result<(MetadataMap, Option<Instant>), Status> {
    let mut metadata = MetadataMap::new();
    let mut deadline = None;
    for (name, value) in headers {
        let name = name.as_str();
        let bad = |why: &str| Status::invalid_argument(format!("header {name:?}: {why}"));
        let text = || value.to_str().map_err(|_| bad("not ASCII"));
        if name == "grpc-timeout" {
            let timeout = crate::timeout::decode(value.as_bytes())
                .ok_or_else(|| bad("not a gRPC timeout (such as 10S or 250m)"))?;
            deadline = Instant::now().checked_add(timeout);
            continue;
        }
        // Headers the client sent as metadata (Grpc-Metadata-*) must be valid; a standard header's odd
        // value (a Cookie with a tab, a UTF-8 User-Agent) is left out rather than failing the request.
        let (key, explicit) = match matcher.and_then(|matcher| matcher(name)) {
            Some(key) => (key.to_ascii_lowercase(), true),
            None if name == "authorization" => (name.to_owned(), true),
            None if PERMANENT.contains(&name) => (format!("{GATEWAY_PREFIX}{name}"), false),
            None => match name.strip_prefix(METADATA_PREFIX) {
                Some(key) if is_reserved(key) => {
                    tracing::debug!(header = name, "leaving out a header that would forge what the gateway sets");
                    continue;
                }
                Some(key) if !key.is_empty() => (key.to_owned(), true),
                _ => continue,
            },
        };
        if !explicit && value.to_str().is_err() {
            tracing::debug!(header = name, "leaving out a header whose value is not ASCII");
            continue;
        }
        let added = if key.ends_with("-bin") {
            // Padded or not, standard or URL-safe alphabet: clients differ.
            let encoded = text()?.trim_end_matches('=');
            let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(encoded)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded))
                .map_err(|_| bad("a -Bin header holds base64"))?;
            metadata.append_bin(&key, &bytes)
        } else {
            metadata.append(&key, text()?)
        };
        added.map_err(|e| bad(&e.to_string()))?;
    }
    // What the gateway sets replaces anything a matcher let through under the same keys.
    metadata.remove("x-forwarded-for");
    metadata.remove("x-forwarded-host");
    let forwarded = |name: &str| headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    // The proxies' X-Forwarded-For lines (when trusted), then the peer.
    let mut chain = if trust_forwarded { forwarded("x-forwarded-for") } else { Vec::new() };
    let ip = peer.map(|peer| peer.ip().to_string());
    chain.extend(ip.as_deref());
    if !chain.is_empty() {
        let _ = metadata.insert("x-forwarded-for", &chain.join(", "));
    }
    // The host the client asked for: a trusted proxy's X-Forwarded-Host, else Host (HTTP/1.1), else the
    // URI's authority (HTTP/2).
    let proxied_host = if trust_forwarded { headers.get("x-forwarded-host") } else { None };
    let host = proxied_host.or_else(|| headers.get(http::header::HOST)).and_then(|v| v.to_str().ok()).or(authority);
    if let Some(host) = host {
        let _ = metadata.insert("x-forwarded-host", host);
    }
    Ok((metadata, deadline))
}

/// Adds response metadata as `Grpc-Metadata-*` headers and trailers as `Grpc-Trailer-*` headers.
pub(crate) fn outgoing(headers: &mut http::HeaderMap, metadata: MetadataMap, trailers: MetadataMap) {
    for (prefix, map) in [(METADATA_PREFIX, metadata), (TRAILER_PREFIX, trailers)] {
        let map = map.into_headers();
        let mut last = None;
        for (name, value) in map {
            // HeaderMap's iterator gives the name once for a run of values.
            let name = match name {
                Some(name) => {
                    last = Some(name.clone());
                    name
                }
                None => match &last {
                    Some(name) => name.clone(),
                    None => continue,
                },
            };
            if let Ok(header) = http::HeaderName::from_bytes(format!("{prefix}{}", name.as_str()).as_bytes()) {
                headers.append(header, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_become_metadata() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Bearer t".parse().unwrap());
        headers.insert("grpc-metadata-tenant", "acme".parse().unwrap());
        headers.insert("grpc-metadata-trace-bin", "AQID".parse().unwrap());
        headers.insert("user-agent", "curl/8".parse().unwrap());
        headers.insert("x-custom", "kept?".parse().unwrap());
        headers.insert("grpc-timeout", "250m".parse().unwrap());
        headers.append("x-forwarded-for", "192.0.2.1".parse().unwrap());
        headers.insert("cookie", http::HeaderValue::from_bytes(b"a=\xff").unwrap());
        let peer = Some("10.0.0.1:5".parse().unwrap());
        let (metadata, deadline) = incoming(&headers, Some("api:80"), None, peer, true).unwrap();
        assert_eq!(metadata.get("authorization"), Some("Bearer t"));
        assert_eq!(metadata.get("tenant"), Some("acme"));
        assert_eq!(metadata.get_bin("trace-bin").unwrap().unwrap(), [1, 2, 3]);
        assert_eq!(metadata.get("grpcgateway-user-agent"), Some("curl/8"));
        assert_eq!(metadata.get("x-custom"), None);
        assert_eq!(metadata.get("x-forwarded-for"), Some("192.0.2.1, 10.0.0.1"));
        assert_eq!(metadata.get("x-forwarded-host"), Some("api:80"));
        assert_eq!(metadata.get("grpcgateway-cookie"), None, "a value that is not ASCII is left out");
        assert!(deadline.is_some());

        let matcher: HeaderMatcher = Arc::new(|name| (name == "x-custom").then(|| "Custom".to_owned()));
        let (metadata, _) = incoming(&headers, None, Some(&matcher), None, false).unwrap();
        assert_eq!(metadata.get("custom"), Some("kept?"));

        headers.insert("grpc-timeout", "soon".parse().unwrap());
        let error = incoming(&headers, None, None, None, false).unwrap_err();
        assert!(error.message().contains("grpc-timeout"), "{error}");
    }

    #[test]
    fn metadata_headers_cannot_forge_what_the_gateway_sets() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-metadata-authorization", "Bearer forged".parse().unwrap());
        headers.insert("grpc-metadata-x-forwarded-for", "203.0.113.9".parse().unwrap());
        headers.insert("grpc-metadata-x-forwarded-host", "evil.example".parse().unwrap());
        headers.insert("grpc-metadata-grpcgateway-user-agent", "forged/1".parse().unwrap());
        headers.insert("grpc-metadata-tenant", "acme".parse().unwrap());
        headers.insert("user-agent", "curl/8".parse().unwrap());
        headers.insert("host", "api:80".parse().unwrap());
        headers.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
        headers.insert("x-forwarded-host", "spoofed.example".parse().unwrap());
        let peer = Some("10.0.0.1:5".parse().unwrap());
        let (metadata, _) = incoming(&headers, None, None, peer, false).unwrap();
        assert_eq!(metadata.get("authorization"), None, "only the Authorization header gives it");
        assert_eq!(metadata.get_all("x-forwarded-for"), ["10.0.0.1"]);
        assert_eq!(metadata.get_all("x-forwarded-host"), ["api:80"]);
        assert_eq!(metadata.get_all("grpcgateway-user-agent"), ["curl/8"]);
        assert_eq!(metadata.get("tenant"), Some("acme"));

        // Without a peer (a gateway mounted in another server) nothing forged slips in either.
        let (metadata, _) = incoming(&headers, None, None, None, false).unwrap();
        assert_eq!(metadata.get("x-forwarded-for"), None);

        // Trusted (behind a proxy that sets them), the client's X-Forwarded-* are believed.
        let (metadata, _) = incoming(&headers, None, None, peer, true).unwrap();
        assert_eq!(metadata.get("x-forwarded-for"), Some("198.51.100.7, 10.0.0.1"));
        assert_eq!(metadata.get("x-forwarded-host"), Some("spoofed.example"));
        assert_eq!(metadata.get("authorization"), None);
    }
}
