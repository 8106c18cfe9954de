//! The gateway's features past the rule shapes (issue 17), end to end with real clients, in process and
//! through a gRPC server: `google.api.HttpBody` downloads, streaming downloads and uploads.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rsgrpc::gateway::{Gateway, GatewayBuilder};
use rsgrpc::server::Server;
use rsgrpc_tests::files::{file, TestFiles};
use rsgrpc_tests::gateway_gen::rsgrpc::test::files::files_gateway;
use rsgrpc_tests::gateway_gen::rsgrpc::test::files::files_server::FilesServer;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_gateway;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_server::LibraryServer;
use rsgrpc_tests::library::TestLibrary;
use rsgrpc_tests::support::{serve, Running};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

#[path = "pki/mod.rs"]
mod pki;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    InProcess,
    Proxy,
}

/// A gateway serving the library and the files, and the gRPC server behind it in proxy mode.
struct Started {
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _grpc: Option<Running>,
}

async fn start(mode: Mode, configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder) -> Started {
    let mut routes = Vec::new();
    let grpc = match mode {
        Mode::InProcess => {
            routes.extend(library_gateway::routes(Arc::new(TestLibrary)));
            routes.extend(files_gateway::routes(Arc::new(TestFiles)));
            None
        }
        Mode::Proxy => {
            let server =
                Server::builder().add_service(LibraryServer::new(TestLibrary)).add_service(FilesServer::new(TestFiles));
            let grpc = serve(server.build()).await;
            let channel = rsgrpc::client::Channel::connect(&grpc.target()).await.unwrap();
            routes.extend(library_gateway::proxy_routes(channel.clone()));
            routes.extend(files_gateway::proxy_routes(channel));
            Some(grpc)
        }
    };
    let gateway = configure(Gateway::builder().routes(routes)).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    Started { addr, _stop: stop, _grpc: grpc }
}

/// An HTTP answer, its body as bytes; `aborted` when the body ended with an error (a reset stream, a
/// connection closed early) instead of its end.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    trailers: Option<http::HeaderMap>,
    body: Vec<u8>,
    aborted: bool,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request with hyper over a new connection, HTTP/2 or HTTP/1.1.
async fn send(addr: SocketAddr, h2: bool, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut request = http::Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if !h2 {
        request = request.header("host", addr.to_string());
    }
    let request = request.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let response = if h2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(connection);
        sender.send_request(request).await.unwrap()
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        sender.send_request(request).await.unwrap()
    };
    let (parts, mut body) = response.into_parts();
    let (mut data, mut trailers, mut aborted) = (Vec::new(), None, false);
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => match frame.into_data() {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(frame) => trailers = frame.into_trailers().ok(),
            },
            Err(_) => {
                aborted = true;
                break;
            }
        }
    }
    Reply { status: parts.status.as_u16(), headers: parts.headers, trailers, body: data, aborted }
}

/// Runs curl with `args`, returning its output (and failing on a curl error unless `may_fail`).
fn curl(args: &[&str]) -> (bool, Vec<u8>) {
    let output =
        std::process::Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().expect("curl runs");
    (output.status.success(), output.stdout)
}

fn same(builder: GatewayBuilder) -> GatewayBuilder {
    builder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_body_downloads_and_uploads_are_raw_bytes_with_their_content_type() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let started = start(mode, same).await;
        let addr = started.addr;
        for h2 in [false, true] {
            let what = format!("{mode:?}, h2 {h2}");
            // A download: the bytes as they are, under their own content type, with the header metadata.
            let (content_type, png) = file("logo.png").unwrap();
            let reply = send(addr, h2, "GET", "/v1/files/logo.png", &[], b"").await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            assert_eq!(reply.header("content-type"), Some(content_type), "{what}");
            assert_eq!(reply.body, png, "{what}");
            assert_eq!(reply.header("grpc-metadata-x-file"), Some("logo.png"), "{what}");
            // Errors stay JSON.
            let reply = send(addr, h2, "GET", "/v1/files/nope", &[], b"").await;
            assert_eq!(reply.status, 404, "{what}");
            assert_eq!(reply.header("content-type"), Some("application/json"), "{what}");
            assert_eq!(reply.json()["message"], "no file nope", "{what}");
            // A raw upload of any content type (not JSON: no 415), the whole request.
            let upload: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
            let reply =
                send(addr, h2, "POST", "/v1/files", &[("content-type", "application/octet-stream")], &upload).await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            let summary = reply.json();
            assert_eq!(summary["contentType"], "application/octet-stream", "{what}: {summary}");
            assert_eq!(summary["size"], "70000", "{what}: {summary}");
            // A body-field upload: the body is the field; the path and the query set the rest.
            let reply = send(
                addr,
                h2,
                "PUT",
                "/v1/files/notes.txt?note=first%20draft",
                &[("content-type", "text/plain")],
                b"hello, files",
            )
            .await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            assert_eq!(
                reply.json(),
                json!({"name": "notes.txt", "contentType": "text/plain", "size": "12", "note": "first draft",
                       "head": "hello, files"}),
                "{what}"
            );
            // Raw both ways, and an upload with no content type at all.
            let reply = send(addr, h2, "POST", "/v1/echo", &[("content-type", "text/csv")], b"a,b,c").await;
            assert_eq!((reply.status, reply.header("content-type")), (200, Some("text/csv")), "{what}");
            assert_eq!(reply.body, b"c,b,a", "{what}");
            let reply = send(addr, h2, "POST", "/v1/echo", &[], b"xyz").await;
            assert_eq!(reply.header("content-type"), Some("application/octet-stream"), "{what}");
            assert_eq!(reply.body, b"zyx", "{what}");
        }
        // The body limit holds for raw bodies too.
        let big = vec![b'x'; 5 << 20];
        let reply = send(addr, true, "POST", "/v1/files", &[("content-type", "application/zip")], &big).await;
        assert_eq!(reply.status, 413, "{mode:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_http_body_downloads_are_one_body_and_a_failure_aborts_it() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let started = start(mode, same).await;
        let addr = started.addr;
        for h2 in [false, true] {
            let what = format!("{mode:?}, h2 {h2}");
            let reply = send(addr, h2, "GET", "/v1/chunks/report.csv?chunks=3", &[], b"").await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            // The first message's content type; every message's data, in order, and nothing else.
            assert_eq!(reply.header("content-type"), Some("text/csv; charset=utf-8"), "{what}");
            assert_eq!(reply.text(), "chunk 0\nchunk 1\nchunk 2\n", "{what}");
            assert!(!reply.aborted, "{what}");
            // A failure before the first chunk is an ordinary error answer.
            let reply = send(addr, h2, "GET", "/v1/chunks/missing.bin?chunks=3", &[], b"").await;
            assert_eq!(reply.status, 404, "{what}");
            // A failure midway cannot change the status any more: the body is aborted, never ended as if
            // the download were whole.
            let reply = send(addr, h2, "GET", "/v1/chunks/report.csv?chunks=5&fail_after=2", &[], b"").await;
            assert_eq!(reply.status, 200, "{what}");
            assert_eq!(reply.text(), "chunk 0\nchunk 1\n", "{what}");
            assert!(reply.aborted, "{what}: a failed download ended like a whole one: {:?}", reply.trailers);
        }
        // curl sees the same: a whole download succeeds; a failed one is a transfer error.
        let base = format!("http://{addr}");
        let (whole, failed, failed_h2) = tokio::task::spawn_blocking(move || {
            (
                curl(&[&format!("{base}/v1/chunks/report.csv?chunks=2")]),
                curl(&[&format!("{base}/v1/chunks/report.csv?chunks=5&fail_after=1")]),
                curl(&["--http2-prior-knowledge", &format!("{base}/v1/chunks/report.csv?chunks=5&fail_after=1")]),
            )
        })
        .await
        .unwrap();
        assert_eq!(whole, (true, b"chunk 0\nchunk 1\n".to_vec()), "{mode:?}");
        assert!(!failed.0, "{mode:?}: curl took a failed HTTP/1.1 download as whole: {:?}", failed.1);
        assert!(!failed_h2.0, "{mode:?}: curl took a failed HTTP/2 download as whole: {:?}", failed_h2.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_maps_and_the_rest_of_the_query_grammar() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let started = start(mode, same).await;
        let addr = started.addr;
        let list = |query: &str| format!("/v1/shelves/s1/books?{query}");
        for h2 in [false, true] {
            let what = format!("{mode:?}, h2 {h2}");
            // Maps: string keys, integer keys with enum values (by name or number), a map in a nested
            // message, brackets percent-encoded or not, JSON or proto names.
            let query = "labels[env]=prod&labels%5Bteam%5D=a+b&ranks[1]=FICTION&ranks[2]=2&filter.flags[new]=true\
                         &filter.flags[old]=0";
            let reply = send(addr, h2, "GET", &list(query), &[], b"").await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            let request = &reply.json()["request"];
            assert_eq!(request["labels"], json!({"env": "prod", "team": "a b"}), "{what}: {request}");
            assert_eq!(request["ranks"], json!({"1": "FICTION", "2": "HISTORY"}), "{what}: {request}");
            assert_eq!(request["filter"]["flags"], json!({"new": true, "old": false}), "{what}: {request}");
            // Each part of a dotted name by its proto or its JSON name; bytes in either base64 alphabet;
            // repeated fields by repetition; FieldMask comma-separated; wrappers; RFC 3339 times.
            let query = "filter.pages.min=3&publishedAfter=2024-01-02T03:04:05Z&max_age=1.5s&fields=title,author\
                         &minPages=9&available=false&tags=a&tags=b&genres=FICTION&genres=2&cursor=-_8&min_rating=4.5";
            let reply = send(addr, h2, "GET", &list(query), &[], b"").await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            let request = &reply.json()["request"];
            assert_eq!(request["filter"]["pages"]["min"], "3", "{what}: {request}");
            assert_eq!(request["publishedAfter"], "2024-01-02T03:04:05Z", "{what}");
            assert_eq!(request["maxAge"], "1.500s", "{what}");
            assert_eq!(request["fields"], "title,author", "{what}");
            assert_eq!((request["minPages"].clone(), request["available"].clone()), (json!("9"), json!(false)));
            assert_eq!(request["tags"], json!(["a", "b"]), "{what}");
            assert_eq!(request["genres"], json!(["FICTION", "HISTORY"]), "{what}");
            assert_eq!(request["cursor"], "+/8=", "{what}: URL-safe base64 is read");
            assert_eq!(request["minRating"], 4.5, "{what}");
            // What it refuses, by name.
            for (query, message) in [
                ("labels[a]=1&labels[a]=2", "the key \"a\" is given more than once"),
                ("labels=x", "is a map, set by labels[key]=value"),
                ("tags[0]=x", "field \"tags\" is not a map"),
                ("ranks[x]=FICTION", "ranks"),
                ("ranks[1]=NOVEL", "NOVEL"),
                ("page_size=1&pageSize=2", "is not repeated"),
            ] {
                let reply = send(addr, h2, "GET", &list(query), &[], b"").await;
                assert_eq!(reply.status, 400, "{what}: {query}: {}", reply.text());
                let text = reply.json()["message"].as_str().unwrap_or_default().to_owned();
                assert!(text.contains(message), "{what}: {query}: {text}");
            }
        }
        // curl sends the brackets as they are (-g: no globbing).
        let url = format!("http://{addr}{}", list("labels[k]=v&ranks[7]=HISTORY"));
        let (ok, body) = tokio::task::spawn_blocking(move || curl(&["-g", &url])).await.unwrap();
        assert!(ok, "{mode:?}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["request"]["labels"], json!({"k": "v"}), "{mode:?}");
        assert_eq!(body["request"]["ranks"], json!({"7": "HISTORY"}), "{mode:?}");
    }
}

/// Runs curl with `args` and `-i`, returning the status line's code and the headers, lower-cased.
fn curl_head(args: &[&str]) -> (u16, String) {
    let (ok, out) = curl(&[&["-i"], args].concat());
    assert!(ok, "curl {args:?} failed");
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_off_by_default_and_answers_browser_preflights_when_configured() {
    let app = "https://app.example.com";
    let preflight = |origin: &'static str, method: &'static str, headers: &'static str| {
        vec![("origin", origin), ("access-control-request-method", method), ("access-control-request-headers", headers)]
    };
    // Off: no CORS headers anywhere, and a preflight is just an OPTIONS nothing serves.
    let started = start(Mode::InProcess, same).await;
    let reply = send(started.addr, false, "OPTIONS", "/v1/shelves/s1", &preflight(app, "GET", ""), b"").await;
    assert!(reply.header("access-control-allow-origin").is_none(), "{:?}", reply.headers);
    assert_eq!(reply.status, 405);
    let reply = send(started.addr, false, "GET", "/v1/shelves/s1", &[("origin", app)], b"").await;
    assert!(reply.header("access-control-allow-origin").is_none(), "{:?}", reply.headers);

    // Credentials for any origin would let every site act as the user: refused when building.
    let error = Gateway::builder()
        .cors(rsgrpc::gateway::Cors::new().allow_any_origin().allow_credentials(true))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("credentials cannot be allowed for any origin"), "{error}");

    for mode in [Mode::InProcess, Mode::Proxy] {
        let cors = rsgrpc::gateway::Cors::new()
            .allow_origins([app])
            .allow_headers(["content-type", "grpc-metadata-tenant"])
            .expose_headers(["grpc-metadata-x-seen-tenant"])
            .allow_credentials(true)
            .max_age(std::time::Duration::from_secs(600));
        let started = start(mode, move |b| b.cors(cors)).await;
        let addr = started.addr;
        for h2 in [false, true] {
            let what = format!("{mode:?}, h2 {h2}");
            // What a browser sends before a cross-origin POST with JSON and a metadata header.
            let reply = send(
                addr,
                h2,
                "OPTIONS",
                "/v1/shelves/s1/books",
                &preflight(app, "POST", "Content-Type, Grpc-Metadata-Tenant"),
                b"",
            )
            .await;
            assert_eq!(reply.status, 204, "{what}");
            assert_eq!(reply.header("access-control-allow-origin"), Some(app), "{what}");
            assert!(reply.header("access-control-allow-methods").unwrap().contains("POST"), "{what}");
            assert_eq!(reply.header("access-control-allow-headers"), Some("content-type, grpc-metadata-tenant"));
            assert_eq!(reply.header("access-control-allow-credentials"), Some("true"), "{what}");
            assert_eq!(reply.header("access-control-max-age"), Some("600"), "{what}");
            assert!(reply.header("vary").unwrap().contains("Origin"), "{what}");
            // The real request then carries the origin's permission and the exposed headers.
            let headers = [("origin", app), ("content-type", "application/json"), ("grpc-metadata-tenant", "t1")];
            let reply = send(addr, h2, "POST", "/v1/shelves/s1/books", &headers, br#"{"title":"X"}"#).await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            assert_eq!(reply.header("access-control-allow-origin"), Some(app), "{what}");
            assert_eq!(reply.header("access-control-expose-headers"), Some("grpc-metadata-x-seen-tenant"));
            // Errors carry it too, so the page can read them.
            let reply = send(addr, h2, "GET", "/v1/shelves/missing", &[("origin", app)], b"").await;
            assert_eq!((reply.status, reply.header("access-control-allow-origin")), (404, Some(app)), "{what}");
            // Another origin, method or header: refused, and without permission headers.
            for (origin, method, asked) in
                [("https://evil.example.com", "POST", "content-type"), (app, "TRACE", ""), (app, "POST", "x-secret")]
            {
                let reply =
                    send(addr, h2, "OPTIONS", "/v1/shelves/s1/books", &preflight(origin, method, asked), b"").await;
                assert_eq!(reply.status, 403, "{what}: {origin} {method} {asked}");
                assert!(reply.header("access-control-allow-origin").is_none(), "{what}");
            }
            let reply = send(addr, h2, "GET", "/v1/shelves/s1", &[("origin", "https://evil.example.com")], b"").await;
            assert_eq!(reply.status, 200, "{what}");
            assert!(reply.header("access-control-allow-origin").is_none(), "{what}");
        }
        // curl's preflight, as a browser would send it.
        let url = format!("http://{addr}/v1/shelves/s1/books");
        let (code, head) = tokio::task::spawn_blocking(move || {
            curl_head(&[
                "-X",
                "OPTIONS",
                "-H",
                "Origin: https://app.example.com",
                "-H",
                "Access-Control-Request-Method: POST",
                &url,
            ])
        })
        .await
        .unwrap();
        assert_eq!(code, 204, "{mode:?}: {head}");
        assert!(head.contains("access-control-allow-origin: https://app.example.com"), "{mode:?}: {head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_tls_over_http1_and_http2() {
    use rcgen::{CertificateParams, DnType, KeyPair};
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "gateway");
    let key = KeyPair::generate().unwrap();
    let certificate = params.self_signed(&key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, certificate.pem()).unwrap();
    let identity =
        rsgrpc::tls::Identity::from_pem(certificate.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let tls = rsgrpc::tls::ServerTlsConfig::new(identity);
    for mode in [Mode::InProcess, Mode::Proxy] {
        let tls = tls.clone();
        let started = start(mode, move |b| b.tls(tls).unwrap()).await;
        let port = started.addr.port();
        let ca = ca.clone();
        let (h1, h2, plain) = tokio::task::spawn_blocking(move || {
            let ca = ca.to_str().unwrap().to_owned();
            let url = format!("https://localhost:{port}/v1/shelves/s1");
            let resolve = format!("localhost:{port}:127.0.0.1");
            (
                curl_head(&["--http1.1", "--cacert", &ca, "--resolve", &resolve, &url]),
                curl_head(&["--http2", "--cacert", &ca, "--resolve", &resolve, &url]),
                curl(&[&format!("http://127.0.0.1:{port}/v1/shelves/s1")]),
            )
        })
        .await
        .unwrap();
        assert!(h1.1.starts_with("http/1.1 200"), "{mode:?}: {}", h1.1);
        assert!(h1.1.contains("\"theme\":\"theme of s1\""), "{mode:?}: {}", h1.1);
        assert!(h2.1.starts_with("http/2 200"), "{mode:?}: ALPN h2: {}", h2.1);
        assert!(!plain.0, "{mode:?}: plain HTTP was answered on the TLS port");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_endpoint_answers_from_the_grpc_health_service() {
    // In process: the reporter the health service answers from.
    let (reporter, health) = rsgrpc::health::health_service();
    let started = start(Mode::InProcess, {
        let reporter = reporter.clone();
        move |b| b.health_endpoint_from_reporter("/healthz", reporter)
    })
    .await;
    // Through a gRPC server's health service, asked by a client as grpc-gateway's WithHealthzEndpoint does.
    let grpc = serve(Server::builder().add_service(health).build()).await;
    let client = rsgrpc::health::HealthClient::connect(&grpc.target()).await.unwrap();
    let proxied = start(Mode::Proxy, move |b| b.health_endpoint_from_client("/healthz", client)).await;
    reporter.set_serving("rsgrpc.test.gateway.Library");
    reporter.set_not_serving("rsgrpc.test.files.Files");
    for addr in [started.addr, proxied.addr] {
        for h2 in [false, true] {
            let reply = send(addr, h2, "GET", "/healthz", &[], b"").await;
            assert_eq!((reply.status, reply.json()), (200, json!({"status": "SERVING"})));
            let reply = send(addr, h2, "GET", "/healthz?service=rsgrpc.test.gateway.Library", &[], b"").await;
            assert_eq!(reply.status, 200);
            let reply = send(addr, h2, "GET", "/healthz?service=rsgrpc.test.files.Files", &[], b"").await;
            assert_eq!((reply.status, reply.json()), (503, json!({"status": "NOT_SERVING"})));
            let reply = send(addr, h2, "GET", "/healthz?service=nope", &[], b"").await;
            assert_eq!(reply.status, 404, "{}", reply.text());
            assert_eq!(reply.json()["message"], "unknown service \"nope\"");
        }
    }
    // The whole server going NOT_SERVING (a drain) shows at once; curl sees the 503.
    reporter.set_not_serving("");
    let url = format!("http://{}/healthz", proxied.addr);
    let (code, _) = tokio::task::spawn_blocking(move || curl_head(&[&url])).await.unwrap();
    assert_eq!(code, 503);
    // The gRPC server gone: the probe fails (UNAVAILABLE is 503), it does not hang or say SERVING.
    grpc.stop().await;
    let reply = send(proxied.addr, true, "GET", "/healthz", &[], b"").await;
    assert_eq!(reply.status, 503, "{}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn print_options_an_error_handler_and_a_response_hook() {
    use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::Book;
    for mode in [Mode::InProcess, Mode::Proxy] {
        let started = start(mode, |builder| {
            builder
                .indent("  ")
                .emit_defaults(true)
                .proto_names(true)
                // grpc-gateway's WithErrorHandler: the application's own error shape and a header.
                .error_handler(|status, default| {
                    let body = serde_json::json!({"error": {"grpc": status.code() as i32, "text": status.message()}});
                    let mut response = http::Response::new(
                        http_body_util::Full::new(Bytes::from(body.to_string()))
                            .map_err(|never| match never {})
                            .boxed_unsync(),
                    );
                    *response.status_mut() = default.status();
                    response.headers_mut().insert("x-error-handler", http::HeaderValue::from_static("yes"));
                    response
                })
                // grpc-gateway's WithForwardResponseOption: 201 for a created book, a header from the message.
                .forward_response(|answer| {
                    if let Some(book) = answer.message.and_then(|m| m.downcast_ref::<Book>()) {
                        if book.name.contains("/books/") && book.title == "Created" {
                            *answer.status = http::StatusCode::CREATED;
                        }
                        if book.title == "forbidden" {
                            return Err(rsgrpc::Status::permission_denied("the hook said no"));
                        }
                        let value = http::HeaderValue::from_str(&book.name).unwrap();
                        answer.headers.insert("x-book-name", value);
                    }
                    Ok(())
                })
        })
        .await;
        let addr = started.addr;
        for h2 in [false, true] {
            let what = format!("{mode:?}, h2 {h2}");
            let json = [("content-type", "application/json")];
            let reply = send(addr, h2, "POST", "/v1/shelves/s1/books", &json, br#"{"title":"Created"}"#).await;
            assert_eq!(reply.status, 201, "{what}: {}", reply.text());
            assert_eq!(reply.header("x-book-name"), Some("shelves/s1/books/1"), "{what}");
            // Indented, proto names, defaults written.
            let text = reply.text();
            assert!(text.starts_with("{\n  \""), "{what}: {text}");
            assert_eq!(reply.json()["pages"], "0", "{what}: {text}");
            assert_eq!(reply.json()["available"], false, "{what}: {text}");
            // The hook may fail the call; the error handler shapes that error and the gateway's own.
            let reply = send(addr, h2, "POST", "/v1/shelves/s1/books", &json, br#"{"title":"forbidden"}"#).await;
            assert_eq!(reply.status, 403, "{what}");
            assert_eq!(reply.json(), json!({"error": {"grpc": 7, "text": "the hook said no"}}), "{what}");
            assert_eq!(reply.header("x-error-handler"), Some("yes"), "{what}");
            let reply = send(addr, h2, "GET", "/v1/nowhere", &[], b"").await;
            assert_eq!((reply.status, reply.header("x-error-handler")), (404, Some("yes")), "{what}");
            let reply = send(addr, h2, "DELETE", "/v1/shelves/s1", &[], b"").await;
            assert_eq!((reply.status, reply.header("x-error-handler")), (405, Some("yes")), "{what}");
            let reply = send(addr, h2, "GET", "/v1/shelves/missing", &[], b"").await;
            assert_eq!(reply.json(), json!({"error": {"grpc": 5, "text": "no shelf missing"}}), "{what}");
            // Streams stay one message per line, indent or not.
            let reply = send(addr, h2, "GET", "/v1/shelves/s1:watch?count=2", &[], b"").await;
            assert_eq!(reply.text().lines().count(), 2, "{what}: {}", reply.text());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enums_as_numbers_and_case_insensitive_enum_names() {
    let list = "/v1/shelves/s1/books?genre=history&genres=fiction&genres=History&ranks[1]=fiction";
    let json = [("content-type", "application/json")];
    for mode in [Mode::InProcess, Mode::Proxy] {
        // By default names are read exactly, as protojson does: a lower-case name in the query is refused
        // by name, and in the body it is an unknown value, ignored like unknown fields (grpc-gateway's
        // DiscardUnknown).
        let exact = start(mode, same).await;
        let reply = send(exact.addr, false, "GET", list, &[], b"").await;
        assert_eq!(reply.status, 400, "{mode:?}: {}", reply.text());
        assert!(reply.json()["message"].as_str().unwrap().contains("history"), "{mode:?}: {}", reply.text());
        let body = br#"{"title": "t", "genre": "fiction"}"#;
        let reply = send(exact.addr, false, "POST", "/v1/shelves/s1/books", &json, body).await;
        assert_eq!((reply.status, reply.json().get("genre").cloned()), (200, None), "{mode:?}: {}", reply.text());

        let lenient = start(mode, |b| b.case_insensitive_enums(true)).await;
        for h2 in [false, true] {
            let what = format!("{mode:?}, h2 {h2}");
            let reply = send(lenient.addr, h2, "GET", list, &[], b"").await;
            assert_eq!(reply.status, 200, "{what}: {}", reply.text());
            let request = &reply.json()["request"];
            assert_eq!(request["genre"], "HISTORY", "{what}: {request}");
            assert_eq!(request["genres"], json!(["FICTION", "HISTORY"]), "{what}: {request}");
            assert_eq!(request["ranks"], json!({"1": "FICTION"}), "{what}: {request}");
            let reply = send(lenient.addr, h2, "POST", "/v1/shelves/s1/books", &json, body).await;
            assert_eq!(reply.json()["genre"], "FICTION", "{what}: {}", reply.text());
            // A name that matches nothing in any case is still refused by name.
            let reply = send(lenient.addr, h2, "GET", "/v1/shelves/s1/books?genre=novel", &[], b"").await;
            assert_eq!(reply.status, 400, "{what}: {}", reply.text());
        }

        let numbers = start(mode, |b| b.use_enum_numbers(true).case_insensitive_enums(true)).await;
        for h2 in [false, true] {
            let what = format!("{mode:?}, h2 {h2}");
            let reply = send(numbers.addr, h2, "GET", list, &[], b"").await;
            let request = &reply.json()["request"];
            assert_eq!(request["genre"], 2, "{what}: {request}");
            assert_eq!(request["genres"], json!([1, 2]), "{what}: {request}");
            assert_eq!(request["ranks"], json!({"1": 1}), "{what}: {request}");
            let reply = send(numbers.addr, h2, "POST", "/v1/shelves/s1/books", &json, body).await;
            assert_eq!(reply.json()["genre"], 1, "{what}: {}", reply.text());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_client_certificates_reach_in_process_handlers() {
    let pki = pki::Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    std::fs::write(path("ca.pem"), &pki.ca.pem).unwrap();
    let (certificate, der, key) = pki::leaf(&pki.ca, &["client.local"], "trusted client");
    std::fs::write(path("client.pem"), certificate).unwrap();
    std::fs::write(path("client.key"), key).unwrap();
    let (stranger, _, stranger_key) = pki::leaf(&pki.stranger, &["client.local"], "stranger");
    std::fs::write(path("stranger.pem"), stranger).unwrap();
    std::fs::write(path("stranger.key"), stranger_key).unwrap();
    let tls = rsgrpc::tls::ServerTlsConfig::new(pki.server_identity()).client_ca_pem(pki.ca.pem.as_bytes()).unwrap();
    let expected = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&der).trim_end_matches('=').to_owned()
    };
    // A gateway interceptor sees the chain in both modes (where a proxy can authenticate the client).
    let seen_by_interceptor = || {
        rsgrpc::interceptor::unary_fn(|request, next| async move {
            let leaf = request.peer_certificates().and_then(|chain| chain.first().cloned());
            let mut response = next.run(request).await?;
            if let Some(leaf) = leaf {
                response.metadata_mut().insert_bin("x-interceptor-certificate-bin", &leaf).unwrap();
            }
            Ok(response)
        })
    };
    for mode in [Mode::InProcess, Mode::Proxy] {
        let tls = tls.clone();
        let started = start(mode, move |b| b.tls(tls).unwrap().unary_interceptor(seen_by_interceptor())).await;
        let port = started.addr.port();
        let (ca, cert, key, stranger, stranger_key) =
            (path("ca.pem"), path("client.pem"), path("client.key"), path("stranger.pem"), path("stranger.key"));
        let (h1, h2, missing, untrusted) = tokio::task::spawn_blocking(move || {
            let url = format!("https://localhost:{port}/v1/shelves/s1");
            let resolve = format!("localhost:{port}:127.0.0.1");
            let with = |version: &str, cert: &str, key: &str| {
                curl(&["-i", version, "--cacert", &ca, "--resolve", &resolve, "--cert", cert, "--key", key, &url])
            };
            (
                with("--http1.1", &cert, &key),
                with("--http2", &cert, &key),
                curl(&["--cacert", &ca, "--resolve", &resolve, &url]),
                with("--http2", &stranger, &stranger_key),
            )
        })
        .await
        .unwrap();
        for (name, (ok, out)) in [("http/1.1", h1), ("h2", h2)] {
            let text = String::from_utf8_lossy(&out);
            assert!(ok, "{mode:?} {name}: {text}");
            assert!(text.contains("\"theme\":\"theme of s1\""), "{mode:?} {name}: {text}");
            let header = |name: &str| {
                let prefix = format!("grpc-metadata-{name}:");
                text.lines().find_map(|l| l.to_ascii_lowercase().starts_with(&prefix).then(|| &l[prefix.len()..]))
            };
            let by_interceptor = header("x-interceptor-certificate-bin").map(|v| v.trim().trim_end_matches('='));
            assert_eq!(by_interceptor, Some(expected.as_str()), "{mode:?} {name}: {text}");
            let seen = header("x-client-certificate-bin");
            match mode {
                // The handler got the verified chain, as behind the gRPC server.
                Mode::InProcess => {
                    let seen = seen.unwrap_or_else(|| panic!("{name}: no certificate seen: {text}")).trim();
                    assert_eq!(seen.trim_end_matches('='), expected, "{name}");
                }
                // The backend's peer is the gateway's channel: nothing is forwarded (see the README).
                Mode::Proxy => assert_eq!(seen, None, "{name}: {text}"),
            }
        }
        assert!(!missing.0, "{mode:?}: a client without a certificate was served");
        assert!(!untrusted.0, "{mode:?}: a client with an untrusted certificate was served");
    }
}
