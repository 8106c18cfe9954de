//! One error type for every setting the client, server and gateway builders refuse: what kind of setting,
//! what is wrong with it, and the error underneath when there is one. Errors of calls are [`Status`]es;
//! a `ConfigError` converts to one (`INVALID_ARGUMENT`) where a call reports it, as a lazy channel's calls do.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use crate::status::{Code, Status};

/// A setting that cannot be used, from any builder: a bad target, TLS material, service config, metadata
/// value or gateway route.
#[derive(Debug, Clone)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

/// Which setting a [`ConfigError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A channel's target (its form, its port, its scheme's resolver).
    Target,
    /// Certificates, keys, CAs or the server name.
    Tls,
    /// A service config (JSON).
    ServiceConfig,
    /// A header or metadata value (a user agent, say).
    Value,
    /// A gateway route: its template, its method, or two routes for the same requests.
    Route,
    /// Call credentials: a signing key, a service account key file.
    Credentials,
    /// A server's services: the same service name added twice.
    Service,
}

impl ConfigError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ConfigErrorKind, message: impl Into<String>) -> ConfigError {
        ConfigError { kind, message: message.into(), source: None }
    }

    /// This error with the error it came from.
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> ConfigError {
        self.source = Some(Arc::new(source));
        self
    }

    /// Which setting is wrong.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// What is wrong, naming the input.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The status code a call gets when it meets this error: `INVALID_ARGUMENT`.
    pub fn code(&self) -> Code {
        Code::InvalidArgument
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|source| source as &(dyn Error + 'static))
    }
}

impl PartialEq for ConfigError {
    fn eq(&self, other: &ConfigError) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for ConfigError {}

/// `INVALID_ARGUMENT` with the message, keeping the error as the status's source.
impl From<ConfigError> for Status {
    fn from(error: ConfigError) -> Status {
        Status::new(error.code(), error.message.clone()).with_source(Arc::new(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_error_says_what_and_becomes_invalid_argument_keeping_itself() {
        let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let error =
            ConfigError::new(ConfigErrorKind::ServiceConfig, "invalid service config: not JSON").with_source(json);
        assert_eq!(error.kind(), ConfigErrorKind::ServiceConfig);
        assert!(error.source().unwrap().downcast_ref::<serde_json::Error>().is_some());
        let status = Status::from(error.clone());
        assert_eq!((status.code(), status.message()), (Code::InvalidArgument, "invalid service config: not JSON"));
        assert_eq!(status.source().unwrap().downcast_ref::<ConfigError>(), Some(&error));
    }
}
