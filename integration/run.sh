#!/usr/bin/env bash
# Drive hull (and runc, for comparison) through real container engines:
#   integration/run.sh [containerd|podman|docker|cri|all]
# Installs the Debian packages it needs, builds hull and an offline busybox image, starts each
# daemon on private sockets/roots/state dirs, runs every scenario with RUNTIME=hull and
# RUNTIME=runc, prints one table, and removes everything it made (trap), even on failure.
# The argv of every runtime call is logged per client to $WORK/argv/CLIENT.RUNTIME.log and
# summarised at the end. KEEP=1 keeps $WORK for inspection (daemons are still stopped).
set -euo pipefail
INT=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$INT")
export INT REPO
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root" >&2; exit 1; }

what=${1:-all}
case "$what" in
  all) CLIENTS="containerd podman docker cri" ;;
  containerd | podman | docker | cri) CLIENTS=$what ;;
  *) echo "usage: $0 [containerd|podman|docker|cri|all]" >&2; exit 2 ;;
esac
RUNTIMES=${RUNTIMES:-"hull runc"}
ONLY=${ONLY:-} # a space-separated list of scenarios to run (default: all)
start_time=$SECONDS

# Packages: the clients, their helpers, and what the scripts use.
need="busybox-static python3 bsdutils bsdextrautils procps curl"
for c in $CLIENTS; do
  case $c in
    containerd) need="$need containerd runc" ;;
    podman) need="$need podman conmon runc containernetworking-plugins" ;;
    docker) need="$need docker.io containerd runc" ;;
    cri) need="$need containerd runc python3-venv" ;;
  esac
done
missing=""
for p in $need; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "run.sh: installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ -z "${HULL:-}" ]; then
  HULL=$("$REPO/scripts/build-release.sh")
fi
RUNC=${RUNC:-$(command -v runc)}
export HULL RUNC

WORK=$(mktemp -d /tmp/hullint.XXXXXX)
export WORK
: >"$WORK/pids"
RESULTS=$WORK/results
: >"$RESULTS"
mkdir -p "$WORK/logs"

cleanup() {
  local rc=$? c
  set +e
  trap - EXIT INT TERM
  if [ -n "$SCEN_PID" ]; then
    kill -TERM -- "-$SCEN_PID" 2>/dev/null
    sleep 1
    kill -KILL -- "-$SCEN_PID" 2>/dev/null
  fi
  for c in $STARTED; do "${c}_down" >/dev/null 2>&1; done
  # any daemon we started and that is still alive
  for p in $(cat "$WORK/pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  # our cgroup trees once more: a conmon or shim killed just before may not have been reaped
  # when its client's cleanup ran
  sleep 1
  for cg in hullint hullint_podman hullint_docker hullint_cri; do rmdir_cgroups $cg; done
  for d in /sys/fs/cgroup/*; do
    grep -qx "${d##*/}" <<<"$CG_BEFORE" && continue
    [ "$(stat -f -c %T "$d")" = tmpfs ] && rmdir "$d" 2>/dev/null
  done
  # mounts under the work dir, deepest first
  grep -o " $WORK[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for d in $RUN_DIRS; do rmdir "$d" 2>/dev/null; done
  if [ -n "${KEEP:-}" ]; then echo "run.sh: kept $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
# Directories under /run that the daemons create whatever their options (containerd 1.6 puts
# shim sockets in /run/containerd/s): removed at the end if this run made them and they are empty.
RUN_DIRS=""
for d in /run/containerd/s /run/containerd/fifo /run/containerd /run/runc; do
  [ -e "$d" ] || RUN_DIRS="$RUN_DIRS $d"
done
# /sys/fs/cgroup entries before the run (podman may add plain dirs for unmounted controllers)
CG_BEFORE=$(ls /sys/fs/cgroup)
STARTED=""
SCEN_PID=
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$INT/lib/common.sh"
python3 "$INT/lib/mkimage.py" "$(command -v busybox)" "$WORK/busybox.tar"

for c in $CLIENTS; do
  . "$INT/lib/$c.sh"
  scen_var="$(echo "$c" | tr a-z A-Z | sed 's/CONTAINERD/CTR/;s/PODMAN/POD/;s/DOCKER/DOCK/;s/^CRI$/CRI/')_SCENARIOS"
  scenarios=${!scen_var}
  STARTED="$STARTED $c"
  why=$(CLIENT=$c "${c}_up" 2>&1) || {
    echo "run.sh: $c cannot run on this machine: $why" >&2
    for s in $scenarios; do echo "$c/$s FAIL($c-unavailable) FAIL($c-unavailable)" >>"$RESULTS"; done
    "${c}_down" >/dev/null 2>&1 || true
    continue
  }
  for s in $scenarios; do
    if [ -n "$ONLY" ] && ! [[ " $ONLY " == *" $s "* ]]; then continue; fi
    line="$c/$s"
    for rt in $RUNTIMES; do
      log=$WORK/logs/$c.$s.$rt.log
      rc=0
      # in the background, so a signal to run.sh runs the cleanup trap at once; timeout makes
      # its own process group, which the cleanup kills
      RUNTIME=$rt timeout -k 10 "${SCENARIO_TIMEOUT:-120}" bash "$INT/lib/scenario.sh" "$c" "$s" >"$log" 2>&1 &
      SCEN_PID=$!
      wait $SCEN_PID || rc=$?
      SCEN_PID=
      if [ $rc = 0 ]; then res=pass; elif [ $rc = 124 ]; then res=TIMEOUT; else res=FAIL; fi
      line="$line $res"
      if [ $res != pass ]; then
        echo "== $c/$s with $rt: $res; log:" >&2
        tail -15 "$log" | sed 's/^/   /' >&2
      fi
    done
    echo "$line" >>"$RESULTS"
  done
  "${c}_down" >/dev/null 2>&1 || true
  STARTED=${STARTED% $c}
done

echo
{
  echo "scenario $RUNTIMES"
  cat "$RESULTS"
} | column -t
echo
python3 "$INT/lib/argv_summary.py" "$WORK/argv"
echo
echo "run.sh: $((SECONDS - start_time))s"
# fail when hull fails anything, or when runc fails (the scenario or the machine is broken)
! grep -qE ' (FAIL|TIMEOUT)' "$RESULTS"
