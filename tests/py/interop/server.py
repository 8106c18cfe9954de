#!/usr/bin/env python3
"""gRPC interop test SERVER (grpc.testing.TestService) on grpcio, the reference peer for rsgrpc.

Written for rsgrpc from the gRPC interop test descriptions (grpc/grpc,
doc/interop-test-descriptions.md, section "Server"). The Rust interop tests start it as

    target/test-env/bin/python tests/py/interop/server.py --port=0

wait for the single stdout line `listening on 127.0.0.1:PORT` (the real port, useful with
--port=0), point the rsgrpc interop client at that port, and stop it with SIGTERM (SIGINT works
too); it then shuts down within about a second and exits 0.

Plaintext only, bound to 127.0.0.1. Flags: --port=N (required), --use_tls=false (accepted;
true is refused since TLS is not implemented). Stubs are generated on first start (interop_stubs.py).

Implemented server features: EmptyCall, UnaryCall, CacheableUnaryCall (timestamp payload only),
StreamingInputCall, StreamingOutputCall, FullDuplexCall, HalfDuplexCall, Echo Status, Echo Metadata,
ResponseParameters.interval_us and CompressedResponse (UnaryCall and StreamingOutputCall only).
UnimplementedCall fails with UNIMPLEMENTED. Not implemented: CompressedRequest (grpcio does not
tell a handler whether a request was compressed, so expect_compressed is ignored), auth echo.
"""

import argparse
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

import interop_stubs

empty_pb2, messages_pb2, test_pb2_grpc = interop_stubs.load()

ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
# Every open stream holds one worker thread in grpcio's synchronous server.
MAX_WORKERS = 64
SHUTDOWN_GRACE_S = 1.0
# grpcio sets SO_REUSEPORT by default, so a second server on a busy port would "listen" too and
# share the traffic; turning it off makes a busy port an error, as the tests expect.
SERVER_OPTIONS = [("grpc.so_reuseport", 0)]


# ------------------------------------------------------------------------------- request helpers


def make_payload(context, response_type, size):
    """Build a zero-filled payload; bad sizes or types fail the RPC as the descriptions ask."""
    if response_type != messages_pb2.COMPRESSABLE:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported response_type {response_type}")
    if size < 0:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"negative response size {size}")
    return messages_pb2.Payload(type=response_type, body=bytes(size))


def echo_metadata(context):
    """Echo Metadata: return x-grpc-test-echo-initial as initial and ...-trailing-bin as trailing.

    Initial metadata is sent right away (before any message), so it must be called after any
    set_compression: grpcio carries the compression choice in the initial metadata.
    """
    metadata = context.invocation_metadata() or ()
    initial = [(m.key, m.value) for m in metadata if m.key == ECHO_INITIAL_KEY]
    trailing = [(m.key, m.value) for m in metadata if m.key == ECHO_TRAILING_KEY]
    if initial:
        context.send_initial_metadata(initial)
    if trailing:
        context.set_trailing_metadata(trailing)


def maybe_echo_status(context, request):
    """Echo Status: close the call with the requested code and message, if one was requested.

    Code 0 (OK) is treated as "no status requested". grpcio can only send the 16 defined codes, so
    anything else fails with INVALID_ARGUMENT rather than sending a different code silently.
    abort() raises, so the caller stops processing this and any later request.
    """
    if not request.HasField("response_status") or request.response_status.code == 0:
        return
    wanted = request.response_status
    code = STATUS_BY_NUMBER.get(wanted.code)
    if code is None:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot echo status code {wanted.code}")
    context.abort(code, wanted.message)


class CallClock:
    """Sleeps for ResponseParameters.interval_us, waking early when the RPC ends.

    Without the early wake a cancelled or expired call would keep its worker thread asleep.
    """

    def __init__(self, context):
        self._ended = threading.Event()
        if not context.add_callback(self._ended.set):
            self._ended.set()

    def sleep_us(self, interval_us):
        """Return False when the RPC ended while (or before) waiting."""
        if interval_us > 0:
            self._ended.wait(interval_us / 1_000_000)
        return not self._ended.is_set()


def stream_responses(context, clock, request, compress_per_message=False):
    """Yield one StreamingOutputCallResponse per ResponseParameters, honouring interval_us."""
    for params in request.response_parameters:
        if not clock.sleep_us(params.interval_us):
            return
        payload = make_payload(context, request.response_type, params.size)
        if compress_per_message and not params.compressed.value:
            context.disable_next_message_compression()
        yield messages_pb2.StreamingOutputCallResponse(payload=payload)


# ------------------------------------------------------------------------------------ the service


class TestService(test_pb2_grpc.TestServiceServicer):
    """grpc.testing.TestService as the interop descriptions define it."""

    def EmptyCall(self, request, context):
        echo_metadata(context)
        return empty_pb2.Empty()

    def UnaryCall(self, request, context):
        if request.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        echo_metadata(context)
        maybe_echo_status(context, request)
        payload = make_payload(context, request.response_type, request.response_size)
        return messages_pb2.SimpleResponse(payload=payload)

    def CacheableUnaryCall(self, request, context):
        """A payload that differs per call; no cache headers (they only matter behind a proxy)."""
        echo_metadata(context)
        body = str(time.time_ns()).encode()
        return messages_pb2.SimpleResponse(payload=messages_pb2.Payload(body=body))

    def StreamingOutputCall(self, request, context):
        compress = any(p.compressed.value for p in request.response_parameters)
        if compress:
            context.set_compression(grpc.Compression.Gzip)
        echo_metadata(context)
        maybe_echo_status(context, request)
        yield from stream_responses(context, CallClock(context), request, compress)

    def StreamingInputCall(self, request_iterator, context):
        echo_metadata(context)
        total = sum(len(request.payload.body) for request in request_iterator)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        """Answer each request as it arrives; a response_status ends the call at that request."""
        echo_metadata(context)
        clock = CallClock(context)
        for request in request_iterator:
            maybe_echo_status(context, request)
            yield from stream_responses(context, clock, request)

    def HalfDuplexCall(self, request_iterator, context):
        """Buffer every request until the client half-closes, then answer them in order."""
        echo_metadata(context)
        requests = list(request_iterator)
        clock = CallClock(context)
        for request in requests:
            maybe_echo_status(context, request)
            yield from stream_responses(context, clock, request)

    def UnimplementedCall(self, request, context):
        """Explicit, so grpcio does not log a traceback for the servicer's NotImplementedError."""
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "UnimplementedCall is not implemented")


# ------------------------------------------------------------------------------------------- main


def parse_bool(text):
    """Interop flags spell booleans as true/false."""
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description="gRPC interop test server (grpcio)")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1; 0 = any free")
    parser.add_argument("--use_tls", type=parse_bool, default=False, help="only false is supported")
    args = parser.parse_args(argv)
    if args.use_tls:
        parser.error("--use_tls=true is not supported: this server is plaintext only")
    return args


def wait_for_stop_signal():
    """Block until SIGTERM or SIGINT; polling keeps the main thread responsive to signals."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def main(argv=None):
    args = parse_args(argv)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_WORKERS), options=SERVER_OPTIONS)
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    try:
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    except RuntimeError as err:
        print(f"server.py: cannot listen on 127.0.0.1:{args.port}: {err}", file=sys.stderr)
        return 1
    server.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    wait_for_stop_signal()
    server.stop(grace=SHUTDOWN_GRACE_S).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
