//! TLS clients given no CA trust the system's store (the runtime's default `native-roots` feature):
//! `https://` targets need no TLS configuration. The "system store" here is a scratch CA file the test
//! points the loader at with `SSL_CERT_FILE` (as an operator would), so no network and no change to the
//! machine's store. And the escape hatch: a client config built with rustls directly.
//!
//! One test in its own binary, because it sets the process's environment.

use std::sync::Arc;

use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::tls::{ClientTlsConfig, ServerTlsConfig};
use rsgrpc::Code;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::serve;

#[path = "pki/mod.rs"]
mod pki;

async fn hello(channel: Channel) -> Result<String, rsgrpc::Status> {
    let request = EchoRequest { message: "system roots".into(), ..Default::default() };
    Ok(EchoClient::new(channel).unary(request).await?.into_inner().message)
}

#[tokio::test]
async fn https_targets_trust_the_system_store_and_a_users_rustls_config_works_as_given() {
    let pki = pki::Pki::new();
    let server = Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .tls(ServerTlsConfig::new(pki.server_identity()))
        .unwrap()
        .build();
    let server = serve(server).await;
    let target = format!("https://localhost:{}", server.addr.port());
    let store = tempfile::tempdir().unwrap();
    let trusted = store.path().join("trusted.pem");
    std::fs::write(&trusted, &pki.ca.pem).unwrap();
    let stranger = store.path().join("stranger.pem");
    std::fs::write(&stranger, &pki.stranger.pem).unwrap();

    // SAFETY (set_var): this binary has this one test, and nothing else reads the environment meanwhile.
    std::env::set_var("SSL_CERT_FILE", &trusted);
    let channel = Channel::builder(&target).unwrap().connect_lazy();
    assert_eq!(hello(channel).await.unwrap(), "system roots", "no TLS configuration, the system's CAs");
    // ClientTlsConfig::new() without a CA is the same.
    let channel = Channel::builder(&target).unwrap().tls(ClientTlsConfig::new()).unwrap().connect_lazy();
    assert_eq!(hello(channel).await.unwrap(), "system roots");

    // A store without the server's CA: the handshake fails and says so.
    std::env::set_var("SSL_CERT_FILE", &stranger);
    let status = hello(Channel::builder(&target).unwrap().connect_lazy()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("TLS handshake"), "{status}");
    // An empty store: the channel says why it cannot verify anything.
    let empty = store.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    std::env::set_var("SSL_CERT_FILE", &empty);
    std::env::set_var("SSL_CERT_DIR", store.path().join("nothing-here"));
    let status = hello(Channel::builder(&target).unwrap().connect_lazy()).await.unwrap_err();
    assert!(status.message().contains("system's trust store"), "{status}");

    // The escape hatch: the user's rustls config (here trusting the CA itself), h2 added to its ALPN.
    let mut roots = rustls::RootCertStore::empty();
    let der = first_certificate(&pki.ca.pem);
    roots.add(der).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let custom = ClientTlsConfig::from_rustls(Arc::new(config.clone()));
    let channel = Channel::builder(&target).unwrap().tls(custom).unwrap().connect_lazy();
    assert_eq!(hello(channel).await.unwrap(), "system roots");
    // And the server side: a rustls server config of the user's.
    let (certificate, _, key) = pki::leaf(&pki.ca, &["localhost"], "custom server");
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![first_certificate(&certificate)], private_key(&key))
        .unwrap();
    let custom_server = Server::builder()
        .add_service(EchoServer::new(EchoService::default()))
        .tls(ServerTlsConfig::from_rustls(Arc::new(server_config)))
        .unwrap()
        .build();
    let custom_server = serve(custom_server).await;
    let custom_target = format!("https://localhost:{}", custom_server.addr.port());
    let channel = Channel::builder(&custom_target).unwrap().tls(pki.client_tls()).unwrap().connect_lazy();
    assert_eq!(hello(channel).await.unwrap(), "system roots");
    // One that offers only HTTP/1.1 is refused up front.
    let mut http1 = config;
    http1.alpn_protocols = vec![b"http/1.1".to_vec()];
    let error = Channel::builder(&target).unwrap().tls(ClientTlsConfig::from_rustls(Arc::new(http1))).unwrap_err();
    assert!(error.to_string().contains("h2"), "{error}");
}

/// The DER of the first certificate of a PEM text.
fn first_certificate(pem: &str) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

/// The private key of a PEM text.
fn private_key(pem: &str) -> rustls::pki_types::PrivateKeyDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap()
}
