//! Per-call credentials, as grpc-go's `PerRPCCredentials`: metadata computed for each call (a bearer token,
//! basic auth, a JWT refreshed by the user's code), attached to a channel or to one call, and refused over a
//! plaintext connection unless the credentials say they may travel that way.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;

use crate::metadata::MetadataMap;
use crate::status::Status;

#[cfg(feature = "jwt")]
mod jwt;
mod token;

#[cfg(feature = "jwt")]
pub use jwt::JwtCredentials;
pub use token::{Token, TokenCredentials, TokenFuture, TokenSource};

/// What credentials know about the call they are for.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// The server's authority (`host:port`).
    pub authority: String,
    /// The method's path, `/package.Service/Method`.
    pub method: &'static str,
}

/// The boxed future credentials return.
pub type MetadataFuture<'a> = Pin<Box<dyn Future<Output = Result<MetadataMap, Status>> + Send + 'a>>;

/// Produces metadata for each call.
pub trait CallCredentials: Send + Sync + 'static {
    /// The metadata to add to `call`; an error fails the call with it.
    fn metadata<'a>(&'a self, call: &'a CallInfo) -> MetadataFuture<'a>;

    /// Whether the credentials may only be sent over TLS (default: yes).
    fn requires_transport_security(&self) -> bool {
        true
    }
}

/// Credentials as a value a channel or request holds.
#[derive(Clone)]
pub struct Credentials(pub(crate) Arc<dyn CallCredentials>);

impl Credentials {
    /// Wraps any [`CallCredentials`].
    pub fn new(credentials: impl CallCredentials) -> Self {
        Credentials(Arc::new(credentials))
    }

    /// `authorization: Bearer <token>`.
    pub fn bearer(token: impl Into<String>) -> Self {
        Credentials::new(Fixed::authorization(format!("Bearer {}", token.into())))
    }

    /// `authorization: Basic <base64(user:password)>`.
    pub fn basic(user: &str, password: &str) -> Self {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Credentials::new(Fixed::authorization(format!("Basic {encoded}")))
    }

    /// Metadata from an async function of the call, e.g. a JWT refreshed when it expires.
    pub fn from_fn<F, Fut>(function: F) -> Self
    where
        F: Fn(CallInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<MetadataMap, Status>> + Send + 'static,
    {
        Credentials::new(FromFn(function))
    }

    /// `authorization: Bearer <token>` with tokens from `source`, reused until shortly before they expire
    /// and refreshed by one call at a time (see [`TokenCredentials`]), as grpc-go's `oauth.TokenSource`.
    pub fn oauth(source: impl TokenSource) -> Self {
        Credentials::new(TokenCredentials::new(source))
    }

    /// JWT access credentials signed per service called (see [`JwtCredentials`]), as grpc-go's
    /// `oauth.NewJWTAccessFromKey`.
    #[cfg(feature = "jwt")]
    pub fn jwt(credentials: JwtCredentials) -> Self {
        Credentials::new(credentials)
    }

    /// The same credentials, allowed over plaintext (for tests or a trusted network).
    pub fn allow_insecure(self) -> Self {
        Credentials::new(Insecure(self.0))
    }

    pub(crate) async fn apply(
        &self,
        call: &CallInfo,
        secure: bool,
        headers: &mut http::HeaderMap,
    ) -> Result<(), Status> {
        if !secure && self.0.requires_transport_security() {
            return Err(Status::unauthenticated(format!(
                "refusing to send credentials for {} over a plaintext connection; use TLS, or allow_insecure()",
                call.method
            )));
        }
        let metadata = self.0.metadata(call).await?;
        for (name, value) in metadata.into_headers() {
            if let Some(name) = name {
                headers.insert(name, value);
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(..)")
    }
}

/// The same `authorization` value on every call.
struct Fixed(MetadataMap);

impl Fixed {
    fn authorization(value: String) -> Self {
        let mut metadata = MetadataMap::new();
        // Tokens are ASCII by construction (base64, or what the caller gave); a bad one fails each call.
        let _ = metadata.insert("authorization", &value);
        Fixed(metadata)
    }
}

impl CallCredentials for Fixed {
    fn metadata<'a>(&'a self, _call: &'a CallInfo) -> MetadataFuture<'a> {
        let metadata = self.0.clone();
        Box::pin(async move {
            if metadata.is_empty() {
                return Err(Status::unauthenticated("the credential is not a valid header value"));
            }
            Ok(metadata)
        })
    }
}

struct FromFn<F>(F);

impl<F, Fut> CallCredentials for FromFn<F>
where
    F: Fn(CallInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<MetadataMap, Status>> + Send + 'static,
{
    fn metadata<'a>(&'a self, call: &'a CallInfo) -> MetadataFuture<'a> {
        Box::pin((self.0)(call.clone()))
    }
}

struct Insecure(Arc<dyn CallCredentials>);

impl CallCredentials for Insecure {
    fn metadata<'a>(&'a self, call: &'a CallInfo) -> MetadataFuture<'a> {
        self.0.metadata(call)
    }

    fn requires_transport_security(&self) -> bool {
        false
    }
}
