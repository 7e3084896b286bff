#!/usr/bin/env bash
# The main job on a fresh machine: build hull, make a busybox bundle offline, run a container.
# usage: sudo scripts/demo.sh [ARGS...]   (default: a short report from inside the container)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
hull=$("$here/scripts/build-release.sh")
bundle=$(mktemp -d /tmp/hull-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
if [ $# -eq 0 ]; then
  set -- sh -c 'echo "hello from $(hostname): pid $$, uid $(id -u)"; ls /; cat /proc/self/cgroup | head -3'
fi
"$here/scripts/busybox-bundle.sh" "$bundle" "$hull" "$@"
cd "$bundle"
exec "$hull" run "demo-$$"
