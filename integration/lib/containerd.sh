# containerd 1.6 + containerd-shim-runc-v2, driven with ctr (--runc-binary, --runc-root, --fifo-dir).

CTR_DIR=$WORK/containerd
CTR_SOCK=$CTR_DIR/containerd.sock
CTR_NS=hullint
CTR_SCENARIOS="run-exit env-cwd user stdin tty exec exec-tty ps pause-resume kill-term kill-all delete bad-entrypoint bad-user bad-exec-id"

containerd_up() {
  command -v containerd >/dev/null && command -v ctr >/dev/null && command -v containerd-shim-runc-v2 >/dev/null ||
    { echo "containerd, ctr or containerd-shim-runc-v2 not installed"; return 1; }
  mkdir -p "$CTR_DIR"/{root,state,fifo,runc-root}
  cat >"$CTR_DIR/config.toml" <<CONF
version = 2
root = "$CTR_DIR/root"
state = "$CTR_DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[debug]
  address = "$CTR_DIR/debug.sock"
[metrics]
  address = ""
CONF
  containerd --config "$CTR_DIR/config.toml" >"$CTR_DIR/containerd.log" 2>&1 &
  echo $! >"$CTR_DIR/pid"
  echo $! >>"$WORK/pids"
  wait_for 30 ctr -a "$CTR_SOCK" version || { tail -20 "$CTR_DIR/containerd.log"; echo "containerd did not come up"; return 1; }
  ctr -a "$CTR_SOCK" -n "$CTR_NS" images import "$WORK/busybox.tar" >/dev/null ||
    { echo "ctr images import failed"; return 1; }
  for rt in hull runc; do make_wrapper containerd $rt; done
}

# shims of our containerd: their command line names our socket
containerd_shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "containerd-shim.*$CTR_SOCK" && echo "${p#/proc/}"
  done
  return 0
}

containerd_down() {
  local id rt
  if [ -S "$CTR_SOCK" ]; then
    for id in $(C task ls -q 2>/dev/null); do
      C task kill -s SIGKILL --all "$id" >/dev/null 2>&1 || true
      C task delete -f "$id" >/dev/null 2>&1 || true
    done
    for id in $(C container ls -q 2>/dev/null); do C container rm "$id" >/dev/null 2>&1 || true; done
  fi
  for rt in hull runc; do
    local real=$HULL; [ $rt = runc ] && real=$RUNC
    for id in $("$real" --root "$CTR_DIR/runc-root/$CTR_NS" list -q 2>/dev/null); do
      "$real" --root "$CTR_DIR/runc-root/$CTR_NS" delete --force "$id" >/dev/null 2>&1 || true
    done
  done
  # the shim ignores SIGTERM; kill only the shims of this containerd, by pid
  for id in $(containerd_shim_pids); do kill -9 "$id" 2>/dev/null || true; done
  if [ -f "$CTR_DIR/pid" ]; then kill "$(cat "$CTR_DIR/pid")" 2>/dev/null || true; fi
  sleep 1
  if [ -f "$CTR_DIR/pid" ]; then kill -9 "$(cat "$CTR_DIR/pid")" 2>/dev/null || true; fi
  rmdir_cgroups "$CTR_NS"
}

C() { ctr -a "$CTR_SOCK" -n "$CTR_NS" "$@"; }
# ctr task exec, its fifos kept out of /run/containerd/fifo too
X() { C task exec --fifo-dir "$CTR_DIR/fifo" "$@"; }
IMG=docker.io/library/busybox:int
IMGU=docker.io/library/busybox:user
# ctr run with the runtime under test
R() { C run --runc-binary "$(runtime_wrapper)" --runc-root "$CTR_DIR/runc-root" --fifo-dir "$CTR_DIR/fifo" "$@"; }
# a pty for ctr -t (it needs a terminal on stdin)
pty() { script -qefc "$*" /dev/null; }
task_status() { C task ls 2>/dev/null | awk -v id="$1" '$1==id {print $3}'; }
status_is() { [ "$(task_status "$1")" = "$2" ]; }
rroot() { echo "$CTR_DIR/runc-root/$CTR_NS"; }

# Removes every container this scenario made (trap in scenario.sh).
containerd_cleanup() {
  local id
  for id in $(C container ls -q 2>/dev/null | grep "^$ID" || true); do
    C task kill -s SIGKILL --all "$id" >/dev/null 2>&1 || true
    C task delete -f "$id" >/dev/null 2>&1 || true
    C container rm "$id" >/dev/null 2>&1 || true
    C snapshot rm "$id" >/dev/null 2>&1 || true
  done
}

# Nothing of container $1 left: not in containerd, no runtime state, no cgroup, no shim.
containerd_nothing_left() {
  local out
  out=$(C container ls -q)
  hasnt "$out" "$1" "containerd containers"
  no_state_left "$(rroot)" "$1"
  no_cgroup_left "$1"
  for p in $(containerd_shim_pids); do
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -q -- "-id $1 " && fail "shim for $1 still running (pid $p)"
  done
  return 0
}

containerd_run_exit() {
  local out rc
  out=$(R --rm $IMG "$ID" echo hello)
  eq "$out" hello "output of echo"
  rc=$(rc_of R --rm $IMG "$ID-7" sh -c 'exit 7')
  eq "$rc" 7 "exit code of sh -c 'exit 7'"
  # killed by a signal: 128+N
  R --rm $IMG "$ID-k" sleep 1000 >/dev/null &
  local ctrpid=$!
  wait_for 20 status_is "$ID-k" RUNNING || fail "task never ran"
  C task kill -s SIGKILL "$ID-k"
  rc=0; wait $ctrpid || rc=$?
  eq "$rc" 137 "exit code of a process killed by SIGKILL"
  containerd_nothing_left "$ID"
}

containerd_env_cwd() {
  local out
  out=$(R --rm --env FOO=bar --cwd /tmp $IMG "$ID" sh -c 'echo "$FOO $IMGVAR $PATH"; pwd')
  eq "$out" "bar fromimage /bin
/tmp" "env and cwd"
}

containerd_user() {
  local out
  out=$(R --rm $IMGU "$ID" id)
  has "$out" "uid=1000(user) gid=1000(user)" "id of the image's User"
  R -d $IMG "$ID-x" sleep 1000 >/dev/null
  out=$(X --exec-id u1 --user 65534 "$ID-x" id -u)
  eq "$out" 65534 "exec --user"
}

containerd_stdin() {
  local out
  # ctr 1.6 loses stdin that ends before the task starts: delay it
  out=$( (sleep 2; printf 'line1\nline2\n') | R --rm $IMG "$ID" sh -c 'cat; echo done')
  eq "$out" "line1
line2
done" "stdin copied through cat"
}

containerd_tty() {
  local out rc=0
  pty "ctr -a $CTR_SOCK -n $CTR_NS run --runc-binary $(runtime_wrapper) --runc-root $CTR_DIR/runc-root --fifo-dir $CTR_DIR/fifo --rm -t $IMG $ID sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo isatty; exit 3'" >"$WORK/out.$ID" </dev/null || rc=$?
  out=$(tr -d '\r' <"$WORK/out.$ID")
  echo "$out" >&2
  eq "$rc" 3 "exit code through the tty"
  has "$out" "/dev/pts/0" "tty inside"
  has "$out" "isatty" "stdin and stdout are terminals"
}

containerd_exec() {
  local out rc
  R -d $IMG "$ID" sleep 1000 >/dev/null
  out=$(X --exec-id e1 --cwd /tmp "$ID" sh -c 'pwd; echo $((1+2))')
  eq "$out" "/tmp
3" "exec output"
  rc=$(rc_of X --exec-id e2 "$ID" sh -c 'exit 5')
  eq "$rc" 5 "exec exit code"
  out=$( (sleep 1; echo viastdin) | X --exec-id e3 "$ID" cat)
  eq "$out" viastdin "exec stdin"
}

containerd_exec_tty() {
  local out rc=0
  R -d $IMG "$ID" sleep 1000 >/dev/null
  pty "ctr -a $CTR_SOCK -n $CTR_NS task exec --fifo-dir $CTR_DIR/fifo -t --exec-id t1 $ID sh -c 'tty; [ -t 0 ] && echo isatty; exit 4'" >"$WORK/out.$ID" </dev/null || rc=$?
  out=$(tr -d '\r' <"$WORK/out.$ID")
  echo "$out" >&2
  eq "$rc" 4 "exit code of exec through the tty"
  has "$out" "/dev/pts/" "tty of exec"
  has "$out" "isatty" "exec stdin is a terminal"
}

containerd_ps() {
  local out pid
  R -d $IMG "$ID" sh -c 'sleep 1000 & sleep 1000' >/dev/null
  wait_for 10 sh -c "[ \$(ctr -a $CTR_SOCK -n $CTR_NS task ps $ID | wc -l) -ge 3 ]" || true
  out=$(C task ps "$ID")
  echo "$out" >&2
  pid=$(C task ls | awk -v id="$ID" '$1==id {print $2}')
  has "$out" "$pid" "task ps lists init"
  eq "$(echo "$out" | tail -n +2 | wc -l)" 2 "task ps lists both processes"
}

containerd_pause_resume() {
  local out
  R -d $IMG "$ID" sleep 1000 >/dev/null
  C task pause "$ID"
  eq "$(task_status "$ID")" PAUSED "status after pause"
  eq "$(cat /sys/fs/cgroup/freezer/$CTR_NS/$ID/freezer.state)" FROZEN "freezer state"
  C task resume "$ID"
  eq "$(task_status "$ID")" RUNNING "status after resume"
  out=$(X --exec-id p1 "$ID" echo alive)
  eq "$out" alive "exec after resume"
}

containerd_kill_term() {
  local rc pidf=$WORK/tmp.$ID
  R $IMG "$ID" sh -c 'trap "exit 42" TERM; while :; do sleep 0.1; done' >/dev/null &
  local ctrpid=$!
  wait_for 20 status_is "$ID" RUNNING || fail "task never ran"
  sleep 0.5
  C task kill "$ID"
  rc=0; wait $ctrpid || rc=$?
  eq "$rc" 42 "exit code after SIGTERM (trap exits 42)"
}

containerd_kill_all() {
  R -d $IMG "$ID" sh -c 'sleep 1000 & sleep 1000 & wait' >/dev/null
  X -d --exec-id k1 "$ID" sleep 1000 || true
  sleep 0.5
  C task kill --all -s SIGKILL "$ID"
  wait_for 20 status_is "$ID" STOPPED || fail "task not STOPPED after kill --all"
  local procs
  procs=$(cat /sys/fs/cgroup/pids/$CTR_NS/$ID/cgroup.procs 2>/dev/null || true)
  eq "$procs" "" "processes left in the cgroup"
  C task delete "$ID" >/dev/null
  C container rm "$ID"
  containerd_nothing_left "$ID"
}

containerd_delete() {
  R -d $IMG "$ID" sleep 1000 >/dev/null
  C task kill -s SIGKILL "$ID"
  wait_for 20 status_is "$ID" STOPPED || fail "not STOPPED"
  C task delete "$ID" >/dev/null
  C container rm "$ID"
  containerd_nothing_left "$ID"
  # a running task too, with delete -f
  R -d $IMG "$ID-f" sleep 1000 >/dev/null
  C task delete -f "$ID-f" >/dev/null
  C container rm "$ID-f"
  containerd_nothing_left "$ID-f"
}

containerd_bad_entrypoint() {
  local out rc
  rc=0; out=$(R --rm $IMG "$ID" /nonexistent/binary 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "run of a missing binary succeeded"
  has "$out" "/nonexistent/binary" "error names the missing binary"
  has "$(echo "$out" | tr A-Z a-z)" "no such file or directory" "error says why"
  C container rm "$ID" >/dev/null 2>&1 || true
  containerd_nothing_left "$ID"
}

containerd_bad_user() {
  local out rc
  R -d $IMG "$ID" sleep 1000 >/dev/null
  # a uid with no passwd entry works (as with runc); a name that does not exist must fail
  rc=0; out=$(X --exec-id b1 --user nosuchuser "$ID" id 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "exec as a missing user succeeded"
  # ctr resolves the name itself (in the rootfs' /etc/passwd) and says so
  has "$out" "no users found" "error says the user is unknown"
  # the exec left nothing: the container still has one process
  eq "$(C task ps "$ID" | tail -n +2 | wc -l)" 1 "processes after failed exec"
  C task delete -f "$ID" >/dev/null; C container rm "$ID"
  containerd_nothing_left "$ID"
}

containerd_bad_exec_id() {
  local out rc
  R -d $IMG "$ID" sleep 1000 >/dev/null
  rc=0; out=$(C task kill --exec-id nosuchexec "$ID" 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "kill of an unknown exec id succeeded"
  has "$out" "nosuchexec" "error names the exec id"
  # an exec whose binary is missing: the runtime's message reaches the user
  rc=0; out=$(X --exec-id bad1 "$ID" /nonexistent/exe 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "exec of a missing binary succeeded"
  has "$out" "/nonexistent/exe" "exec error names the binary"
  eq "$(C task ps "$ID" | tail -n +2 | wc -l)" 1 "processes after failed exec"
  out=$(X --exec-id ok1 "$ID" echo fine)
  eq "$out" fine "exec after failures"
  C task delete -f "$ID" >/dev/null; C container rm "$ID"
  containerd_nothing_left "$ID"
}
