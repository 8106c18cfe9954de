//! TLS and mutual TLS, and per-call credentials, over real connections, with certificates made in the test (rcgen): a CA, a server
//! certificate for 127.0.0.1 and localhost, a client certificate, and a second CA nobody trusts.

use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::tls::{ClientTlsConfig, Identity, ServerTlsConfig};
use rsgrpc::Code;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::{serve, Running};

#[path = "pki/mod.rs"]
mod pki;
use pki::{leaf, Pki};

async fn tls_server(config: ServerTlsConfig) -> Running {
    let server = Server::builder().add_service(EchoServer::new(EchoService::default())).tls(config).unwrap().build();
    serve(server).await
}

fn https(server: &Running) -> String {
    format!("https://{}", server.addr)
}

fn hello() -> EchoRequest {
    EchoRequest { message: "over TLS".into(), ..Default::default() }
}

async fn call(
    target: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<rsgrpc::Response<rsgrpc_tests::gen::rsgrpc::test::echo::EchoResponse>, rsgrpc::Status> {
    let mut builder = Channel::builder(target)?;
    if let Some(tls) = tls {
        builder = builder.tls(tls)?;
    }
    EchoClient::new(builder.connect_lazy()).unary(hello()).await
}

#[tokio::test]
async fn tls_with_a_custom_root_and_a_server_name_override() {
    let pki = Pki::new();
    let server = tls_server(ServerTlsConfig::new(pki.server_identity())).await;
    let response = call(&https(&server), Some(pki.client_tls())).await.unwrap();
    assert_eq!(response.get_ref().message, "over TLS");
    assert!(response.trailers().get_bin("x-client-certificate-bin").is_none(), "no client certificate without mTLS");
    // Connect by address, check the certificate against "localhost".
    let by_address = format!("https://127.0.0.1:{}", server.addr.port());
    assert!(call(&by_address, Some(pki.client_tls().domain_name("localhost"))).await.is_ok());
    let wrong_name = call(&https(&server), Some(pki.client_tls().domain_name("elsewhere.example"))).await.unwrap_err();
    assert_eq!(wrong_name.code(), Code::Unavailable, "{wrong_name}");
    assert!(wrong_name.message().contains("TLS handshake"), "{wrong_name}");
}

#[tokio::test]
async fn mutual_tls_accepts_a_trusted_client_and_shows_its_identity() {
    let pki = Pki::new();
    let config = ServerTlsConfig::new(pki.server_identity()).client_ca_pem(pki.ca.pem.as_bytes()).unwrap();
    let server = tls_server(config).await;
    let (certificate, der, key) = leaf(&pki.ca, &["client.local"], "trusted client");
    let identity = Identity::from_pem(certificate.as_bytes(), key.as_bytes()).unwrap();
    let response = call(&https(&server), Some(pki.client_tls().identity(identity))).await.unwrap();
    let seen = response.trailers().get_bin("x-client-certificate-bin").expect("the handler saw a certificate").unwrap();
    assert_eq!(seen, der, "the handler sees the client's certificate");
}

#[tokio::test]
async fn mutual_tls_refuses_a_missing_or_untrusted_client_certificate() {
    let pki = Pki::new();
    let config = ServerTlsConfig::new(pki.server_identity()).client_ca_pem(pki.ca.pem.as_bytes()).unwrap();
    let server = tls_server(config).await;
    let missing = call(&https(&server), Some(pki.client_tls())).await.unwrap_err();
    assert_eq!(missing.code(), Code::Unavailable, "{missing}");
    let (certificate, _, key) = leaf(&pki.stranger, &["client.local"], "stranger");
    let identity = Identity::from_pem(certificate.as_bytes(), key.as_bytes()).unwrap();
    let untrusted = call(&https(&server), Some(pki.client_tls().identity(identity))).await.unwrap_err();
    assert_eq!(untrusted.code(), Code::Unavailable, "{untrusted}");
    // The server keeps serving trusted clients.
    let (certificate, _, key) = leaf(&pki.ca, &["client.local"], "trusted client");
    let identity = Identity::from_pem(certificate.as_bytes(), key.as_bytes()).unwrap();
    assert!(call(&https(&server), Some(pki.client_tls().identity(identity))).await.is_ok());
}

#[tokio::test]
async fn plaintext_and_tls_mismatches_fail_clearly() {
    let pki = Pki::new();
    let server = tls_server(ServerTlsConfig::new(pki.server_identity())).await;
    let plaintext = call(&format!("http://{}", server.addr), None).await.unwrap_err();
    assert_eq!(plaintext.code(), Code::Unavailable, "{plaintext}");
    assert!(plaintext.message().contains("TLS") || plaintext.message().contains("handshake"), "{plaintext}");

    let plain_server = serve(Server::builder().add_service(EchoServer::new(EchoService::default())).build()).await;
    let tls_to_plain = call(&https(&plain_server), Some(pki.client_tls())).await.unwrap_err();
    assert_eq!(tls_to_plain.code(), Code::Unavailable, "{tls_to_plain}");
    assert!(tls_to_plain.message().contains("TLS handshake"), "{tls_to_plain}");

    // No TLS config: the system's CAs, which do not include this test's CA (tls_system_roots.rs has the
    // case where they do).
    // (On a machine without a trust store, the channel says there is none instead.)
    let no_config = call(&https(&server), None).await.unwrap_err();
    let untrusted = no_config.code() == Code::Unavailable && no_config.message().contains("TLS handshake");
    let no_store = no_config.code() == Code::InvalidArgument && no_config.message().contains("trust store");
    assert!(untrusted || no_store, "{no_config}");
}

/// The `authorization` header the server saw (the echo service returns it as a trailer).
fn authorization(response: &rsgrpc::Response<rsgrpc_tests::gen::rsgrpc::test::echo::EchoResponse>) -> Option<String> {
    response.trailers().get("x-authorization").map(str::to_owned)
}

#[tokio::test]
async fn credentials_per_channel_and_per_call_over_tls() {
    use rsgrpc::client::Credentials;
    let pki = Pki::new();
    let server = tls_server(ServerTlsConfig::new(pki.server_identity())).await;
    let channel = Channel::builder(&https(&server)).unwrap().tls(pki.client_tls()).unwrap();
    let client = EchoClient::new(channel.credentials(Credentials::bearer("abc")).connect_lazy());
    assert_eq!(authorization(&client.unary(hello()).await.unwrap()).as_deref(), Some("Bearer abc"));
    // A call's own credentials replace the channel's.
    let request = rsgrpc::Request::new(hello()).with_credentials(Credentials::basic("user", "secret"));
    assert_eq!(authorization(&client.unary(request).await.unwrap()).as_deref(), Some("Basic dXNlcjpzZWNyZXQ="));

    // A refreshed token: the function runs for every call.
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = issued.clone();
    let refreshing = Credentials::from_fn(move |call| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            let mut metadata = rsgrpc::MetadataMap::new();
            metadata.insert("authorization", &format!("Bearer jwt-{n}-for-{}", call.method))?;
            Ok(metadata)
        }
    });
    for n in 0..2 {
        let request = rsgrpc::Request::new(hello()).with_credentials(refreshing.clone());
        let seen = authorization(&client.unary(request).await.unwrap());
        assert_eq!(seen.as_deref(), Some(format!("Bearer jwt-{n}-for-/rsgrpc.test.echo.Echo/Unary").as_str()));
    }
    // A failing credential fails the call with its status.
    let failing = Credentials::from_fn(|_| async { Err(rsgrpc::Status::unauthenticated("token expired")) });
    let status = client.unary(rsgrpc::Request::new(hello()).with_credentials(failing)).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unauthenticated, "token expired"));
}

#[tokio::test]
async fn credentials_are_refused_over_plaintext_unless_allowed() {
    use rsgrpc::client::Credentials;
    let service = EchoService::default();
    let server = serve(Server::builder().add_service(EchoServer::new(service.clone())).build()).await;
    let channel = Channel::builder(&server.target()).unwrap().credentials(Credentials::bearer("abc")).connect_lazy();
    let status = EchoClient::new(channel).unary(hello()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    assert!(status.message().contains("plaintext"), "{status}");
    assert_eq!(service.observed.started.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was sent");

    let allowed = Credentials::bearer("abc").allow_insecure();
    let channel = Channel::builder(&server.target()).unwrap().credentials(allowed).connect_lazy();
    let response = EchoClient::new(channel).unary(hello()).await.unwrap();
    assert_eq!(authorization(&response).as_deref(), Some("Bearer abc"));
}
