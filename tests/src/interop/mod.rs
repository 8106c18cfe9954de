//! The gRPC interop tests (grpc.testing.TestService): our server and our client cases, used by the
//! `interop-server` and `interop-client` binaries and by the tests against Python's grpcio.

pub mod client;
pub mod server;

/// Reads `--name=value` (or `--name value`) from command-line arguments; the interop flags' form.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    let prefix = format!("--{name}=");
    args.iter().enumerate().find_map(|(i, arg)| {
        arg.strip_prefix(&prefix)
            .map(str::to_owned)
            .or_else(|| (arg == &format!("--{name}")).then(|| args.get(i + 1).cloned()).flatten())
    })
}
