# Helpers shared by the client libraries. Sourced by run.sh and by scenario.sh (one scenario
# per process, under `timeout`, with `set -e`).

fail() { echo "FAIL: $*" >&2; exit 1; }
# eq GOT WANT WHAT
eq() { [ "$1" = "$2" ] || fail "$3: got [$1] want [$2]"; }
# has TEXT NEEDLE WHAT
has() { case "$1" in *"$2"*) ;; *) fail "$3: [$1] does not contain [$2]" ;; esac; }
# hasnt TEXT NEEDLE WHAT
hasnt() { case "$1" in *"$2"*) fail "$3: [$1] contains [$2]" ;; esac; }
# rc_of CMD...: prints the exit code of CMD (its output goes to stderr so logs keep it)
rc_of() { local rc=0; "$@" >&2 || rc=$?; echo "$rc"; }
note() { echo "--- $*" >&2; }

# wait_for SECONDS CMD...: retry CMD until it succeeds
wait_for() {
  local t=$1; shift
  local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.2
  done
}

# The runtime binary the clients call, under the argv-logging wrapper of this client.
runtime_wrapper() { echo "$WORK/bin/$CLIENT/$RUNTIME/$RUNTIME"; }
runtime_real() { if [ "$RUNTIME" = hull ]; then echo "$HULL"; else echo "$RUNC"; fi; }

# make_wrapper CLIENT RUNTIME [ROOT]: a script named after the runtime that logs its argv (one
# line, shell-quoted) to $WORK/argv/CLIENT.RUNTIME.log and execs the real binary. With ROOT,
# calls that pass no --root get --root ROOT, so a client that relies on the default root (podman)
# still keeps its state out of /run.
make_wrapper() {
  local client=$1 rt=$2 root=${3:-} real
  if [ "$rt" = hull ]; then real=$HULL; else real=$RUNC; fi
  mkdir -p "$WORK/bin/$client/$rt" "$WORK/argv"
  cat >"$WORK/bin/$client/$rt/$rt" <<WRAP
#!/bin/bash
# one O_APPEND write per call, so concurrent calls do not interleave
line=\$(printf '%q ' "\$@")
echo "\$line" >>'$WORK/argv/$client.$rt.log'
root='$root'
for a in "\$@"; do case "\$a" in --root | --root=*) root= ;; esac; done
[ -z "\$root" ] || exec '$real' --root "\$root" "\$@"
exec '$real' "\$@"
WRAP
  chmod 755 "$WORK/bin/$client/$rt/$rt"
}

# no_cgroup_left ID: no cgroup directory in any hierarchy whose name contains ID
no_cgroup_left() {
  local left
  left=$(find /sys/fs/cgroup/ -maxdepth 5 -type d -name "*$1*" 2>/dev/null || true)
  [ -z "$left" ] || fail "cgroups left behind for $1: $left"
}

# no_state_left ROOT ID: the runtime has no state for ID under ROOT
no_state_left() {
  local root=$1 id=$2 out
  out=$("$(runtime_real)" --root "$root" list -q 2>/dev/null || true)
  hasnt "$out" "$id" "runtime state under $root"
  [ ! -e "$root/$id" ] || fail "state dir $root/$id left behind"
}

# rmdir_cgroups NAME: remove the cgroup tree /NAME in every hierarchy (deepest first)
rmdir_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
    [ -d "$d" ] || continue
    if [ "$(stat -f -c %T "$d")" = tmpfs ]; then
      # not a cgroup: podman's conmon makes plain dirs (with a "tasks" file) for controllers
      # that are not mounted here (hugetlb, net_cls, net_prio, perf_event)
      rm -rf "$d"
      continue
    fi
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
}
