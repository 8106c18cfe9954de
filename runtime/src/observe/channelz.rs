//! The process-wide registry channelz answers from: every channel, subchannel, server and socket created
//! while channelz is on, by id, with the counters the call paths bump (relaxed atomics, no lock).
//!
//! An entry is a node (`Arc`, shared with the object's call paths, which count into it) and a
//! [`Registered`] guard owned by the object itself: dropping the object drops the guard, which takes the
//! entry out of the registry and out of its parent's list of children. Nothing is registered while
//! channelz is off, so objects made then carry `None` and their calls count nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

static ON: AtomicBool = AtomicBool::new(false);
/// Ids of every kind come from one sequence, as in grpc-go: an id names one entity in the process.
static NEXT_ID: AtomicI64 = AtomicI64::new(1);
static REGISTRY: Mutex<Entries> = Mutex::new(Entries {
    channels: BTreeMap::new(),
    subchannels: BTreeMap::new(),
    servers: BTreeMap::new(),
    sockets: BTreeMap::new(),
});

/// Turns channelz on for the rest of the process: channels, servers and their connections created from now
/// on are registered (those that exist already are not). `rsgrpc::channelz::service` calls it; call it
/// earlier to see objects created before the channelz service is.
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether channelz is on.
pub(crate) fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

fn next_id() -> i64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

pub(crate) fn entries() -> MutexGuard<'static, Entries> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every registered node, by id.
pub(crate) struct Entries {
    pub(crate) channels: BTreeMap<i64, Arc<ChannelNode>>,
    pub(crate) subchannels: BTreeMap<i64, Arc<SubchannelNode>>,
    pub(crate) servers: BTreeMap<i64, Arc<ServerNode>>,
    pub(crate) sockets: BTreeMap<i64, Arc<SocketNode>>,
}

/// Nanoseconds since the Unix epoch, 0 for a clock before it.
fn now_nanos() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A moment kept as [`now_nanos`], 0 for never.
#[derive(Default)]
pub(crate) struct Moment(AtomicI64);

impl Moment {
    fn mark(&self) {
        self.0.store(now_nanos(), Ordering::Relaxed);
    }

    /// The time, if it was ever marked.
    pub(crate) fn get(&self) -> Option<SystemTime> {
        let nanos = self.0.load(Ordering::Relaxed);
        (nanos > 0).then(|| UNIX_EPOCH + std::time::Duration::from_nanos(nanos as u64))
    }
}

/// Calls (or streams) started, succeeded and failed, and when the last one started.
#[derive(Default)]
pub(crate) struct CallCounts {
    pub(crate) started: AtomicI64,
    pub(crate) succeeded: AtomicI64,
    pub(crate) failed: AtomicI64,
    pub(crate) last_started: Moment,
}

impl CallCounts {
    pub(crate) fn started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.last_started.mark();
    }

    pub(crate) fn ended(&self, ok: bool) {
        let counter = if ok { &self.succeeded } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads a connectivity state at query time, by its gRPC name (`READY`, as
/// `ConnectivityState::as_str` spells it); `None` once the object is gone.
pub(crate) type StateSource = Box<dyn Fn() -> Option<&'static str> + Send + Sync>;

/// The ids of a node's children.
#[derive(Default)]
pub(crate) struct Children(Mutex<BTreeSet<i64>>);

impl Children {
    fn insert(&self, id: i64) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
    }

    fn remove(&self, id: i64) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    /// Up to `limit` ids from `start` on, in order.
    pub(crate) fn from(&self, start: i64, limit: usize) -> Vec<i64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).range(start..).take(limit).copied().collect()
    }
}

/// A channel (a top channel: rsgrpc has no nested ones).
pub(crate) struct ChannelNode {
    pub(crate) id: i64,
    pub(crate) target: String,
    pub(crate) calls: CallCounts,
    pub(crate) state: OnceLock<StateSource>,
    pub(crate) subchannels: Children,
}

/// A subchannel: a channel's connection to one address (reconnected as needed).
pub(crate) struct SubchannelNode {
    pub(crate) id: i64,
    pub(crate) address: String,
    pub(crate) calls: CallCounts,
    pub(crate) state: OnceLock<StateSource>,
    pub(crate) sockets: Children,
    channel: Arc<ChannelNode>,
}

/// A server: its calls, the sockets it listens on and the connections it serves.
pub(crate) struct ServerNode {
    pub(crate) id: i64,
    pub(crate) calls: CallCounts,
    pub(crate) listen_sockets: Children,
    pub(crate) sockets: Children,
}

/// One end of a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SocketAddress {
    Tcp(SocketAddr),
    Unix(String),
}

/// The two ends of a connection, as far as they are known.
#[derive(Clone, Debug, Default)]
pub(crate) struct Endpoints {
    pub(crate) local: Option<SocketAddress>,
    pub(crate) remote: Option<SocketAddress>,
}

impl Endpoints {
    /// A TCP connection's ends.
    pub(crate) fn tcp(stream: &tokio::net::TcpStream) -> Endpoints {
        Endpoints {
            local: stream.local_addr().ok().map(SocketAddress::Tcp),
            remote: stream.peer_addr().ok().map(SocketAddress::Tcp),
        }
    }

    /// A Unix socket's ends (the unnamed end has no path).
    pub(crate) fn unix(stream: &tokio::net::UnixStream) -> Endpoints {
        let path = |addr: std::io::Result<tokio::net::unix::SocketAddr>| {
            addr.ok().and_then(|a| a.as_pathname().map(|p| SocketAddress::Unix(p.display().to_string())))
        };
        Endpoints { local: path(stream.local_addr()), remote: path(stream.peer_addr()) }
    }
}

/// Who a socket belongs to.
enum Owner {
    Subchannel(Arc<SubchannelNode>),
    Server(Arc<ServerNode>),
    Listener(Arc<ServerNode>),
}

/// A connection (or a listening socket) and what went over it.
pub(crate) struct SocketNode {
    pub(crate) id: i64,
    pub(crate) endpoints: Endpoints,
    pub(crate) streams: CallCounts,
    pub(crate) messages_sent: AtomicI64,
    pub(crate) messages_received: AtomicI64,
    pub(crate) keepalives_sent: AtomicI64,
    pub(crate) last_message_sent: Moment,
    pub(crate) last_message_received: Moment,
    /// Whether the connection is TLS.
    pub(crate) tls: bool,
    owner: Owner,
}

impl SocketNode {
    /// A stream (a call, or a client's attempt) started on the socket.
    pub(crate) fn stream_started(&self) {
        self.streams.started();
        match &self.owner {
            Owner::Subchannel(subchannel) => subchannel.calls.started(),
            Owner::Server(server) | Owner::Listener(server) => server.calls.started(),
        }
    }

    /// A stream ended: `ended` when with its end-of-stream (the client received the status, the server
    /// sent it), else reset; `ok` when that status was OK, which is what the owner's calls count.
    pub(crate) fn stream_ended(&self, ended: bool, ok: bool) {
        self.streams.ended(ended);
        match &self.owner {
            Owner::Subchannel(subchannel) => subchannel.calls.ended(ok),
            Owner::Server(server) | Owner::Listener(server) => server.calls.ended(ok),
        }
    }

    pub(crate) fn messages_sent(&self, messages: u64) {
        if messages > 0 {
            self.messages_sent.fetch_add(messages as i64, Ordering::Relaxed);
            self.last_message_sent.mark();
        }
    }

    pub(crate) fn messages_received(&self, messages: u64) {
        if messages > 0 {
            self.messages_received.fetch_add(messages as i64, Ordering::Relaxed);
            self.last_message_received.mark();
        }
    }

    /// A keepalive PING went out.
    pub(crate) fn keepalive_sent(&self) {
        self.keepalives_sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether the server's end (streams are the remote's), not a client's.
    pub(crate) fn is_server_side(&self) -> bool {
        matches!(self.owner, Owner::Server(_) | Owner::Listener(_))
    }
}

impl std::fmt::Debug for SocketNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketNode").field("id", &self.id).field("endpoints", &self.endpoints).finish()
    }
}

impl std::fmt::Debug for ChannelNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelNode").field("id", &self.id).field("target", &self.target).finish()
    }
}

/// Keeps a node registered while it lives: the object it describes owns it.
pub(crate) struct Registered<N: Node> {
    node: Arc<N>,
}

impl<N: Node> Registered<N> {
    /// The node, for the call paths to count into.
    pub(crate) fn node(&self) -> &Arc<N> {
        &self.node
    }
}

impl<N: Node> std::ops::Deref for Registered<N> {
    type Target = N;

    fn deref(&self) -> &N {
        &self.node
    }
}

impl<N: Node> Drop for Registered<N> {
    fn drop(&mut self) {
        self.node.unregister();
    }
}

impl<N: Node> std::fmt::Debug for Registered<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered").field("id", &self.node.id()).finish()
    }
}

/// A kind of registry entry.
pub(crate) trait Node: Send + Sync + 'static {
    fn id(&self) -> i64;
    /// Takes the entry out of the registry and out of its parent's children.
    fn unregister(&self);
}

impl Node for ChannelNode {
    fn id(&self) -> i64 {
        self.id
    }

    fn unregister(&self) {
        entries().channels.remove(&self.id);
    }
}

impl Node for SubchannelNode {
    fn id(&self) -> i64 {
        self.id
    }

    fn unregister(&self) {
        entries().subchannels.remove(&self.id);
        self.channel.subchannels.remove(self.id);
    }
}

impl Node for ServerNode {
    fn id(&self) -> i64 {
        self.id
    }

    fn unregister(&self) {
        entries().servers.remove(&self.id);
    }
}

impl Node for SocketNode {
    fn id(&self) -> i64 {
        self.id
    }

    fn unregister(&self) {
        entries().sockets.remove(&self.id);
        match &self.owner {
            Owner::Subchannel(subchannel) => subchannel.sockets.remove(self.id),
            Owner::Server(server) => server.sockets.remove(self.id),
            Owner::Listener(server) => server.listen_sockets.remove(self.id),
        }
    }
}

impl ChannelNode {
    /// Registers a channel to `target`, if channelz is on.
    pub(crate) fn register(target: &str) -> Option<Registered<ChannelNode>> {
        if !is_on() {
            return None;
        }
        let node = Arc::new(ChannelNode {
            id: next_id(),
            target: target.to_owned(),
            calls: CallCounts::default(),
            state: OnceLock::new(),
            subchannels: Children::default(),
        });
        entries().channels.insert(node.id, node.clone());
        Some(Registered { node })
    }

    /// Where queries read the channel's connectivity state (set once, after the channel exists).
    pub(crate) fn watch_state(&self, source: impl Fn() -> Option<&'static str> + Send + Sync + 'static) {
        let _ = self.state.set(Box::new(source));
    }

    /// Registers a subchannel of this channel to `address`.
    pub(crate) fn subchannel(self: &Arc<Self>, address: String) -> Registered<SubchannelNode> {
        let node = Arc::new(SubchannelNode {
            id: next_id(),
            address,
            calls: CallCounts::default(),
            state: OnceLock::new(),
            sockets: Children::default(),
            channel: self.clone(),
        });
        entries().subchannels.insert(node.id, node.clone());
        self.subchannels.insert(node.id);
        Registered { node }
    }
}

impl SubchannelNode {
    /// Where queries read the subchannel's connectivity state (set once, after the subchannel exists).
    pub(crate) fn watch_state(&self, source: impl Fn() -> Option<&'static str> + Send + Sync + 'static) {
        let _ = self.state.set(Box::new(source));
    }

    /// Registers a connection of this subchannel.
    pub(crate) fn socket(self: &Arc<Self>, endpoints: Endpoints, tls: bool) -> Registered<SocketNode> {
        let node = new_socket(endpoints, tls, Owner::Subchannel(self.clone()));
        self.sockets.insert(node.id);
        node
    }
}

impl ServerNode {
    /// Registers a server, if channelz is on.
    pub(crate) fn register() -> Option<Registered<ServerNode>> {
        if !is_on() {
            return None;
        }
        let node = Arc::new(ServerNode {
            id: next_id(),
            calls: CallCounts::default(),
            listen_sockets: Children::default(),
            sockets: Children::default(),
        });
        entries().servers.insert(node.id, node.clone());
        Some(Registered { node })
    }

    /// Registers a socket the server listens on.
    pub(crate) fn listener(self: &Arc<Self>, local: Option<SocketAddress>) -> Registered<SocketNode> {
        let endpoints = Endpoints { local, remote: None };
        let node = new_socket(endpoints, false, Owner::Listener(self.clone()));
        self.listen_sockets.insert(node.id);
        node
    }

    /// Registers a connection the server accepted.
    pub(crate) fn socket(self: &Arc<Self>, endpoints: Endpoints, tls: bool) -> Registered<SocketNode> {
        let node = new_socket(endpoints, tls, Owner::Server(self.clone()));
        self.sockets.insert(node.id);
        node
    }
}

fn new_socket(endpoints: Endpoints, tls: bool, owner: Owner) -> Registered<SocketNode> {
    let node = Arc::new(SocketNode {
        id: next_id(),
        endpoints,
        streams: CallCounts::default(),
        messages_sent: AtomicI64::new(0),
        messages_received: AtomicI64::new(0),
        keepalives_sent: AtomicI64::new(0),
        last_message_sent: Moment::default(),
        last_message_received: Moment::default(),
        tls,
        owner,
    });
    entries().sockets.insert(node.id, node.clone());
    Registered { node }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test of the crate that turns channelz on, so "off" is seen first.
    #[test]
    fn off_nothing_is_registered_on_entries_come_and_go_with_their_guards() {
        assert!(ChannelNode::register("off:1").is_none());
        assert!(ServerNode::register().is_none());
        enable();
        let channel = ChannelNode::register("on:1").expect("registered");
        let subchannel = channel.node().subchannel("127.0.0.1:1".into());
        let socket = subchannel.node().socket(Endpoints::default(), false);
        assert_eq!(channel.subchannels.from(0, usize::MAX), [subchannel.id]);
        assert_eq!(subchannel.sockets.from(0, usize::MAX), [socket.id]);
        assert!(entries().sockets.contains_key(&socket.id));
        socket.stream_started();
        socket.stream_ended(true, false);
        assert_eq!(subchannel.calls.started.load(Ordering::Relaxed), 1);
        assert_eq!(subchannel.calls.failed.load(Ordering::Relaxed), 1);
        assert_eq!(socket.streams.succeeded.load(Ordering::Relaxed), 1);
        let (socket_id, subchannel_id, channel_id) = (socket.id, subchannel.id, channel.id);
        drop(socket);
        assert!(!entries().sockets.contains_key(&socket_id));
        assert!(subchannel.sockets.from(0, usize::MAX).is_empty());
        drop(subchannel);
        assert!(!entries().subchannels.contains_key(&subchannel_id));
        assert!(channel.subchannels.from(0, usize::MAX).is_empty());
        drop(channel);
        assert!(!entries().channels.contains_key(&channel_id));
    }
}
