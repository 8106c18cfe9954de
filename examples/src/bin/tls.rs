//! TLS and mutual TLS: a server with a certificate from a private CA, a client that trusts only that CA,
//! then a server that also requires a client certificate and shows it to the handler.
//! `cargo run -p rsgrpc-examples --bin tls`
//!
//! The certificates are made at start with rcgen so the example runs anywhere; real deployments read PEM
//! files (`Identity::from_pem_files`, `ClientTlsConfig::new().ca_pem_file(...)`).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::tls::{ClientTlsConfig, Identity, ServerTlsConfig};
use rsgrpc::{Request, Response, Status};
use rsgrpc_examples::pb::helloworld::greeter_client::GreeterClient;
use rsgrpc_examples::pb::helloworld::greeter_server::{Greeter, GreeterServer};
use rsgrpc_examples::pb::helloworld::{HelloReply, HelloRequest};

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        // Under mutual TLS the handler sees the client's verified chain (DER), leaf first.
        let who = match request.peer_certificates() {
            Some(chain) => format!("a client with a {}-certificate chain", chain.len()),
            None => "an anonymous client".to_owned(),
        };
        let name = &request.get_ref().name;
        Ok(Response::new(HelloReply { message: format!("Hello {name}, from TLS, to {who}"), ..Default::default() }))
    }
}

/// A private CA: its certificate, and the key that issues certificates.
struct PrivateCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl PrivateCa {
    fn new() -> Result<Self, rcgen::Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "example CA");
        let key = KeyPair::generate()?;
        let pem = params.self_signed(&key)?.pem();
        Ok(PrivateCa { pem, issuer: Issuer::new(params, key) })
    }

    /// A certificate for `name` and its key, both PEM.
    fn issue(&self, name: &str) -> Result<(String, String), rcgen::Error> {
        let key = KeyPair::generate()?;
        let certificate = CertificateParams::new(vec![name.to_owned()])?.signed_by(&key, &self.issuer)?;
        Ok((certificate.pem(), key.serialize_pem()))
    }
}

async fn serve(tls: ServerTlsConfig) -> Result<std::net::SocketAddr, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = Server::builder().add_service(GreeterServer::new(MyGreeter)).tls(tls)?.build();
    tokio::spawn(server.serve_with_shutdown(listener, std::future::pending()));
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ca = PrivateCa::new()?;
    let (server_cert, server_key) = ca.issue("localhost")?;
    let hello = || HelloRequest { name: "world".into(), ..Default::default() };

    // TLS: the client checks the server's certificate against the CA and the name "localhost".
    let addr = serve(ServerTlsConfig::new(Identity::from_pem(server_cert.as_bytes(), server_key.as_bytes())?)).await?;
    let channel = Channel::builder(&format!("https://localhost:{}", addr.port()))?
        .tls(ClientTlsConfig::new().ca_pem(ca.pem.as_bytes())?)?
        .connect()
        .await?;
    println!("{}", GreeterClient::new(channel).say_hello(hello()).await?.into_inner().message);

    // Mutual TLS: the server asks for a certificate from the same CA.
    let server_tls = ServerTlsConfig::new(Identity::from_pem(server_cert.as_bytes(), server_key.as_bytes())?)
        .client_ca_pem(ca.pem.as_bytes())?;
    let addr = serve(server_tls).await?;
    let target = format!("https://localhost:{}", addr.port());

    let without = Channel::builder(&target)?.tls(ClientTlsConfig::new().ca_pem(ca.pem.as_bytes())?)?.connect().await;
    let refused = match without {
        Ok(channel) => GreeterClient::new(channel).say_hello(hello()).await.err(),
        Err(status) => Some(status),
    };
    println!("without a client certificate: {}", refused.map_or("accepted?!".to_owned(), |s| s.code().to_string()));

    let (client_cert, client_key) = ca.issue("client-1")?;
    let client_tls = ClientTlsConfig::new()
        .ca_pem(ca.pem.as_bytes())?
        .identity(Identity::from_pem(client_cert.as_bytes(), client_key.as_bytes())?);
    let channel = Channel::builder(&target)?.tls(client_tls)?.connect().await?;
    println!("{}", GreeterClient::new(channel).say_hello(hello()).await?.into_inner().message);
    Ok(())
}
