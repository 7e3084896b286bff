# podman 4.3 + conmon: cgroupfs manager, file events, --network none, a private
# --root/--runroot/--tmpdir, containers.conf through CONTAINERS_CONF; the runtime's own --root
# is added by the wrapper (podman passes none).

POD_DIR=$WORK/podman
POD_SCENARIOS="run-rm exit-codes stdin tty user workdir-env options seccomp-profile tmpfs-copyup memory pids-limit exec exec-tty pause-unpause stop rm-f inspect-state bad-entrypoint bad-user bad-exec-id"
POD_CGPARENT=hullint_podman
export CONTAINERS_CONF=$POD_DIR/containers.conf
export CONTAINERS_STORAGE_CONF=$POD_DIR/storage.conf
export CONTAINERS_REGISTRIES_CONF=$POD_DIR/registries.conf

podman_up() {
  command -v podman >/dev/null && command -v conmon >/dev/null || { echo "podman or conmon not installed"; return 1; }
  mkdir -p "$POD_DIR"/{root,runroot,tmp,cni,volumes,rt-hull,rt-runc}
  # podman passes no --root (and `podman container cleanup`, run by conmon, drops
  # --runtime-flag): the wrapper adds a private one
  for rt in hull runc; do make_wrapper podman $rt "$POD_DIR/rt-$rt"; done
  cat >"$CONTAINERS_CONF" <<CONF
[containers]
# root's hard RLIMIT_NOFILE is 20000 here and there is no CAP_SYS_RESOURCE
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
log_driver = "k8s-file"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$POD_DIR/events.log"
tmp_dir = "$POD_DIR/tmp"
volume_path = "$POD_DIR/volumes"
conmon_path = ["$(command -v conmon)"]
runtime = "runc"
# podman passes --log-format=json only to the runtimes listed here
runtime_supports_json = ["crun", "runc", "hull"]
[engine.runtimes]
hull = ["$WORK/bin/podman/hull/hull"]
runc = ["$WORK/bin/podman/runc/runc"]
[network]
network_backend = "cni"
network_config_dir = "$POD_DIR/cni"
CONF
  cat >"$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "vfs"
graphroot = "$POD_DIR/root"
runroot = "$POD_DIR/runroot"
CONF
  echo 'unqualified-search-registries = []' >"$CONTAINERS_REGISTRIES_CONF"
  RUNTIME=runc P load -i "$WORK/busybox.tar" >"$POD_DIR/load.log" 2>&1 || { cat "$POD_DIR/load.log"; echo "podman load failed"; return 1; }
  RUNTIME=runc P image exists $PIMG || { RUNTIME=runc P images; echo "image $PIMG missing after load"; return 1; }
}

PIMG=localhost/busybox:int
P() {
  podman --root "$POD_DIR/root" --runroot "$POD_DIR/runroot" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file --tmpdir "$POD_DIR/tmp" \
    --runtime "${RUNTIME:-runc}" "$@"
}
# podman run with the options every scenario needs
PR() { P run --network none --pull never --cgroup-parent "/$POD_CGPARENT" "$@"; }
pty() { script -qefc "$*" /dev/null; }
# the same, as a string for script(1)
pod_cmd() {
  echo "podman --root $POD_DIR/root --runroot $POD_DIR/runroot --storage-driver vfs --cgroup-manager cgroupfs --events-backend file --tmpdir $POD_DIR/tmp --runtime $RUNTIME"
}
pstate() { P inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1"; }
pcgroup() { # pcgroup CTRL NAME: host cgroup dir of container NAME in controller CTRL
  local cid
  cid=$(P inspect -f '{{.Id}}' "$2")
  find "/sys/fs/cgroup/$1/" -maxdepth 3 -type d -name "*$cid*" | head -1
}

podman_cleanup() {
  local n
  for n in $(P ps -a --format '{{.Names}}' 2>/dev/null | grep "^$ID" || true); do
    P rm -f -t 0 "$n" >/dev/null 2>&1 || true
  done
}

podman_down() {
  local rt n
  for rt in hull runc; do
    for n in $(RUNTIME=$rt P ps -a --format '{{.Names}}' 2>/dev/null | grep "^$rt-" || true); do
      RUNTIME=$rt P rm -f -t 0 "$n" >/dev/null 2>&1 || true
    done
    local real=$HULL; [ $rt = runc ] && real=$RUNC
    for n in $("$real" --root "$POD_DIR/rt-$rt" list -q 2>/dev/null); do
      "$real" --root "$POD_DIR/rt-$rt" delete --force "$n" >/dev/null 2>&1 || true
    done
  done
  # conmon processes of our containers (their command line names our dirs)
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "conmon.*$POD_DIR" && kill -9 "${p#/proc/}" 2>/dev/null
  done
  RUNTIME=runc P rmi -af >/dev/null 2>&1 || true
  sleep 1 # let the killed conmons be reaped before their cgroups are removed
  grep -o " $POD_DIR[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rmdir_cgroups "$POD_CGPARENT"
  return 0
}

# Nothing of container NAME left: not in podman, no runtime state, no cgroup, no conmon.
podman_nothing_left() {
  local out
  out=$(P ps -a --format '{{.Names}}')
  hasnt "$out" "$1" "podman containers"
  out=$("$(runtime_real)" --root "$POD_DIR/rt-$RUNTIME" list -q 2>/dev/null || true)
  eq "$out" "" "runtime state under $POD_DIR/rt-$RUNTIME"
  out=$(pod_cgroups)
  eq "$out" "$(cat "$WORK/cg.$ID")" "container cgroups under /$POD_CGPARENT"
}
pod_cgroups() { find /sys/fs/cgroup/*/$POD_CGPARENT -mindepth 1 -maxdepth 1 -type d -name 'libpod-*' 2>/dev/null | sort || true; }
# scenario.sh calls this first: the cgroups that exist before the scenario
podman_begin() { pod_cgroups >"$WORK/cg.$ID"; }

podman_run_rm() {
  local out
  out=$(PR --rm --name "$ID" $PIMG echo hello)
  eq "$out" hello "output of echo"
  podman_nothing_left "$ID"
}

podman_exit_codes() {
  local rc
  rc=$(rc_of PR --name "$ID" $PIMG sh -c 'exit 9')
  eq "$rc" 9 "exit code of podman run"
  eq "$(pstate "$ID")" "exited 9" "inspect after exit"
  P rm "$ID" >/dev/null
  rc=$(rc_of PR --rm --name "$ID-s" $PIMG sh -c 'kill -9 $$; sleep 5')
  # init ignores signals it has no handler for, even SIGKILL from inside: the sleep ends it
  eq "$rc" 0 "exit code of pid 1 after a self-SIGKILL"
  podman_nothing_left "$ID"
}

podman_stdin() {
  local out
  out=$( (sleep 1; printf 'in1\nin2\n') | PR --rm -i --name "$ID" $PIMG sh -c 'cat; echo done')
  eq "$out" "in1
in2
done" "stdin through -i"
}

podman_tty() {
  local out rc=0
  pty "$(pod_cmd) run --network none --pull never --cgroup-parent /$POD_CGPARENT --rm -t --name $ID $PIMG sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo isatty; exit 3'" >"$WORK/out.$ID" </dev/null || rc=$?
  out=$(tr -d '\r' <"$WORK/out.$ID")
  echo "$out" >&2
  has "$out" "/dev/pts/0" "tty inside"
  has "$out" "isatty" "stdin and stdout are terminals"
  eq "$rc" 3 "exit code through -t"
}

podman_user() {
  local out
  out=$(PR --rm -u 1000:1000 --name "$ID" $PIMG id)
  has "$out" "uid=1000(user) gid=1000(user)" "-u 1000:1000"
  out=$(PR --rm -u nobody --name "$ID" $PIMG id -u)
  eq "$out" 65534 "-u nobody"
  out=$(PR --rm -u user --name "$ID" $PIMG id -G)
  eq "$out" "1000 2000" "supplementary groups of user from /etc/group"
}

podman_workdir_env() {
  local out
  out=$(PR --rm -w /work -e FOO=bar -e IMGVAR=over --name "$ID" $PIMG sh -c 'echo "$FOO $IMGVAR"; pwd')
  eq "$out" "bar over
/work" "-w and -e"
}

podman_memory() {
  local cg out
  PR -d --memory 64m --name "$ID" $PIMG sleep 1000 >/dev/null
  cg=$(pcgroup memory "$ID")
  [ -n "$cg" ] || fail "no memory cgroup for $ID"
  eq "$(cat "$cg/memory.limit_in_bytes")" 67108864 "memory.limit_in_bytes on the host"
  out=$(P exec "$ID" cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
  eq "$out" 67108864 "memory limit seen inside"
  P rm -f -t 0 "$ID" >/dev/null
  podman_nothing_left "$ID"
}

podman_pids_limit() {
  local cg rc
  PR -d --pids-limit 20 --name "$ID" $PIMG sleep 1000 >/dev/null
  cg=$(pcgroup pids "$ID")
  [ -n "$cg" ] || fail "no pids cgroup for $ID"
  eq "$(cat "$cg/pids.max")" 20 "pids.max on the host"
  # forking past the limit fails inside
  rc=$(rc_of P exec "$ID" sh -c 'for i in $(seq 1 40); do sleep 30 & done; wait')
  [ "$(cat "$cg/pids.current")" -le 20 ] || fail "pids.current above the limit"
  P rm -f -t 0 "$ID" >/dev/null
  podman_nothing_left "$ID"
}

podman_exec() {
  local out rc
  PR -d --name "$ID" $PIMG sleep 1000 >/dev/null
  out=$(P exec -w /tmp -e FOO=ex "$ID" sh -c 'echo $FOO; pwd')
  eq "$out" "ex
/tmp" "exec -w -e"
  out=$(P exec -u 1000 "$ID" id -u)
  eq "$out" 1000 "exec -u"
  rc=$(rc_of P exec "$ID" sh -c 'exit 6')
  eq "$rc" 6 "exec exit code"
  out=$( (sleep 1; echo viastdin) | P exec -i "$ID" cat)
  eq "$out" viastdin "exec -i"
  P exec -d "$ID" sleep 999
  wait_for 10 sh -c "$(pod_cmd) top $ID | grep -q 999"
  P rm -f -t 0 "$ID" >/dev/null
  podman_nothing_left "$ID"
}

podman_exec_tty() {
  local out rc=0
  PR -d --name "$ID" $PIMG sleep 1000 >/dev/null
  pty "$(pod_cmd) exec -t $ID sh -c 'tty; [ -t 0 ] && echo isatty; exit 4'" >"$WORK/out.$ID" </dev/null || rc=$?
  out=$(tr -d '\r' <"$WORK/out.$ID")
  echo "$out" >&2
  has "$out" "/dev/pts/" "exec tty"
  has "$out" "isatty" "exec stdin is a terminal"
  eq "$rc" 4 "exit code through exec -t"
}

podman_pause_unpause() {
  local out cg
  PR -d --name "$ID" $PIMG sleep 1000 >/dev/null
  P pause "$ID" >/dev/null
  eq "$(pstate "$ID")" "paused 0" "inspect after pause"
  cg=$(pcgroup freezer "$ID")
  eq "$(cat "$cg/freezer.state")" FROZEN "freezer state"
  P unpause "$ID" >/dev/null
  eq "$(pstate "$ID")" "running 0" "inspect after unpause"
  out=$(P exec "$ID" echo alive)
  eq "$out" alive "exec after unpause"
}

podman_stop() {
  PR -d --name "$ID" $PIMG sh -c 'trap "exit 42" TERM; while :; do sleep 0.1; done' >/dev/null
  sleep 0.5
  P stop -t 10 "$ID" >/dev/null
  eq "$(pstate "$ID")" "exited 42" "inspect after stop (TERM trapped)"
  PR -d --name "$ID-k" $PIMG sleep 1000 >/dev/null
  # sleep as pid 1 ignores SIGTERM: podman escalates to SIGKILL after -t
  P stop -t 1 "$ID-k" >/dev/null
  eq "$(pstate "$ID-k")" "exited 137" "inspect after stop (escalated to SIGKILL)"
  P rm "$ID" "$ID-k" >/dev/null
  podman_nothing_left "$ID"
}

podman_rm_f() {
  PR -d --name "$ID" $PIMG sh -c 'sleep 1000 & sleep 1000' >/dev/null
  P exec -d "$ID" sleep 1000
  P rm -f "$ID" >/dev/null
  podman_nothing_left "$ID"
}

podman_inspect_state() {
  P create --network none --pull never --cgroup-parent "/$POD_CGPARENT" --name "$ID" $PIMG sh -c 'sleep 2; exit 3' >/dev/null
  eq "$(pstate "$ID")" "created 0" "inspect after create"
  P start "$ID" >/dev/null
  eq "$(pstate "$ID")" "running 0" "inspect after start"
  eq "$(P wait "$ID")" 3 "podman wait"
  eq "$(pstate "$ID")" "exited 3" "inspect after exit"
  P rm "$ID" >/dev/null
  podman_nothing_left "$ID"
}

podman_bad_entrypoint() {
  local out rc=0
  out=$(PR --rm --name "$ID" $PIMG /nonexistent/binary 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "run of a missing binary succeeded"
  has "$out" "/nonexistent/binary" "error names the missing binary"
  has "$(echo "$out" | tr A-Z a-z)" "no such file or directory" "error says why"
  podman_nothing_left "$ID"
}

podman_bad_user() {
  local out rc=0
  out=$(PR --rm -u nosuchuser --name "$ID" $PIMG id 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "run as a missing user succeeded"
  has "$out" "nosuchuser" "error names the user"
  podman_nothing_left "$ID"
}

podman_bad_exec_id() {
  local out rc=0
  PR -d --name "$ID" $PIMG sleep 1000 >/dev/null
  out=$(P exec "$ID" /nonexistent/exe 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "exec of a missing binary succeeded"
  has "$out" "/nonexistent/exe" "exec error names the binary"
  rc=0; out=$(P exec "$ID-nosuch" true 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "exec in an unknown container succeeded"
  has "$out" "no such container" "exec in an unknown container"
  out=$(P exec "$ID" echo fine)
  eq "$out" fine "exec after failures"
  P rm -f -t 0 "$ID" >/dev/null
  podman_nothing_left "$ID"
}

podman_options() {
  local out hostdir=$WORK/vol.$ID
  mkdir -p "$hostdir"; echo fromhost >"$hostdir/f"
  out=$(PR --rm --read-only --tmpfs /scratch --hostname hhh --cap-drop ALL --cap-add NET_BIND_SERVICE \
    --ulimit nofile=1024:2048 --ulimit nproc=32768:32768 --shm-size 16m -v "$hostdir:/data" --name "$ID" $PIMG sh -c '
      touch /rootfile 2>/dev/null && echo root=rw || echo root=ro
      touch /scratch/x && echo scratch=rw
      echo host=$(hostname)
      echo capeff=$(grep CapEff /proc/self/status | tr -s "\t " " " | cut -d" " -f2)
      echo nofile=$(ulimit -n):$(ulimit -Hn)
      echo data=$(cat /data/f)
      echo shm=$(df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2)
      echo seccomp=$(grep ^Seccomp: /proc/self/status | tr -s "\t " " " | cut -d" " -f2)')
  echo "$out" >&2
  has "$out" "root=ro" "--read-only"
  has "$out" "scratch=rw" "--tmpfs"
  has "$out" "host=hhh" "--hostname"
  has "$out" "capeff=0000000000000400" "--cap-drop ALL --cap-add NET_BIND_SERVICE"
  has "$out" "nofile=1024:2048" "--ulimit"
  has "$out" "data=fromhost" "-v bind mount"
  has "$out" "shm=16384" "--shm-size"
  has "$out" "seccomp=2" "podman's default seccomp profile"
  podman_nothing_left "$ID"
}

podman_seccomp_profile() {
  local out dir=$WORK/probe.$ID
  # the static syscall probe of dock's tests, built here (cc and libc6-dev build hull too)
  mkdir -p "$dir"
  cc -static -O1 -o "$dir/probe" "$REPO/dock/tests/syscall_probe.c" || fail "cc -static syscall_probe.c"
  out=$(PR --rm -v "$dir:/p:ro" --name "$ID" $PIMG sh -c '/p/probe; ls / | grep -x bin')
  echo "$out" >&2
  # podman's default profile (/usr/share/containers/seccomp.json): unshare, mount, keyctl and
  # clone3 allowed, so the kernel answers (no CAP_SYS_ADMIN: EPERM; no thread keyring; no
  # clone_args); bpf and kexec_load ERRNO 1; add_key not listed: defaultErrnoRet 38 (ENOSYS)
  eq "$out" "unshare=EPERM
mount=EPERM
keyctl=ENOKEY
clone3=EINVAL
bpf=EPERM
kexec_load=EPERM
add_key=ENOSYS
bin" "errnos under podman's default seccomp profile"
  podman_nothing_left "$ID"
}

podman_tmpfs_copyup() {
  local out
  # podman's --tmpfs passes tmpcopyup: the tmpfs starts with the image's files there
  out=$(PR --rm --tmpfs /etc --name "$ID" $PIMG sh -c 'grep -c . /etc/passwd; stat -c "%a %U" /etc /etc/passwd; touch /etc/new && echo writable; grep -c tmpfs /proc/mounts')
  echo "$out" >&2
  eq "$(echo "$out" | head -3)" "3
755 root
644 root" "image files copied into the tmpfs"
  has "$out" writable "tmpfs is writable"
}
