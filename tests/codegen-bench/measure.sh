#!/usr/bin/env bash
# The code generation benchmark of issue 18: protoc-gen-rsgrpc against tonic-prost-build 0.14 on the
# synthetic corpus of synth_protos.py, in one run. See BENCHMARKS.md, "Code generation (issue 18)".
#
#     bash tests/codegen-bench/measure.sh [OUT_DIR]        (default: target/codegen-bench)
#
# Environment:
#     RUNS=3                 generation runs per row (the table gives medians)
#     RELEASE=1              also time `cargo build --release` of the generated crates (0: check only)
#     RELEASE_JSON=0         1: also `cargo build --release` the JSON-on output
#     REV=HEAD               the commit whose plugin and runtime are measured; `worktree`: the working tree
#     CORPUS_ARGS="--files 400 --packages 40"
#
# Everything is written under OUT_DIR. CPU time is user+sys and peak memory is the maximum RSS, both from
# `/usr/bin/time -v` (which sees the whole process tree: protoc and its plugin, cargo and its rustc).
# Wall time is not reported: the machine is shared, so only CPU time and memory are comparable.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$REPO/tests/codegen-bench"
OUT=$(mkdir -p "${1:-$REPO/target/codegen-bench}" && cd "${1:-$REPO/target/codegen-bench}" && pwd)
RUNS=${RUNS:-3}
RELEASE=${RELEASE:-1}
RELEASE_JSON=${RELEASE_JSON:-0}
REV=${REV:-HEAD}
CORPUS_ARGS=${CORPUS_ARGS:-"--files 400 --packages 40"}
PROTOC=${PROTOC:-/usr/bin/protoc}
NICE=(nice -n 10)
START=$(date +%s)

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ ! -x /usr/bin/time ]]; then
    log "installing Debian's time package (for /usr/bin/time -v)"
    if [[ $(id -u) -eq 0 ]]; then apt-get install -y time >/dev/null; else sudo apt-get install -y time >/dev/null; fi
fi
[[ -x $PROTOC ]] || die "no protoc at $PROTOC"

# Results: one line per measured run (key, CPU seconds, peak RSS KiB) and per output (key, bytes, lines).
RUNS_TSV="$OUT/runs.tsv"
OUTPUTS_TSV="$OUT/outputs.tsv"
META="$OUT/meta.txt"
: >"$RUNS_TSV"
: >"$OUTPUTS_TSV"
mkdir -p "$OUT/logs" "$OUT/bin" "$OUT/gen" "$OUT/crates"

# measure KEY CMD...: runs CMD under /usr/bin/time -v (and nice), appends KEY's CPU and peak RSS to runs.tsv.
# Standard input and output are the caller's redirections; CMD's stderr goes to logs/KEY.err.
measure() {
    local key=$1 timing="$OUT/logs/$1.time"
    shift
    if ! /usr/bin/time -v -o "$timing" "${NICE[@]}" "$@" 2>"$OUT/logs/$key.err"; then
        tail -n 30 "$OUT/logs/$key.err" >&2
        die "$key failed: $*"
    fi
    awk -v key="$key" -F': ' '
        /User time \(seconds\)/ { user = $2 }
        /System time \(seconds\)/ { sys = $2 }
        /Maximum resident set size \(kbytes\)/ { rss = $2 }
        END { printf "%s\t%.2f\t%d\n", key, user + sys, rss }' "$timing" >>"$RUNS_TSV"
    log "$key: $(tail -n 1 "$RUNS_TSV" | cut -f2) s CPU, $(( $(tail -n 1 "$RUNS_TSV" | cut -f3) / 1024 )) MiB"
}

# record_output KEY DIR: total bytes of every file under DIR, lines of its .rs files.
record_output() {
    local bytes lines files
    bytes=$(find "$2" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    files=$(find "$2" -type f | wc -l)
    lines=$(find "$2" -type f -name '*.rs' -print0 | xargs -0 cat | wc -l)
    printf '%s\t%s\t%s\t%s\n' "$1" "$bytes" "$lines" "$files" >>"$OUTPUTS_TSV"
}

# --- inputs: the corpus, snapshots of the plugin and runtime, the tonic driver ---------------------------

log "corpus: synth_protos.py $CORPUS_ARGS"
rm -rf "$OUT/corpus"
# shellcheck disable=SC2086
python3 "$HERE/synth_protos.py" "$OUT/corpus" $CORPUS_ARGS >"$OUT/corpus.txt"
mapfile -t FILES < <(cd "$OUT/corpus" && find acme -name '*.proto' | LC_ALL=C sort)

# The plugin and runtime measured: a snapshot of commit REV (git archive, built in a directory of its own),
# or with REV=worktree the working tree as it is (the plugin built in the repo, the runtime copied), so that
# other work in the repo cannot change what is measured half-way through the run.
rm -rf "$OUT/src" && mkdir -p "$OUT/src"
if [[ $REV == worktree ]]; then
    COMMIT="$(git -C "$REPO" rev-parse --short HEAD) plus the working tree's uncommitted changes:"
    COMMIT+=" $(git -C "$REPO" status --porcelain -- protoc-gen-rsgrpc runtime | wc -l) files"
    COMMIT+=" in protoc-gen-rsgrpc/ and runtime/"
    log "building protoc-gen-rsgrpc (release) in the working tree"
    (cd "$REPO" && cargo build --release -p protoc-gen-rsgrpc) >"$OUT/logs/build-plugin.log" 2>&1 ||
        { tail -n 30 "$OUT/logs/build-plugin.log" >&2; die "cargo build --release -p protoc-gen-rsgrpc failed"; }
    cp "$REPO/target/release/protoc-gen-rsgrpc" "$OUT/bin/protoc-gen-rsgrpc"
    cp -r "$REPO/runtime" "$OUT/src/runtime"
    rm -rf "$OUT/src/runtime/target"
    sed 's/^members = .*/members = ["runtime"]/' "$REPO/Cargo.toml" >"$OUT/src/Cargo.toml"
    cp "$REPO/Cargo.lock" "$OUT/src/Cargo.lock"
else
    COMMIT=$(git -C "$REPO" rev-parse --short "$REV^{commit}")
    git -C "$REPO" archive "$COMMIT" | tar -x -C "$OUT/src"
    log "building protoc-gen-rsgrpc (release) at $COMMIT"
    (cd "$OUT/src" && CARGO_TARGET_DIR="$OUT/target-plugin" "${NICE[@]}" cargo build --offline --release \
        -p protoc-gen-rsgrpc) >"$OUT/logs/build-plugin.log" 2>&1 ||
        { tail -n 30 "$OUT/logs/build-plugin.log" >&2; die "cargo build --release -p protoc-gen-rsgrpc failed"; }
    cp "$OUT/target-plugin/release/protoc-gen-rsgrpc" "$OUT/bin/protoc-gen-rsgrpc"
fi
PLUGIN="$OUT/bin/protoc-gen-rsgrpc"
LOCK="$OUT/src/Cargo.lock"

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "plugin and runtime at: $COMMIT"
    echo "plugin: $("$PLUGIN" --version)"
    echo "protoc: $("$PROTOC" --version)"
    echo "rustc: $(rustc --version)"
    echo "corpus: $(cat "$OUT/corpus.txt")"
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
} >"$META"

# A throwaway crate: new_crate DIR NAME DEPENDENCIES (TOML lines). Its own workspace, the repo's Cargo.lock
# (so that dependencies resolve to the versions the repo uses), built offline.
new_crate() {
    mkdir -p "$1/src"
    printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n%s\n\n[workspace]\n' \
        "$2" "$3" >"$1/Cargo.toml"
    cp "$LOCK" "$1/Cargo.lock"
}

TONIC_DEPS='tonic = "0.14"
tonic-prost = "0.14"
prost = "0.14"
prost-types = "0.14"'
OURS_DEPS="rsgrpc = { path = \"$OUT/src/runtime\" }"

log "building the tonic-prost-build driver (release)"
new_crate "$OUT/tonic-gen" codegen_bench_tonic_gen 'tonic-prost-build = "0.14"
prost = "0.14"
prost-types = "0.14"'
cp "$HERE/tonic_gen.rs" "$OUT/tonic-gen/src/main.rs"
CARGO_TARGET_DIR="$OUT/target-tonic-gen" cargo build --offline --release \
    --manifest-path "$OUT/tonic-gen/Cargo.toml" >"$OUT/logs/build-tonic-gen.log" 2>&1 ||
    { tail -n 30 "$OUT/logs/build-tonic-gen.log" >&2; die "building the tonic driver failed"; }
TONIC_GEN="$OUT/target-tonic-gen/release/codegen_bench_tonic_gen"
echo "tonic-prost-build: $(grep -A1 '^name = "tonic-prost-build"$' "$OUT/tonic-gen/Cargo.lock" | sed -n 's/version = //p' | tr -d '"')" >>"$META"

# A plugin that only saves its CodeGeneratorRequest, to time our plugin on its own, fed exactly what protoc
# feeds it. Its response has no files and supported_features = FEATURE_PROTO3_OPTIONAL (field 2 = 1).
printf '#!/bin/sh\ncat > "$CODEGEN_BENCH_CAPTURE"\nprintf "\\020\\001"\n' >"$OUT/bin/protoc-gen-capture"
chmod +x "$OUT/bin/protoc-gen-capture"

# --- generation -------------------------------------------------------------------------------------------

cd "$OUT/corpus"
FDS="$OUT/corpus.fds"
for run in $(seq "$RUNS"); do
    log "generation, run $run of $RUNS"

    # protoc's parse alone: the FileDescriptorSet both sides read (comments kept, imports included).
    measure parse "$PROTOC" -I . --include_source_info --include_imports --descriptor_set_out="$FDS" "${FILES[@]}"

    for variant in nojson json; do
        opt=() capture_opt=()
        [[ $variant == nojson ]] && opt=(--rsgrpc_opt=json=false) capture_opt=(--capture_opt=json=false)
        dir="$OUT/gen/ours-$variant"
        rm -rf "$dir" && mkdir -p "$dir"
        measure "ours-$variant-protoc" "$PROTOC" -I . --plugin=protoc-gen-rsgrpc="$PLUGIN" \
            "${opt[@]}" --rsgrpc_out="$dir" "${FILES[@]}"
        # The same request, from the descriptor set instead of the .proto files, captured once.
        request="$OUT/request-$variant.bin"
        if [[ ! -s $request ]]; then
            CODEGEN_BENCH_CAPTURE=$request "$PROTOC" --descriptor_set_in="$FDS" \
                --plugin=protoc-gen-capture="$OUT/bin/protoc-gen-capture" "${capture_opt[@]}" \
                --capture_out="$OUT" "${FILES[@]}"
        fi
        measure "ours-$variant-plugin" "$PLUGIN" <"$request" >"$OUT/response-$variant.bin"
    done

    dir="$OUT/gen/ours-generate"
    rm -rf "$dir" && mkdir -p "$dir"
    measure ours-generate "$PLUGIN" generate -I . --out "$dir" --opt json=false acme

    dir="$OUT/gen/tonic"
    rm -rf "$dir" && mkdir -p "$dir"
    measure tonic "$TONIC_GEN" "$FDS" "$dir"
done
cd "$OUT"

record_output ours-nojson "$OUT/gen/ours-nojson"
record_output ours-json "$OUT/gen/ours-json"
record_output ours-generate "$OUT/gen/ours-generate"
record_output tonic "$OUT/gen/tonic"
# Checks: the plugin alone answered without an error and wrote what it writes through protoc; the embedded
# parser's output is the protoc route's.
for variant in nojson json; do
    python3 "$HERE/report.py" --check-response "$OUT/response-$variant.bin" "$OUT/gen/ours-$variant" >>"$META"
done
if diff -rq "$OUT/gen/ours-nojson" "$OUT/gen/ours-generate" >/dev/null; then
    echo "generate (embedded parser) output: identical to the protoc route's" >>"$META"
else
    echo "generate (embedded parser) output: DIFFERS from the protoc route's" >>"$META"
fi

# --- compilation ------------------------------------------------------------------------------------------

# compile KEY CRATE_DIR TARGET_DIR PROFILE: times cargo check (PROFILE=check) or cargo build --release.
compile() {
    local key=$1 crate=$2 target=$3 args
    args=$([[ $4 == check ]] && echo check || echo "build --release")
    # Artifacts of an earlier run of this script would make the timed build incremental.
    CARGO_TARGET_DIR=$target cargo clean --offline --quiet --manifest-path "$crate/Cargo.toml" \
        -p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$crate/Cargo.toml")"
    # shellcheck disable=SC2086
    measure "$key" env CARGO_TARGET_DIR="$target" cargo $args --offline --manifest-path "$crate/Cargo.toml"
    local units
    units=$(grep -cE '^ *(Compiling|Checking) ' "$OUT/logs/$key.err" || true)
    [[ $units == 1 ]] || log "warning: $key compiled $units crates, not only the generated one (see logs/$key.err)"
    echo "$key: $(grep -c '^warning' "$OUT/logs/$key.err" || true) warning lines, $units crate(s) compiled" >>"$META"
}

# prebuild KEY DEPENDENCIES TARGET_DIR: builds the dependencies (check and, with RELEASE=1, release) through a
# crate with an empty lib.rs, so that the timed runs compile the generated crate alone.
prebuild() {
    local crate="$OUT/crates/deps-$1"
    rm -rf "$crate"
    new_crate "$crate" "codegen_bench_deps_$1" "$2"
    : >"$crate/src/lib.rs"
    log "prebuilding the $1 dependencies"
    CARGO_TARGET_DIR=$3 "${NICE[@]}" cargo check --offline --manifest-path "$crate/Cargo.toml" \
        >"$OUT/logs/prebuild-$1-check.log" 2>&1 || die "prebuilding $1 (check) failed: logs/prebuild-$1-check.log"
    if [[ $RELEASE == 1 ]]; then
        CARGO_TARGET_DIR=$3 "${NICE[@]}" cargo build --release --offline --manifest-path "$crate/Cargo.toml" \
            >"$OUT/logs/prebuild-$1-release.log" 2>&1 || die "prebuilding $1 (release) failed"
    fi
}

# generated_crate KEY GEN_DIR DEPENDENCIES: the generated code as `pub mod gen` of a library crate.
generated_crate() {
    local crate="$OUT/crates/$1"
    rm -rf "$crate"
    new_crate "$crate" "codegen_bench_$(echo "$1" | tr - _)" "$3"
    cp -r "$2" "$crate/gen"
    printf '//! Generated code of the codegen benchmark corpus.\n#[path = "../gen/mod.rs"]\npub mod gen;\n' \
        >"$crate/src/lib.rs"
}

generated_crate ours-nojson "$OUT/gen/ours-nojson" "$OURS_DEPS"
generated_crate ours-json "$OUT/gen/ours-json" "$OURS_DEPS"
generated_crate tonic "$OUT/gen/tonic" "$TONIC_DEPS"

# One target directory per side, with the dependencies built first; each generated crate is its own package,
# so nothing of one is reused by the next, and the crates are compiled one after the other.
prebuild ours "$OURS_DEPS" "$OUT/target-ours"
prebuild tonic "$TONIC_DEPS" "$OUT/target-tonic"

log "cargo check of the generated crates"
compile check-ours-nojson "$OUT/crates/ours-nojson" "$OUT/target-ours" check
compile check-ours-json "$OUT/crates/ours-json" "$OUT/target-ours" check
compile check-tonic "$OUT/crates/tonic" "$OUT/target-tonic" check
if [[ $RELEASE == 1 ]]; then
    log "cargo build --release of the generated crates"
    compile release-ours-nojson "$OUT/crates/ours-nojson" "$OUT/target-ours" release
    [[ $RELEASE_JSON == 1 ]] && compile release-ours-json "$OUT/crates/ours-json" "$OUT/target-ours" release
    compile release-tonic "$OUT/crates/tonic" "$OUT/target-tonic" release
fi

echo "whole run: $(( ($(date +%s) - START) / 60 )) min wall" >>"$META"
python3 "$HERE/report.py" "$OUT" | tee "$OUT/table.md"
