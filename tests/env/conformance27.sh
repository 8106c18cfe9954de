#!/usr/bin/env bash
# Builds protobuf 27.1's conformance_test_runner: the binary + JSON suite for proto2, proto3 and the editions
# test messages (test_messages_edition2023.proto, the editions forms of test_messages_proto{2,3}.proto),
# which Debian's protobuf 3.21 source (conformance.sh) predates.
#
# Source: the crates.io crate protobuf-src 2.1.1+27.1, which vendors protobuf's tree with conformance/,
# editions/ and third_party/abseil-cpp (only jsoncpp is missing: Debian's libjsoncpp-dev stands in). It is
# fetched with `cargo fetch` like any dependency (a registry cannot drop a published version), then built
# with Debian's cmake and g++ (only the conformance_test_runner target: abseil, libprotobuf, libprotoc and
# protoc, which generates the suite's C++). protobuf-src's own build.rs is not used.
#
# Cache, outside the clone so that clean clones on the machine reuse it (the tests read it there, with the
# same rule: tests/tests/conformance.rs, protoc-gen-rsgrpc/tests/golden.rs):
#   $RSGRPC_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/rsgrpc)/protobuf-27.1-conformance/
#       conformance_test_runner, protos/ (the testee's .proto files), src/, build/, .stamp
# Idempotent: when the stamp (this script's hash, the crate version, g++'s version) matches and the runner
# runs, it does nothing else. Cold: measured 12 min (708 s) on the 2 shared cores of the development machine,
# niced, with other builds running (25 min there with -O2), most of it abseil and libprotoc; set
# RSGRPC_CONFORMANCE_JOBS to change -j.
#
# Runner usage (27.1): as 3.21's (see conformance.sh), plus --maximum_edition 2023 to include the editions
# tests. Message types sent: protobuf_test_messages.proto{2,3}.TestAllTypesProto{2,3},
# protobuf_test_messages.editions.proto{2,3}.TestAllTypesProto{2,3} and
# protobuf_test_messages.editions.TestAllTypesEdition2023; first a conformance.FailureSet request.
set -euo pipefail

CACHE_ROOT="${RSGRPC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rsgrpc}"
CACHE="$CACHE_ROOT/protobuf-27.1-conformance"
CRATE_VERSION="2.1.1+27.1"
JOBS="${RSGRPC_CONFORMANCE_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '[conformance27] %s\n' "$*" >&2; }
die() { printf '[conformance27] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$CACHE"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/.lock"
    flock 9
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

stamp_key() {
    { sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1; echo "$CRATE_VERSION"; g++ --version 2>/dev/null | head -n 1; } \
        | sha256sum | cut -d' ' -f1
}

runner_ok() { # it starts and prints its usage (exiting 1, hence no pipefail here)
    [ -x "$CACHE/conformance_test_runner" ] || return 1
    local out
    out="$("$CACHE/conformance_test_runner" --rsgrpc-probe 2>&1 || true)"
    [[ "$out" == *"Usage: conformance-test-runner"* ]]
}

report() {
    printf 'conformance_test_runner: %s\nversion: protobuf %s (crates.io protobuf-src %s)\nprotos: %s\n' \
        "$CACHE/conformance_test_runner" "${CRATE_VERSION#*+}" "$CRATE_VERSION" "$CACHE/protos"
}

if [ -f "$CACHE/.stamp" ] && [ "$(cat "$CACHE/.stamp")" = "$(stamp_key)" ] && runner_ok && [ -d "$CACHE/protos" ]; then
    log "up to date ($CACHE)"
    report
    exit 0
fi

# ------------------------------------------------------------ tools (Debian)
missing=()
for p in g++ make cmake libjsoncpp-dev; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq >/dev/null 2>&1 || true; $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; } \
        || die "apt-get install ${missing[*]} failed"
fi

# ------------------------------------------------------------ the source, through cargo
start=$(date +%s)
FETCH="$CACHE/fetch"
mkdir -p "$FETCH/src"
cat >"$FETCH/Cargo.toml" <<EOF
# Written by rsgrpc tests/env/conformance27.sh: only to have cargo fetch protobuf-src.
[package]
name = "rsgrpc-fetch-protobuf-src"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
protobuf-src = "=$CRATE_VERSION"

[workspace]
EOF
: >"$FETCH/src/lib.rs"
log "cargo fetch protobuf-src $CRATE_VERSION"
cargo fetch --quiet --manifest-path "$FETCH/Cargo.toml" || die "cargo fetch protobuf-src $CRATE_VERSION failed"
CRATE_FILE="$(find "${CARGO_HOME:-$HOME/.cargo}/registry/cache" -name "protobuf-src-$CRATE_VERSION.crate" 2>/dev/null | head -n 1)"
[ -n "$CRATE_FILE" ] || die "cargo fetched protobuf-src but its .crate is not under ${CARGO_HOME:-$HOME/.cargo}/registry/cache"
rm -rf "$CACHE/src"
mkdir -p "$CACHE/src"
tar xzf "$CRATE_FILE" -C "$CACHE/src"
SRC="$CACHE/src/protobuf-src-$CRATE_VERSION/protobuf"
[ -f "$SRC/conformance/conformance_test_runner.cc" ] || die "$CRATE_FILE holds no protobuf/conformance"

# ------------------------------------------------------------ build
rm -f "$CACHE/.stamp"
# Unoptimised (-O0, no debug info): the build is most of a fresh machine's first test run, and -O0 compiles
# abseil and libprotoc in under half the time -O2 took (12 min against 25 on the same loaded machine); the
# runner and protoc then do little work (5236 small messages through a pipe: 4.5 s; five .proto files).
BUILD_FLAGS="-DCMAKE_BUILD_TYPE= -DCMAKE_C_FLAGS=-O0 -DCMAKE_CXX_FLAGS=-O0"
log "cmake: conformance_test_runner with -j$JOBS (abseil, libprotobuf, libprotoc, protoc: a long build)"
cmake -S "$SRC" -B "$CACHE/build" $BUILD_FLAGS -Dprotobuf_BUILD_CONFORMANCE=ON \
    -Dprotobuf_JSONCPP_PROVIDER=package -Dprotobuf_BUILD_TESTS=OFF -Dprotobuf_ABSL_PROVIDER=module \
    -DABSL_PROPAGATE_CXX_STD=ON -DCMAKE_CXX_STANDARD=17 >"$CACHE/cmake.log" 2>&1 \
    || { tail -n 30 "$CACHE/cmake.log" >&2; die "cmake configure failed (log: $CACHE/cmake.log)"; }
# Debian's jsoncpp headers are in /usr/include/jsoncpp, which the suite's CMake file does not add.
CPATH="/usr/include/jsoncpp${CPATH:+:$CPATH}" make -C "$CACHE/build" -j"$JOBS" conformance_test_runner \
    >"$CACHE/make.log" 2>&1 || { grep -m 20 -E 'error|Error' "$CACHE/make.log" >&2; die "building the runner failed (log: $CACHE/make.log)"; }
cp -f "$CACHE/build/conformance_test_runner" "$CACHE/conformance_test_runner"
runner_ok || die "$CACHE/conformance_test_runner does not run"

# ------------------------------------------------------------ testee protos
rm -rf "$CACHE/protos"
mkdir -p "$CACHE/protos/google/protobuf" "$CACHE/protos/editions/golden" "$CACHE/protos/conformance/test_protos"
cp "$SRC/conformance/conformance.proto" "$CACHE/protos/conformance/"
cp "$SRC/src/google/protobuf/test_messages_proto2.proto" "$SRC/src/google/protobuf/test_messages_proto3.proto" \
    "$CACHE/protos/google/protobuf/"
cp "$SRC/editions/golden/test_messages_proto2_editions.proto" "$SRC/editions/golden/test_messages_proto3_editions.proto" \
    "$CACHE/protos/editions/golden/"
cp "$SRC/conformance/test_protos/test_messages_edition2023.proto" "$CACHE/protos/conformance/test_protos/"
# The runner is all that is kept: the build tree is half a gigabyte.
rm -rf "$CACHE/build" "$CACHE/src" "$FETCH"
stamp_key >"$CACHE/.stamp"
log "built in $(( $(date +%s) - start ))s"
report
