//! Every example runs to its end and prints what its README line says it shows.

use std::process::Command;

fn run(exe: &str, args: &[&str]) -> String {
    let output = Command::new(exe).args(args).output().expect("the example runs");
    assert!(
        output.status.success(),
        "{exe} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

#[test]
fn helloworld() {
    assert_eq!(run(env!("CARGO_BIN_EXE_helloworld"), &[]), "Hello world!\n");
}

#[test]
fn auth() {
    let output = run(env!("CARGO_BIN_EXE_auth"), &[]);
    assert!(output.contains("without a token: UNAUTHENTICATED (no authorization metadata)"), "{output}");
    assert!(output.contains("with alice's token: Hello alice!"), "{output}");
}

#[test]
fn deadlines() {
    let output = run(env!("CARGO_BIN_EXE_deadlines"), &[]);
    assert!(output.contains("quick call: done"), "{output}");
    assert!(output.contains("slow call: DEADLINE_EXCEEDED"), "{output}");
    assert!(output.contains("the slow handlers were stopped, not left running"), "{output}");
}

#[test]
fn resolver() {
    let output = run(env!("CARGO_BIN_EXE_resolver"), &[]);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 5, "{output}");
    assert_eq!(lines[0], "backend 0", "only the first backend is registered at first: {output}");
    let later = &lines[1..];
    assert!(later.contains(&"backend 0") && later.contains(&"backend 1"), "round robin once both are: {output}");
}

#[test]
fn unix_socket() {
    assert_eq!(run(env!("CARGO_BIN_EXE_unix_socket"), &[]), "Hello neighbour, over a Unix socket!\n");
}

#[test]
fn error_details() {
    let output = run(env!("CARGO_BIN_EXE_error_details"), &[]);
    assert_eq!(output, "INVALID_ARGUMENT: invalid HelloRequest\nfield \"name\": a name is required\n");
}

#[test]
fn retries() {
    let output = run(env!("CARGO_BIN_EXE_retries"), &[]);
    assert!(output.contains("server: attempt 3 (grpc-previous-rpc-attempts: 2)"), "{output}");
    assert!(output.contains("client: succeeded on attempt 3"), "{output}");
}

#[test]
fn health_and_the_probe() {
    let output = run(env!("CARGO_BIN_EXE_health"), &[]);
    assert_eq!(output, "helloworld.Greeter: SERVING\nhelloworld.Greeter: NOT_SERVING\n");
    // The probe binary: 0 for SERVING, 1 for NOT_SERVING, 2 when it cannot ask.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (reporter, health) = rsgrpc::health::health_service();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    let server = rsgrpc::server::Server::builder().add_service(health).build();
    runtime.spawn(server.serve_with_shutdown(listener, std::future::pending()));
    let probe = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_health_probe")).args(args).output().unwrap();
    let serving = probe(&[&target]);
    assert_eq!((serving.status.code(), String::from_utf8_lossy(&serving.stdout).trim()), (Some(0), "SERVING"));
    reporter.set_not_serving("");
    assert_eq!(probe(&[&target]).status.code(), Some(1));
    // Against nothing listening: the check could not be made.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let status = Command::new(env!("CARGO_BIN_EXE_health_probe")).arg(&target).output().unwrap().status;
    assert_eq!(status.code(), Some(2));
}

#[test]
fn route_guide() {
    let output = run(env!("CARGO_BIN_EXE_route_guide"), &[]);
    let expected = "GetFeature: 101 New Jersey 10, Whippany, NJ 07981, USA\n\
                    ListFeatures: Patriots Path, Mendham, NJ 07945, USA\n\
                    ListFeatures: 101 New Jersey 10, Whippany, NJ 07981, USA\n\
                    RecordRoute: 3 points, 3 features, 92 km\n\
                    RouteChat: earlier note \"first\"\n\
                    RouteChat: earlier note \"second\"\n";
    assert_eq!(output, expected);
}

#[test]
fn tls() {
    let output = run(env!("CARGO_BIN_EXE_tls"), &[]);
    let expected = "Hello world, from TLS, to an anonymous client\n\
                    without a client certificate: UNAVAILABLE\n\
                    Hello world, from TLS, to a client with a 1-certificate chain\n";
    assert_eq!(output, expected);
}

#[test]
fn gateway() {
    let output = run(env!("CARGO_BIN_EXE_gateway"), &[]);
    let expected = "POST /v1/shelves/sf/books -> HTTP/1.0 200 OK {\"id\":\"1\",\"title\":\"Dune\",\"author\":\"Herbert\"}\n\
                    GET /v1/shelves/sf/books?author=Herbert -> HTTP/1.0 200 OK {\"books\":[{\"id\":\"1\",\"title\":\"Dune\",\"author\":\"Herbert\"}]}\n\
                    GET /v1/shelves/sf/books/7 -> HTTP/1.0 404 Not Found {\"code\":5,\"message\":\"no book 7 on shelf sf\",\"details\":[]}\n\
                    gRPC GetBook(sf, 1) -> \"Dune\" by Herbert\n";
    assert_eq!(output, expected);
}
