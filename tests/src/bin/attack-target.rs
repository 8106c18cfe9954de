//! The server the attack suite (tests/tests/attacks.rs) attacks: a real rsgrpc server with the test `Echo`
//! service and a REST gateway over the test `Library`, in a process of their own so that the suite can read
//! the server's peak memory from `/proc/<pid>/status` without counting the attacker's.
//!
//! `attack-target [--handshake-timeout-ms=N] [--max-connection-idle-ms=N] [--keepalive-enforcement=off]
//! [--gateway-read-timeout-ms=N]` binds two free ports of 127.0.0.1, prints `grpc=ADDR gateway=ADDR` on one
//! line and serves with the defaults except for what the flags set, until its standard input closes (so it
//! never outlives the test that started it).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rsgrpc::gateway::Gateway;
use rsgrpc::server::Server;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_gateway;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::interop::flag;
use rsgrpc_tests::library::TestLibrary;
use tokio::net::TcpListener;

/// A flag holding milliseconds; `Err` names the flag that is not a number.
fn millis(args: &[String], name: &str) -> Result<Option<Duration>, String> {
    match flag(args, name) {
        None => Ok(None),
        Some(value) => value
            .parse()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| format!("--{name}={value} is not a number of milliseconds")),
    }
}

fn grpc_server(args: &[String]) -> Result<Server, String> {
    let mut builder = Server::builder().add_service(EchoServer::new(EchoService::default()));
    if let Some(timeout) = millis(args, "handshake-timeout-ms")? {
        builder = builder.handshake_timeout(timeout);
    }
    if let Some(idle) = millis(args, "max-connection-idle-ms")? {
        builder = builder.max_connection_idle(idle);
    }
    match flag(args, "keepalive-enforcement").as_deref() {
        None => {}
        Some("off") => builder = builder.keepalive_enforcement(None),
        Some(other) => return Err(format!("--keepalive-enforcement={other}: only `off` is known")),
    }
    Ok(builder.build())
}

fn gateway(args: &[String]) -> Result<Gateway, String> {
    let mut builder = Gateway::builder().routes(library_gateway::routes(Arc::new(TestLibrary)));
    if let Some(timeout) = millis(args, "gateway-read-timeout-ms")? {
        builder = builder.read_timeout(timeout);
    }
    builder.build().map_err(|e| e.to_string())
}

async fn bind() -> Result<(TcpListener, SocketAddr), String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("cannot bind 127.0.0.1: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    Ok((listener, addr))
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let server = grpc_server(&args)?;
    let gateway = gateway(&args)?;
    let (grpc_listener, grpc_addr) = bind().await?;
    let (gateway_listener, gateway_addr) = bind().await?;
    tokio::spawn(server.serve_with_shutdown(grpc_listener, std::future::pending()));
    tokio::spawn(gateway.serve_with_shutdown(gateway_listener, std::future::pending()));
    println!("grpc={grpc_addr} gateway={gateway_addr}");
    // The test holds the other end of stdin: its closing (the test ended, passed or not) ends the process.
    let _ = tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("attack-target: {message}");
            ExitCode::from(2)
        }
    }
}
