#!/usr/bin/env bash
# Build an OCI bundle from Debian's busybox-static: DIR/rootfs with busybox and its applet
# links, a minimal /etc, and DIR/config.json from `hull spec` set up to run ARGS (default
# `sh`) without a terminal. No network is needed.
# usage: scripts/busybox-bundle.sh DIR [HULL] [ARGS...]
set -euo pipefail
dir=${1:?usage: busybox-bundle.sh DIR [HULL] [ARGS...]}
hull=${2:-hull}
shift $(( $# >= 2 ? 2 : $# ))
bb=$(command -v busybox || true)
if [ -z "$bb" ] || ! file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
  bb=/bin/busybox
fi
[ -x "$bb" ] || { echo "busybox-bundle: no busybox; install the busybox-static package" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir/rootfs"/{bin,sbin,etc,proc,sys,dev,tmp,root,usr/bin,usr/sbin}
cp "$bb" "$dir/rootfs/bin/busybox"
for app in $("$dir/rootfs/bin/busybox" --list); do
  [ "$app" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$app"
done
chmod 1777 "$dir/rootfs/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/rootfs/etc/group"
"$hull" spec --bundle "$dir"
args_json=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:] or ["sh"]))' "$@")
python3 - "$dir/config.json" "$args_json" <<'PY'
import json, sys
path, args = sys.argv[1], json.loads(sys.argv[2])
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = args
json.dump(c, open(path, "w"), indent=2)
PY
