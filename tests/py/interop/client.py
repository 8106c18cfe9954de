#!/usr/bin/env python3
"""gRPC interop test CLIENT (grpc.testing.TestService) on grpcio, the reference peer for rsgrpc.

Written for rsgrpc from the gRPC interop test descriptions (grpc/grpc,
doc/interop-test-descriptions.md, section "Client"). The Rust interop tests start an rsgrpc
interop server, then run one case per process:

    target/test-env/bin/python tests/py/interop/client.py \
        --server_host=127.0.0.1 --server_port=PORT --test_case=large_unary

and judge by the exit status: 0 = passed (stdout: `large_unary: ok`), 1 = failed (stdout: one
line `large_unary: FAILED <which check>: expected ..., got ...`), 2 = usage error or unknown case.
--test_case=all runs every case below in order, prints one `NAME: ok` / `NAME: FAILED ...` line
each and a final `N passed, M failed`, and exits 0 only if all passed.

Plaintext only. Also accepted: --use_tls=false (true is refused), --server_host_override=NAME
(used as the :authority), --use_test_ca (ignored). Stubs are generated on first start
(interop_stubs.py). Every RPC has a 10 s deadline, except the one timeout_on_sleeping_server sets,
so a hanging server fails a case instead of hanging the test.
"""

import argparse
import queue
import sys

import grpc

import interop_stubs

empty_pb2, messages_pb2, test_pb2_grpc = interop_stubs.load()

RPC_TIMEOUT_S = 10.0
ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")


# ------------------------------------------------------------------------------------- checking


class CheckFailed(Exception):
    """A test case assertion failed; the message says which check, expected and actual."""


def expect_equal(what, expected, actual):
    if expected != actual:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def expect_zero_payload(what, payload, size):
    """Check a payload body's size, then its contents, without printing the whole body."""
    expect_equal(f"{what} payload size", size, len(payload.body))
    if payload.body.count(0) != size:
        raise CheckFailed(f"{what} payload body: expected {size} zero bytes, got non-zero bytes")


def status_name(code):
    """grpc.StatusCode as `NAME (number)`; the enum's repr is noisy in a one-line report."""
    return f"{code.name} ({code.value[0]})" if isinstance(code, grpc.StatusCode) else repr(code)


def expect_code(what, expected, actual):
    if expected != actual:
        raise CheckFailed(f"{what}: expected {status_name(expected)}, got {status_name(actual)}")


def expect_status(what, expected_code, error, expected_details=None):
    """Check the status of a failed (or cancelled) call against the expected code and message."""
    expect_code(f"{what} status code", expected_code, error.code())
    if expected_details is not None:
        expect_equal(f"{what} status message", expected_details, error.details())


def expect_rpc_error(what, call):
    """Run `call` (a thunk) and return its grpc.RpcError; succeeding is a failed check."""
    try:
        result = call()
    except grpc.RpcError as error:
        return error
    kind = type(result).__name__
    raise CheckFailed(f"{what}: expected the call to fail, but it succeeded (returned a {kind})")


def metadata_values(metadata, key):
    """All values of `key` in a grpcio metadata sequence (None when the server sent none)."""
    return [value for k, value in (metadata or ()) if k == key]


def expect_echoed_metadata(what, call):
    """Echo Metadata: the initial and trailing echo entries must come back exactly once each."""
    key, value = ECHO_INITIAL
    expect_equal(f"{what} initial metadata {key}", [value], metadata_values(call.initial_metadata(), key))
    key, value = ECHO_TRAILING
    expect_equal(f"{what} trailing metadata {key}", [value], metadata_values(call.trailing_metadata(), key))


# ------------------------------------------------------------------------------------- requests


def zero_payload(size):
    return messages_pb2.Payload(body=bytes(size))


def large_unary_request():
    return messages_pb2.SimpleRequest(response_size=314159, payload=zero_payload(271828))


def streaming_request(response_sizes=(), payload_size=None, status=None):
    """A StreamingOutputCallRequest asking for responses of the given sizes."""
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=s) for s in response_sizes])
    if payload_size is not None:
        request.payload.CopyFrom(zero_payload(payload_size))
    if status is not None:
        request.response_status.CopyFrom(status)
    return request


class RequestPipe:
    """A request iterator fed one message at a time, for lock-step and never-ending streams.

    grpcio pulls client-stream messages from an iterator on its own thread; close() ends the
    iterator (a half-close) and must always be called so that thread does not wait forever.
    """

    _CLOSE = object()

    def __init__(self):
        self._queue = queue.Queue()

    def send(self, message):
        self._queue.put(message)

    def close(self):
        self._queue.put(self._CLOSE)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._CLOSE:
            raise StopIteration
        return item


def next_response(what, call):
    """The next message of a response stream; the end of the stream is a failed check."""
    try:
        return next(call)
    except StopIteration:
        raise CheckFailed(f"{what}: expected another response, got the end of the stream") from None


# ------------------------------------------------------------------------------------ the cases


def empty_unary(stub, channel):
    response = stub.EmptyCall(empty_pb2.Empty(), timeout=RPC_TIMEOUT_S)
    expect_equal("response type", "grpc.testing.Empty", response.DESCRIPTOR.full_name)
    expect_equal("response serialized size", 0, response.ByteSize())


def large_unary(stub, channel):
    response = stub.UnaryCall(large_unary_request(), timeout=RPC_TIMEOUT_S)
    expect_zero_payload("response", response.payload, 314159)


def client_streaming(stub, channel):
    requests = [messages_pb2.StreamingInputCallRequest(payload=zero_payload(size))
                for size in (27182, 8, 1828, 45904)]
    response = stub.StreamingInputCall(iter(requests), timeout=RPC_TIMEOUT_S)
    expect_equal("aggregated_payload_size", 74922, response.aggregated_payload_size)


def server_streaming(stub, channel):
    sizes = [31415, 9, 2653, 58979]
    responses = list(stub.StreamingOutputCall(streaming_request(sizes), timeout=RPC_TIMEOUT_S))
    expect_equal("number of responses", len(sizes), len(responses))
    for index, (size, response) in enumerate(zip(sizes, responses)):
        expect_zero_payload(f"response {index}", response.payload, size)


def ping_pong(stub, channel):
    """Send each request only after the reply to the previous one, then half-close."""
    exchanges = [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)]
    pipe = RequestPipe()
    call = stub.FullDuplexCall(pipe, timeout=RPC_TIMEOUT_S)
    try:
        for index, (response_size, payload_size) in enumerate(exchanges):
            pipe.send(streaming_request([response_size], payload_size))
            response = next_response(f"response {index}", call)
            expect_zero_payload(f"response {index}", response.payload, response_size)
        pipe.close()
        expect_equal("responses after the 4th (exactly four expected)", 0, len(list(call)))
    finally:
        pipe.close()
        call.cancel()


def empty_stream(stub, channel):
    responses = list(stub.FullDuplexCall(iter(()), timeout=RPC_TIMEOUT_S))
    expect_equal("number of responses", 0, len(responses))


def custom_metadata(stub, channel):
    metadata = (ECHO_INITIAL, ECHO_TRAILING)
    response, call = stub.UnaryCall.with_call(
        large_unary_request(), metadata=metadata, timeout=RPC_TIMEOUT_S)
    expect_zero_payload("UnaryCall response", response.payload, 314159)
    expect_echoed_metadata("UnaryCall", call)

    request = streaming_request([314159], 271828)
    call = stub.FullDuplexCall(iter([request]), metadata=metadata, timeout=RPC_TIMEOUT_S)
    responses = list(call)
    expect_equal("FullDuplexCall number of responses", 1, len(responses))
    expect_zero_payload("FullDuplexCall response", responses[0].payload, 314159)
    expect_echoed_metadata("FullDuplexCall", call)


def expect_echoed_status(stub, code, message, include_duplex):
    """Echo Status over UnaryCall and, if asked, FullDuplexCall (one request, then half-close)."""
    status = messages_pb2.EchoStatus(code=code.value[0], message=message)
    request = messages_pb2.SimpleRequest(response_status=status)
    error = expect_rpc_error("UnaryCall", lambda: stub.UnaryCall(request, timeout=RPC_TIMEOUT_S))
    expect_status("UnaryCall", code, error, message)
    if include_duplex:
        request = streaming_request(status=status)
        error = expect_rpc_error("FullDuplexCall", lambda: list(
            stub.FullDuplexCall(iter([request]), timeout=RPC_TIMEOUT_S)))
        expect_status("FullDuplexCall", code, error, message)


def status_code_and_message(stub, channel):
    expect_echoed_status(stub, grpc.StatusCode.UNKNOWN, "test status message", include_duplex=True)


def special_status_message(stub, channel):
    message = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
    expect_echoed_status(stub, grpc.StatusCode.UNKNOWN, message, include_duplex=False)


def unimplemented_method(stub, channel):
    error = expect_rpc_error("UnimplementedCall", lambda: stub.UnimplementedCall(
        empty_pb2.Empty(), timeout=RPC_TIMEOUT_S))
    expect_status("UnimplementedCall", grpc.StatusCode.UNIMPLEMENTED, error)


def unimplemented_service(stub, channel):
    other = test_pb2_grpc.UnimplementedServiceStub(channel)
    error = expect_rpc_error("UnimplementedService/UnimplementedCall", lambda: other.UnimplementedCall(
        empty_pb2.Empty(), timeout=RPC_TIMEOUT_S))
    expect_status("UnimplementedService/UnimplementedCall", grpc.StatusCode.UNIMPLEMENTED, error)


def cancel_after_begin(stub, channel):
    """Start a client stream that never sends a message, and cancel it at once."""
    pipe = RequestPipe()
    future = stub.StreamingInputCall.future(pipe, timeout=RPC_TIMEOUT_S)
    try:
        future.cancel()
        # A cancelled grpcio future raises FutureCancelledError, not RpcError; code() is the status.
        expect_code("StreamingInputCall status code", grpc.StatusCode.CANCELLED, future.code())
    finally:
        pipe.close()


def cancel_after_first_response(stub, channel):
    pipe = RequestPipe()
    call = stub.FullDuplexCall(pipe, timeout=RPC_TIMEOUT_S)
    try:
        pipe.send(streaming_request([31415], 27182))
        response = next_response("first response", call)
        expect_zero_payload("first response", response.payload, 31415)
        call.cancel()
        error = expect_rpc_error("FullDuplexCall after cancel", lambda: next(call))
        expect_status("FullDuplexCall", grpc.StatusCode.CANCELLED, error)
    finally:
        pipe.close()


def timeout_on_sleeping_server(stub, channel):
    """A 1 ms deadline on a stream the client never half-closes must end in DEADLINE_EXCEEDED."""
    pipe = RequestPipe()
    pipe.send(streaming_request(payload_size=27182))
    call = stub.FullDuplexCall(pipe, timeout=0.001)
    try:
        error = expect_rpc_error("FullDuplexCall", lambda: list(call))
        expect_status("FullDuplexCall", grpc.StatusCode.DEADLINE_EXCEEDED, error)
    finally:
        pipe.close()


def bool_value(value):
    return messages_pb2.BoolValue(value=value)


def client_compressed_unary(stub, channel):
    """The probe (uncompressed, claiming compressed) must be refused; then both kinds are served."""
    def request(expect):
        return messages_pb2.SimpleRequest(expect_compressed=bool_value(expect), response_size=314159,
                                          payload=zero_payload(271828))
    error = expect_rpc_error("the compression probe",
                             lambda: stub.UnaryCall(request(True), timeout=RPC_TIMEOUT_S))
    expect_code("the compression probe", grpc.StatusCode.INVALID_ARGUMENT, error.code())
    response = stub.UnaryCall(request(True), timeout=RPC_TIMEOUT_S, compression=grpc.Compression.Gzip)
    expect_zero_payload("compressed request's response", response.payload, 314159)
    response = stub.UnaryCall(request(False), timeout=RPC_TIMEOUT_S)
    expect_zero_payload("uncompressed request's response", response.payload, 314159)


def server_compressed_unary(stub, channel):
    for compressed in (True, False):
        request = messages_pb2.SimpleRequest(response_compressed=bool_value(compressed), response_size=314159,
                                             payload=zero_payload(271828))
        response = stub.UnaryCall(request, timeout=RPC_TIMEOUT_S)
        expect_zero_payload(f"response (compressed={compressed})", response.payload, 314159)


def client_compressed_streaming(stub, channel):
    def message(size):
        return messages_pb2.StreamingInputCallRequest(expect_compressed=bool_value(True),
                                                      payload=zero_payload(size))
    error = expect_rpc_error("the compression probe",
                             lambda: stub.StreamingInputCall(iter([message(27182)]), timeout=RPC_TIMEOUT_S))
    expect_code("the compression probe", grpc.StatusCode.INVALID_ARGUMENT, error.code())
    response = stub.StreamingInputCall(iter([message(27182), message(45904)]), timeout=RPC_TIMEOUT_S,
                                       compression=grpc.Compression.Gzip)
    expect_equal("aggregated_payload_size", 73086, response.aggregated_payload_size)


def server_compressed_streaming(stub, channel):
    request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
        messages_pb2.ResponseParameters(compressed=bool_value(True), size=31415),
        messages_pb2.ResponseParameters(compressed=bool_value(False), size=92653),
    ])
    responses = list(stub.StreamingOutputCall(request, timeout=RPC_TIMEOUT_S))
    expect_equal("number of responses", 2, len(responses))
    expect_zero_payload("response 0", responses[0].payload, 31415)
    expect_zero_payload("response 1", responses[1].payload, 92653)


CASES = {case.__name__: case for case in (
    empty_unary, large_unary, client_streaming, server_streaming, ping_pong, empty_stream,
    custom_metadata, status_code_and_message, special_status_message, unimplemented_method,
    unimplemented_service, cancel_after_begin, cancel_after_first_response,
    timeout_on_sleeping_server, client_compressed_unary, server_compressed_unary,
    client_compressed_streaming, server_compressed_streaming,
)}


# ------------------------------------------------------------------------------------------- main


def run_case(name, args):
    """Run one case on a fresh channel; return (passed, reason)."""
    target = f"{args.server_host}:{args.server_port}"
    options = [("grpc.default_authority", args.server_host_override)] if args.server_host_override else []
    with grpc.insecure_channel(target, options=options) as channel:
        try:
            CASES[name](test_pb2_grpc.TestServiceStub(channel), channel)
        except CheckFailed as failure:
            return False, str(failure)
        except grpc.RpcError as error:
            return False, f"unexpected RPC failure: {status_name(error.code())}: {error.details()!r}"
        except Exception as error:  # noqa: BLE001 - a broken case must still give one result line
            return False, f"unexpected {type(error).__name__}: {error}"
    return True, ""


def report(name, passed, reason):
    print(f"{name}: ok" if passed else f"{name}: FAILED {reason}", flush=True)


def parse_bool(text):
    """Interop flags spell booleans as true/false."""
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description="gRPC interop test client (grpcio)")
    parser.add_argument("--server_host", default="127.0.0.1")
    parser.add_argument("--server_port", type=int, required=True)
    parser.add_argument("--server_host_override", default="", help="sent as :authority")
    parser.add_argument("--test_case", required=True, help="a case name, or all")
    parser.add_argument("--use_tls", type=parse_bool, default=False, help="only false is supported")
    parser.add_argument("--use_test_ca", type=parse_bool, default=False, help="ignored")
    args = parser.parse_args(argv)
    if args.use_tls:
        parser.error("--use_tls=true is not supported: this client is plaintext only")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.test_case == "all":
        passed = 0
        for name in CASES:
            ok, reason = run_case(name, args)
            report(name, ok, reason)
            passed += ok
        print(f"{passed} passed, {len(CASES) - passed} failed", flush=True)
        return 0 if passed == len(CASES) else 1
    if args.test_case not in CASES:
        print(f"client.py: unknown test case {args.test_case!r}; known: all, {', '.join(CASES)}",
              file=sys.stderr)
        return 2
    passed, reason = run_case(args.test_case, args)
    report(args.test_case, passed, reason)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
