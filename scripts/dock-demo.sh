#!/usr/bin/env bash
# dock on a fresh machine with no network: build busybox:latest from Debian's busybox-static
# into a scratch data root, then run it. As root (containers need namespaces and mounts).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ -x /bin/busybox ] || { echo "dock-demo: /bin/busybox missing: apt-get install busybox-static (or scripts/setup.sh)" >&2; exit 1; }
cargo build -q --release -p dock --manifest-path "$here/Cargo.toml"
dock="$here/target/release/dock"
root=$(mktemp -d /tmp/dock-demo.XXXXXX)
cleanup() {
  for id in $("$dock" --root "$root" ps -a -q --no-trunc 2>/dev/null); do
    "$dock" --root "$root" rm -f "$id" >/dev/null 2>&1 || true
  done
  rm -rf "$root"
}
trap cleanup EXIT
d() { echo "+ dock $*" >&2; "$dock" --root "$root" "$@"; }

d import-busybox
d images
d run --rm busybox echo hello
d run --rm -e GREETING=hi -w /tmp -u nobody busybox sh -c 'echo "$GREETING from $(pwd) as $(id -un)"'
set +e; d run --rm busybox sh -c 'exit 42'; echo "exit code: $?"; set -e
id=$(d run -d --name demo busybox sh -c 'echo up; while true; do sleep 1; done')
d ps
d exec demo sh -c 'echo "exec sees: $(cat /etc/hostname)"'
d logs demo
d stop -t 1 demo
d ps -a
d rm demo
