#!/usr/bin/env bash
# Builds the fuzz targets once and runs each for a while (the test command's fuzz step; RELIABILITY.md,
# "Fuzzing", has the longer run):
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET [TARGET...]]      (default: 5 seconds, every target)
#
# A target reads its seeds (seeds/<target>, committed) and its corpus (corpus/<target>, grown by earlier
# runs, not committed). A crash, a failed property or a hang is written to artifacts/<target>/ and fails
# the run; the target binary run on that file replays it. Prints the executions per target.
#
# Needs the nightly toolchain and cargo-fuzz from tests/env/setup.sh ($RSGRPC_TEST_ENV_DIR/cargo/bin).
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$FUZZ_DIR/.." && pwd)"
ENV_DIR="${RSGRPC_TEST_ENV_DIR:-$ROOT/target/test-env}"
export PATH="$ENV_DIR/cargo/bin:$PATH"

fail() {
    printf '[fuzz] ERROR: %s\n' "$*" >&2
    exit 1
}

command -v cargo-fuzz >/dev/null 2>&1 \
    || fail "cargo-fuzz is not in $ENV_DIR/cargo/bin: run bash tests/env/setup.sh (it installs the pinned version)"
seconds="${1:-5}"
[ "$#" -gt 0 ] && shift
cd "$FUZZ_DIR"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
[ "${#targets[@]}" -gt 0 ] || fail "no fuzz targets found in $FUZZ_DIR"

# No sanitizer: the code under test is safe Rust, and ASan would double the build and slow every run;
# overflow checks and debug assertions stay on in both builds.
# The dev build (Cargo.toml's profiles) for the short runs; RSGRPC_FUZZ_RELEASE=1 for the optimised one the
# longer runs want (cargo-fuzz's release build: opt-level 3, one codegen unit).
# RSGRPC_FUZZ_TARGET_DIR: where to build (default fuzz/target), e.g. to time a build from scratch.
target_dir="${RSGRPC_FUZZ_TARGET_DIR:-$FUZZ_DIR/target}"
if [ "${RSGRPC_FUZZ_RELEASE:-0}" = 1 ]; then
    build_flags=(--release) profile_dir=release
else
    build_flags=(--dev) profile_dir=debug
fi
start=$SECONDS
cargo +nightly fuzz build -s none "${build_flags[@]}" --target-dir "$target_dir" \
    || fail "cargo +nightly fuzz build failed"
printf '[fuzz] built %d targets (%s) in %ds\n' "${#targets[@]}" "$profile_dir" "$((SECONDS - start))"

host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
bin_dir="$target_dir/$host/$profile_dir"
for target in "${targets[@]}"; do
    [ -x "$bin_dir/$target" ] || fail "no fuzz target binary $bin_dir/$target"
    mkdir -p "corpus/$target" "artifacts/$target" "seeds/$target"
    log="artifacts/$target/last-run.log"
    # -timeout: one input running for 20 s is a hang, reported like a crash.
    if ! "$bin_dir/$target" "corpus/$target" "seeds/$target" -max_total_time="$seconds" -timeout=20 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        fail "target $target failed (log: fuzz/$log; replay: $bin_dir/$target <the crash file it names>)"
    fi
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    printf '[fuzz] %-16s %9s executions in %ss, no crash\n' "$target" "${runs:-?}" "$seconds"
done
