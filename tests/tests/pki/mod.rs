//! Certificates made in the test (rcgen), shared by the TLS tests: a CA, leaves it signs, and a second CA
//! nobody trusts.

#![allow(dead_code)]

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rsgrpc::tls::{ClientTlsConfig, Identity};

/// A certificate authority.
pub struct Ca {
    pub pem: String,
    pub issuer: Issuer<'static, KeyPair>,
}

pub fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { pem, issuer: Issuer::new(params, key) }
}

/// A certificate signed by `ca` and its key: (certificate PEM, certificate DER, key PEM).
pub fn leaf(ca: &Ca, names: &[&str], common_name: &str) -> (String, Vec<u8>, String) {
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, common_name);
    let key = KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, &ca.issuer).unwrap();
    (certificate.pem(), certificate.der().to_vec(), key.serialize_pem())
}

pub struct Pki {
    pub ca: Ca,
    pub stranger: Ca,
}

impl Pki {
    pub fn new() -> Self {
        Pki { ca: ca("rsgrpc test CA"), stranger: ca("untrusted CA") }
    }

    pub fn server_identity(&self) -> Identity {
        let (certificate, _, key) = leaf(&self.ca, &["localhost", "127.0.0.1"], "server");
        Identity::from_pem(certificate.as_bytes(), key.as_bytes()).unwrap()
    }

    pub fn client_tls(&self) -> ClientTlsConfig {
        ClientTlsConfig::new().ca_pem(self.ca.pem.as_bytes()).unwrap()
    }
}
