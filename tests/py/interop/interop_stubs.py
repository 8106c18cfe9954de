"""Generated gRPC interop stubs, built on first use and cached (shared by server.py and client.py).

The interop protos come from Debian's `grpc-proto` package (/usr/share/grpc-proto, or
$RSGRPC_GRPC_PROTO_DIR). Nothing generated is committed: the first import runs

    python -m grpc_tools.protoc -I <proto dir> --python_out=DIR --grpc_python_out=DIR \
        grpc/testing/test.proto grpc/testing/messages.proto grpc/testing/empty.proto

into a cache directory named after a hash of the inputs (the three .proto files and the
grpcio-tools and protobuf versions), so a changed input gets a fresh directory and an unchanged one
is reused. The cache root is $RSGRPC_INTEROP_STUBS_DIR, else $RSGRPC_TEST_ENV/interop-stubs, else
<workspace>/target/test-env/interop-stubs. Generation happens in a temporary directory that is then
renamed into place, so several processes starting at once (a server and a client, or parallel Rust
tests) never see a half-written directory.

`python interop_stubs.py` generates the stubs (if needed) and prints their directory; the Rust tests
do not need to run it, server.py and client.py do it themselves.
"""

import hashlib
import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROTO_FILES = ("grpc/testing/test.proto", "grpc/testing/messages.proto", "grpc/testing/empty.proto")
DEFAULT_PROTO_DIR = "/usr/share/grpc-proto"
# One generated file; the cache directory only ever appears whole (renamed), so it marks success.
MARKER = Path("grpc/testing/test_pb2_grpc.py")


class StubError(RuntimeError):
    """The stubs could not be generated (missing protos, protoc failure)."""


def proto_dir() -> Path:
    """Where the interop protos live; overridable for machines without the Debian package."""
    return Path(os.environ.get("RSGRPC_GRPC_PROTO_DIR", DEFAULT_PROTO_DIR))


def cache_root() -> Path:
    """The directory holding one generated tree per input hash (see the module docstring)."""
    explicit = os.environ.get("RSGRPC_INTEROP_STUBS_DIR")
    if explicit:
        return Path(explicit)
    test_env = os.environ.get("RSGRPC_TEST_ENV")
    if test_env:
        return Path(test_env) / "interop-stubs"
    workspace = Path(__file__).resolve().parents[3]
    return workspace / "target" / "test-env" / "interop-stubs"


def input_hash(protos: Path) -> str:
    """Hash of everything that decides the generated code, so stale caches are never reused."""
    digest = hashlib.sha256()
    for dist in ("grpcio-tools", "protobuf"):
        digest.update(f"{dist}={importlib.metadata.version(dist)}\n".encode())
    for name in PROTO_FILES:
        path = protos / name
        if not path.is_file():
            raise StubError(f"missing {path} (install the Debian package grpc-proto)")
        digest.update(name.encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()[:16]


def generate(protos: Path, out: Path) -> None:
    """Run grpc_tools.protoc (as a subprocess, exactly as documented above) into `out`."""
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc", "-I", str(protos),
        f"--python_out={out}", f"--grpc_python_out={out}", *PROTO_FILES,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not (out / MARKER).is_file():
        raise StubError(f"grpc_tools.protoc failed ({result.returncode}): {result.stderr.strip()}")


def ensure_stubs() -> Path:
    """Return a directory holding complete generated stubs, generating them if needed."""
    protos = proto_dir()
    final = cache_root() / input_hash(protos)
    if (final / MARKER).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".tmp-"))
    try:
        generate(protos, tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            # Another process won the race; its directory is complete (it was renamed whole).
            if not (final / MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load():
    """Import and return (empty_pb2, messages_pb2, test_pb2_grpc) from the generated stubs.

    The generated modules live in the Python package `grpc.testing` (from the proto file paths), and
    `grpc` is grpcio itself. Appending our generated `grpc/` directory to grpcio's package path
    makes `grpc.testing` resolve to the generated files without touching grpcio.
    """
    import grpc  # noqa: PLC0415 - must be imported before its __path__ is extended

    stubs = ensure_stubs() / "grpc"
    if str(stubs) not in grpc.__path__:
        grpc.__path__.append(str(stubs))
    return (
        importlib.import_module("grpc.testing.empty_pb2"),
        importlib.import_module("grpc.testing.messages_pb2"),
        importlib.import_module("grpc.testing.test_pb2_grpc"),
    )


if __name__ == "__main__":
    try:
        print(ensure_stubs())
    except StubError as err:
        sys.exit(f"interop_stubs: {err}")
