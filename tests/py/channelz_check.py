#!/usr/bin/env python3
"""Checks an rsgrpc process's channelz service with grpcio's channelz client (grpcio-channelz).

tests/tests/channelz.rs starts a server (channelz and the echo service) on 127.0.0.1:PORT inside the
test process, makes known calls over one channel to it (TARGET, `http://127.0.0.1:PORT`: 3 unary OK,
1 unary failing, 1 server stream of 3 responses), then runs

    target/test-env/bin/python tests/py/channelz_check.py --port PORT --target TARGET

Expected: exactly one top channel with that target, with 5 calls started, 4 succeeded, 1 failed, READY
and a last-call time; its one subchannel (target 127.0.0.1:PORT) the same; the subchannel's socket with
5 streams started and succeeded, 5 messages sent and 6 received, its remote end 127.0.0.1:PORT. The
server listening on PORT has counted those 5 calls plus this script's own calls (each channelz call is a
call to that server: the one answering GetServers is started, not ended). Its sockets are two, the
channel's connection (5 streams, 5 messages received, 6 sent) and this script's, paged one at a time
with start_socket_id and max_results. Unknown ids give NOT_FOUND and a negative max_results
INVALID_ARGUMENT.

Each check prints `ok: ...` or `FAILED: ...: expected X got Y`, then `N passed, M failed`; the exit
status is 0 only if every check passed. Every RPC has a 10 s limit.
"""

import argparse
import ipaddress
import sys

import grpc
from grpc_channelz.v1 import channelz_pb2, channelz_pb2_grpc

TIMEOUT = 10


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def expect(self, what, expected, got):
        if expected == got:
            self.passed += 1
            print(f"ok: {what}")
        else:
            self.failed += 1
            print(f"FAILED: {what}: expected {expected!r} got {got!r}")


class Channelz:
    """The channelz stub, counting its calls (each is a call to the server under test)."""

    def __init__(self, port):
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = channelz_pb2_grpc.ChannelzStub(self.channel)
        self.calls = 0

    def __call__(self, method, request):
        self.calls += 1
        return getattr(self.stub, method)(request, timeout=TIMEOUT)


def tcp(address):
    """(ip, port) of a channelz Address, or None."""
    if address.WhichOneof("address") != "tcpip_address":
        return None
    return str(ipaddress.ip_address(address.tcpip_address.ip_address)), address.tcpip_address.port


def counts(data):
    return data.calls_started, data.calls_succeeded, data.calls_failed


def streams(data):
    return data.streams_started, data.streams_succeeded, data.streams_failed


def top_channels(channelz):
    """Every top channel, page by page (pages of 2 to exercise start_channel_id and end)."""
    channels, start = [], 0
    while True:
        page = channelz("GetTopChannels", channelz_pb2.GetTopChannelsRequest(start_channel_id=start, max_results=2))
        channels.extend(page.channel)
        if page.end or not page.channel:
            return channels
        start = page.channel[-1].ref.channel_id + 1


def check_channel(checks, channelz, target, port):
    """The channel's, subchannel's and socket's counts; returns the channel's local port."""
    ours = [c for c in top_channels(channelz) if c.data.target == target]
    checks.expect("one top channel with the target", 1, len(ours))
    if not ours:
        return None
    channel = channelz("GetChannel", channelz_pb2.GetChannelRequest(channel_id=ours[0].ref.channel_id)).channel
    checks.expect("channel calls started, succeeded, failed", (5, 4, 1), counts(channel.data))
    checks.expect("channel state", "READY", channelz_pb2.ChannelConnectivityState.State.Name(channel.data.state.state))
    checks.expect("channel has a last call time", True, channel.data.HasField("last_call_started_timestamp"))
    checks.expect("channel has one subchannel", 1, len(channel.subchannel_ref))
    if not channel.subchannel_ref:
        return None
    request = channelz_pb2.GetSubchannelRequest(subchannel_id=channel.subchannel_ref[0].subchannel_id)
    subchannel = channelz("GetSubchannel", request).subchannel
    checks.expect("subchannel target", f"127.0.0.1:{port}", subchannel.data.target)
    checks.expect("subchannel calls started, succeeded, failed", (5, 4, 1), counts(subchannel.data))
    checks.expect("subchannel has one socket", 1, len(subchannel.socket_ref))
    if not subchannel.socket_ref:
        return None
    socket = channelz("GetSocket", channelz_pb2.GetSocketRequest(socket_id=subchannel.socket_ref[0].socket_id)).socket
    checks.expect("client socket streams started, succeeded, failed", (5, 5, 0), streams(socket.data))
    checks.expect("client socket messages sent, received", (5, 6), (socket.data.messages_sent, socket.data.messages_received))
    checks.expect("client socket remote end", ("127.0.0.1", port), tcp(socket.remote))
    local = tcp(socket.local)
    return local[1] if local else None


def find_server(channelz, port):
    """The server with a listening socket on `port`, and how many calls this script made before asking."""
    before = channelz.calls
    servers = channelz("GetServers", channelz_pb2.GetServersRequest()).server
    for server in servers:
        for listen in server.listen_socket:
            socket = channelz("GetSocket", channelz_pb2.GetSocketRequest(socket_id=listen.socket_id)).socket
            if tcp(socket.local) and tcp(socket.local)[1] == port:
                return server, before
    return None, before


def check_server(checks, channelz, port, client_port):
    server, before = find_server(channelz, port)
    checks.expect("a server listens on the port", True, server is not None)
    if server is None:
        return
    checks.expect("server calls started, succeeded, failed", (5 + before + 1, 4 + before, 1), counts(server.data))
    again = channelz("GetServer", channelz_pb2.GetServerRequest(server_id=server.ref.server_id)).server
    checks.expect("GetServer answers the same server", server.ref.server_id, again.ref.server_id)

    request = channelz_pb2.GetServerSocketsRequest(server_id=server.ref.server_id)
    every = channelz("GetServerSockets", request)
    checks.expect("server sockets (the channel's and this script's), end", (2, True), (len(every.socket_ref), every.end))
    request = channelz_pb2.GetServerSocketsRequest(server_id=server.ref.server_id, max_results=1)
    first = channelz("GetServerSockets", request)
    checks.expect("first page of one: one socket, not the end", (1, False), (len(first.socket_ref), first.end))
    if first.socket_ref:
        start = first.socket_ref[0].socket_id + 1
        request = channelz_pb2.GetServerSocketsRequest(server_id=server.ref.server_id, start_socket_id=start, max_results=1)
        second = channelz("GetServerSockets", request)
        checks.expect("second page of one: one socket, the end", (1, True), (len(second.socket_ref), second.end))

    for ref in every.socket_ref:
        socket = channelz("GetSocket", channelz_pb2.GetSocketRequest(socket_id=ref.socket_id)).socket
        checks.expect(f"server socket {ref.socket_id} local port", port, tcp(socket.local)[1] if tcp(socket.local) else None)
        if tcp(socket.remote) and tcp(socket.remote)[1] == client_port:
            checks.expect("server end of the channel: streams", (5, 5, 0), streams(socket.data))
            checks.expect(
                "server end of the channel: messages received, sent",
                (5, 6),
                (socket.data.messages_received, socket.data.messages_sent),
            )
        else:
            # This script's connection: every call so far, the one answering now not ended yet.
            checks.expect("this script's connection: streams", (channelz.calls, channelz.calls - 1, 0), streams(socket.data))


def check_errors(checks, channelz):
    for what, method, request, code in [
        ("unknown channel", "GetChannel", channelz_pb2.GetChannelRequest(channel_id=2**62), grpc.StatusCode.NOT_FOUND),
        ("unknown socket", "GetSocket", channelz_pb2.GetSocketRequest(socket_id=2**62), grpc.StatusCode.NOT_FOUND),
        ("unknown server", "GetServerSockets", channelz_pb2.GetServerSocketsRequest(server_id=2**62), grpc.StatusCode.NOT_FOUND),
        (
            "negative max_results",
            "GetTopChannels",
            channelz_pb2.GetTopChannelsRequest(max_results=-1),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]:
        try:
            channelz(method, request)
            got = "OK"
        except grpc.RpcError as error:
            got = error.code()
        checks.expect(what, code, got)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", required=True)
    args = parser.parse_args()
    checks = Checks()
    channelz = Channelz(args.port)
    try:
        client_port = check_channel(checks, channelz, args.target, args.port)
        check_server(checks, channelz, args.port, client_port)
        check_errors(checks, channelz)
    except grpc.RpcError as error:
        checks.expect("every channelz call succeeds", "OK", f"{error.code()}: {error.details()}")
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
