#!/usr/bin/env bash
# Run benchmark (root): unpack of a 5-layer 200 MiB image, `dock create` vs `umoci unpack`;
# `dock run --rm busybox true` vs `podman run --rm --runtime runc busybox true`. One run prints
# both medians and the ratios. Needs the Debian packages umoci, podman, runc, skopeo and
# busybox-static (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
for p in umoci podman runc skopeo busybox-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
cargo build --release -p dock --bin dock --example bench_run --quiet
DOCK_BIN="$PWD/target/release/dock" RUNS="${RUNS:-5}" target/release/examples/bench_run
