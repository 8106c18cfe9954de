//! Self-signed JWT access credentials (runtime feature `jwt`), as grpc-go's `oauth.NewJWTAccessFromKey`:
//! each call carries `authorization: Bearer <JWT>` signed with the caller's key, its audience the service
//! being called (`https://host/package.Service`), so a server verifies it with the caller's public key and
//! no token endpoint is involved. Tokens are cached per audience and signed again before they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::{CallCredentials, CallInfo, MetadataFuture};
use crate::config_error::{ConfigError, ConfigErrorKind};
use crate::metadata::MetadataMap;
use crate::status::Status;

/// How many audiences' tokens are kept; a channel calls a handful of services, so more means misuse.
const MAX_CACHED_AUDIENCES: usize = 64;

/// Per-call credentials that sign a JWT for each service called.
pub struct JwtCredentials {
    key: EncodingKey,
    header: Header,
    issuer: String,
    subject: String,
    audience: Option<String>,
    lifetime: Duration,
    refresh_before: Duration,
    claims: serde_json::Map<String, serde_json::Value>,
    cache: Mutex<HashMap<String, (String, SystemTime)>>,
}

impl JwtCredentials {
    fn with_key(key: EncodingKey, algorithm: Algorithm, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        JwtCredentials {
            key,
            header: Header::new(algorithm),
            subject: issuer.clone(),
            issuer,
            audience: None,
            lifetime: Duration::from_secs(3600),
            refresh_before: Duration::from_secs(60),
            claims: serde_json::Map::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Signs with RS256 and an RSA private key in PEM (PKCS#1 or PKCS#8); `issuer` is also the subject.
    pub fn rsa_pem(pem: &[u8], issuer: impl Into<String>) -> Result<Self, ConfigError> {
        let key = EncodingKey::from_rsa_pem(pem).map_err(|e| key_error("an RSA private key in PEM", e))?;
        Ok(Self::with_key(key, Algorithm::RS256, issuer))
    }

    /// Signs with ES256 and a P-256 private key in PEM (PKCS#8).
    pub fn ec_pem(pem: &[u8], issuer: impl Into<String>) -> Result<Self, ConfigError> {
        let key = EncodingKey::from_ec_pem(pem).map_err(|e| key_error("a P-256 private key in PKCS#8 PEM", e))?;
        Ok(Self::with_key(key, Algorithm::ES256, issuer))
    }

    /// Signs with EdDSA and an Ed25519 private key in PEM (PKCS#8).
    pub fn ed25519_pem(pem: &[u8], issuer: impl Into<String>) -> Result<Self, ConfigError> {
        let key = EncodingKey::from_ed_pem(pem).map_err(|e| key_error("an Ed25519 private key in PKCS#8 PEM", e))?;
        Ok(Self::with_key(key, Algorithm::EdDSA, issuer))
    }

    /// Signs with HS256 and a secret the server shares (no public key: for closed systems only).
    pub fn hmac(secret: &[u8], issuer: impl Into<String>) -> Result<Self, ConfigError> {
        if secret.len() < 32 {
            return Err(ConfigError::new(
                ConfigErrorKind::Credentials,
                "an HS256 secret needs at least 32 bytes (RFC 7518 section 3.2)",
            ));
        }
        Ok(Self::with_key(EncodingKey::from_secret(secret), Algorithm::HS256, issuer))
    }

    /// From a Google service account key file (`"type": "service_account"` JSON), as grpc-go's
    /// `NewJWTAccessFromKey`: RS256 with `private_key`, issuer and subject `client_email`, key id
    /// `private_key_id`.
    pub fn service_account_json(json: &str) -> Result<Self, ConfigError> {
        let key: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            ConfigError::new(ConfigErrorKind::Credentials, format!("the service account key is not JSON: {e}"))
        })?;
        let field = |name: &str| {
            key.get(name).and_then(serde_json::Value::as_str).ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::Credentials,
                    format!("the service account key has no string field {name:?}"),
                )
            })
        };
        let credentials = Self::rsa_pem(field("private_key")?.as_bytes(), field("client_email")?)?;
        Ok(match key.get("private_key_id").and_then(serde_json::Value::as_str) {
            Some(id) => credentials.key_id(id),
            None => credentials,
        })
    }

    /// The `kid` header, which tells the server which of the issuer's keys signed.
    pub fn key_id(mut self, id: impl Into<String>) -> Self {
        self.header.kid = Some(id.into());
        self
    }

    /// The `sub` claim (default: the issuer).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// A fixed `aud` claim, in place of `https://<host>/<package.Service>` of each call.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How long each token is valid (`exp - iat`; default one hour).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How long before its expiry a token is signed again (default one minute, at most half the lifetime).
    pub fn refresh_before(mut self, margin: Duration) -> Self {
        self.refresh_before = margin;
        self
    }

    /// Another claim in every token (`scope`, `email`...). The registered claims set here win over it.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// The audience of `call`, as grpc-go computes it: `https://` + the authority without `:443` + `/` +
    /// the service's full name.
    fn audience_of(&self, call: &CallInfo) -> String {
        if let Some(audience) = &self.audience {
            return audience.clone();
        }
        let host = call.authority.strip_suffix(":443").unwrap_or(&call.authority);
        let service = call.method.trim_start_matches('/').rsplit_once('/').map_or(call.method, |(service, _)| service);
        format!("https://{host}/{service}")
    }

    /// The token for `audience`: the cached one while it is not due, else a newly signed one.
    fn token(&self, audience: String) -> Result<String, Status> {
        let now = SystemTime::now();
        let margin = self.refresh_before.min(self.lifetime / 2);
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((token, expiry)) = cache.get(&audience) {
            if now.checked_add(margin).is_some_and(|due| due < *expiry) {
                return Ok(token.clone());
            }
        }
        let issued = now.duration_since(UNIX_EPOCH).map_err(|_| Status::internal("the clock is before 1970"))?;
        let expiry = now + self.lifetime;
        let mut claims = self.claims.clone();
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("sub".into(), self.subject.clone().into());
        claims.insert("aud".into(), audience.clone().into());
        claims.insert("iat".into(), issued.as_secs().into());
        claims.insert("exp".into(), (issued + self.lifetime).as_secs().into());
        let token = jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|e| Status::unauthenticated(format!("signing the JWT failed: {e}")))?;
        if cache.len() >= MAX_CACHED_AUDIENCES {
            cache.clear();
        }
        cache.insert(audience, (token.clone(), expiry));
        Ok(token)
    }
}

impl std::fmt::Debug for JwtCredentials {
    // No key material and no tokens in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtCredentials")
            .field("algorithm", &self.header.alg)
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl CallCredentials for JwtCredentials {
    fn metadata<'a>(&'a self, call: &'a CallInfo) -> MetadataFuture<'a> {
        let result = self.token(self.audience_of(call)).and_then(|token| {
            let mut metadata = MetadataMap::new();
            metadata
                .insert("authorization", &format!("Bearer {token}"))
                .map_err(|_| Status::unauthenticated("the JWT is not a valid header value"))?;
            Ok(metadata)
        });
        Box::pin(async move { result })
    }
}

fn key_error(what: &str, error: jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::new(ConfigErrorKind::Credentials, format!("the JWT signing key is not {what}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(authority: &str, method: &'static str) -> CallInfo {
        CallInfo { authority: authority.into(), method }
    }

    #[test]
    fn the_audience_is_the_service_at_the_host_without_the_default_port() {
        let credentials = JwtCredentials::hmac(&[7; 32], "me").unwrap();
        assert_eq!(
            credentials.audience_of(&call("api.example.com:443", "/shop.v1.Shop/Get")),
            "https://api.example.com/shop.v1.Shop"
        );
        assert_eq!(credentials.audience_of(&call("10.0.0.1:8443", "/a.B/C")), "https://10.0.0.1:8443/a.B");
        assert_eq!(credentials.audience("fixed").audience_of(&call("h:1", "/a.B/C")), "fixed");
    }

    #[test]
    fn bad_keys_are_refused_with_what_was_expected() {
        let error = JwtCredentials::rsa_pem(b"not a key", "me").unwrap_err().to_string();
        assert!(error.contains("RSA private key"), "{error}");
        let error = JwtCredentials::hmac(b"short", "me").unwrap_err().to_string();
        assert!(error.contains("32 bytes"), "{error}");
        let error = JwtCredentials::service_account_json(r#"{"client_email": "a@b"}"#).unwrap_err().to_string();
        assert!(error.contains("private_key"), "{error}");
        assert!(JwtCredentials::service_account_json("{").unwrap_err().to_string().contains("not JSON"));
    }

    #[test]
    fn a_token_is_reused_per_audience_until_it_is_due() {
        let credentials = JwtCredentials::hmac(&[7; 32], "me").unwrap();
        let first = credentials.token("a".into()).unwrap();
        assert_eq!(credentials.token("a".into()).unwrap(), first);
        assert_ne!(credentials.token("b".into()).unwrap(), first);
        // A lifetime shorter than twice the margin: due at once, so each call signs anew.
        let short = JwtCredentials::hmac(&[7; 32], "me").unwrap().lifetime(Duration::ZERO);
        let one = short.token("a".into()).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        assert_ne!(short.token("a".into()).unwrap(), one);
    }
}
