//! A service whose names collide with what generated code defines or calls (testdata/protos/rsgrpc/test/
//! collisions.proto): methods `New`, `Connect`, `Clone`, `Into`, `Drop`, `Self`, `Default`, `Poll`, `Next`
//! over messages named `Clone`, `Default`, `Iterator`, `Future`, `Result`... Served and called, all four call
//! kinds, through the generated client and server.

use rsgrpc::client::Channel;
use rsgrpc::server::{BoxStream, Server};
use rsgrpc::{Request, Response, Status, Streaming};
use rsgrpc_tests::echo::async_stream;
use rsgrpc_tests::gen::rsgrpc::test::collisions as c;
use rsgrpc_tests::support::serve;

use c::option_server::OptionServer;
use c::tricky_client::TrickyClient;
use c::tricky_server::{Tricky, TrickyServer};

struct Impl;

fn named(item: &str) -> c::Clone {
    c::Clone {
        next: Some(c::Iterator { item: item.into(), ..Default::default() }),
        unknown_fields: format!("unknown {item}"),
        ..Default::default()
    }
}

fn item(message: &c::Clone) -> String {
    message.next.as_ref().map(|n| n.item.clone()).unwrap_or_default()
}

impl Tricky for Impl {
    async fn new_(&self, request: Request<c::Clone>) -> Result<Response<c::Clone>, Status> {
        Ok(Response::new(named(&format!("new {}", item(request.get_ref())))))
    }

    async fn connect_(&self, request: Request<c::Clone>) -> Result<Response<BoxStream<c::Clone>>, Status> {
        let text = item(request.get_ref());
        Ok(Response::new(async_stream(move |sender| async move {
            for i in 0..2 {
                let _ = sender.send(Ok(named(&format!("connect {text} {i}")))).await;
            }
        })))
    }

    async fn clone(&self, request: Request<Streaming<c::Clone>>) -> Result<Response<c::Clone>, Status> {
        let mut stream = request.into_inner();
        let mut seen = Vec::new();
        while let Some(message) = stream.message().await? {
            seen.push(item(&message));
        }
        Ok(Response::new(named(&seen.join("+"))))
    }

    async fn into(&self, request: Request<Streaming<c::Clone>>) -> Result<Response<BoxStream<c::Clone>>, Status> {
        let mut stream = request.into_inner();
        Ok(Response::new(async_stream(move |sender| async move {
            while let Ok(Some(message)) = stream.message().await {
                if sender.send(Ok(named(&format!("into {}", item(&message))))).await.is_err() {
                    return;
                }
            }
        })))
    }

    async fn drop(&self, request: Request<c::Default>) -> Result<Response<c::Default>, Status> {
        let mut message = request.into_inner();
        message.set_debug(c::Debug::None);
        Ok(Response::new(message))
    }

    async fn self_(&self, request: Request<c::Default>) -> Result<Response<c::Default>, Status> {
        Ok(Response::new(request.into_inner()))
    }

    async fn default(&self, _request: Request<c::Default>) -> Result<Response<c::Default>, Status> {
        Ok(Response::new(c::Default { send: Some(c::Send { value: 7, ..Default::default() }), ..Default::default() }))
    }

    async fn poll(&self, request: Request<c::Future>) -> Result<Response<c::Future>, Status> {
        let mut future = request.into_inner();
        future.output += 1;
        future.set_poll(c::Poll::Ready);
        Ok(Response::new(future))
    }

    async fn next(&self, request: Request<c::Iterator>) -> Result<Response<BoxStream<c::Iterator>>, Status> {
        let items = request.into_inner().items;
        Ok(Response::new(Box::pin(futures_util::stream::iter(items.into_iter().map(Ok)))))
    }
}

struct Options;

impl c::option_server::Option for Options {
    async fn some(&self, request: Request<c::Ok>) -> Result<Response<c::Ok>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

#[tokio::test]
async fn a_service_named_after_std_and_our_own_helpers_serves_all_four_kinds() {
    let server = Server::builder().add_service(TrickyServer::new(Impl)).add_service(OptionServer::new(Options)).build();
    let server = serve(server).await;
    let client = TrickyClient::connect(&server.target()).await.expect("connect, the constructor");
    let same = TrickyClient::new(Channel::connect(&server.target()).await.unwrap());

    // Unary, named after the constructor; the proto's `unknown_fields` field is a plain field.
    let reply = client.new_(named("a")).await.unwrap().into_inner();
    assert_eq!(item(&reply), "new a");
    assert_eq!(reply.unknown_fields, "unknown new a");

    // Server streaming.
    let mut stream = same.connect_(named("b")).await.unwrap().into_inner();
    let mut got = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        got.push(item(&message));
    }
    assert_eq!(got, ["connect b 0", "connect b 1"]);

    // Client streaming, named `clone`: the call, not Clone::clone.
    let reply = TrickyClient::clone(&client, futures_util::stream::iter([named("x"), named("y")])).await.unwrap();
    assert_eq!(item(reply.get_ref()), "x+y");

    // Bidirectional, named `into`: `client.into(..)` is `Into::into` (a by-value method is found before a
    // `&self` one), so the call is spelled through the type.
    let (mut sender, mut responses) = TrickyClient::into(&client, ()).await.unwrap();
    sender.send(named("z")).await.unwrap();
    assert_eq!(item(&responses.message().await.unwrap().unwrap()), "into z");
    sender.close();
    assert!(responses.message().await.unwrap().is_none());

    let debug = c::Default { debug: c::Debug::Some as i32, ..Default::default() };
    assert_eq!(client.drop(debug.clone()).await.unwrap().into_inner().debug(), c::Debug::None);
    assert_eq!(client.self_(debug.clone()).await.unwrap().into_inner(), debug);
    assert_eq!(client.default(c::Default::default()).await.unwrap().into_inner().send.unwrap().value, 7);
    let future = client.poll(c::Future { output: 1, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!((future.output, future.poll()), (2, c::Poll::Ready));

    let items = vec![c::Iterator { item: "i".into(), ..Default::default() }];
    let mut stream = client.next(c::Iterator { items, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().item, "i");
    assert!(stream.message().await.unwrap().is_none());

    // Methods left to their default bodies answer UNIMPLEMENTED, whatever their names.
    assert_eq!(client.inner(named("q")).await.unwrap_err().code(), rsgrpc::Code::Unimplemented);
    assert_eq!(client.from_arc(named("q")).await.unwrap_err().code(), rsgrpc::Code::Unimplemented);

    // The `Option` service beside the prelude's Option.
    let options = c::option_client::OptionClient::connect(&server.target()).await.unwrap();
    let ok = c::Ok {
        drop: Some(c::Drop { into: Some(c::Into { from: 3, ..Default::default() }), ..Default::default() }),
        ..Default::default()
    };
    assert_eq!(options.some(ok.clone()).await.unwrap().into_inner(), ok);
    assert_eq!(options.none(ok).await.unwrap_err().code(), rsgrpc::Code::Unimplemented);
    // Method constants: the short name and the full path, the same through the client and the server module.
    assert_eq!(c::tricky_server::methods::NEW, "New");
    assert_eq!(c::tricky_client::methods::paths::NEW, "/rsgrpc.test.collisions.Tricky/New");
    assert_eq!(c::option_server::methods::paths::NONE, "/rsgrpc.test.collisions.Option/None");
    // Clone::clone on the client still works in its full form.
    let _copy = <TrickyClient as std::clone::Clone>::clone(&client);
}
