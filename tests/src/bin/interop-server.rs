//! The interop server: `interop-server --port=N` serves grpc.testing.TestService on 127.0.0.1, with the health
//! service (flipped by grpc.testing.XdsUpdateHealthService) and reflection.

use std::net::SocketAddr;

use rsgrpc_tests::interop::flag;
use rsgrpc_tests::interop::server::interop_server;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if flag(&args, "use_tls").is_some_and(|v| v != "false") {
        eprintln!("interop-server: TLS is not supported yet");
        return std::process::ExitCode::from(2);
    }
    let port: u16 = match flag(&args, "port").map(|p| p.parse()) {
        Some(Ok(port)) => port,
        _ => {
            eprintln!("usage: interop-server --port=N");
            return std::process::ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("interop-server: cannot listen on {addr}: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("listening on {}", listener.local_addr().map_or(addr, |a| a));
    let server = interop_server();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match server.serve_with_shutdown(listener, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("interop-server: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
