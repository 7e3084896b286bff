#!/usr/bin/env bash
# Run every test (as root: the tests create real containers). Prints cargo's summary lines,
# then the client table of integration/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (the tests create containers)" >&2; exit 1; }
export RUST_BACKTRACE=1
# Every suite drives the binary we ship: the static release build (scripts/build-release.sh).
# Unit tests still run in the debug build, with its overflow checks.
HULL_TEST_BINARY=$(scripts/build-release.sh)
export HULL_TEST_BINARY
cargo build --workspace --quiet
cargo test --workspace -- --test-threads=2
# Coverage-guided fuzzing (cargo fuzz) of the config loader/validator and dock's reference and
# manifest parsers, 20 s per target; fails on any crash. Its build directory is kept outside
# the clone so that a later run rebuilds only hull, dock and the targets. HULL_SKIP_FUZZ=1
# skips it.
if [ -z "${HULL_SKIP_FUZZ:-}" ]; then
  HULL_FUZZ_TARGET_DIR=${HULL_FUZZ_TARGET_DIR:-/var/cache/hull/fuzz-target} bash scripts/fuzz.sh 20
fi
# The OCI conformance suite against hull. Fails on any hull failure not listed in
# oci-conformance/expected-failures.txt. (Side by side with runc and crun: see
# oci-conformance/README.md; CI runs hull alone to keep its time down.)
timeout 900 target/debug/oci-conformance --runtime "$HULL_TEST_BINARY" --expected-failures oci-conformance/expected-failures.txt
# hull driven by containerd (ctr), podman, dockerd and the CRI, next to runc (about 2.5 min);
# HULL_SKIP_CLIENTS=1 skips it.
if [ -z "${HULL_SKIP_CLIENTS:-}" ]; then
  HULL=$HULL_TEST_BINARY bash integration/run.sh all
fi
