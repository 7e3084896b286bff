#!/usr/bin/env bash
# Pull benchmark: dock vs `skopeo copy docker://... oci:...` from a local docker-registry
# (5 layers, 200 MiB, made offline). Needs the Debian packages docker-registry and skopeo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p dock --bin dock --example bench_pull --quiet
DOCK_BIN="$PWD/target/release/dock" RUNS="${RUNS:-3}" target/release/examples/bench_pull
