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

/// The metadata and deadline of a gateway request.
pub(crate) fn incoming(
    headers: &http::HeaderMap,
    authority: Option<&str>,
    matcher: Option<&HeaderMatcher>,
    peer: Option<SocketAddr>,
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
    if let Some(peer) = peer {
        // Every X-Forwarded-For line of the proxies before us, then the peer.
        let mut chain: Vec<&str> = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        let ip = peer.ip().to_string();
        chain.push(&ip);
        let _ = metadata.insert("x-forwarded-for", &chain.join(", "));
    }
    // The host the client asked for: a proxy's X-Forwarded-Host, else Host (HTTP/1.1), else the URI's
    // authority (HTTP/2).
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(http::header::HOST))
        .and_then(|v| v.to_str().ok())
        .or(authority);
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
        let (metadata, deadline) =
            incoming(&headers, Some("api:80"), None, Some("10.0.0.1:5".parse().unwrap())).unwrap();
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
        let (metadata, _) = incoming(&headers, None, Some(&matcher), None).unwrap();
        assert_eq!(metadata.get("custom"), Some("kept?"));

        headers.insert("grpc-timeout", "soon".parse().unwrap());
        let error = incoming(&headers, None, None, None).unwrap_err();
        assert!(error.message().contains("grpc-timeout"), "{error}");
    }
}
