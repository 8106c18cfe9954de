#!/usr/bin/env bash
# Builds the protobuf conformance suite's conformance_test_runner from Debian's
# source package `protobuf` (whichever revision the archive serves now, of the
# installed libprotobuf-dev's upstream version: 3.21.12 on bookworm; no Debian
# revision is ever pinned), with g++ against the system libprotobuf:
#
#   $CONF_DIR/conformance_test_runner   the runner
#   $CONF_DIR/VERSION                   the Debian source version it was built from
#   $CONF_DIR/protos/                   the .proto files a testee needs:
#       conformance/conformance.proto                (package conformance)
#       google/protobuf/test_messages_proto2.proto   (package protobuf_test_messages.proto2)
#       google/protobuf/test_messages_proto3.proto   (package protobuf_test_messages.proto3)
#     (the test_messages import the well-known types google/protobuf/{any,duration,
#     field_mask,struct,timestamp,wrappers}.proto, which are not copied: they are
#     in /usr/include from libprotobuf-dev.)
#   $CONF_DIR/src/                      `apt-get source protobuf` (not committed)
#   $CONF_DIR/build/                    generated .pb.cc/.pb.h and objects
#
# CONF_DIR is <workspace>/target/test-env/conformance, or
# $RSGRPC_TEST_ENV_DIR/conformance if that is set. Prints the runner's path and
# version last. Idempotent: when the stamp (hash of this script + the installed
# libprotobuf-dev/protoc/g++/libjsoncpp versions) matches and the runner runs, it
# does nothing else (~0.05 s). Cold: ~20 s on 2 idle cores (17 s of g++ -j2,
# set RSGRPC_CONFORMANCE_JOBS to change -j); apt work adds a few seconds.
#
# Needs root (or sudo) for apt-get when something is missing: it installs
# g++ make dpkg-dev libprotobuf-dev protobuf-compiler libjsoncpp-dev (the
# runner's JSON checks use jsoncpp, which Debian's source ships without its
# third_party/jsoncpp copy; no abseil or gtest is needed for 3.21). If apt has
# no deb-src entry at all, one is derived from the machine's own apt sources
# (the enabled `deb` entries for this release's suites) and written to
# /etc/apt/sources.list.d/rsgrpc-deb-src.{sources,list}; `apt-get update` runs
# only when a deb-src entry was added, no Sources index is present, or an
# install failed.
#
# ----------------------------------------------------------------- the runner
# Usage (protobuf 3.21.12; there is no --help and no --version: any unknown
# option prints the usage on stderr and exits 1; no editions, no
# --maximum_edition, no --test):
#
#   conformance_test_runner [--failure_list FILE] [--text_format_failure_list FILE]
#                           [--enforce_recommended] [--verbose] [--output_dir DIR]
#                           TESTEE_PATH [TESTEE_ARGS...]
#
#   --failure_list FILE            expected failures of the binary+JSON suite
#   --text_format_failure_list FILE expected failures of the text-format suite
#   --enforce_recommended          "Recommended.*" failures count as errors
#                                  (without it they only print WARNING lines)
#   --verbose                      log every request/response and list skipped tests
#   --output_dir DIR               where failing_tests.txt / succeeding_tests.txt /
#                                  nonexistent_tests.txt are written when a suite
#                                  fails (default: the current directory!)
#
# TESTEE_PATH is exec'd with execv (no PATH search: give a path). Quirk: the
# testee's argv is [TESTEE_PATH, TESTEE_PATH, TESTEE_ARGS...], i.e. it gets its
# own path again as argv[1]; a testee should ignore its arguments. Options must
# come before TESTEE_PATH (everything after it goes to the testee).
#
# Two suites run one after the other, each with a fresh testee process:
# "binary+JSON" (BinaryAndJsonConformanceSuite) then "text format"; if the
# first one fails, the second is NOT run (all_ok && RunSuite(...)). Each suite
# writes its report to stderr, ending with one summary line:
#
#   CONFORMANCE SUITE PASSED: 1234 successes, 0 skipped, 5 expected failures, 0 unexpected failures.
#   CONFORMANCE SUITE FAILED: 1200 successes, 30 skipped, 0 expected failures, 4 unexpected failures.
#
# (printf "CONFORMANCE SUITE %s: %d successes, %zu skipped, %d expected
# failures, %zu unexpected failures.\n"). Exit status 0 iff every suite run
# PASSED. A suite FAILS when a test failed that is not in its failure list, when
# a listed test succeeded, or when a listed test does not exist (a listed test
# that the testee *skips* counts as nonexistent, so don't list skipped tests).
# Failures print "ERROR, test=NAME: ..." (or "WARNING, test=NAME: ..." for
# Recommended tests without --enforce_recommended), plus a sorted list of the
# unexpected failures. A crashed testee is restarted for the next test (its
# test counts as a runtime_error failure).
#
# Failure list file: one test name per line, whitespace removed, '#' starts a
# comment, blank lines ignored. Names are
# Level.Syntax.InputFormat.TestName[.OutputFormat], e.g.
#   Required.Proto3.ProtobufInput.ValidDataRepeated.INT32.PackedInput.ProtobufOutput
#   Recommended.Proto3.JsonInput.IgnoreUnknownJsonNumber.ProtobufOutput
#   Required.Proto2.ProtobufInput.PrematureEofInPackedField.SINT64   # parse-failure tests have no output part
#   Required.Proto3.TextFormatInput.StringFieldBadUTF8Octal         # (text-format suite list)
#
# ------------------------------------------------------------ testee protocol
# The testee reads requests from stdin and writes responses to stdout, in a loop
# until EOF on stdin (then exit 0): a 4-byte little-endian length N then N bytes
# of a serialized conformance.ConformanceRequest; it answers with a 4-byte
# little-endian length M then M bytes of a conformance.ConformanceResponse
# (flush after each one). Requests carry payload oneof {protobuf_payload,
# json_payload, jspb_payload, text_payload}, requested_output_format (PROTOBUF,
# JSON, JSPB, TEXT_FORMAT), message_type (full name), test_category
# (BINARY_TEST, JSON_TEST, JSON_IGNORE_UNKNOWN_PARSING_TEST, JSPB_TEST,
# TEXT_FORMAT_TEST) and print_unknown_fields. The response sets one of
# parse_error, serialize_error, runtime_error, protobuf_payload, json_payload,
# text_payload, jspb_payload or skipped ("skipped" = not supported: counted as
# skipped, neither success nor failure).
#
# message_type values sent by 3.21.12 (no editions types, no JSPB requests):
#   conformance.FailureSet   first request of the binary+JSON suite ("FindFailures"):
#                            empty protobuf_payload, output PROTOBUF; the runner adds
#                            the failure names in the returned protobuf_payload (a
#                            serialized FailureSet) to its expected failures. Answer
#                            with an empty protobuf_payload (= empty FailureSet);
#                            "skipped" also works (the payload is then empty too).
#   protobuf_test_messages.proto3.TestAllTypesProto3
#   protobuf_test_messages.proto2.TestAllTypesProto2
# Requests per (message, test_category, input -> output), measured:
#   binary+JSON suite (2017 tests):
#     Proto3 BINARY_TEST  protobuf -> PROTOBUF 651, protobuf -> JSON 300
#     Proto2 BINARY_TEST  protobuf -> PROTOBUF 651
#     Proto3 JSON_TEST    json -> JSON 255, json -> PROTOBUF 141, protobuf -> JSON 11
#     Proto3 JSON_IGNORE_UNKNOWN_PARSING_TEST json -> PROTOBUF 6
#     Proto2 JSON_TEST    json -> JSON 2
#   text-format suite (120 tests), all TEXT_FORMAT_TEST:
#     Proto3 text -> TEXT_FORMAT 67, text -> PROTOBUF 39, protobuf -> TEXT_FORMAT 8
#     Proto2 text -> TEXT_FORMAT 3, text -> PROTOBUF 3
#   (some text requests set print_unknown_fields.)
# A testee that supports only the binary format answers "skipped" for any
# json_payload/text_payload/jspb_payload input and for JSON/TEXT_FORMAT/JSPB
# output; skipped tests count neither as success nor as failure, so a suite
# whose every test is skipped still PASSES ("0 successes, 2017 skipped, ...").
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
ENV_DIR="${RSGRPC_TEST_ENV_DIR:-$ROOT/target/test-env}"
CONF_DIR="$ENV_DIR/conformance"
SRC_PARENT="$CONF_DIR/src"
BUILD="$CONF_DIR/build"
RUNNER="$CONF_DIR/conformance_test_runner"
PROTOS="$CONF_DIR/protos"
STAMP="$CONF_DIR/.stamp"
JOBS="${RSGRPC_CONFORMANCE_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { printf '[conformance] %s\n' "$*" >&2; }
die() { printf '[conformance] ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$CONF_DIR"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CONF_DIR/.lock"
    flock 9
fi

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

pkg_version() { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null | awk '$3 == "installed" { print $4 }'; }

stamp_key() {
    local p
    {
        sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
        for p in libprotobuf-dev protobuf-compiler g++ libjsoncpp-dev; do
            printf '%s=%s\n' "$p" "$(pkg_version "$p")"
        done
    } | sha256sum | cut -d' ' -f1
}

runner_ok() { # the runner starts, links libprotobuf and prints its usage
    [ -x "$RUNNER" ] || return 1
    local out
    out="$("$RUNNER" --rsgrpc-probe 2>&1 || true)"
    [[ "$out" == *"Usage: conformance-test-runner"* ]]
}

protos_ok() {
    [ -f "$PROTOS/conformance/conformance.proto" ] \
        && [ -f "$PROTOS/google/protobuf/test_messages_proto2.proto" ] \
        && [ -f "$PROTOS/google/protobuf/test_messages_proto3.proto" ]
}

report() {
    printf 'conformance_test_runner: %s\n' "$RUNNER"
    printf 'version: protobuf %s (Debian source package), libprotobuf-dev %s\n' \
        "$(cat "$CONF_DIR/VERSION")" "$(pkg_version libprotobuf-dev)"
    printf 'protos: %s\n' "$PROTOS"
}

# ------------------------------------------------------------------ fast path
if command -v dpkg-query >/dev/null 2>&1 && [ -f "$STAMP" ] && [ -f "$CONF_DIR/VERSION" ] \
    && [ "$(cat "$STAMP")" = "$(stamp_key)" ] && protos_ok && runner_ok; then
    log "up to date"
    report
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || die "this script needs Debian's apt-get (and dpkg)"

# ------------------------------------------------------------- apt utilities
apt_updated=0
apt_update() {
    [ "$apt_updated" = 0 ] || return 0
    log "apt-get update"
    # A broken third-party source must not stop us: apt-get source / install
    # below report what is really missing.
    $SUDO apt-get update -qq >/dev/null 2>&1 || log "apt-get update reported errors (continuing)"
    apt_updated=1
}

ensure_packages() {
    local missing=() p
    for p in "$@"; do
        [ -n "$(pkg_version "$p")" ] || missing+=("$p")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
        apt_update
        $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed"
    fi
}

# Enabled source files apt reads.
apt_source_files() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && printf '%s\n' "$f"
    done
    return 0
}

has_deb_src() {
    local f
    while IFS= read -r f; do
        case "$f" in
            *.sources) grep -Eiq '^[[:space:]]*Types:.*(^|[[:space:]:])deb-src([[:space:]]|$)' "$f" && return 0 ;;
            *) grep -Eq '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0 ;;
        esac
    done < <(apt_source_files)
    return 1
}

# Prints deb822 deb-src stanzas for the enabled "deb" stanzas of the .sources
# files given, keeping only this release's suites (codename, codename-*,
# codename/*); every other field (URIs, Components, Signed-By) is copied.
derive_deb822() {
    awk -v code="$1" '
        function keep(s) { return code == "" || s == code || index(s, code "-") == 1 || index(s, code "/") == 1 }
        BEGIN { RS = ""; FS = "\n" }
        {
            types = ""; uris = ""; suites = ""; comps = ""; signed = ""; enabled = "yes"
            for (i = 1; i <= NF; i++) {
                line = $i
                if (line ~ /^[ \t]*#/ || line ~ /^[ \t]/ || index(line, ":") == 0) continue
                key = tolower(substr(line, 1, index(line, ":") - 1))
                val = substr(line, index(line, ":") + 1)
                gsub(/^[ \t]+|[ \t]+$/, "", val)
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "components") comps = val
                else if (key == "signed-by") signed = val
                else if (key == "enabled") enabled = tolower(val)
            }
            if (enabled == "no" || uris == "" || (" " types " ") !~ /[ \t]deb[ \t]/) next
            n = split(suites, s, /[ \t]+/); kept = ""
            for (j = 1; j <= n; j++) if (s[j] != "" && keep(s[j])) kept = kept (kept == "" ? "" : " ") s[j]
            if (kept == "") next
            printf "Types: deb-src\nURIs: %s\nSuites: %s\n", uris, kept
            if (comps != "") printf "Components: %s\n", comps
            if (signed != "") printf "Signed-By: %s\n", signed
            printf "\n"
        }' "${@:2}"
}

# Prints deb-src lines for the "deb" lines of one-line-style .list files.
derive_list() {
    awk -v code="$1" '
        function keep(s) { return code == "" || s == code || index(s, code "-") == 1 || index(s, code "/") == 1 }
        $1 == "deb" {
            i = 2
            if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            if (i + 1 > NF || !keep($(i + 1))) next
            line = $0; sub(/^[ \t]*deb/, "deb-src", line); print line
        }' "${@:2}"
}

ensure_deb_src() {
    if has_deb_src; then
        # deb-src is configured; fetch the Sources index if apt has none yet.
        compgen -G '/var/lib/apt/lists/*_Sources*' >/dev/null || apt_update
        return 0
    fi
    local code="" f out added=0
    local sources=() lists=()
    # shellcheck disable=SC1091
    code="$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")" || code=""
    while IFS= read -r f; do
        case "$f" in
            *.sources) sources+=("$f") ;;
            *) lists+=("$f") ;;
        esac
    done < <(apt_source_files)
    if [ "${#sources[@]}" -gt 0 ]; then
        out="$(derive_deb822 "$code" "${sources[@]}")"
        if [ -n "$out" ]; then
            log "adding deb-src entries derived from ${sources[*]} to /etc/apt/sources.list.d/rsgrpc-deb-src.sources"
            printf '# Written by rsgrpc tests/env/conformance.sh: deb-src twins of the deb entries in\n# %s\n\n%s\n' \
                "${sources[*]}" "$out" | $SUDO tee /etc/apt/sources.list.d/rsgrpc-deb-src.sources >/dev/null
            added=1
        fi
    fi
    if [ "${#lists[@]}" -gt 0 ]; then
        out="$(derive_list "$code" "${lists[@]}")"
        if [ -n "$out" ]; then
            log "adding deb-src lines derived from ${lists[*]} to /etc/apt/sources.list.d/rsgrpc-deb-src.list"
            printf '# Written by rsgrpc tests/env/conformance.sh: deb-src twins of the deb lines in\n# %s\n%s\n' \
                "${lists[*]}" "$out" | $SUDO tee /etc/apt/sources.list.d/rsgrpc-deb-src.list >/dev/null
            added=1
        fi
    fi
    [ "$added" = 1 ] || die "no deb entry for release '${code:-?}' in the apt sources to derive a deb-src entry from"
    apt_update
}

# ------------------------------------------------------- 1. tools and libraries
ensure_packages g++ make dpkg-dev libprotobuf-dev protobuf-compiler libjsoncpp-dev
PB_VERSION="$(pkg_version libprotobuf-dev)"
[ -n "$PB_VERSION" ] || die "libprotobuf-dev is not installed"

# The upstream part of a Debian version: 3.21.12 of 3.21.12-3+deb12u1 (no epoch, no Debian revision).
upstream_of() { local v="${1#*:}"; printf '%s\n' "${v%-*}"; }

# ------------------------------------------------------- 2. apt-get source
# No Debian revision is pinned: archives replace revisions (3.21.12-3 became 3.21.12-3+deb12u1 and the
# old source vanished), so the source is whatever the archive serves now. What must agree is the
# upstream version, since the runner links the installed libprotobuf and uses the source's internal
# headers; a Debian revision only carries patches that do not change the conformance suite.
src_dir_ok() { [ -f "$1/conformance/conformance_test_runner.cc" ] && [ -f "$1/src/google/protobuf/test_messages_proto3.proto" ]; }
fetch_source() { # apt-get source protobuf (the served version) into $SRC_PARENT; prints nothing
    rm -rf "$SRC_PARENT"
    mkdir -p "$SRC_PARENT"
    log "apt-get source protobuf into $SRC_PARENT"
    # As root the download is "unsandboxed" (apt's _apt user cannot write here); that warning is harmless.
    if ! (cd "$SRC_PARENT" && apt-get source -qq protobuf >apt-source.log 2>&1); then
        apt_update
        (cd "$SRC_PARENT" && apt-get source -qq protobuf >apt-source.log 2>&1) || {
            tail -n 20 "$SRC_PARENT/apt-source.log" >&2
            die "apt-get source protobuf failed: check that apt reaches the Debian archive and that a deb-src entry for this release exists (this script adds one derived from the deb entries when there is none)"
        }
    fi
}
source_version() { # the Debian version of the unpacked source package, from its .dsc
    local dsc
    dsc="$(find "$SRC_PARENT" -maxdepth 1 -name 'protobuf_*.dsc' | head -n 1)"
    [ -n "$dsc" ] || return 1
    sed -n 's/^Version:[[:space:]]*//p' "$dsc" | head -n 1
}
WANT_UPSTREAM="$(upstream_of "$PB_VERSION")"
SRC=""
if [ -f "$SRC_PARENT/.version" ] && [ "$(upstream_of "$(cat "$SRC_PARENT/.version")")" = "$WANT_UPSTREAM" ]; then
    SRC="$(cat "$SRC_PARENT/.dir" 2>/dev/null || true)"
    src_dir_ok "$SRC" || SRC=""
fi
if [ -z "$SRC" ]; then
    ensure_deb_src
    fetch_source
    SRC_VERSION="$(source_version)" || die "apt-get source left no protobuf_*.dsc in $SRC_PARENT"
    if [ "$(upstream_of "$SRC_VERSION")" != "$WANT_UPSTREAM" ]; then
        # The installed library is of another upstream release than the archive's source: move the
        # library to what the archive serves now, then the two agree.
        log "libprotobuf-dev $PB_VERSION and the archive's source $SRC_VERSION differ upstream: upgrading libprotobuf-dev and protobuf-compiler"
        apt_update
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get install -y -qq libprotobuf-dev protobuf-compiler >/dev/null \
            || die "apt-get install libprotobuf-dev protobuf-compiler (to the archive's version) failed"
        PB_VERSION="$(pkg_version libprotobuf-dev)"
        WANT_UPSTREAM="$(upstream_of "$PB_VERSION")"
        [ "$(upstream_of "$SRC_VERSION")" = "$WANT_UPSTREAM" ] \
            || die "libprotobuf-dev $PB_VERSION and source protobuf $SRC_VERSION are of different upstream versions even after an upgrade; run apt-get update and apt-get upgrade, then run this again"
    fi
    SRC="$(find "$SRC_PARENT" -mindepth 1 -maxdepth 1 -type d -name 'protobuf-*' | head -n 1)"
    src_dir_ok "$SRC" || die "apt-get source did not unpack a protobuf tree with conformance/ in $SRC_PARENT"
    printf '%s\n' "$SRC" >"$SRC_PARENT/.dir"
    printf '%s\n' "$SRC_VERSION" >"$SRC_PARENT/.version"
fi
SRC_VERSION="$(cat "$SRC_PARENT/.version")"

# ------------------------------------------------------- 3. build the runner
start=$(date +%s)
rm -f "$STAMP"
rm -rf "$BUILD"
mkdir -p "$BUILD/gen" "$BUILD/obj" "$BUILD/shim/third_party/jsoncpp"
PROTOC="$(command -v protoc)" || die "protoc not found"

log "protoc $("$PROTOC" --version | awk '{print $2}'): generating C++ for conformance.proto and test_messages_proto{2,3}.proto"
"$PROTOC" -I"$SRC/conformance" --cpp_out="$BUILD/gen" "$SRC/conformance/conformance.proto"
"$PROTOC" -I"$SRC/src" --cpp_out="$BUILD/gen" \
    "$SRC/src/google/protobuf/test_messages_proto2.proto" \
    "$SRC/src/google/protobuf/test_messages_proto3.proto"

# Debian's source has no conformance/third_party/jsoncpp: use libjsoncpp-dev.
printf '#include <json/json.h>\n' >"$BUILD/shim/third_party/jsoncpp/json.h"

# The sources conformance/Makefile.am lists for conformance-test-runner.
units=(
    "$SRC/conformance/conformance_test.cc"
    "$SRC/conformance/conformance_test_main.cc"
    "$SRC/conformance/binary_json_conformance_suite.cc"
    "$SRC/conformance/text_format_conformance_suite.cc"
    "$SRC/conformance/conformance_test_runner.cc"
    "$BUILD/gen/conformance.pb.cc"
    "$BUILD/gen/google/protobuf/test_messages_proto2.pb.cc"
    "$BUILD/gen/google/protobuf/test_messages_proto3.pb.cc"
)
# Installed headers first; the few internal ones the runner uses that
# libprotobuf-dev does not install (stubs/stringprintf.h) come from the same
# version's source tree (-idirafter). Their symbols are exported by libprotobuf.so.
CXXFLAGS=(-std=c++17 -O2 -pthread -w
    -I"$BUILD/gen" -I"$SRC/conformance" -I"$BUILD/shim" -I/usr/include/jsoncpp
    -idirafter "$SRC/src")
log "compiling ${#units[@]} files with g++ (-j$JOBS)"
export BUILD
# Each unit: sh -c SCRIPT UNIT UNIT g++ FLAGS... ($0 = unit, "$@" = the compiler command).
# shellcheck disable=SC2016
printf '%s\n' "${units[@]}" | xargs -P "$JOBS" -I{} sh -c \
    'o="$BUILD/obj/$(basename "$1" .cc).o"; shift; exec "$@" -c "$0" -o "$o"' {} {} g++ "${CXXFLAGS[@]}" \
    || die "compiling the conformance runner failed (see the g++ errors above)"
g++ -pthread -o "$RUNNER.tmp" "$BUILD"/obj/*.o -lprotobuf -ljsoncpp \
    || die "linking the conformance runner failed"
mv -f "$RUNNER.tmp" "$RUNNER"
runner_ok || die "$RUNNER does not run"
printf '%s\n' "$SRC_VERSION" >"$CONF_DIR/VERSION"
log "built in $(( $(date +%s) - start ))s"

# ------------------------------------------------------- 4. testee protos
rm -rf "$PROTOS"
mkdir -p "$PROTOS/conformance" "$PROTOS/google/protobuf"
cp "$SRC/conformance/conformance.proto" "$PROTOS/conformance/"
cp "$SRC/src/google/protobuf/test_messages_proto2.proto" \
   "$SRC/src/google/protobuf/test_messages_proto3.proto" "$PROTOS/google/protobuf/"
protos_ok || die "copying the testee protos failed"

stamp_key >"$STAMP"
report
