#!/usr/bin/env bash
# Run every test (as root: the tests create real containers). Prints cargo's summary lines,
# then the client table of integration/run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (the tests create containers)" >&2; exit 1; }
export RUST_BACKTRACE=1
cargo build --workspace --quiet
cargo test --workspace -- --test-threads=2
# hull driven by containerd (ctr), podman and dockerd, next to runc (about 3 minutes here);
# HULL_SKIP_CLIENTS=1 skips it.
if [ -z "${HULL_SKIP_CLIENTS:-}" ]; then
  bash integration/run.sh all
fi
