//! The `grpc.channelz.v1.Channelz` service over the registry: each answer is built from a snapshot of
//! the nodes asked for, taken under the registry's lock and read after it is released.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::v1;
use crate::observe::channelz::{
    self as registry, CallCounts, ChannelNode, Moment, ServerNode, SocketAddress, SocketNode, StateSource,
    SubchannelNode,
};
use crate::well_known::Timestamp;
use crate::{Request, Response, Status};

/// The page size when a request sets none (grpc-go's), and the largest page sent whatever a request asks
/// for: an answer's size stays bounded however many entries the process has.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// The channelz service: answers from the process-wide registry. Made by [`service`](super::service).
#[derive(Clone, Debug)]
pub struct ChannelzService {
    _private: (),
}

impl ChannelzService {
    /// The service; turns channelz on (see [`enable`](super::enable)).
    pub fn new() -> Self {
        registry::enable();
        ChannelzService { _private: () }
    }
}

impl Default for ChannelzService {
    fn default() -> Self {
        ChannelzService::new()
    }
}

/// How many entries a page holds: `max_results` if set (never more than [`MAX_PAGE`]), else the default.
fn page_size(max_results: i64) -> Result<usize, Status> {
    match max_results {
        0 => Ok(DEFAULT_PAGE),
        n if n < 0 => Err(Status::invalid_argument(format!("max_results must not be negative, got {n}"))),
        n => Ok(usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE)),
    }
}

/// The page of `ids` (ascending) from `start` on: the entries, and whether they are the last.
fn page<T: Clone>(map: &std::collections::BTreeMap<i64, T>, start: i64, size: usize) -> (Vec<T>, bool) {
    let mut items: Vec<T> = map.range(start.max(0)..).take(size + 1).map(|(_, v)| v.clone()).collect();
    let end = items.len() <= size;
    items.truncate(size);
    (items, end)
}

fn timestamp(moment: &Moment) -> Option<Timestamp> {
    moment.get().and_then(|time| Timestamp::try_from(time).ok())
}

/// A state by its gRPC name; `UNKNOWN` for an object gone meanwhile.
fn state(name: Option<&str>) -> v1::ChannelConnectivityState {
    use v1::channel_connectivity_state::State;
    let state = name.and_then(State::from_str_name).unwrap_or(State::Unknown);
    v1::ChannelConnectivityState { state: state as i32, ..Default::default() }
}

fn channel_data(target: &str, calls: &CallCounts, source: Option<&StateSource>) -> v1::ChannelData {
    v1::ChannelData {
        state: Some(state(source.and_then(|read| read()))),
        target: target.to_owned(),
        calls_started: calls.started.load(Ordering::Relaxed),
        calls_succeeded: calls.succeeded.load(Ordering::Relaxed),
        calls_failed: calls.failed.load(Ordering::Relaxed),
        last_call_started_timestamp: timestamp(&calls.last_started),
        ..Default::default()
    }
}

fn channel(node: &ChannelNode) -> v1::Channel {
    let subchannel_ref = node
        .subchannels
        .from(0, usize::MAX)
        .into_iter()
        .map(|subchannel_id| v1::SubchannelRef { subchannel_id, ..Default::default() })
        .collect();
    v1::Channel {
        r#ref: Some(v1::ChannelRef { channel_id: node.id, name: node.target.clone(), ..Default::default() }),
        data: Some(channel_data(&node.target, &node.calls, node.state.get())),
        subchannel_ref,
        ..Default::default()
    }
}

fn subchannel(node: &SubchannelNode) -> v1::Subchannel {
    v1::Subchannel {
        r#ref: Some(v1::SubchannelRef { subchannel_id: node.id, name: node.address.clone(), ..Default::default() }),
        data: Some(channel_data(&node.address, &node.calls, node.state.get())),
        socket_ref: node.sockets.from(0, usize::MAX).into_iter().map(socket_ref).collect(),
        ..Default::default()
    }
}

fn server(node: &ServerNode) -> v1::Server {
    let calls = &node.calls;
    v1::Server {
        r#ref: Some(v1::ServerRef { server_id: node.id, ..Default::default() }),
        data: Some(v1::ServerData {
            calls_started: calls.started.load(Ordering::Relaxed),
            calls_succeeded: calls.succeeded.load(Ordering::Relaxed),
            calls_failed: calls.failed.load(Ordering::Relaxed),
            last_call_started_timestamp: timestamp(&calls.last_started),
            ..Default::default()
        }),
        listen_socket: node.listen_sockets.from(0, usize::MAX).into_iter().map(socket_ref).collect(),
        ..Default::default()
    }
}

fn socket_ref(socket_id: i64) -> v1::SocketRef {
    v1::SocketRef { socket_id, ..Default::default() }
}

fn address(address: &SocketAddress) -> v1::Address {
    use v1::address::{Address, TcpIpAddress, UdsAddress};
    let address = match address {
        SocketAddress::Tcp(addr) => {
            let ip_address = match addr.ip() {
                std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
                std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
            };
            Address::TcpipAddress(TcpIpAddress { ip_address, port: i32::from(addr.port()), ..Default::default() })
        }
        SocketAddress::Unix(path) => Address::UdsAddress(UdsAddress { filename: path.clone(), ..Default::default() }),
    };
    v1::Address { address: Some(address), ..Default::default() }
}

fn socket(node: &SocketNode) -> v1::Socket {
    let streams = &node.streams;
    let started = timestamp(&streams.last_started);
    let (local_created, remote_created) = if node.is_server_side() { (None, started) } else { (started, None) };
    let data = v1::SocketData {
        streams_started: streams.started.load(Ordering::Relaxed),
        streams_succeeded: streams.succeeded.load(Ordering::Relaxed),
        streams_failed: streams.failed.load(Ordering::Relaxed),
        messages_sent: node.messages_sent.load(Ordering::Relaxed),
        messages_received: node.messages_received.load(Ordering::Relaxed),
        keep_alives_sent: node.keepalives_sent.load(Ordering::Relaxed),
        last_local_stream_created_timestamp: local_created,
        last_remote_stream_created_timestamp: remote_created,
        last_message_sent_timestamp: timestamp(&node.last_message_sent),
        last_message_received_timestamp: timestamp(&node.last_message_received),
        ..Default::default()
    };
    let security = node.tls.then(|| v1::Security {
        model: Some(v1::security::Model::Tls(v1::security::Tls::default())),
        ..Default::default()
    });
    let name = match (&node.endpoints.local, &node.endpoints.remote) {
        (Some(local), Some(remote)) => format!("{} -> {}", display(local), display(remote)),
        (Some(local), None) => display(local),
        (None, Some(remote)) => display(remote),
        (None, None) => String::new(),
    };
    v1::Socket {
        r#ref: Some(v1::SocketRef { socket_id: node.id, name, ..Default::default() }),
        data: Some(data),
        local: node.endpoints.local.as_ref().map(address),
        remote: node.endpoints.remote.as_ref().map(address),
        security,
        ..Default::default()
    }
}

fn display(address: &SocketAddress) -> String {
    match address {
        SocketAddress::Tcp(addr) => addr.to_string(),
        SocketAddress::Unix(path) => format!("unix:{path}"),
    }
}

fn not_found(kind: &str, id: i64) -> Status {
    Status::not_found(format!("no {kind} with id {id}"))
}

impl v1::channelz_server::Channelz for ChannelzService {
    async fn get_top_channels(
        &self,
        request: Request<v1::GetTopChannelsRequest>,
    ) -> Result<Response<v1::GetTopChannelsResponse>, Status> {
        let request = request.into_inner();
        let size = page_size(request.max_results)?;
        let (nodes, end) = page(&registry::entries().channels, request.start_channel_id, size);
        let channel = nodes.iter().map(|node| channel(node)).collect();
        Ok(Response::new(v1::GetTopChannelsResponse { channel, end, ..Default::default() }))
    }

    async fn get_servers(
        &self,
        request: Request<v1::GetServersRequest>,
    ) -> Result<Response<v1::GetServersResponse>, Status> {
        let request = request.into_inner();
        let size = page_size(request.max_results)?;
        let (nodes, end) = page(&registry::entries().servers, request.start_server_id, size);
        let server = nodes.iter().map(|node| server(node)).collect();
        Ok(Response::new(v1::GetServersResponse { server, end, ..Default::default() }))
    }

    async fn get_server(
        &self,
        request: Request<v1::GetServerRequest>,
    ) -> Result<Response<v1::GetServerResponse>, Status> {
        let id = request.get_ref().server_id;
        let node = registry::entries().servers.get(&id).cloned().ok_or_else(|| not_found("server", id))?;
        Ok(Response::new(v1::GetServerResponse { server: Some(server(&node)), ..Default::default() }))
    }

    async fn get_server_sockets(
        &self,
        request: Request<v1::GetServerSocketsRequest>,
    ) -> Result<Response<v1::GetServerSocketsResponse>, Status> {
        let request = request.into_inner();
        let size = page_size(request.max_results)?;
        let id = request.server_id;
        let node: Arc<ServerNode> =
            registry::entries().servers.get(&id).cloned().ok_or_else(|| not_found("server", id))?;
        let mut ids = node.sockets.from(request.start_socket_id.max(0), size + 1);
        let end = ids.len() <= size;
        ids.truncate(size);
        let socket_ref = ids.into_iter().map(socket_ref).collect();
        Ok(Response::new(v1::GetServerSocketsResponse { socket_ref, end, ..Default::default() }))
    }

    async fn get_channel(
        &self,
        request: Request<v1::GetChannelRequest>,
    ) -> Result<Response<v1::GetChannelResponse>, Status> {
        let id = request.get_ref().channel_id;
        let node = registry::entries().channels.get(&id).cloned().ok_or_else(|| not_found("channel", id))?;
        Ok(Response::new(v1::GetChannelResponse { channel: Some(channel(&node)), ..Default::default() }))
    }

    async fn get_subchannel(
        &self,
        request: Request<v1::GetSubchannelRequest>,
    ) -> Result<Response<v1::GetSubchannelResponse>, Status> {
        let id = request.get_ref().subchannel_id;
        let node = registry::entries().subchannels.get(&id).cloned().ok_or_else(|| not_found("subchannel", id))?;
        Ok(Response::new(v1::GetSubchannelResponse { subchannel: Some(subchannel(&node)), ..Default::default() }))
    }

    async fn get_socket(
        &self,
        request: Request<v1::GetSocketRequest>,
    ) -> Result<Response<v1::GetSocketResponse>, Status> {
        // `summary` drops the socket options, which rsgrpc does not report in the first place.
        let id = request.get_ref().socket_id;
        let node = registry::entries().sockets.get(&id).cloned().ok_or_else(|| not_found("socket", id))?;
        Ok(Response::new(v1::GetSocketResponse { socket: Some(socket(&node)), ..Default::default() }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn pages_are_bounded_and_say_when_they_end() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(i64::MAX).unwrap(), MAX_PAGE);
        assert_eq!(page_size(-1).unwrap_err().code(), crate::Code::InvalidArgument);
        let map: BTreeMap<i64, i64> = [1, 3, 5, 7].into_iter().map(|id| (id, id)).collect();
        assert_eq!(page(&map, 0, 2), (vec![1, 3], false));
        assert_eq!(page(&map, 4, 2), (vec![5, 7], true));
        assert_eq!(page(&map, 3, 10), (vec![3, 5, 7], true));
        assert_eq!(page(&map, -100, 1), (vec![1], false));
        assert_eq!(page(&map, 8, 1), (vec![], true));
    }
}
