#!/usr/bin/env bash
# Install what hull's build and tests need on a fresh Debian 12 machine (as root).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
pkgs=$(grep -v '^\s*#' "$here/.ci/packages" | tr '\n' ' ')
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found (install Rust with rustup)" >&2; exit 1; }
