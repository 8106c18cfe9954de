//! OAuth2-style access tokens from an async source, cached and refreshed before they expire, as grpc-go's
//! `oauth.TokenSource` over `oauth2.ReuseTokenSource`: the source is asked once for a token, calls reuse
//! it, and one call refreshes it shortly before expiry while the others go on with the still-valid token.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{CallCredentials, CallInfo, MetadataFuture};
use crate::metadata::MetadataMap;
use crate::status::Status;

/// An access token as a token endpoint returns it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The token itself (`access_token`).
    pub access_token: String,
    /// The scheme of the `authorization` header (`token_type`, usually `Bearer`).
    pub token_type: String,
    /// When the token stops being valid; `None` if it does not say (it is then kept until a call fails).
    pub expires_at: Option<SystemTime>,
}

impl Token {
    /// A bearer token valid until `expires_at`.
    pub fn bearer(access_token: impl Into<String>, expires_at: Option<SystemTime>) -> Self {
        Token { access_token: access_token.into(), token_type: "Bearer".to_owned(), expires_at }
    }

    /// A bearer token valid for `expires_in` from now (a token endpoint's `expires_in`).
    pub fn bearer_for(access_token: impl Into<String>, expires_in: Duration) -> Self {
        Token::bearer(access_token, SystemTime::now().checked_add(expires_in))
    }

    fn valid_at(&self, time: SystemTime) -> bool {
        self.expires_at.is_none_or(|expiry| time < expiry)
    }
}

impl std::fmt::Debug for Token {
    // The token is a secret: a log line of the credentials must not carry it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The boxed future a [`TokenSource`] returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Token, Status>> + Send + 'a>>;

/// Where fresh tokens come from: a token endpoint, a metadata server, a secret store.
///
/// Implemented for async closures returning `Result<Token, Status>`; an error fails the calls that
/// needed a new token with that status.
pub trait TokenSource: Send + Sync + 'static {
    /// A new token.
    fn token(&self) -> TokenFuture<'_>;
}

impl<F, Fut> TokenSource for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, Status>> + Send + 'static,
{
    fn token(&self) -> TokenFuture<'_> {
        Box::pin(self())
    }
}

/// Per-call credentials that send `authorization: <type> <token>` with a token from a [`TokenSource`].
///
/// A token is reused until `refresh_before` its expiry (10 seconds by default, as oauth2's
/// `ReuseTokenSource`). Then the first call to notice refreshes it, and calls that arrive meanwhile go on
/// with the old token, which is still valid; a failed refresh in that window keeps the old token. Without a
/// valid token, calls wait for the one refresh in flight rather than each asking the source.
pub struct TokenCredentials {
    source: Box<dyn TokenSource>,
    refresh_before: Duration,
    cached: Mutex<Option<Token>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl TokenCredentials {
    /// Credentials over `source`.
    pub fn new(source: impl TokenSource) -> Self {
        TokenCredentials {
            source: Box::new(source),
            refresh_before: Duration::from_secs(10),
            cached: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// How long before its expiry a token is refreshed (default 10 seconds).
    pub fn refresh_before(mut self, margin: Duration) -> Self {
        self.refresh_before = margin;
        self
    }

    /// A token to send now: the cached one, or a new one.
    pub async fn token(&self) -> Result<Token, Status> {
        let now = SystemTime::now();
        let fresh_until = now.checked_add(self.refresh_before).unwrap_or(now);
        let cached = self.cached();
        match cached {
            Some(token) if token.valid_at(fresh_until) => Ok(token),
            // Still valid but due: one call refreshes, the others use it meanwhile.
            Some(token) if token.valid_at(now) => match self.refreshing.try_lock() {
                Ok(_guard) => match self.fetch().await {
                    Ok(new) => Ok(new),
                    Err(error) => {
                        tracing::warn!(%error, "refreshing the access token failed; the current one is still valid");
                        Ok(token)
                    }
                },
                Err(_) => Ok(token),
            },
            _ => {
                let _guard = self.refreshing.lock().await;
                // Whoever held the lock may have just fetched one.
                if let Some(token) = self.cached().filter(|token| token.valid_at(SystemTime::now())) {
                    return Ok(token);
                }
                self.fetch().await
            }
        }
    }

    fn cached(&self) -> Option<Token> {
        self.cached.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    async fn fetch(&self) -> Result<Token, Status> {
        let token = self.source.token().await?;
        if token.access_token.is_empty() {
            return Err(Status::unauthenticated("the token source returned an empty access token"));
        }
        if !token.valid_at(SystemTime::now()) {
            return Err(Status::unauthenticated("the token source returned a token that has already expired"));
        }
        *self.cached.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(token.clone());
        Ok(token)
    }
}

impl std::fmt::Debug for TokenCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCredentials").field("refresh_before", &self.refresh_before).finish_non_exhaustive()
    }
}

impl CallCredentials for TokenCredentials {
    fn metadata<'a>(&'a self, _call: &'a CallInfo) -> MetadataFuture<'a> {
        Box::pin(async move {
            let token = self.token().await?;
            let mut metadata = MetadataMap::new();
            let value = format!("{} {}", token.token_type, token.access_token);
            metadata
                .insert("authorization", &value)
                .map_err(|_| Status::unauthenticated("the access token is not a valid header value"))?;
            Ok(metadata)
        })
    }
}

impl CallCredentials for Arc<TokenCredentials> {
    fn metadata<'a>(&'a self, call: &'a CallInfo) -> MetadataFuture<'a> {
        (**self).metadata(call)
    }
}
