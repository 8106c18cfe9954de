#!/usr/bin/env bash
# The rsgrpc test command: bash tests/run.sh [-- <args for cargo test>]
# Sets up the external test tools, then runs fmt, clippy and the test suite.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Where tests/env/setup.sh puts buf and python; tests read RSGRPC_TEST_ENV.
export RSGRPC_TEST_ENV_DIR="${RSGRPC_TEST_ENV_DIR:-$ROOT/target/test-env}"
export RSGRPC_TEST_ENV="$RSGRPC_TEST_ENV_DIR"

if [ "${1-}" = "--" ]; then shift; fi

# The test command builds once: incremental caches would double the disk the build takes (2.5 GB) for nothing.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '==> %s\n' "$*"; }

step "test environment (tests/env/setup.sh)"
bash "$ROOT/tests/env/setup.sh"

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

# --all-features: the benchmark against tonic (feature bench) is checked too, not only when run.
step "cargo clippy --workspace --all-targets --all-features -- -D warnings"
cargo clippy --workspace --all-targets --all-features -- -D warnings

# The runtime's documented feature combinations (README, "Cargo features") each build.
for features in "--no-default-features" "--no-default-features --features transport" "--no-default-features --features tls" "--no-default-features --features gzip" "--no-default-features --features gateway" "--features gateway" "--no-default-features --features serde" "--no-default-features --features jwt" "--features otel" "--no-default-features --features tower"; do
    step "cargo check -p rsgrpc $features"
    # shellcheck disable=SC2086
    cargo check -q -p rsgrpc $features
done
# What the runtime does with TLS and gzip left out (an https:// target refused, only identity offered).
step "cargo test -p rsgrpc --lib --no-default-features --features transport"
cargo test -q -p rsgrpc --lib --no-default-features --features transport

step "cargo test --workspace $*"
cargo test --workspace "$@"

# Short fuzz runs of every target, after the tests (fuzz/run.sh; RELIABILITY.md, "Fuzzing", has the longer
# run). RSGRPC_FUZZ_SECONDS sets the seconds per target.
step "fuzz targets, ${RSGRPC_FUZZ_SECONDS:-5}s each (fuzz/run.sh)"
bash "$ROOT/fuzz/run.sh" "${RSGRPC_FUZZ_SECONDS:-5}"
