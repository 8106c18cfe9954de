//! CORS, for browsers calling the gateway from pages of other origins: off unless configured; then
//! preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered by the gateway itself, and
//! answers to allowed origins carry `Access-Control-Allow-Origin` (and `Vary: Origin`).

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};

/// Which cross-origin requests browsers may make ([`GatewayBuilder::cors`](super::GatewayBuilder::cors)).
/// Nothing is allowed until origins are added.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Origins,
    methods: Vec<http::Method>,
    headers: Vec<String>,
    any_header: bool,
    expose: Vec<String>,
    credentials: bool,
    max_age: Option<Duration>,
}

#[derive(Debug, Clone)]
enum Origins {
    Any,
    /// Lower-cased `scheme://host[:port]`.
    List(Vec<String>),
}

impl Default for Cors {
    fn default() -> Self {
        Cors::new()
    }
}

impl Cors {
    /// No origin allowed yet; the methods GET, HEAD, POST, PUT, PATCH and DELETE; the request headers
    /// `Accept`, `Authorization`, `Content-Type` and `Grpc-Timeout`; no credentials; no preflight cache.
    pub fn new() -> Self {
        let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
        Cors {
            origins: Origins::List(Vec::new()),
            methods: methods.iter().map(|m| http::Method::from_bytes(m.as_bytes()).expect("valid")).collect(),
            headers: ["accept", "authorization", "content-type", "grpc-timeout"].map(String::from).to_vec(),
            any_header: false,
            expose: Vec::new(),
            credentials: false,
            max_age: None,
        }
    }

    /// Allows these origins (`https://app.example.com`, compared without case).
    pub fn allow_origins<S: AsRef<str>>(mut self, origins: impl IntoIterator<Item = S>) -> Self {
        let added = origins.into_iter().map(|o| o.as_ref().trim_end_matches('/').to_ascii_lowercase());
        match &mut self.origins {
            Origins::List(list) => list.extend(added),
            Origins::Any => {}
        }
        self
    }

    /// Allows every origin (`Access-Control-Allow-Origin: *`); cannot be combined with credentials.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Origins::Any;
        self
    }

    /// The methods allowed (instead of the defaults); a custom rule's method (`SEARCH`) needs listing here.
    pub fn allow_methods<S: AsRef<str>>(mut self, methods: impl IntoIterator<Item = S>) -> Self {
        self.methods =
            methods.into_iter().filter_map(|m| http::Method::from_bytes(m.as_ref().as_bytes()).ok()).collect();
        self
    }

    /// The request headers allowed (instead of the defaults), such as `Grpc-Metadata-Tenant`.
    pub fn allow_headers<S: AsRef<str>>(mut self, headers: impl IntoIterator<Item = S>) -> Self {
        self.headers = headers.into_iter().map(|h| h.as_ref().to_ascii_lowercase()).collect();
        self
    }

    /// Allows whatever request headers a preflight asks for.
    pub fn allow_any_header(mut self) -> Self {
        self.any_header = true;
        self
    }

    /// The response headers scripts may read besides the CORS-safelisted ones (`Grpc-Metadata-*` headers
    /// the service sets, say).
    pub fn expose_headers<S: AsRef<str>>(mut self, headers: impl IntoIterator<Item = S>) -> Self {
        self.expose.extend(headers.into_iter().map(|h| h.as_ref().to_ascii_lowercase()));
        self
    }

    /// Lets requests carry cookies and HTTP authentication (`Access-Control-Allow-Credentials: true`).
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// How long browsers may cache a preflight's answer (`Access-Control-Max-Age`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Why this configuration cannot be served, if it cannot.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.credentials && matches!(self.origins, Origins::Any) {
            return Err("CORS: credentials cannot be allowed for any origin (list the origins)".into());
        }
        Ok(())
    }

    pub(crate) fn allowed_origin(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match &self.origins {
            Origins::Any => Some(HeaderValue::from_static("*")),
            Origins::List(list) => {
                let text = origin.to_str().ok()?.to_ascii_lowercase();
                list.contains(&text).then(|| origin.clone())
            }
        }
    }

    /// The answer to a preflight request, if `request` is one (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`). A disallowed preflight gets 403 without CORS headers, so the
    /// browser refuses the real request.
    pub(crate) fn preflight(&self, method: &http::Method, request: &HeaderMap) -> Option<http::Response<()>> {
        if method != http::Method::OPTIONS {
            return None;
        }
        let origin = request.get(header::ORIGIN)?;
        let asked = request.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
        let mut response = http::Response::new(());
        response.headers_mut().insert(
            header::VARY,
            HeaderValue::from_static("Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        );
        let asked_headers: Vec<String> = request
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let method_ok = http::Method::from_bytes(asked.as_bytes()).is_ok_and(|m| self.methods.contains(&m));
        let headers_ok = self.any_header || asked_headers.iter().all(|h| self.headers.contains(h));
        let Some(allow_origin) = self.allowed_origin(origin).filter(|_| method_ok && headers_ok) else {
            *response.status_mut() = http::StatusCode::FORBIDDEN;
            return Some(response);
        };
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        let methods: Vec<&str> = self.methods.iter().map(http::Method::as_str).collect();
        if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, value);
        }
        let allowed = if self.any_header { asked_headers } else { self.headers.clone() };
        if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
            if !allowed.is_empty() {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
            }
        }
        if self.credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if let Some(max_age) = self.max_age {
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age.as_secs()));
        }
        Some(response)
    }

    /// Adds the CORS headers to the answer of an actual request from an allowed origin.
    pub(crate) fn decorate(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if !matches!(self.origins, Origins::Any) {
            response.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        let Some(allow_origin) = request.get(header::ORIGIN).and_then(|o| self.allowed_origin(o)) else { return };
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        if self.credentials {
            response.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        if !self.expose.is_empty() {
            if let Ok(value) = HeaderValue::from_str(&self.expose.join(", ")) {
                response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, value);
            }
        }
    }
}
