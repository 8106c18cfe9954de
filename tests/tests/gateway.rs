//! The REST/JSON gateway end to end over real HTTP (a hyper client speaking HTTP/1.1 and HTTP/2, and curl),
//! in both modes: in process (the gateway calls the service implementation) and proxy (the gateway calls
//! a gRPC server through a channel). Every rule shape of testdata/gateway/protos, path decoding, query
//! parameters of every kind, bodies, the status table, metadata both ways, Grpc-Timeout, NDJSON and SSE
//! streams with an error mid-stream, client and bidirectional streams, and the bad requests.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rsgrpc::gateway::Gateway;
use rsgrpc::server::Server;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_gateway;
use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::library_server::{Library, LibraryServer};
use rsgrpc_tests::library::TestLibrary;
use rsgrpc_tests::support::{serve, Running};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

/// A gateway running in the background, and the gRPC server behind it in proxy mode.
struct Running2 {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The gateway's serve task: it ends once every connection is closed.
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    _grpc: Option<Running>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    InProcess,
    Proxy,
}

async fn start(
    mode: Mode,
    configure: impl FnOnce(rsgrpc::gateway::GatewayBuilder) -> rsgrpc::gateway::GatewayBuilder,
) -> Running2 {
    start_custom(mode, TestLibrary, |server| server, configure).await
}

/// A gateway in front of `service`: in process, or through a gRPC server configured by `server`.
async fn start_custom<L: Library + Clone>(
    mode: Mode,
    service: L,
    server: impl FnOnce(rsgrpc::server::ServerBuilder) -> rsgrpc::server::ServerBuilder,
    configure: impl FnOnce(rsgrpc::gateway::GatewayBuilder) -> rsgrpc::gateway::GatewayBuilder,
) -> Running2 {
    // Error details hold a Money in an Any: its JSON form needs the type registered.
    rsgrpc::json::update_global_registry(rsgrpc_tests::gen::rsgrpc::test::common::register_json_types);
    let (routes, grpc) = match mode {
        Mode::InProcess => (library_gateway::routes(Arc::new(service)), None),
        Mode::Proxy => {
            let grpc = serve(server(Server::builder()).add_service(LibraryServer::new(service)).build()).await;
            let channel = rsgrpc::client::Channel::connect(&grpc.target()).await.unwrap();
            (library_gateway::proxy_routes(channel), Some(grpc))
        }
    };
    let gateway = configure(Gateway::builder().routes(routes)).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(gateway.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    Running2 { addr, stop: Some(stop), served, _grpc: grpc }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Protocol {
    Http1,
    Http2,
}

/// An HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    trailers: Option<http::HeaderMap>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The lines of a newline-delimited JSON body.
    fn lines(&self) -> Vec<Value> {
        self.body.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"))).collect()
    }
}

/// Sends one request on a new client connection over `io`, in the given protocol.
async fn request_over(
    protocol: Protocol,
    io: hyper_util::rt::TokioIo<TcpStream>,
    request: http::Request<Full<Bytes>>,
) -> http::Response<hyper::body::Incoming> {
    match protocol {
        Protocol::Http1 => {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(connection);
            sender.send_request(request).await.unwrap()
        }
        Protocol::Http2 => {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
            tokio::spawn(connection);
            sender.send_request(request).await.unwrap()
        }
    }
}

async fn send(
    addr: SocketAddr,
    protocol: Protocol,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut request = http::Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if protocol == Protocol::Http1 {
        request = request.header("host", addr.to_string());
    }
    let request = request.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
    let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let response = request_over(protocol, io, request).await;
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        trailers,
        body: String::from_utf8(collected.to_bytes().to_vec()).unwrap(),
    }
}

/// Runs `check` against a fresh gateway in each mode, over each protocol.
async fn each_setup<F, Fut>(configure: fn(rsgrpc::gateway::GatewayBuilder) -> rsgrpc::gateway::GatewayBuilder, check: F)
where
    F: Fn(SocketAddr, Protocol, Mode) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for mode in [Mode::InProcess, Mode::Proxy] {
        let running = start(mode, configure).await;
        for protocol in [Protocol::Http1, Protocol::Http2] {
            check(running.addr, protocol, mode).await;
        }
    }
}

fn same(builder: rsgrpc::gateway::GatewayBuilder) -> rsgrpc::gateway::GatewayBuilder {
    builder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_shape() {
    each_setup(same, |addr, protocol, mode| async move {
        let get = |path: &'static str| send(addr, protocol, "GET", path, &[], "");
        let ctx = format!("{mode:?} {protocol:?}");
        let reply = get("/v1/shelves/s1").await;
        assert_eq!((reply.status, reply.json()), (200, json!({"id": "s1", "theme": "theme of s1"})), "{ctx}");
        assert_eq!(reply.header("content-type"), Some("application/json"));

        let reply = get("/v1/shelves/s1/books/b2").await;
        assert_eq!(
            reply.json(),
            json!({"name": "shelves/s1/books/b2", "title": "title of shelves/s1/books/b2"}),
            "{ctx}"
        );
        // The additional binding, with a `**` variable.
        let reply = get("/v1/by-path/a/b/c").await;
        assert_eq!(reply.json()["name"], "a/b/c", "{ctx}");

        let json_body = [("content-type", "application/json")];
        let reply = send(
            addr,
            protocol,
            "POST",
            "/v1/shelves/s1/books?request_id=42",
            &json_body,
            r#"{"title": "New", "pages": "12"}"#,
        )
        .await;
        assert_eq!(
            (reply.status, reply.json()),
            (200, json!({"name": "shelves/s1/books/42", "title": "New", "pages": "12"})),
            "{ctx}"
        );

        // The nested path variable wins over the body's field; update_mask from the query.
        let body = r#"{"name": "ignored", "title": "T", "available": true}"#;
        let reply =
            send(addr, protocol, "PATCH", "/v1/shelves/s1/books/b9?update_mask=title,available", &json_body, body)
                .await;
        let expected =
            json!({"name": "shelves/s1/books/b9", "title": "T", "available": true, "author": "title+available"});
        assert_eq!(reply.json(), expected, "{ctx}");
        // Without update_mask in the query, it is filled from the body's fields (grpc-gateway's PATCH feature).
        let reply = send(addr, protocol, "PATCH", "/v1/shelves/s1/books/b9", &json_body, body).await;
        assert_eq!(reply.json()["author"], "available+name+title", "{ctx}");

        // body "*": the path wins over the body too.
        let reply =
            send(addr, protocol, "PUT", "/v1/shelves/real", &json_body, r#"{"id": "fake", "theme": "sea"}"#).await;
        assert_eq!(reply.json(), json!({"id": "real", "theme": "sea"}), "{ctx}");

        let reply = send(addr, protocol, "DELETE", "/v1/shelves/s1/books/locked", &[], "").await;
        assert_eq!((reply.status, reply.json()["code"].clone()), (400, json!(9)), "{ctx}");
        let reply = send(addr, protocol, "DELETE", "/v1/shelves/s1/books/locked?force=true", &[], "").await;
        assert_eq!((reply.status, reply.json()), (200, json!({})), "{ctx}");

        let reply =
            send(addr, protocol, "POST", "/v1/shelves/s1/books/b1:archive", &json_body, r#"{"reason": "old"}"#).await;
        assert_eq!(reply.json(), json!({"name": "shelves/s1/books/b1", "title": "archived: old"}), "{ctx}");

        let reply = send(addr, protocol, "SEARCH", "/v1/books", &json_body, r#"{"query": "moby"}"#).await;
        assert_eq!(reply.json()["books"][0]["title"], "moby", "{ctx}");

        // response_body: only that field, and at its default value not `null` but `""`.
        let reply = get("/v1/shelves/s1/books/b1/title").await;
        assert_eq!(reply.json(), json!("title of shelves/s1/books/b1"), "{ctx}");
        let reply = get("/v1/shelves/s1/books/untitled/title").await;
        assert_eq!(reply.json(), json!(""), "{ctx}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_variables_are_decoded_by_the_spec() {
    each_setup(same, |addr, protocol, _| async move {
        let id = |path: &'static str| async move { send(addr, protocol, "GET", path, &[], "").await.json() };
        assert_eq!(id("/v1/shelves/a%20b").await["id"], "a b");
        assert_eq!(id("/v1/shelves/a+b").await["id"], "a+b");
        assert_eq!(id("/v1/shelves/a%2Fb").await["id"], "a/b");
        assert_eq!(id("/v1/shelves/%E2%82%AC").await["id"], "€");
        // A multi-segment variable keeps %2F encoded and decodes the rest.
        assert_eq!(id("/v1/shelves/x%2Fy/books/a%20b").await["name"], "shelves/x%2Fy/books/a b");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_parameters_of_every_kind() {
    each_setup(same, |addr, protocol, _| async move {
        let query = "pageSize=10&tags=a&tags=b%20c&genre=HISTORY&genres=1&genres=FICTION&filter.author=Ann+Lee\
                     &filter.pages.min=5&published_after=2024-01-02T03:04:05Z&max_age=1.5s&fields=title,filter.author\
                     &min_pages=7&available=false&include_archived=true&cursor=AQID&min_rating=4.5&offset=18446744073709551615\
                     &unknown=ignored";
        let reply = send(addr, protocol, "GET", &format!("/v1/shelves/s1/books?{query}"), &[], "").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let expected = json!({
            "shelfId": "s1", "pageSize": 10, "tags": ["a", "b c"], "genre": "HISTORY", "genres": ["FICTION", "FICTION"],
            "filter": {"author": "Ann Lee", "pages": {"min": "5"}}, "publishedAfter": "2024-01-02T03:04:05Z",
            "maxAge": "1.500s", "fields": "title,filter.author", "minPages": "7", "available": false,
            "includeArchived": true, "cursor": "AQID", "minRating": 4.5, "offset": "18446744073709551615"
        });
        assert_eq!(reply.json()["request"], expected);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_status_they_deserve() {
    each_setup(
        |b| b.max_body_size(64),
        |addr, protocol, _| async move {
            let json_body = [("content-type", "application/json")];
            let reply = send(addr, protocol, "GET", "/v1/nothing/here", &[], "").await;
            assert_eq!((reply.status, reply.json()["code"].clone()), (404, json!(5)));

            let reply = send(addr, protocol, "POST", "/v1/shelves/s1", &json_body, "{}").await;
            assert_eq!(reply.status, 405);
            assert_eq!(reply.header("allow"), Some("GET, PUT"));

            let reply = send(addr, protocol, "PUT", "/v1/shelves/s1", &[("content-type", "text/plain")], "id=1").await;
            assert_eq!(reply.status, 415);
            assert!(reply.json()["message"].as_str().unwrap().contains("text/plain"), "{}", reply.body);

            let big = format!("{{\"theme\": \"{}\"}}", "x".repeat(100));
            let reply = send(addr, protocol, "PUT", "/v1/shelves/s1", &json_body, &big).await;
            assert_eq!((reply.status, reply.json()["code"].clone()), (413, json!(8)));

            let reply = send(addr, protocol, "PUT", "/v1/shelves/s1", &json_body, "{\"theme\": ").await;
            assert_eq!(reply.status, 400);
            assert!(reply.json()["message"].as_str().unwrap().contains("not valid JSON"), "{}", reply.body);

            let reply = send(addr, protocol, "POST", "/v1/shelves/s1/books", &json_body, r#"{"pages": "many"}"#).await;
            assert_eq!(reply.status, 400);
            let message = reply.json()["message"].as_str().unwrap().to_owned();
            assert!(message.contains("book.pages"), "the JSON path is named: {message}");

            let reply = send(addr, protocol, "GET", "/v1/shelves/%zz", &[], "").await;
            assert_eq!((reply.status, reply.json()["code"].clone()), (400, json!(3)), "a malformed path escape");
            let reply = send(addr, protocol, "GET", "/v1/shelves/s1/books?tags=%zz", &[], "").await;
            assert_eq!(reply.status, 400, "a malformed query escape: {}", reply.body);
            let reply = send(addr, protocol, "GET", "/v1/shelves/s1/books?include_archived=1", &[], "").await;
            assert_eq!(reply.json()["request"]["includeArchived"], true, "Go's spellings of bools");

            for (query, named) in [
                ("page_size=1&page_size=2", "page_size"),
                ("include_archived=maybe", "include_archived"),
                ("genre=POETRY", "genre"),
                ("page_size=ten", "page_size"),
            ] {
                let reply = send(addr, protocol, "GET", &format!("/v1/shelves/s1/books?{query}"), &[], "").await;
                assert_eq!(reply.status, 400, "{query}: {}", reply.body);
                let message = reply.json()["message"].as_str().unwrap().to_owned();
                assert!(message.contains(named), "{query}: {message}");
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_table_and_error_bodies() {
    let table = [
        (1, 499),
        (2, 500),
        (3, 400),
        (4, 504),
        (5, 404),
        (6, 409),
        (7, 403),
        (8, 429),
        (9, 400),
        (10, 409),
        (11, 400),
        (12, 501),
        (13, 500),
        (14, 503),
        (15, 500),
        (16, 401),
    ];
    each_setup(same, |addr, protocol, mode| async move {
        for (code, http) in table {
            let reply = send(addr, protocol, "GET", &format!("/v1/fail/{code}?message=m{code}"), &[], "").await;
            assert_eq!(reply.status, http, "code {code}");
            let body = reply.json();
            assert_eq!((body["code"].clone(), body["message"].clone()), (json!(code), json!(format!("m{code}"))));
            assert!(body["details"].is_array(), "{body}");
            assert_eq!(reply.header("grpc-trailer-x-failure"), Some("yes"), "code {code}");
        }
        let reply = send(addr, protocol, "GET", "/v1/fail/3?message=bad", &[], "").await;
        let detail = &reply.json()["details"][0];
        assert_eq!(
            detail["@type"], "type.googleapis.com/rsgrpc.test.common.Money",
            "{mode:?} {protocol:?}: {}",
            reply.body
        );
        assert_eq!(detail["units"], "7");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_both_ways_and_the_deadline() {
    each_setup(
        |b| b.header_matcher(|name| (name == "x-custom").then(|| "custom".to_owned())),
        |addr, protocol, mode| async move {
            let headers = [
                ("authorization", "Bearer token"),
                ("grpc-metadata-tenant", "acme"),
                ("grpc-metadata-trace-bin", "AQID"),
                ("user-agent", "gateway-test/1"),
                ("x-custom", "matched"),
                // Neither a client's own X-Forwarded-For (not trusted by default) nor a metadata header
                // forges what the gateway sets.
                ("x-forwarded-for", "203.0.113.1"),
                ("grpc-metadata-x-forwarded-for", "198.51.100.1"),
            ];
            let reply = send(addr, protocol, "GET", "/v1/shelves/s1", &headers, "").await;
            assert_eq!(reply.status, 200);
            assert_eq!(reply.header("grpc-metadata-x-seen-authorization"), Some("Bearer token"));
            assert_eq!(reply.header("grpc-metadata-x-seen-tenant"), Some("acme"));
            assert_eq!(reply.header("grpc-metadata-x-seen-trace-bin"), Some("AQID"));
            assert_eq!(reply.header("grpc-metadata-x-seen-grpcgateway-user-agent"), Some("gateway-test/1"));
            assert_eq!(reply.header("grpc-metadata-x-seen-custom"), Some("matched"));
            assert_eq!(reply.header("grpc-metadata-x-seen-x-forwarded-for"), Some("127.0.0.1"));
            assert_eq!(reply.header("grpc-trailer-x-served-by"), Some("library"));

            let started = std::time::Instant::now();
            let reply = send(addr, protocol, "GET", "/v1/shelves/s1/books/slow", &[("grpc-timeout", "200m")], "").await;
            assert_eq!((reply.status, reply.json()["code"].clone()), (504, json!(4)), "{mode:?}: {}", reply.body);
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
            let reply = send(addr, protocol, "GET", "/v1/shelves/s1", &[("grpc-timeout", "soon")], "").await;
            assert_eq!(reply.status, 400);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_streams_as_ndjson_and_server_sent_events() {
    each_setup(same, |addr, protocol, mode| async move {
        let reply = send(addr, protocol, "GET", "/v1/shelves/s1:watch?count=3", &[], "").await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("grpc-metadata-x-watch"), Some("started"));
        let lines = reply.lines();
        let titles: Vec<Value> = lines.iter().map(|line| line["result"]["title"].clone()).collect();
        assert_eq!(titles, [json!("book 0"), json!("book 1"), json!("book 2")], "{mode:?} {protocol:?}");

        // An error mid-stream ends the body with an error line.
        let reply = send(addr, protocol, "GET", "/v1/shelves/s1:watch?count=5&fail_after=2", &[], "").await;
        let lines = reply.lines();
        assert_eq!(lines.len(), 3, "{}", reply.body);
        assert_eq!(lines[1]["result"]["title"], "book 1");
        assert_eq!(lines[2]["error"]["code"], 14);
        assert_eq!(lines[2]["error"]["message"], "shelf s1 went away");

        // An error before the first message is a plain error answer, from the handler or from the stream.
        let reply = send(addr, protocol, "GET", "/v1/shelves/missing:watch?count=1", &[], "").await;
        assert_eq!(reply.status, 404);
        let reply = send(addr, protocol, "GET", "/v1/shelves/s1:watch?count=3&fail_after=-1", &[], "").await;
        assert_eq!((reply.status, reply.json()["code"].clone()), (503, json!(14)), "{}", reply.body);

        let sse = [("accept", "text/event-stream")];
        let reply = send(addr, protocol, "GET", "/v1/shelves/s1:watch?count=4&fail_after=2", &sse, "").await;
        assert_eq!(reply.header("content-type"), Some("text/event-stream"));
        let events: Vec<&str> = reply.body.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 3, "{:?}", reply.body);
        let first: Value = serde_json::from_str(events[0].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(first["title"], "book 0");
        let error = events[2].strip_prefix("event: error\ndata: ").expect("an error event");
        assert_eq!(serde_json::from_str::<Value>(error).unwrap()["code"], 14);
        let _ = reply.trailers;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_bidirectional_streams_from_concatenated_json() {
    each_setup(same, |addr, protocol, _| async move {
        let json_body = [("content-type", "application/json")];
        let body = "{\"title\": \"a\"} {\"title\": \"b\"}\n{\"title\": \"c\"}";
        let reply = send(addr, protocol, "POST", "/v1/books:import", &json_body, body).await;
        assert_eq!(reply.json(), json!({"count": 3, "titles": ["a", "b", "c"]}));

        let reply =
            send(addr, protocol, "POST", "/v1/chat", &json_body, "{\"text\": \"hi\"}{\"text\": \"there\"}").await;
        let texts: Vec<Value> = reply.lines().iter().map(|line| line["result"]["text"].clone()).collect();
        assert_eq!(texts, [json!("HI"), json!("THERE")]);

        // A body that goes bad midway ends the stream with its error (or, if nothing was answered yet,
        // is the answer).
        let reply = send(addr, protocol, "POST", "/v1/chat", &json_body, "{\"text\": \"a\"} {\"text\": ").await;
        let code = if reply.status == 200 {
            reply.lines().last().unwrap()["error"]["code"].clone()
        } else {
            reply.json()["code"].clone()
        };
        assert_eq!(code, json!(3), "{}", reply.body);

        let reply =
            send(addr, protocol, "POST", "/v1/books:import", &json_body, "{\"title\": \"a\"} {\"pages\": []}").await;
        assert_eq!(reply.status, 400);
        assert!(reply.json()["message"].as_str().unwrap().contains("message 1"), "{}", reply.body);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_options_and_the_health_endpoint() {
    let running = start(Mode::InProcess, |b| b.emit_defaults(true).proto_names(true).health_endpoint("/healthz")).await;
    let reply = send(running.addr, Protocol::Http1, "GET", "/v1/shelves/s1/books/b1", &[], "").await;
    let body = reply.json();
    assert_eq!(body["available"], false, "defaults are written: {body}");
    assert_eq!(body["tags"], json!([]));
    let reply = send(running.addr, Protocol::Http1, "GET", "/v1/shelves/s1/books?page_size=3", &[], "").await;
    assert_eq!(reply.json()["request"]["page_size"], 3, "proto names: {}", reply.body);
    let reply = send(running.addr, Protocol::Http2, "GET", "/healthz", &[], "").await;
    assert_eq!((reply.status, reply.json()), (200, json!({"status": "SERVING"})));
}

fn curl(args: &[&str]) -> String {
    let output =
        std::process::Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().expect("curl runs");
    assert!(output.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_over_http1_and_http2() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let running = start(mode, same).await;
        let base = format!("http://{}", running.addr);
        let answers = tokio::task::spawn_blocking(move || {
            let shelf = curl(&[&format!("{base}/v1/shelves/s1")]);
            let h2 = curl(&[
                "--http2-prior-knowledge",
                "-H",
                "Grpc-Metadata-Tenant: t",
                "-i",
                &format!("{base}/v1/shelves/s2"),
            ]);
            let created = curl(&[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                r#"{"title": "Curl"}"#,
                &format!("{base}/v1/shelves/s1/books"),
            ]);
            let sse = curl(&["-N", "-H", "Accept: text/event-stream", &format!("{base}/v1/shelves/s1:watch?count=2")]);
            (shelf, h2, created, sse)
        })
        .await
        .unwrap();
        let (shelf, h2, created, sse) = answers;
        assert_eq!(serde_json::from_str::<Value>(&shelf).unwrap(), json!({"id": "s1", "theme": "theme of s1"}));
        assert!(h2.starts_with("HTTP/2 200"), "{h2}");
        assert!(h2.to_ascii_lowercase().contains("grpc-metadata-x-seen-tenant: t"), "{h2}");
        assert_eq!(serde_json::from_str::<Value>(&created).unwrap()["title"], "Curl");
        assert_eq!(sse.matches("data: ").count(), 2, "{sse}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bidirectional_stream_answers_while_the_client_is_still_sending() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        let running = start(mode, same).await;
        let io = hyper_util::rt::TokioIo::new(TcpStream::connect(running.addr).await.unwrap());
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(connection);
        let (outgoing, body_rx) =
            tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, std::convert::Infallible>>(4);
        let frames =
            futures_util::stream::unfold(body_rx, |mut rx| async move { rx.recv().await.map(|frame| (frame, rx)) });
        let body = http_body_util::StreamBody::new(Box::pin(frames));
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}/v1/chat", running.addr))
            .header("content-type", "application/json")
            .body(body)
            .unwrap();
        outgoing.send(Ok(hyper::body::Frame::data(Bytes::from("{\"text\": \"first\"}")))).await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        // The answer to the first message arrives before the second is sent.
        let frame =
            tokio::time::timeout(std::time::Duration::from_secs(5), body.frame()).await.expect("an answer in time");
        let line = String::from_utf8(frame.unwrap().unwrap().into_data().unwrap().to_vec()).unwrap();
        assert_eq!(serde_json::from_str::<Value>(line.trim()).unwrap()["result"]["text"], "FIRST", "{mode:?}");
        outgoing.send(Ok(hyper::body::Frame::data(Bytes::from("{\"text\": \"second\"}")))).await.unwrap();
        drop(outgoing);
        let rest = body.collect().await.unwrap().to_bytes();
        let rest = String::from_utf8(rest.to_vec()).unwrap();
        assert_eq!(serde_json::from_str::<Value>(rest.trim()).unwrap()["result"]["text"], "SECOND", "{mode:?}");
    }
}

/// An HTTP/2 connection to the gateway, for many requests (clone the sender for concurrent ones).
async fn h2_sender(addr: SocketAddr) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (sender, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
    tokio::spawn(connection);
    sender
}

/// A request on an open connection of either protocol.
enum Connection {
    Http1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    Http2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Connection {
    async fn open(addr: SocketAddr, protocol: Protocol) -> Connection {
        match protocol {
            Protocol::Http2 => Connection::Http2(h2_sender(addr).await),
            Protocol::Http1 => {
                let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
                let (sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(connection);
                Connection::Http1(sender)
            }
        }
    }

    async fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut request = http::Request::builder().method(method).uri(format!("http://127.0.0.1{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body.to_owned()))).unwrap();
        let response = match self {
            Connection::Http1(sender) => {
                sender.ready().await.unwrap();
                sender.send_request(request).await.unwrap()
            }
            Connection::Http2(sender) => sender.send_request(request).await.unwrap(),
        };
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            trailers,
            body: String::from_utf8(collected.to_bytes().to_vec()).unwrap(),
        }
    }
}

/// Counts the calls open in the backend and the request streams that ended cleanly (END_STREAM): a bad
/// body must leave neither an open call nor a completed upload behind.
#[derive(Clone, Default)]
struct CountingLibrary {
    open: Arc<std::sync::atomic::AtomicUsize>,
    completed: Arc<std::sync::atomic::AtomicUsize>,
}

/// One open backend call, until dropped.
struct OpenCall(Arc<std::sync::atomic::AtomicUsize>);

impl OpenCall {
    fn new(open: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        OpenCall(open.clone())
    }
}

impl Drop for OpenCall {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

use rsgrpc_tests::gateway_gen::rsgrpc::test::gateway::{Book, ChatMessage, ImportSummary};

impl Library for CountingLibrary {
    async fn import_books(
        &self,
        request: rsgrpc::Request<rsgrpc::Streaming<Book>>,
    ) -> Result<rsgrpc::Response<ImportSummary>, rsgrpc::Status> {
        let _open = OpenCall::new(&self.open);
        let mut books = request.into_inner();
        let mut summary = ImportSummary::default();
        while let Some(book) = books.message().await? {
            summary.count += 1;
            summary.titles.push(book.title);
        }
        self.completed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(rsgrpc::Response::new(summary))
    }

    async fn chat(
        &self,
        request: rsgrpc::Request<rsgrpc::Streaming<ChatMessage>>,
    ) -> Result<rsgrpc::Response<rsgrpc::server::BoxStream<ChatMessage>>, rsgrpc::Status> {
        let state = (request.into_inner(), OpenCall::new(&self.open), self.completed.clone(), false);
        let stream = futures_util::stream::unfold(state, |(mut messages, open, completed, ended)| async move {
            if ended {
                return None;
            }
            match messages.message().await {
                Ok(Some(message)) => {
                    let reply = ChatMessage { text: message.text.to_uppercase(), ..Default::default() };
                    Some((Ok(reply), (messages, open, completed, false)))
                }
                Ok(None) => {
                    completed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    None
                }
                Err(status) => Some((Err(status), (messages, open, completed, true))),
            }
        });
        Ok(rsgrpc::Response::new(Box::pin(stream)))
    }
}

/// Waits (a bounded time) for `check` to hold.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_through_the_proxy_cancel_their_backend_calls() {
    use std::sync::atomic::Ordering::SeqCst;
    let library = CountingLibrary::default();
    let running = start_custom(Mode::Proxy, library.clone(), |server| server, same).await;
    let addr = running.addr;
    let json_body = [("content-type", "application/json")];
    let bad = [
        ("/v1/chat", "]"),
        ("/v1/chat", "{\"text\": \"a\"} {\"text\": "),
        ("/v1/chat", "{\"text\": \"a\"} {\"text\": 7}"),
        ("/v1/books:import", "{\"title\": \"a\"} {\"title\": "),
    ];
    // 2000 bad bodies: each leaked backend stream counts against the backend's 1000 concurrent streams,
    // so a leak makes the later calls hang (bounded here). At most 8 at once: more calls cancelled before
    // the backend accepted them than h2's rapid-reset guard allows (20) would get the channel's connection
    // sent away, which is not what this test is about.
    let sender = h2_sender(addr).await;
    let bad_ones = futures_util::StreamExt::for_each_concurrent(futures_util::stream::iter(0..2000), 8, |i| {
        let mut connection = Connection::Http2(sender.clone());
        async move {
            let (path, body) = bad[i % bad.len()];
            let reply = connection.send("POST", path, &json_body, body).await;
            let code = match reply.status {
                200 => reply.lines().last().unwrap()["error"]["code"].clone(),
                _ => reply.json()["code"].clone(),
            };
            assert_eq!(code, json!(3), "{path} {body:?}: {} {}", reply.status, reply.body);
        }
    });
    tokio::time::timeout(std::time::Duration::from_secs(60), bad_ones).await.expect("the bad bodies were answered");
    eventually("the backend has no call open", || library.open.load(SeqCst) == 0).await;
    assert_eq!(library.completed.load(SeqCst), 0, "a bad body was taken for a complete upload");

    // Aborted bodies: the client goes away mid-body, after the first answer.
    for i in 0..150 {
        let how = [Abort::Http1Close, Abort::Http2Reset, Abort::Http2Close][i % 3];
        tokio::time::timeout(std::time::Duration::from_secs(5), abort_midway(addr, how)).await.expect("answered");
    }
    eventually("the backend has no call open after aborted bodies", || library.open.load(SeqCst) == 0).await;
    assert_eq!(library.completed.load(SeqCst), 0, "an aborted body was taken for a complete upload");

    // Normal calls work as before, over both protocols.
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let call = async {
            let reply = send(addr, protocol, "POST", "/v1/chat", &json_body, "{\"text\": \"hi\"}").await;
            assert_eq!(reply.lines()[0]["result"]["text"], "HI", "{}", reply.body);
            let reply = send(addr, protocol, "POST", "/v1/books:import", &json_body, "{\"title\": \"a\"}").await;
            assert_eq!(reply.json()["count"], 1, "{}", reply.body);
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), call).await.expect("normal calls answered");
    }
    eventually("the backend has no call open", || library.open.load(SeqCst) == 0).await;
    assert_eq!(library.completed.load(SeqCst), 4);
}

/// How a client gives up on a body midway.
#[derive(Clone, Copy, Debug)]
enum Abort {
    /// HTTP/1.1: the connection closes.
    Http1Close,
    /// HTTP/2: RST_STREAM on the request.
    Http2Reset,
    /// HTTP/2: the connection closes.
    Http2Close,
}

/// Starts a bidirectional call with a streaming body, reads the answer to its first message, then gives
/// up with the body still open (never ended: an end would complete the upload).
async fn abort_midway(addr: SocketAddr, how: Abort) {
    let first = Bytes::from("{\"text\": \"a\"}");
    let tcp = TcpStream::connect(addr).await.unwrap();
    if let Abort::Http1Close = how {
        let io = hyper_util::rt::TokioIo::new(tcp);
        let (outgoing, body_rx) =
            tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, std::convert::Infallible>>(4);
        let frames =
            futures_util::stream::unfold(body_rx, |mut rx| async move { rx.recv().await.map(|frame| (frame, rx)) });
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}/v1/chat"))
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .body(http_body_util::StreamBody::new(Box::pin(frames) as FrameStream))
            .unwrap();
        outgoing.send(Ok(hyper::body::Frame::data(first))).await.unwrap();
        // hyper's HTTP/1.1 client connection owns the socket: aborting it closes the connection.
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut body = sender.send_request(request).await.unwrap().into_body();
        let answer = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert!(String::from_utf8_lossy(&answer).contains("\"A\""), "{answer:?}");
        connection.abort();
        let _ = connection.await;
        drop(outgoing);
        return;
    }
    // h2 itself, so the reset and the close are exactly what is sent.
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let mut connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.unwrap();
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/v1/chat"))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(first, false).unwrap();
    let mut body = response.await.unwrap().into_body();
    let answer = body.data().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&answer).contains("\"A\""), "{answer:?}");
    if let Abort::Http2Reset = how {
        send.send_reset(h2::Reason::CANCEL);
        // With every handle gone the connection ends by itself, after writing the reset.
        drop((send, body, client));
        if tokio::time::timeout(std::time::Duration::from_secs(1), &mut connection).await.is_ok() {
            return;
        }
    }
    connection.abort();
    let _ = connection.await;
}

/// Lets through calls with `Authorization: Bearer let-me-in`, refuses the rest.
fn auth() -> impl rsgrpc::interceptor::UnaryInterceptor + rsgrpc::interceptor::StreamInterceptor {
    rsgrpc::interceptor::auth_fn(|metadata, _method| {
        let token = rsgrpc::interceptor::bearer_token(metadata).map(str::to_owned);
        async move {
            match token?.as_str() {
                "let-me-in" => Ok(()),
                _ => Err(rsgrpc::Status::unauthenticated("wrong token")),
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_interceptors_guard_rest_calls_in_both_modes() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        // In process the gateway runs the interceptors; through the proxy the gRPC server does.
        let running = match mode {
            Mode::InProcess => start_custom(mode, TestLibrary, |server| server, |b| b.interceptor(auth())).await,
            Mode::Proxy => start_custom(mode, TestLibrary, |server| server.interceptor(auth()), same).await,
        };
        for protocol in [Protocol::Http1, Protocol::Http2] {
            let ctx = format!("{mode:?} {protocol:?}");
            let json_body = ("content-type", "application/json");
            let token = ("authorization", "Bearer let-me-in");
            let calls = [
                ("GET", "/v1/shelves/s1", ""),
                ("GET", "/v1/shelves/s1:watch?count=1", ""),
                ("POST", "/v1/books:import", "{\"title\": \"a\"}"),
                ("POST", "/v1/chat", "{\"text\": \"a\"}"),
            ];
            for (method, path, body) in calls {
                let addr = running.addr;
                let reply = send(addr, protocol, method, path, &[json_body], body).await;
                assert_eq!(
                    (reply.status, reply.json()["code"].clone()),
                    (401, json!(16)),
                    "{ctx} {path}: {}",
                    reply.body
                );
                let wrong = ("authorization", "Bearer guess");
                let reply = send(addr, protocol, method, path, &[json_body, wrong], body).await;
                assert_eq!(reply.status, 401, "{ctx} {path}: {}", reply.body);
                // Another spelling of the header does not get past a front proxy's control of Authorization.
                let sneaked = ("grpc-metadata-authorization", "Bearer let-me-in");
                let reply = send(addr, protocol, method, path, &[json_body, sneaked], body).await;
                assert_eq!(reply.status, 401, "{ctx} {path}: {}", reply.body);
                let reply = send(addr, protocol, method, path, &[json_body, token], body).await;
                assert_eq!(reply.status, 200, "{ctx} {path}: {}", reply.body);
                assert!(!reply.body.contains("error"), "{ctx} {path}: {}", reply.body);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_ready_as_the_deadline_passes_is_a_timeout_in_both_modes() {
    each_setup(same, |addr, protocol, mode| async move {
        let timeout = [("grpc-timeout", "300m")];
        let reply = send(addr, protocol, "GET", "/v1/shelves/s1/books/late", &timeout, "").await;
        let body = reply.json();
        assert_eq!((reply.status, body["code"].clone()), (504, json!(4)), "{mode:?} {protocol:?}: {}", reply.body);
        assert_eq!(body["message"], "the deadline (Grpc-Timeout) passed", "{mode:?} {protocol:?}");
        let reply = send(addr, protocol, "GET", "/v1/shelves/s1/books/slow", &[("grpc-timeout", "200m")], "").await;
        assert_eq!(reply.json()["message"], "the deadline (Grpc-Timeout) passed", "{mode:?} {protocol:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_gets_500_and_the_connection_keeps_serving() {
    each_setup(same, |addr, protocol, mode| async move {
        let ctx = format!("{mode:?} {protocol:?}");
        let mut connection = Connection::open(addr, protocol).await;
        let reply = connection.send("GET", "/v1/shelves/s1/books/panic", &[], "").await;
        assert_eq!(reply.status, 500, "{ctx}: {}", reply.body);
        let body = reply.json();
        assert_eq!(
            (body["code"].clone(), body["message"].clone()),
            (json!(13), json!("the handler panicked")),
            "{ctx}"
        );
        assert!(body["details"].is_array(), "a google.rpc.Status: {body}");
        // A stream that panics midway ends with an error line.
        let reply = connection.send("GET", "/v1/shelves/panic:watch?count=3", &[], "").await;
        let lines = reply.lines();
        assert_eq!(lines[0]["result"]["title"], "book 0", "{ctx}: {}", reply.body);
        assert_eq!(lines.last().unwrap()["error"]["code"], 13, "{ctx}: {}", reply.body);
        // The same connection answers the next request.
        let reply = connection.send("GET", "/v1/shelves/s1", &[], "").await;
        assert_eq!((reply.status, reply.json()["id"].clone()), (200, json!("s1")), "{ctx}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_grace_period_shutdown_closes_the_connections_left() {
    for mode in [Mode::InProcess, Mode::Proxy] {
        for protocol in [Protocol::Http1, Protocol::Http2] {
            let mut running = start(mode, |b| b.shutdown_grace_period(std::time::Duration::from_millis(300))).await;
            let io = hyper_util::rt::TokioIo::new(TcpStream::connect(running.addr).await.unwrap());
            let request = http::Request::builder()
                .uri(format!("http://{}/v1/shelves/s1:watch?count=1000&interval_ms=100", running.addr))
                .header("host", running.addr.to_string())
                .body(Full::new(Bytes::new()))
                .unwrap();
            let response = request_over(protocol, io, request).await;
            let mut body = response.into_body();
            assert!(body.frame().await.is_some(), "the stream started");
            running.stop.take().unwrap().send(()).unwrap();
            let served = tokio::time::timeout(std::time::Duration::from_secs(3), &mut running.served).await;
            assert!(served.is_ok(), "{mode:?} {protocol:?}: serve_with_shutdown returned after the grace period");
            // The endless stream is cut off: its body ends (with an error) instead of going on.
            let rest = async { while let Some(Ok(_)) = body.frame().await {} };
            let ended = tokio::time::timeout(std::time::Duration::from_secs(2), rest).await;
            assert!(ended.is_ok(), "{mode:?} {protocol:?}: the stream still runs after the shutdown");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_idle_and_slow_peers_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let short = std::time::Duration::from_millis(300);
    let long = std::time::Duration::from_secs(60);
    let running = start(Mode::InProcess, |b| b.read_timeout(short).idle_timeout(long)).await;
    let addr = running.addr;
    let closed = |mut socket: TcpStream| async move {
        let mut buffer = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(3), socket.read_to_end(&mut buffer)).await.is_ok()
    };
    // Connected, sending nothing: not even the HTTP/2 preface or a request line.
    let started = std::time::Instant::now();
    assert!(closed(TcpStream::connect(addr).await.unwrap()).await, "a silent connection stays open");
    assert!(started.elapsed() >= short);
    // A request line, then nothing: HTTP/1.1's header read timeout.
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(b"GET /v1/shelves/s1 HTTP/1.1\r\n").await.unwrap();
    assert!(closed(socket).await, "a slow request head stays open");

    let idle = std::time::Duration::from_millis(500);
    let running = start(Mode::InProcess, |b| b.read_timeout(long).idle_timeout(idle)).await;
    let addr = running.addr;
    // HTTP/2 after its preface, with no request: closed when idle (GOAWAY, then the end).
    let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (sender, connection) =
        hyper::client::conn::http2::handshake::<_, _, Full<Bytes>>(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .unwrap();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(3), connection).await;
    assert!(ended.is_ok(), "an idle HTTP/2 connection stays open");
    drop(sender);
    // HTTP/1.1 kept alive after a request, then idle.
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(b"GET /v1/shelves/s1 HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    assert!(closed(socket).await, "an idle keep-alive connection stays open");

    // A streaming body that stops coming: 408, in both modes, before and after the first message.
    for mode in [Mode::InProcess, Mode::Proxy] {
        let running = start(mode, |b| b.read_timeout(short)).await;
        for (path, first) in [("/v1/books:import", "{\"title\": \"a\"}"), ("/v1/chat", "{\"text\": ")] {
            let mut sender = h2_sender_streaming(running.addr).await;
            let (outgoing, body_rx) =
                tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, std::convert::Infallible>>(4);
            let frames =
                futures_util::stream::unfold(body_rx, |mut rx| async move { rx.recv().await.map(|frame| (frame, rx)) });
            let request = http::Request::builder()
                .method("POST")
                .uri(format!("http://{}{path}", running.addr))
                .header("content-type", "application/json")
                .body(http_body_util::StreamBody::new(Box::pin(frames) as FrameStream))
                .unwrap();
            outgoing.send(Ok(hyper::body::Frame::data(Bytes::from(first)))).await.unwrap();
            let answer = async {
                let response = sender.send_request(request).await.unwrap();
                let status = response.status().as_u16();
                (status, response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default())
            };
            let (status, body) = tokio::time::timeout(std::time::Duration::from_secs(5), answer)
                .await
                .expect("a stalled body is answered");
            assert_eq!(status, 408, "{mode:?} {path}: {body:?}");
            drop(outgoing);
        }
    }
}

type FrameStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<hyper::body::Frame<Bytes>, std::convert::Infallible>> + Send>,
>;

async fn h2_sender_streaming(
    addr: SocketAddr,
) -> hyper::client::conn::http2::SendRequest<http_body_util::StreamBody<FrameStream>> {
    let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (sender, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
    tokio::spawn(connection);
    sender
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_that_stops_answering_pings_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ping = std::time::Duration::from_millis(200);
    let running = start(Mode::InProcess, |b| b.http2_keepalive(Some(ping), ping)).await;
    let mut socket = TcpStream::connect(running.addr).await.unwrap();
    // The preface and an empty SETTINGS frame; then the client reads but never answers.
    socket.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await.unwrap();
    let mut received = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), socket.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "a client that answers no PING stays connected");
    let mut frames = Vec::new();
    let mut at = 0;
    while at + 9 <= received.len() {
        let length = u32::from_be_bytes([0, received[at], received[at + 1], received[at + 2]]) as usize;
        frames.push(received[at + 3]);
        at += 9 + length;
    }
    assert!(frames.contains(&6), "the gateway pinged (frame types {frames:?})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_limit_are_closed() {
    use tokio::io::AsyncReadExt;
    let running = start(Mode::InProcess, |b| b.max_connections(2)).await;
    let addr = running.addr;
    let first = Connection::open(addr, Protocol::Http2).await;
    let mut second = Connection::open(addr, Protocol::Http1).await;
    assert_eq!(second.send("GET", "/v1/shelves/s1", &[("host", "x")], "").await.status, 200);
    let mut third = TcpStream::connect(addr).await.unwrap();
    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), third.read(&mut buffer)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the third connection is closed: {read:?}");
    // One closes; a new one is served.
    drop(first);
    let reply = async {
        loop {
            let io = hyper_util::rt::TokioIo::new(TcpStream::connect(addr).await.unwrap());
            let Ok((mut sender, connection)) = hyper::client::conn::http1::handshake(io).await else { continue };
            tokio::spawn(connection);
            let request = http::Request::builder()
                .uri("/v1/shelves/s2")
                .header("host", "x")
                .body(Full::new(Bytes::new()))
                .unwrap();
            if let Ok(response) = sender.send_request(request).await {
                return response.status();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    let status = tokio::time::timeout(std::time::Duration::from_secs(5), reply).await.expect("served again");
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_proxy_mode_the_channels_interceptors_apply() {
    // The backend wants a token that REST clients do not send: the channel's interceptors add it, as they
    // would to any call made on that channel.
    let grpc = serve(Server::builder().interceptor(auth()).add_service(LibraryServer::new(TestLibrary)).build()).await;
    fn with_token<T>(mut request: rsgrpc::Request<T>) -> rsgrpc::Request<T> {
        request.metadata_mut().insert("authorization", "Bearer let-me-in").expect("valid metadata");
        request
    }
    let channel = rsgrpc::client::Channel::builder(&grpc.target())
        .unwrap()
        .unary_interceptor(rsgrpc::interceptor::unary_fn(|request, next| next.run(with_token(request))))
        .stream_interceptor(rsgrpc::interceptor::stream_fn(|request, next| next.run(with_token(request))))
        .connect()
        .await
        .unwrap();
    let gateway = Gateway::builder().routes(library_gateway::proxy_routes(channel)).build().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    let json_body = [("content-type", "application/json")];
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let reply = send(addr, protocol, "GET", "/v1/shelves/s1", &[], "").await;
        assert_eq!(reply.status, 200, "{protocol:?}: {}", reply.body);
        let reply = send(addr, protocol, "POST", "/v1/chat", &json_body, "{\"text\": \"a\"}").await;
        assert_eq!(reply.lines()[0]["result"]["text"], "A", "{protocol:?}: {}", reply.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_are_believed_only_when_trusted() {
    each_setup(
        |b| b.trust_forwarded_headers(true),
        |addr, protocol, mode| async move {
            let headers = [("x-forwarded-for", "203.0.113.1"), ("grpc-metadata-x-forwarded-for", "198.51.100.1")];
            let reply = send(addr, protocol, "GET", "/v1/shelves/s1", &headers, "").await;
            let seen = reply.header("grpc-metadata-x-seen-x-forwarded-for");
            assert_eq!(seen, Some("203.0.113.1, 127.0.0.1"), "{mode:?} {protocol:?}");
        },
    )
    .await;
}
