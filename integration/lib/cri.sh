# Kubernetes' path: containerd 1.6's CRI plugin (its own containerd instance) with a runtime
# handler per runtime (runc.v2 shim, BinaryName = the wrapper, private Root), driven by
# lib/cri.py, a small gRPC client over the CRI runtime.v1 API (the CRI api.proto from the k8s-cri crate, fetched at run time; grpcio from
# PyPI in a venv under .ci/cache). Host-network pods: there is no CNI here.

CRI_DIR=$WORK/cri
CRI_SOCK=$CRI_DIR/containerd.sock
CRI_SCENARIOS="pod bad-entrypoint"
CRI_VENV=${CRI_VENV:-$REPO/.ci/cache/hullint-venv}

# The CRI runtime.v1 API definition is not kept in this repository: it is taken at run time
# from the k8s-cri crate (crates.io), which ships Kubernetes' api.proto.
cri_proto() {
  local out=$CRI_DIR/proto/api.proto cargo_home=${CARGO_HOME:-$HOME/.cargo} crate tmp
  [ -s "$out" ] && return 0
  crate=$(ls "$cargo_home"/registry/cache/*/k8s-cri-0.11.0.crate 2>/dev/null | head -1)
  if [ -z "$crate" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && cargo init -q --name crifetch && cargo add -q k8s-cri@=0.11.0 && cargo fetch -q) || { rm -rf "$tmp"; return 1; }
    rm -rf "$tmp"
    crate=$(ls "$cargo_home"/registry/cache/*/k8s-cri-0.11.0.crate 2>/dev/null | head -1)
  fi
  [ -n "$crate" ] || return 1
  mkdir -p "$CRI_DIR/proto"
  tar -xzOf "$crate" k8s-cri-0.11.0/proto/v1.proto > "$out"
}

cri_up() {
  command -v containerd >/dev/null || { echo "containerd not installed"; return 1; }
  mkdir -p "$CRI_DIR"/{root,state,cni-conf,cni-bin,rt-hull,rt-runc}
  if ! "$CRI_VENV/bin/python" -c 'import grpc, grpc_tools' 2>/dev/null; then
    python3 -m venv "$CRI_VENV" && "$CRI_VENV/bin/pip" install -q grpcio grpcio-tools ||
      { echo "cannot install grpcio/grpcio-tools from PyPI into $CRI_VENV"; return 1; }
  fi
  cri_proto || { echo "cannot get the CRI API definition (k8s-cri 0.11.0 from crates.io)"; return 1; }
  mkdir -p "$CRI_DIR/gen"
  (cd "$CRI_DIR/proto" && "$CRI_VENV/bin/python" -m grpc_tools.protoc -I. --python_out="$CRI_DIR/gen" \
    --grpc_python_out="$CRI_DIR/gen" api.proto) || { echo "protoc of the CRI api.proto failed"; return 1; }
  for rt in hull runc; do make_wrapper cri $rt; done
  cat >"$CRI_DIR/config.toml" <<CONF
version = 2
root = "$CRI_DIR/root"
state = "$CRI_DIR/state"
[grpc]
  address = "$CRI_SOCK"
[ttrpc]
  address = "$CRI_SOCK.ttrpc"
[debug]
  address = "$CRI_DIR/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/library/busybox:pause"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # no CAP_SYS_RESOURCE here: the sandbox's oomScoreAdj -998 cannot be set; clamp it to ours
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CRI_DIR/cni-bin"
    conf_dir = "$CRI_DIR/cni-conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hull.options]
        BinaryName = "$WORK/bin/cri/hull/hull"
        Root = "$CRI_DIR/rt-hull"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$WORK/bin/cri/runc/runc"
        Root = "$CRI_DIR/rt-runc"
CONF
  containerd --config "$CRI_DIR/config.toml" >"$CRI_DIR/containerd.log" 2>&1 &
  echo $! >"$CRI_DIR/pid"
  echo $! >>"$WORK/pids"
  wait_for 30 ctr -a "$CRI_SOCK" version || { tail -20 "$CRI_DIR/containerd.log"; echo "containerd (CRI) did not come up"; return 1; }
  ctr -a "$CRI_SOCK" -n k8s.io images import "$WORK/busybox.tar" >/dev/null || { echo "ctr images import failed"; return 1; }
}

cri_shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "containerd-shim.*$CRI_SOCK" && echo "${p#/proc/}"
  done
  return 0
}

cri_cleanup() { :; } # cri.py removes its pod itself

cri_down() {
  local id rt real
  for id in $(ctr -a "$CRI_SOCK" -n k8s.io task ls -q 2>/dev/null); do
    ctr -a "$CRI_SOCK" -n k8s.io task kill -s SIGKILL --all "$id" >/dev/null 2>&1
    ctr -a "$CRI_SOCK" -n k8s.io task delete -f "$id" >/dev/null 2>&1
  done
  for rt in hull runc; do
    real=$HULL; [ $rt = runc ] && real=$RUNC
    for id in $("$real" --root "$CRI_DIR/rt-$rt/k8s.io" list -q 2>/dev/null); do
      "$real" --root "$CRI_DIR/rt-$rt/k8s.io" delete --force "$id" >/dev/null 2>&1
    done
  done
  for id in $(cri_shim_pids); do kill -9 "$id" 2>/dev/null; done
  [ -f "$CRI_DIR/pid" ] && kill "$(cat "$CRI_DIR/pid")" 2>/dev/null
  sleep 1
  [ -f "$CRI_DIR/pid" ] && kill -9 "$(cat "$CRI_DIR/pid")" 2>/dev/null
  grep -o " $CRI_DIR[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rmdir_cgroups hullint_cri
  return 0
}

cri_nothing_left() {
  local out
  out=$("$(runtime_real)" --root "$CRI_DIR/rt-$RUNTIME/k8s.io" list -q 2>/dev/null || true)
  eq "$out" "" "runtime state under $CRI_DIR/rt-$RUNTIME/k8s.io"
  out=$(find /sys/fs/cgroup/*/hullint_cri/"$ID" -mindepth 1 -type d 2>/dev/null || true)
  eq "$out" "" "container cgroups under /hullint_cri/$ID"
  eq "$(cri_shim_pids)" "" "shims left"
}

cri_pod() {
  "$CRI_VENV/bin/python" "$INT/lib/cri.py" "$CRI_SOCK" "$CRI_DIR/gen" "$RUNTIME" pod "$ID"
  cri_nothing_left
}

cri_bad_entrypoint() {
  "$CRI_VENV/bin/python" "$INT/lib/cri.py" "$CRI_SOCK" "$CRI_DIR/gen" "$RUNTIME" bad-entrypoint "$ID"
  cri_nothing_left
}
