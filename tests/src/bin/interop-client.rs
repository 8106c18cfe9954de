//! The interop client: `interop-client --server_host=H --server_port=N --test_case=NAME` runs one case
//! (or `all`) and exits 0 only if it passed.

use std::process::ExitCode;

use rsgrpc_tests::interop::client::{run, CASES};
use rsgrpc_tests::interop::flag;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if flag(&args, "use_tls").is_some_and(|v| v != "false") {
        eprintln!("interop-client: TLS is not supported yet");
        return ExitCode::from(2);
    }
    let host = flag(&args, "server_host").unwrap_or_else(|| "127.0.0.1".to_owned());
    let (Some(port), Some(case)) = (flag(&args, "server_port"), flag(&args, "test_case")) else {
        eprintln!("usage: interop-client --server_host=H --server_port=N --test_case=NAME|all");
        return ExitCode::from(2);
    };
    let target = if host.contains(':') { format!("http://[{host}]:{port}") } else { format!("http://{host}:{port}") };
    let channel = match rsgrpc::client::Channel::lazy(&target) {
        Ok(channel) => channel,
        Err(status) => {
            eprintln!("interop-client: {status}");
            return ExitCode::from(2);
        }
    };
    let cases: Vec<&str> = if case == "all" { CASES.to_vec() } else { vec![case.as_str()] };
    if let Some(unknown) = cases.iter().find(|c| !CASES.contains(c)) {
        eprintln!("interop-client: unknown test case {unknown:?}; known: {}", CASES.join(", "));
        return ExitCode::from(2);
    }
    let (mut passed, mut failed) = (0, 0);
    for case in cases {
        match run(case, &channel).await {
            Ok(()) => {
                passed += 1;
                println!("{case}: ok");
            }
            Err(why) => {
                failed += 1;
                println!("{case}: FAILED: {why}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
