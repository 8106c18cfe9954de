//! Target URIs, as gRPC names them (`dns:///host:port`, `unix:/path`, `ipv4:a:p,b:p`, `scheme://authority/endpoint`
//! for a user's resolver), plus the `http://host:port` and bare `host:port` forms, which resolve by DNS.

use crate::config_error::{ConfigError, ConfigErrorKind};

/// A parsed target: which resolver, and what it resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUri {
    scheme: String,
    authority: String,
    endpoint: String,
    https: bool,
}

impl TargetUri {
    /// Parses `target`; `is_scheme` says whether a name before `:` is a resolver's scheme (otherwise
    /// `name:port` is a host and port).
    pub(crate) fn parse(target: &str, is_scheme: impl Fn(&str) -> bool) -> Result<TargetUri, ConfigError> {
        let bad = |why: &str| ConfigError::new(ConfigErrorKind::Target, format!("invalid target {target:?}: {why}"));
        if target.is_empty() {
            return Err(bad("it is empty"));
        }
        for (prefix, https) in [("http://", false), ("https://", true)] {
            if let Some(rest) = target.strip_prefix(prefix) {
                let endpoint = rest.trim_end_matches('/');
                if endpoint.contains('/') {
                    return Err(bad("a path is not allowed after host:port"));
                }
                return Ok(TargetUri {
                    scheme: "dns".into(),
                    authority: String::new(),
                    endpoint: endpoint.into(),
                    https,
                });
            }
        }
        let (scheme, rest) = match target.split_once(':') {
            Some((scheme, rest)) if is_scheme(scheme) => (scheme, rest),
            _ => {
                return Ok(TargetUri {
                    scheme: "dns".into(),
                    authority: String::new(),
                    endpoint: target.into(),
                    https: false,
                })
            }
        };
        let (authority, endpoint) = match rest.strip_prefix("//") {
            // scheme://authority/endpoint; for unix the path keeps its leading slash.
            Some(rest) => {
                let (authority, path) =
                    rest.split_once('/').ok_or_else(|| bad("expected scheme://authority/endpoint"))?;
                let endpoint = if scheme == "unix" { format!("/{path}") } else { path.to_owned() };
                (authority.to_owned(), endpoint)
            }
            None => (String::new(), rest.to_owned()),
        };
        if endpoint.is_empty() {
            return Err(bad("the endpoint is empty"));
        }
        Ok(TargetUri { scheme: scheme.to_owned(), authority, endpoint, https: false })
    }

    /// The resolver's scheme (`dns`, `unix`, `ipv4`, `ipv6` or a user's).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The authority part of `scheme://authority/endpoint` (often empty).
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// What to resolve: `host:port` for DNS, a path for Unix sockets, a list for `ipv4`/`ipv6`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The target said `https://`: the channel must have TLS configured.
    pub(crate) fn https(&self) -> bool {
        self.https
    }

    /// The `:authority` calls carry and the name TLS verifies, when the user does not set one: the
    /// endpoint for DNS and a user's resolvers, `localhost` for Unix sockets, the first address of a list.
    pub(crate) fn default_authority(&self) -> String {
        match self.scheme.as_str() {
            "unix" => "localhost".into(),
            "ipv4" | "ipv6" => self.endpoint.split(',').next().unwrap_or_default().to_owned(),
            _ => self.endpoint.clone(),
        }
    }
}

impl std::fmt::Display for TargetUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.authority.is_empty() {
            write!(f, "{}:{}", self.scheme, self.endpoint)
        } else {
            write!(f, "{}://{}/{}", self.scheme, self.authority, self.endpoint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(target: &str) -> Result<(String, String, String), ConfigError> {
        let known = |scheme: &str| ["dns", "unix", "ipv4", "ipv6", "consul"].contains(&scheme);
        TargetUri::parse(target, known).map(|t| (t.scheme, t.authority, t.endpoint))
    }

    #[test]
    fn the_forms_of_a_target() {
        let cases = [
            ("http://127.0.0.1:50051", ("dns", "", "127.0.0.1:50051")),
            ("https://api.example.com:443/", ("dns", "", "api.example.com:443")),
            ("localhost:8080", ("dns", "", "localhost:8080")),
            ("[::1]:9000", ("dns", "", "[::1]:9000")),
            ("dns:///svc.local:80", ("dns", "", "svc.local:80")),
            ("dns:svc.local:80", ("dns", "", "svc.local:80")),
            ("dns://8.8.8.8/svc.local:80", ("dns", "8.8.8.8", "svc.local:80")),
            ("unix:/tmp/x.sock", ("unix", "", "/tmp/x.sock")),
            ("unix:///tmp/y.sock", ("unix", "", "/tmp/y.sock")),
            ("ipv4:10.0.0.1:80,10.0.0.2:81", ("ipv4", "", "10.0.0.1:80,10.0.0.2:81")),
            ("ipv6:[::1]:80,[::2]:81", ("ipv6", "", "[::1]:80,[::2]:81")),
            ("consul://agent:8500/payments", ("consul", "agent:8500", "payments")),
            ("consul:///payments", ("consul", "", "payments")),
        ];
        for (text, (scheme, authority, endpoint)) in cases {
            let expected = (scheme.to_owned(), authority.to_owned(), endpoint.to_owned());
            assert_eq!(parse(text).unwrap(), expected, "{text}");
        }
        for bad in ["", "http://host:1/path", "consul://no-endpoint", "dns:///"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
