#!/usr/bin/env bash
# One command for the benchmark table: installs runc, crun, hyperfine, strace, time and
# busybox-static, builds hull in release mode (scripts/build-release.sh: static-pie), and runs bench.py with every runtime inside the
# same private mount namespace with /sys/fs/cgroup/unified unmounted.
# usage: sudo bench/run.sh [--runs N] [--with-youki]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
need=""
for p in runc crun strace time busybox-static linux-libc-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
hull=$("$here/scripts/build-release.sh")
exec unshare --mount --propagation private sh -c \
  'umount /sys/fs/cgroup/unified 2>/dev/null || true; h=$1; shift; exec python3 "$0" --hull "$h" "$@"' \
  "$here/bench/bench.py" "$hull" "$@"
