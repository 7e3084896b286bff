# dockerd 20.10 (with the containerd it manages) on its own --data-root/--exec-root/--pidfile
# and socket, no bridge or iptables; hull and runc added with --add-runtime (as wrappers), so
# both go through the same dockerd -> containerd -> containerd-shim-runc-v2 path.

DOCK_DIR=$WORK/docker
DOCK_SCENARIOS="run-rm exit-codes stdin tty user workdir-env seccomp options memory update pids-limit exec exec-tty pause-unpause stop rm-f inspect-state bad-entrypoint bad-user bad-exec-id"
DOCK_CGPARENT=hullint_docker
DOCKER_BIN=/usr/bin/docker # docker.io's 20.10 client (not another one earlier in PATH)
export DOCKER_HOST=unix://$DOCK_DIR/docker.sock
export DOCKER_CONFIG=$DOCK_DIR/cli

docker_up() {
  command -v dockerd >/dev/null && [ -x $DOCKER_BIN ] || { echo "dockerd or $DOCKER_BIN not installed"; return 1; }
  mkdir -p "$DOCK_DIR"/{data,exec,cli}
  for rt in hull runc; do make_wrapper docker $rt; done
  echo '{}' >"$DOCK_DIR/daemon.json"
  dockerd --config-file "$DOCK_DIR/daemon.json" --data-root "$DOCK_DIR/data" --exec-root "$DOCK_DIR/exec" \
    --pidfile "$DOCK_DIR/docker.pid" -H "$DOCKER_HOST" --bridge none --iptables=false --ip-masq=false \
    --ip6tables=false --userland-proxy=false --storage-driver vfs --cgroup-parent "/$DOCK_CGPARENT" \
    --add-runtime "hull=$WORK/bin/docker/hull/hull" --add-runtime "runcw=$WORK/bin/docker/runc/runc" \
    >"$DOCK_DIR/dockerd.log" 2>&1 &
  echo $! >"$DOCK_DIR/pid"
  echo $! >>"$WORK/pids"
  wait_for 60 $DOCKER_BIN version || { tail -20 "$DOCK_DIR/dockerd.log"; echo "dockerd did not come up"; return 1; }
  $DOCKER_BIN load -i "$WORK/busybox.tar" >"$DOCK_DIR/load.log" 2>&1 || { cat "$DOCK_DIR/load.log"; echo "docker load failed"; return 1; }
}

DIMG=busybox:int
D() { $DOCKER_BIN "$@"; }
# the runtime name dockerd knows the runtime under test by
drt() { if [ "$RUNTIME" = hull ]; then echo hull; else echo runcw; fi; }
DR() { D run --runtime "$(drt)" --network none "$@"; }
pty() { script -qefc "$*" /dev/null; }
dstate() { D inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1"; }
dcgroup() { # dcgroup CTRL NAME: host cgroup dir of container NAME in controller CTRL
  local cid
  cid=$(D inspect -f '{{.Id}}' "$2")
  echo "/sys/fs/cgroup/$1/$DOCK_CGPARENT/$cid"
}
# every place dockerd's runtimes keep state (runtime-runc/moby, whatever the runtime's name);
# hull's compiled-seccomp cache (@seccomp) is not a container
druntime_state() {
  local r
  for r in "$DOCK_DIR"/exec/runtime-*/moby; do
    [ -d "$r" ] && ls "$r" | grep -v '^@seccomp$'
  done
  return 0
}

docker_cleanup() {
  local n
  for n in $(D ps -a --format '{{.Names}}' 2>/dev/null | grep "^$ID" || true); do
    D rm -f "$n" >/dev/null 2>&1 || true
  done
}

docker_down() {
  local rt n r
  for n in $(D ps -aq 2>/dev/null); do D rm -f "$n" >/dev/null 2>&1 || true; done
  for r in "$DOCK_DIR"/exec/runtime-*/moby; do
    for rt in "$HULL" "$RUNC"; do
      for n in $("$rt" --root "$r" list -q 2>/dev/null); do "$rt" --root "$r" delete --force "$n" >/dev/null 2>&1 || true; done
    done
  done
  [ -f "$DOCK_DIR/pid" ] && kill "$(cat "$DOCK_DIR/pid")" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$(cat "$DOCK_DIR/pid" 2>/dev/null)" 2>/dev/null || break; sleep 0.2; done
  # dockerd's containerd and the shims (their command lines name our dirs), by pid
  local p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "$DOCK_DIR" && kill -9 "${p#/proc/}" 2>/dev/null
  done
  grep -o " $DOCK_DIR[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rmdir_cgroups "$DOCK_CGPARENT"
  return 0
}

docker_cgroups() { find /sys/fs/cgroup/*/$DOCK_CGPARENT -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort || true; }
docker_begin() { docker_cgroups >"$WORK/cg.$ID"; }
docker_nothing_left() {
  local out
  out=$(D ps -a --format '{{.Names}}')
  hasnt "$out" "$1" "docker containers"
  eq "$(druntime_state)" "" "runtime state under $DOCK_DIR/exec/runtime-*/moby"
  eq "$(docker_cgroups)" "$(cat "$WORK/cg.$ID")" "container cgroups under /$DOCK_CGPARENT"
}

docker_run_rm() {
  local out
  out=$(DR --rm --name "$ID" $DIMG echo hello)
  eq "$out" hello "output of echo"
  docker_nothing_left "$ID"
}

docker_exit_codes() {
  local rc
  rc=$(rc_of DR --name "$ID" $DIMG sh -c 'exit 9')
  eq "$rc" 9 "exit code of docker run"
  eq "$(dstate "$ID")" "exited 9" "inspect after exit"
  D rm "$ID" >/dev/null
  DR -d --name "$ID-k" $DIMG sleep 1000 >/dev/null
  D kill "$ID-k" >/dev/null
  eq "$(D wait "$ID-k")" 137 "docker wait after docker kill"
  D rm "$ID-k" >/dev/null
  docker_nothing_left "$ID"
}

docker_stdin() {
  local out
  out=$( (sleep 1; printf 'in1\nin2\n') | DR --rm -i --name "$ID" $DIMG sh -c 'cat; echo done')
  eq "$out" "in1
in2
done" "stdin through -i"
}

docker_tty() {
  local out rc=0
  pty "$DOCKER_BIN run --runtime $(drt) --network none --rm -t --name $ID $DIMG sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo isatty; exit 3'" >"$WORK/out.$ID" </dev/null || rc=$?
  out=$(tr -d '\r' <"$WORK/out.$ID")
  echo "$out" >&2
  has "$out" "/dev/pts/0" "tty inside"
  has "$out" "isatty" "stdin and stdout are terminals"
  eq "$rc" 3 "exit code through -t"
}

docker_user() {
  local out
  out=$(DR --rm -u 1000:1000 --name "$ID" $DIMG id)
  has "$out" "uid=1000(user) gid=1000(user)" "-u 1000:1000"
  out=$(DR --rm -u nobody --name "$ID" $DIMG id -u)
  eq "$out" 65534 "-u nobody"
  out=$(DR --rm -u user --name "$ID" $DIMG id -G)
  eq "$out" "1000 2000" "supplementary groups of user from /etc/group"
}

docker_workdir_env() {
  local out
  out=$(DR --rm -w /work -e FOO=bar -e IMGVAR=over --name "$ID" $DIMG sh -c 'echo "$FOO $IMGVAR"; pwd')
  eq "$out" "bar over
/work" "-w and -e"
}

docker_seccomp() {
  local out
  out=$(DR --rm --name "$ID" $DIMG grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status | tr -s '\t ' ' ')
  has "$out" "Seccomp: 2" "docker's default seccomp profile is applied"
  # the profile blocks what it should: unshare(CLONE_NEWUSER) and friends, e.g. mount
  out=$(DR --rm --name "$ID" $DIMG sh -c 'mkdir -p /m; mount -t tmpfs t /m 2>&1 && echo mounted || echo refused')
  has "$out" "refused" "mount refused in a default container"
  out=$(DR --rm --security-opt seccomp=unconfined --name "$ID" $DIMG grep '^Seccomp:' /proc/self/status | tr -s '\t ' ' ')
  eq "$out" "Seccomp: 0" "seccomp=unconfined"
}

docker_memory() {
  local cg out
  DR -d --memory 64m --name "$ID" $DIMG sleep 1000 >/dev/null
  cg=$(dcgroup memory "$ID")
  eq "$(cat "$cg/memory.limit_in_bytes")" 67108864 "memory.limit_in_bytes on the host"
  out=$(D exec "$ID" cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
  eq "$out" 67108864 "memory limit seen inside"
}

docker_update() {
  local cg
  DR -d --memory 64m --memory-swap 128m --name "$ID" $DIMG sleep 1000 >/dev/null
  cg=$(dcgroup memory "$ID")
  D update --memory 96m --memory-swap 192m "$ID" >/dev/null
  eq "$(cat "$cg/memory.limit_in_bytes")" 100663296 "memory.limit_in_bytes after docker update"
  eq "$(D inspect -f '{{.HostConfig.Memory}}' "$ID")" 100663296 "inspect after update"
  D update --cpu-shares 512 --pids-limit 30 "$ID" >/dev/null
  eq "$(cat "$(dcgroup cpu "$ID")/cpu.shares")" 512 "cpu.shares after docker update"
  eq "$(cat "$(dcgroup pids "$ID")/pids.max")" 30 "pids.max after docker update"
  eq "$(D exec "$ID" echo alive)" alive "exec after update"
}

docker_pids_limit() {
  local cg
  DR -d --pids-limit 20 --name "$ID" $DIMG sleep 1000 >/dev/null
  cg=$(dcgroup pids "$ID")
  eq "$(cat "$cg/pids.max")" 20 "pids.max on the host"
  rc_of D exec "$ID" sh -c 'for i in $(seq 1 40); do sleep 30 & done; wait' >/dev/null
  [ "$(cat "$cg/pids.current")" -le 20 ] || fail "pids.current above the limit"
}

docker_exec() {
  local out rc
  DR -d --name "$ID" $DIMG sleep 1000 >/dev/null
  out=$(D exec -w /tmp -e FOO=ex "$ID" sh -c 'echo $FOO; pwd')
  eq "$out" "ex
/tmp" "exec -w -e"
  out=$(D exec -u 1000 "$ID" id -u)
  eq "$out" 1000 "exec -u"
  rc=$(rc_of D exec "$ID" sh -c 'exit 6')
  eq "$rc" 6 "exec exit code"
  out=$( (sleep 1; echo viastdin) | D exec -i "$ID" cat)
  eq "$out" viastdin "exec -i"
  out=$(D exec "$ID" grep '^Seccomp:' /proc/self/status | tr -s '\t ' ' ')
  eq "$out" "Seccomp: 2" "exec gets the container's seccomp profile"
  D exec -d "$ID" sleep 999
  wait_for 10 sh -c "$DOCKER_BIN top $ID | grep -q 999"
}

docker_exec_tty() {
  local out rc=0
  DR -d --name "$ID" $DIMG sleep 1000 >/dev/null
  pty "$DOCKER_BIN exec -t $ID sh -c 'tty; [ -t 0 ] && echo isatty; exit 4'" >"$WORK/out.$ID" </dev/null || rc=$?
  out=$(tr -d '\r' <"$WORK/out.$ID")
  echo "$out" >&2
  has "$out" "/dev/pts/" "exec tty"
  has "$out" "isatty" "exec stdin is a terminal"
  eq "$rc" 4 "exit code through exec -t"
}

docker_pause_unpause() {
  local out
  DR -d --name "$ID" $DIMG sleep 1000 >/dev/null
  D pause "$ID" >/dev/null
  eq "$(dstate "$ID")" "paused 0" "inspect after pause"
  eq "$(cat "$(dcgroup freezer "$ID")/freezer.state")" FROZEN "freezer state"
  D unpause "$ID" >/dev/null
  eq "$(dstate "$ID")" "running 0" "inspect after unpause"
  out=$(D exec "$ID" echo alive)
  eq "$out" alive "exec after unpause"
}

docker_stop() {
  DR -d --name "$ID" $DIMG sh -c 'trap "exit 42" TERM; while :; do sleep 0.1; done' >/dev/null
  sleep 0.5
  D stop -t 10 "$ID" >/dev/null
  eq "$(dstate "$ID")" "exited 42" "inspect after stop (TERM trapped)"
  DR -d --name "$ID-k" $DIMG sleep 1000 >/dev/null
  D stop -t 1 "$ID-k" >/dev/null
  eq "$(dstate "$ID-k")" "exited 137" "inspect after stop (escalated to SIGKILL)"
  D rm "$ID" "$ID-k" >/dev/null
  docker_nothing_left "$ID"
}

docker_rm_f() {
  DR -d --name "$ID" $DIMG sh -c 'sleep 1000 & sleep 1000' >/dev/null
  D exec -d "$ID" sleep 1000
  D rm -f "$ID" >/dev/null
  docker_nothing_left "$ID"
}

docker_inspect_state() {
  D create --runtime "$(drt)" --network none --name "$ID" $DIMG sh -c 'sleep 2; exit 3' >/dev/null
  eq "$(dstate "$ID")" "created 0" "inspect after create"
  D start "$ID" >/dev/null
  eq "$(dstate "$ID")" "running 0" "inspect after start"
  eq "$(D wait "$ID")" 3 "docker wait"
  eq "$(dstate "$ID")" "exited 3" "inspect after exit"
  D rm "$ID" >/dev/null
  docker_nothing_left "$ID"
}

docker_bad_entrypoint() {
  local out rc=0
  out=$(DR --rm --name "$ID" $DIMG /nonexistent/binary 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "run of a missing binary succeeded"
  has "$out" "/nonexistent/binary" "error names the missing binary"
  has "$(echo "$out" | tr A-Z a-z)" "no such file or directory" "error says why"
  sleep 1 # --rm removes asynchronously
  docker_nothing_left "$ID"
}

docker_bad_user() {
  local out rc=0
  out=$(DR --rm -u nosuchuser --name "$ID" $DIMG id 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "run as a missing user succeeded"
  has "$out" "nosuchuser" "error names the user"
  sleep 1
  docker_nothing_left "$ID"
}

docker_bad_exec_id() {
  local out rc=0
  DR -d --name "$ID" $DIMG sleep 1000 >/dev/null
  out=$(D exec "$ID" /nonexistent/exe 2>&1) || rc=$?
  echo "$out" >&2
  [ "$rc" != 0 ] || fail "exec of a missing binary succeeded"
  has "$out" "/nonexistent/exe" "exec error names the binary"
  # an exec id dockerd does not know (the API; the CLI never names exec ids)
  out=$(curl -s --unix-socket "$DOCK_DIR/docker.sock" -X POST -H 'Content-Type: application/json' \
    -d '{"Detach":true}' "http://d/exec/nosuchexec0123/start")
  echo "$out" >&2
  has "$out" "No such exec instance" "start of an unknown exec id"
  out=$(D exec "$ID" echo fine)
  eq "$out" fine "exec after failures"
  D rm -f "$ID" >/dev/null
  docker_nothing_left "$ID"
}

docker_options() {
  local out hostdir=$WORK/vol.$ID
  mkdir -p "$hostdir"; echo fromhost >"$hostdir/f"
  out=$(DR --rm --read-only --tmpfs /scratch --hostname hhh --cap-drop ALL --cap-add NET_BIND_SERVICE \
    --ulimit nofile=1024:2048 --shm-size 16m -v "$hostdir:/data" --name "$ID" $DIMG sh -c '
      touch /rootfile 2>/dev/null && echo root=rw || echo root=ro
      touch /scratch/x && echo scratch=rw
      echo host=$(hostname)
      echo capeff=$(grep CapEff /proc/self/status | tr -s "\t " " " | cut -d" " -f2)
      echo nofile=$(ulimit -n):$(ulimit -Hn)
      echo data=$(cat /data/f)
      echo shm=$(df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2)')
  echo "$out" >&2
  has "$out" "root=ro" "--read-only"
  has "$out" "scratch=rw" "--tmpfs"
  has "$out" "host=hhh" "--hostname"
  has "$out" "capeff=0000000000000400" "--cap-drop ALL --cap-add NET_BIND_SERVICE"
  has "$out" "nofile=1024:2048" "--ulimit"
  has "$out" "data=fromhost" "-v bind mount"
  has "$out" "shm=16384" "--shm-size"
  # (--privileged asks for capabilities outside this machine's bounding set: runc fails too)
  out=$(DR --rm --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --name "$ID" $DIMG sh -c 'mkdir /m && mount -t tmpfs t /m && echo mounted')
  has "$out" "mounted" "--cap-add SYS_ADMIN, seccomp=unconfined can mount"
}
