//! channelz (`grpc.channelz.v1.Channelz`) after known calls: what it reports of a channel, its subchannel
//! and socket, and of the server and its sockets, through our own generated client and through grpcio's
//! (`grpcio-channelz`, tests/py/channelz_check.py); and that entries leave when their objects are dropped.
//!
//! The registry is process-wide and the tests of this file run at once, so each finds its own entries by
//! target and port rather than counting everything there is.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rsgrpc::channelz::v1::{
    self, channel_connectivity_state::State, GetChannelRequest, GetServerRequest, GetServerSocketsRequest,
    GetServersRequest, GetSocketRequest, GetSubchannelRequest, GetTopChannelsRequest,
};
use rsgrpc::channelz::ChannelzClient;
use rsgrpc::client::Channel;
use rsgrpc::server::Server;
use rsgrpc::Code;
use rsgrpc_tests::echo::EchoService;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_client::EchoClient;
use rsgrpc_tests::gen::rsgrpc::test::echo::echo_server::EchoServer;
use rsgrpc_tests::gen::rsgrpc::test::echo::EchoRequest;
use rsgrpc_tests::support::{serve, Running};

/// A server with channelz and the echo service.
async fn server() -> Running {
    let server =
        Server::builder().add_service(rsgrpc::channelz::service()).add_service(EchoServer::new(EchoService::default()));
    serve(server.build()).await
}

/// Known calls: 3 unary OK, 1 unary failing, 1 server stream of 3 (OK). The channel starts 5 calls, 4
/// succeed, 1 fails; its connection sends 5 messages and receives 6; the server answers the same.
async fn known_calls(channel: &Channel) {
    let echo = EchoClient::new(channel.clone());
    for _ in 0..3 {
        echo.unary(EchoRequest { message: "hi".into(), ..Default::default() }).await.unwrap();
    }
    let failing = EchoRequest { fail_code: Code::NotFound as i32, ..Default::default() };
    assert_eq!(echo.unary(failing).await.unwrap_err().code(), Code::NotFound);
    let mut stream = echo.server_stream(EchoRequest { repeat: 3, ..Default::default() }).await.unwrap().into_inner();
    let mut received = 0;
    while stream.message().await.unwrap().is_some() {
        received += 1;
    }
    assert_eq!(received, 3);
}

fn data(channel: &v1::Channel) -> &v1::ChannelData {
    channel.data.as_ref().expect("channel data")
}

fn port_of(address: &Option<v1::Address>) -> Option<u16> {
    match address.as_ref()?.address.as_ref()? {
        v1::address::Address::TcpipAddress(tcp) => u16::try_from(tcp.port).ok(),
        _ => None,
    }
}

/// Counts a client's calls so that the server's own counts can be predicted: each channelz call is a
/// server call too.
struct Channelz {
    client: ChannelzClient,
    calls: i64,
}

impl Channelz {
    async fn connect(target: &str) -> Channelz {
        Channelz { client: ChannelzClient::new(Channel::connect(target).await.unwrap()), calls: 0 }
    }

    async fn top_channels(&mut self, start: i64, max: i64) -> v1::GetTopChannelsResponse {
        self.calls += 1;
        let request = GetTopChannelsRequest { start_channel_id: start, max_results: max, ..Default::default() };
        self.client.get_top_channels(request).await.unwrap().into_inner()
    }

    async fn channel(&mut self, id: i64) -> v1::Channel {
        self.calls += 1;
        let request = GetChannelRequest { channel_id: id, ..Default::default() };
        self.client.get_channel(request).await.unwrap().into_inner().channel.expect("a channel")
    }

    async fn subchannel(&mut self, id: i64) -> v1::Subchannel {
        self.calls += 1;
        let request = GetSubchannelRequest { subchannel_id: id, ..Default::default() };
        self.client.get_subchannel(request).await.unwrap().into_inner().subchannel.expect("a subchannel")
    }

    async fn socket(&mut self, id: i64) -> v1::Socket {
        self.calls += 1;
        let request = GetSocketRequest { socket_id: id, ..Default::default() };
        self.client.get_socket(request).await.unwrap().into_inner().socket.expect("a socket")
    }

    async fn servers(&mut self) -> Vec<v1::Server> {
        self.calls += 1;
        self.client.get_servers(GetServersRequest::default()).await.unwrap().into_inner().server
    }

    async fn server_sockets(&mut self, server: i64, start: i64, max: i64) -> v1::GetServerSocketsResponse {
        self.calls += 1;
        let request = GetServerSocketsRequest {
            server_id: server,
            start_socket_id: start,
            max_results: max,
            ..Default::default()
        };
        self.client.get_server_sockets(request).await.unwrap().into_inner()
    }

    /// The server listening on `port`.
    async fn server_on(&mut self, port: u16) -> v1::Server {
        for server in self.servers().await {
            for listen in &server.listen_socket {
                if port_of(&self.socket(listen.socket_id).await.local) == Some(port) {
                    return server;
                }
            }
        }
        panic!("no server listens on port {port}");
    }
}

#[tokio::test]
async fn channelz_reports_the_calls_of_a_channel_its_subchannel_socket_and_the_server() {
    let server = server().await;
    let target = server.target();
    let channel = Channel::connect(&target).await.unwrap();
    known_calls(&channel).await;
    let mut channelz = Channelz::connect(&target).await;

    // The channel, found by its target among the top channels.
    let top = channelz.top_channels(0, 0).await;
    assert!(top.end, "one page holds every channel of this test process");
    let ours: Vec<&v1::Channel> = top.channel.iter().filter(|c| data(c).target == target).collect();
    assert_eq!(ours.len(), 2, "the echo channel and the channelz client's");
    let id = ours.iter().map(|c| c.r#ref.as_ref().unwrap().channel_id).min().unwrap();
    let found = channelz.channel(id).await;
    let data = data(&found);
    assert_eq!((data.calls_started, data.calls_succeeded, data.calls_failed), (5, 4, 1));
    assert_eq!(data.state.as_ref().unwrap().state, State::Ready as i32);
    assert!(data.last_call_started_timestamp.is_some());

    // Its one subchannel, to the server's address, and the subchannel's connection.
    assert_eq!(found.subchannel_ref.len(), 1);
    let subchannel = channelz.subchannel(found.subchannel_ref[0].subchannel_id).await;
    let sub = subchannel.data.as_ref().unwrap();
    assert_eq!(sub.target, server.addr.to_string());
    assert_eq!((sub.calls_started, sub.calls_succeeded, sub.calls_failed), (5, 4, 1));
    assert_eq!(sub.state.as_ref().unwrap().state, State::Ready as i32);
    assert_eq!(subchannel.socket_ref.len(), 1);
    let client_socket = channelz.socket(subchannel.socket_ref[0].socket_id).await;
    let counts = client_socket.data.as_ref().unwrap();
    assert_eq!((counts.streams_started, counts.streams_succeeded, counts.streams_failed), (5, 5, 0));
    assert_eq!((counts.messages_sent, counts.messages_received), (5, 6));
    assert!(counts.last_local_stream_created_timestamp.is_some());
    assert_eq!(port_of(&client_socket.remote), Some(server.addr.port()));
    let client_port = port_of(&client_socket.local).expect("the client's local port");

    // The server: our calls and the channelz calls before GetServers, which is counted as started.
    let before = channelz.calls;
    let found = channelz.server_on(server.addr.port()).await;
    let server_id = found.r#ref.as_ref().unwrap().server_id;
    let calls = found.data.as_ref().unwrap();
    assert_eq!(
        (calls.calls_started, calls.calls_succeeded, calls.calls_failed),
        (5 + before + 1, 4 + before, 1),
        "{calls:?}"
    );
    let again = channelz
        .client
        .get_server(GetServerRequest { server_id, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .server
        .unwrap();
    channelz.calls += 1;
    assert_eq!(again.r#ref, found.r#ref);

    // Its sockets: the echo channel's connection and the channelz client's, paged one at a time.
    let all = channelz.server_sockets(server_id, 0, 0).await;
    assert!(all.end);
    assert_eq!(all.socket_ref.len(), 2, "{all:?}");
    let first = channelz.server_sockets(server_id, 0, 1).await;
    assert_eq!((first.socket_ref.len(), first.end), (1, false));
    let next_id = first.socket_ref[0].socket_id + 1;
    let second = channelz.server_sockets(server_id, next_id, 1).await;
    assert_eq!((second.socket_ref.len(), second.end), (1, true));
    assert_ne!(first.socket_ref[0].socket_id, second.socket_ref[0].socket_id);
    let mut echo_side = None;
    for socket in &all.socket_ref {
        let socket = channelz.socket(socket.socket_id).await;
        assert_eq!(port_of(&socket.local), Some(server.addr.port()));
        if port_of(&socket.remote) == Some(client_port) {
            echo_side = Some(socket);
        }
    }
    let echo_side = echo_side.expect("the server's end of the echo channel's connection");
    let counts = echo_side.data.unwrap();
    assert_eq!((counts.streams_started, counts.streams_succeeded, counts.streams_failed), (5, 5, 0));
    assert_eq!((counts.messages_received, counts.messages_sent), (5, 6));
    assert!(counts.last_remote_stream_created_timestamp.is_some());
}

#[tokio::test]
async fn top_channels_page_from_the_start_id_and_say_when_they_end() {
    let server = server().await;
    let mut channelz = Channelz::connect(&server.target()).await;
    let mut channels = Vec::new();
    for _ in 0..3 {
        channels.push(Channel::connect(&server.target()).await.unwrap());
    }
    let all = channelz.top_channels(0, 0).await;
    let ids: Vec<i64> = all
        .channel
        .iter()
        .filter(|c| data(c).target == server.target())
        .map(|c| c.r#ref.as_ref().unwrap().channel_id)
        .collect();
    assert_eq!(ids.len(), 4, "the channelz client's channel and three more");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order: {ids:?}");
    // A page of one from each id holds that channel (or a newer one from another test), never an older.
    let page = channelz.top_channels(ids[1], 1).await;
    assert_eq!(page.channel.len(), 1);
    assert_eq!(page.channel[0].r#ref.as_ref().unwrap().channel_id, ids[1]);
    assert!(!page.end, "channels with larger ids exist");
    let last = channelz.top_channels(i64::MAX, 0).await;
    assert!(last.channel.is_empty() && last.end);

    let negative = GetTopChannelsRequest { max_results: -1, ..Default::default() };
    assert_eq!(channelz.client.get_top_channels(negative).await.unwrap_err().code(), Code::InvalidArgument);
    let missing = GetChannelRequest { channel_id: i64::MAX, ..Default::default() };
    assert_eq!(channelz.client.get_channel(missing).await.unwrap_err().code(), Code::NotFound);
    let missing = GetSocketRequest { socket_id: -5, ..Default::default() };
    assert_eq!(channelz.client.get_socket(missing).await.unwrap_err().code(), Code::NotFound);
    let missing = GetServerSocketsRequest { server_id: 0, ..Default::default() };
    assert_eq!(channelz.client.get_server_sockets(missing).await.unwrap_err().code(), Code::NotFound);
}

/// Waits (up to 10 s) until `gone` says so; the connection tasks that hold socket entries end
/// asynchronously, after the last handle on their connection is dropped.
async fn eventually<F: std::future::Future<Output = bool>>(mut gone: impl FnMut() -> F) -> bool {
    for _ in 0..1000 {
        if gone().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn entries_leave_the_registry_when_their_objects_are_dropped() {
    // One server to ask, another (with a channel to it) to drop.
    let asking = server().await;
    let mut channelz = Channelz::connect(&asking.target()).await;
    let dropped = server().await;
    let port = dropped.addr.port();
    let channel = Channel::connect(&dropped.target()).await.unwrap();
    known_calls(&channel).await;

    let top = channelz.top_channels(0, 0).await;
    let found = top.channel.iter().find(|c| data(c).target == dropped.target()).expect("the channel");
    let channel_id = found.r#ref.as_ref().unwrap().channel_id;
    let subchannel_id = found.subchannel_ref[0].subchannel_id;
    let client_socket = channelz.subchannel(subchannel_id).await.socket_ref[0].socket_id;
    let server = channelz.server_on(port).await;
    let server_id = server.r#ref.as_ref().unwrap().server_id;
    let listen_socket = server.listen_socket[0].socket_id;
    let server_sockets = channelz.server_sockets(server_id, 0, 0).await.socket_ref;
    assert_eq!(server_sockets.len(), 1);

    drop(channel);
    let client = channelz.client.clone();
    let missing = |code: Result<(), rsgrpc::Status>| matches!(code, Err(status) if status.code() == Code::NotFound);
    // The channel and its subchannel go with the last handle on the channel.
    let request = GetChannelRequest { channel_id, ..Default::default() };
    assert!(missing(client.get_channel(request).await.map(drop)));
    let request = GetSubchannelRequest { subchannel_id, ..Default::default() };
    assert!(missing(client.get_subchannel(request).await.map(drop)));
    // Its socket with the connection's task.
    let socket_gone = || {
        let client = client.clone();
        async move {
            let request = GetSocketRequest { socket_id: client_socket, ..Default::default() };
            missing(client.get_socket(request).await.map(drop))
        }
    };
    assert!(eventually(socket_gone).await, "the client's socket is still registered");

    // The server, its listening socket and its connections, once it stopped.
    dropped.stop().await;
    for socket_id in [listen_socket, server_sockets[0].socket_id] {
        let request = GetSocketRequest { socket_id, ..Default::default() };
        assert!(missing(client.get_socket(request).await.map(drop)), "socket {socket_id} is still registered");
    }
    let request = GetServerRequest { server_id, ..Default::default() };
    assert!(missing(client.get_server(request).await.map(drop)));
    let top = channelz.top_channels(0, 0).await;
    assert!(top.channel.iter().all(|c| c.r#ref.as_ref().unwrap().channel_id != channel_id));
}

fn python() -> PathBuf {
    let dir = std::env::var_os("RSGRPC_TEST_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-env"));
    let python = dir.join("bin/python");
    assert!(python.exists(), "{} not found: run `bash tests/env/setup.sh` (or `bash tests/run.sh`)", python.display());
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcio_channelz_client_sees_the_known_calls() {
    let server = server().await;
    let channel = Channel::connect(&server.target()).await.unwrap();
    known_calls(&channel).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py/channelz_check.py");
    let mut command = Command::new(python());
    command.arg(script).args(["--port", &server.addr.port().to_string(), "--target", &server.target()]);
    // The script's calls are answered by this process's runtime: wait for it off the runtime's threads.
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("channelz_check.py runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains(" passed, 0 failed"), "{text}");
}

#[tokio::test]
async fn sockets_count_keepalive_pings_on_both_ends() {
    let policy =
        rsgrpc::keepalive::KeepaliveEnforcement { min_time: Duration::from_millis(10), permit_without_calls: true };
    let server = Server::builder()
        .add_service(rsgrpc::channelz::service())
        .add_service(EchoServer::new(EchoService::default()))
        .keepalive_enforcement(Some(policy))
        .keepalive(Duration::from_millis(50), Duration::from_secs(5))
        .build();
    let server = serve(server).await;
    let pinging = Channel::builder(&server.target())
        .unwrap()
        .keepalive(Duration::from_millis(50), Duration::from_secs(5))
        .keepalive_permit_without_calls(true)
        .connect()
        .await
        .unwrap();
    let mut channelz = Channelz::connect(&server.target()).await;
    let top = channelz.top_channels(0, 0).await;
    let id = top
        .channel
        .iter()
        .filter(|c| data(c).target == server.target())
        .map(|c| c.r#ref.as_ref().unwrap().channel_id)
        .min()
        .expect("the pinging channel");
    let subchannel = channelz.channel(id).await.subchannel_ref[0].subchannel_id;
    let socket = channelz.subchannel(subchannel).await.socket_ref[0].socket_id;
    let client = channelz.client.clone();
    let pinged = || {
        let client = client.clone();
        async move {
            let request = GetSocketRequest { socket_id: socket, ..Default::default() };
            let socket = client.get_socket(request).await.unwrap().into_inner().socket.unwrap();
            socket.data.unwrap().keep_alives_sent >= 2
        }
    };
    assert!(eventually(pinged).await, "the client's socket counted no keepalive PINGs");

    let server_id = channelz.server_on(server.addr.port()).await.r#ref.unwrap().server_id;
    let sockets = channelz.server_sockets(server_id, 0, 0).await.socket_ref;
    let all_pinged = || {
        let client = client.clone();
        let sockets = sockets.clone();
        async move {
            for socket in sockets {
                let request = GetSocketRequest { socket_id: socket.socket_id, ..Default::default() };
                let socket = client.get_socket(request).await.unwrap().into_inner().socket.unwrap();
                if socket.data.unwrap().keep_alives_sent < 2 {
                    return false;
                }
            }
            true
        }
    };
    assert!(eventually(all_pinged).await, "a server socket counted no keepalive PINGs");
    drop(pinging);
}

#[tokio::test]
async fn unix_sockets_report_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("channelz.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let server =
        Server::builder().add_service(rsgrpc::channelz::service()).add_service(EchoServer::new(EchoService::default()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.build().serve_with_shutdown(listener, async move {
        let _ = stopped.await;
    }));
    let target = format!("unix:{}", path.display());
    let channel = Channel::connect(&target).await.unwrap();
    known_calls(&channel).await;
    let mut channelz = Channelz::connect(&target).await;
    let unix = |address: &Option<v1::Address>| match address.as_ref().and_then(|a| a.address.as_ref()) {
        Some(v1::address::Address::UdsAddress(uds)) => Some(uds.filename.clone()),
        _ => None,
    };
    let expected = Some(path.display().to_string());

    let top = channelz.top_channels(0, 0).await;
    let found = top.channel.iter().find(|c| data(c).target == target).expect("the unix channel");
    assert_eq!(data(found).calls_started, 5);
    let subchannel = channelz.subchannel(found.subchannel_ref[0].subchannel_id).await;
    let socket = channelz.socket(subchannel.socket_ref[0].socket_id).await;
    assert_eq!(unix(&socket.remote), expected);
    assert_eq!(socket.data.unwrap().streams_started, 5);

    let mut listening = None;
    for server in channelz.servers().await {
        for listen in &server.listen_socket {
            if unix(&channelz.socket(listen.socket_id).await.local) == expected {
                listening = Some(server.clone());
            }
        }
    }
    let server = listening.expect("the server listening on the path");
    let sockets = channelz.server_sockets(server.r#ref.unwrap().server_id, 0, 0).await.socket_ref;
    assert_eq!(sockets.len(), 2);
    for socket in sockets {
        assert_eq!(unix(&channelz.socket(socket.socket_id).await.local), expected);
    }
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
