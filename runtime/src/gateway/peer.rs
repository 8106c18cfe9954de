//! Who is on the other end of a gateway connection, past its address: with mutual TLS, the certificate
//! chain the client presented and the handshake verified. The server puts it in each request's extensions,
//! where the gateway hands it on to the call, so in-process handlers read it as they do behind the gRPC
//! server ([`Request::peer_certificates`](crate::Request::peer_certificates)).

use std::sync::Arc;

/// The certificate chain (DER, leaf first) a client presented with mutual TLS, as verified by the
/// gateway's TLS. [`Gateway`](super::Gateway) inserts it into the extensions of every request of such a
/// connection; a host server that mounts the gateway with [`Gateway::handle`](super::Gateway::handle) and
/// terminates TLS itself inserts it there to hand it to the handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificates(pub Arc<[Vec<u8>]>);

impl PeerCertificates {
    /// The chain, leaf first.
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.0
    }

    /// The chain of a finished TLS handshake, if the client sent one (mutual TLS).
    #[cfg(feature = "tls")]
    pub(crate) fn of(session: &rustls::ServerConnection) -> Option<PeerCertificates> {
        let chain = session.peer_certificates()?;
        (!chain.is_empty()).then(|| PeerCertificates(chain.iter().map(|c| c.to_vec()).collect()))
    }
}
