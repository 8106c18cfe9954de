//! TLS and mutual TLS with rustls: certificates and keys from PEM (files or memory) with errors that say which
//! input is wrong, a server configuration (optionally verifying client certificates against a CA) and a
//! client configuration (custom root CAs, a client identity, a server name override). ALPN is `h2`.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::RootCertStore;

use crate::config_error::{ConfigError, ConfigErrorKind};

/// ALPN: gRPC is HTTP/2.
const ALPN_H2: &[u8] = b"h2";

/// A TLS setup problem: which input, and what is wrong with it (a [`ConfigError`] of kind `Tls`).
pub type TlsError = ConfigError;

#[allow(non_snake_case)]
fn TlsError(message: String) -> ConfigError {
    ConfigError::new(ConfigErrorKind::Tls, message)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Certificates from PEM; `what` names the input in errors.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError(format!("{what}: not valid PEM certificates: {e}")))?;
    if certificates.is_empty() {
        return Err(TlsError(format!("{what}: no PEM certificate (\"-----BEGIN CERTIFICATE-----\") found")));
    }
    Ok(certificates)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError(format!("{}: {e}", path.display())))
}

/// A certificate chain and its private key: who a server (or, with mTLS, a client) is.
#[derive(Debug)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

impl Identity {
    /// From PEM in memory: the certificate chain (leaf first) and the private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(certificate_chain: &[u8], private_key: &[u8]) -> Result<Identity, TlsError> {
        let chain = certificates(certificate_chain, "certificate chain")?;
        let key = PrivateKeyDer::from_pem_slice(private_key)
            .map_err(|e| TlsError(format!("private key: no usable PEM private key: {e}")))?;
        Ok(Identity { chain, key })
    }

    /// From PEM files.
    pub fn from_pem_files(
        certificate_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<Identity, TlsError> {
        let (chain_path, key_path) = (certificate_chain.as_ref(), private_key.as_ref());
        let chain = certificates(&read(chain_path)?, &chain_path.display().to_string())?;
        let key = PrivateKeyDer::from_pem_slice(&read(key_path)?)
            .map_err(|e| TlsError(format!("{}: no usable PEM private key: {e}", key_path.display())))?;
        Ok(Identity { chain, key })
    }
}

fn root_store(roots: &[CertificateDer<'static>]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).map_err(|e| TlsError(format!("CA certificate: {e}")))?;
    }
    Ok(store)
}

/// The server side: its identity and, for mutual TLS, the CAs client certificates must chain to.
#[derive(Debug, Clone)]
pub struct ServerTlsConfig {
    identity: Option<Identity>,
    client_roots: Vec<CertificateDer<'static>>,
    client_auth_optional: bool,
    /// A config the user built with rustls directly.
    custom: Option<Arc<rustls::ServerConfig>>,
}

impl ServerTlsConfig {
    /// TLS with this identity; clients are not asked for certificates.
    pub fn new(identity: Identity) -> Self {
        ServerTlsConfig {
            identity: Some(identity),
            client_roots: Vec::new(),
            client_auth_optional: false,
            custom: None,
        }
    }

    /// A server config built with rustls directly (a certificate resolver, a key in an HSM, other
    /// verifiers): used as it is, with `h2` added to its ALPN protocols if it has none. The other methods
    /// of this type do not apply to it.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> Self {
        ServerTlsConfig { identity: None, client_roots: Vec::new(), client_auth_optional: false, custom: Some(config) }
    }

    /// Mutual TLS: clients must present a certificate that chains to one of these CAs (PEM).
    pub fn client_ca_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        self.client_roots.extend(certificates(pem, "client CA")?);
        Ok(self)
    }

    /// With mutual TLS, also accept clients without a certificate (handlers can tell by
    /// `Request::peer_certificates`).
    pub fn client_auth_optional(mut self, optional: bool) -> Self {
        self.client_auth_optional = optional;
        self
    }

    pub(crate) fn build(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        if let Some(custom) = &self.custom {
            return with_h2(custom, |c| &mut c.alpn_protocols, "server");
        }
        let Some(identity) = &self.identity else { return Err(TlsError("no server identity".into())) };
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?;
        let builder = if self.client_roots.is_empty() {
            builder.with_no_client_auth()
        } else {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(root_store(&self.client_roots)?),
                provider(),
            );
            let verifier = if self.client_auth_optional { verifier.allow_unauthenticated() } else { verifier };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| TlsError(format!("client CA: {e}")))?)
        };
        let mut config = builder
            .with_single_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| TlsError(format!("server identity: {e}")))?;
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Arc::new(config))
    }
}

/// The client side: the CAs the server's certificate must chain to, an identity for mutual TLS, and the
/// name to check the server's certificate against when it differs from the target's host.
///
/// Given no CA, a client trusts the system's CA certificates (feature `native-roots`, on by default),
/// so `https://` to a public endpoint works without configuration.
#[derive(Debug, Clone, Default)]
pub struct ClientTlsConfig {
    roots: Vec<CertificateDer<'static>>,
    identity: Option<Identity>,
    domain: Option<String>,
    /// A config the user built with rustls directly.
    custom: Option<Arc<rustls::ClientConfig>>,
}

impl ClientTlsConfig {
    /// The system's CAs (with the `native-roots` feature), until CAs are given with
    /// [`ClientTlsConfig::ca_pem`], which then are the only ones trusted.
    pub fn new() -> Self {
        ClientTlsConfig::default()
    }

    /// A client config built with rustls directly (its own verifier, key logging, resumption settings):
    /// used as it is, with `h2` added to its ALPN protocols if it has none. [`ClientTlsConfig::domain_name`]
    /// still applies; the other methods do not.
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> Self {
        ClientTlsConfig { custom: Some(config), ..ClientTlsConfig::default() }
    }

    /// Trusts the CA certificates in `pem`.
    pub fn ca_pem(mut self, pem: &[u8]) -> Result<Self, TlsError> {
        self.roots.extend(certificates(pem, "CA certificate")?);
        Ok(self)
    }

    /// Trusts the CA certificates in a PEM file.
    pub fn ca_pem_file(self, path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let pem = read(path.as_ref())?;
        let roots = certificates(&pem, &path.as_ref().display().to_string())?;
        let mut config = self;
        config.roots.extend(roots);
        Ok(config)
    }

    /// Presents this identity to servers that ask (mutual TLS).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Checks the server's certificate against this name instead of the target's host.
    pub fn domain_name(mut self, name: impl Into<String>) -> Self {
        self.domain = Some(name.into());
        self
    }

    pub(crate) fn server_name(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.domain.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned()).map_err(|e| TlsError(format!("server name {name:?}: {e}")))
    }

    pub(crate) fn build(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        if let Some(custom) = &self.custom {
            return with_h2(custom, |c| &mut c.alpn_protocols, "client");
        }
        let roots = if self.roots.is_empty() { system_roots()? } else { root_store(&self.roots)? };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError(e.to_string()))?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some(identity) => builder
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
                .map_err(|e| TlsError(format!("client identity: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(Arc::new(config))
    }
}

/// The system's CA certificates (the platform store, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set).
#[cfg(feature = "native-roots")]
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
        return Err(TlsError(format!(
            "no CA certificate was given (ca_pem) and none was found in the system's trust store{}",
            if why.is_empty() { String::new() } else { format!(": {why}") }
        )));
    }
    Ok(store)
}

#[cfg(not(feature = "native-roots"))]
fn system_roots() -> Result<RootCertStore, TlsError> {
    Err(TlsError(
        "no CA certificate to verify the server with: add one with ca_pem (or enable the runtime's native-roots \
         feature to trust the system's)"
            .into(),
    ))
}

/// A user's rustls config, with `h2` offered if it offers nothing; one that offers only other protocols is
/// refused (gRPC needs HTTP/2).
fn with_h2<C: Clone>(
    config: &Arc<C>,
    alpn: impl Fn(&mut C) -> &mut Vec<Vec<u8>>,
    side: &str,
) -> Result<Arc<C>, TlsError> {
    let mut config = config.clone();
    let protocols = alpn(Arc::make_mut(&mut config));
    if protocols.is_empty() {
        protocols.push(ALPN_H2.to_vec());
    } else if !protocols.iter().any(|p| p == ALPN_H2) {
        return Err(TlsError(format!("the {side} rustls config's ALPN protocols do not include h2, which gRPC needs")));
    }
    Ok(config)
}

/// Checks a finished handshake agreed on HTTP/2; `side` says which end in the error.
pub(crate) fn check_alpn(negotiated: Option<&[u8]>, side: &str) -> Result<(), String> {
    match negotiated {
        Some(ALPN_H2) => Ok(()),
        Some(other) => Err(format!("the {side} negotiated {:?} instead of h2", String::from_utf8_lossy(other))),
        None => Err(format!("the {side} did not negotiate h2 (ALPN)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pem_is_a_clear_error() {
        let error = Identity::from_pem(b"not pem", b"").unwrap_err().to_string();
        assert!(error.contains("certificate chain") && error.contains("BEGIN CERTIFICATE"), "{error}");
        let error = ClientTlsConfig::new().ca_pem(b"").unwrap_err().to_string();
        assert!(error.contains("CA certificate"), "{error}");
        let error = Identity::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err().to_string();
        assert!(error.contains("/nonexistent/cert.pem"), "{error}");
        #[cfg(not(feature = "native-roots"))]
        assert!(ClientTlsConfig::new().build().unwrap_err().to_string().contains("no CA certificate"));
    }
}
