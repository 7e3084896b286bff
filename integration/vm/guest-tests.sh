#!/bin/sh
# Runs in the guest, a pure cgroup v2 host: each check prints "VMTEST ok NAME" or
# "VMTEST FAIL NAME: detail"; the host side (run.sh) counts them. Ends with "VMTEST done".
export PATH=/bin:/usr/bin
mkdir -p /proc /sys /dev /run /tmp /mnt
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /run
H="timeout 30 /bin/hull --root /run/hull"
ok() { echo "VMTEST ok $1"; }
fail() { echo "VMTEST FAIL $1: $2"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else fail "$name" "command failed: $*"; fi; }

echo "VMTEST kernel $(uname -r) cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
# hull's own cgroup: a child of the root, so containers (taken from its parent) are siblings.
mkdir -p /sys/fs/cgroup/hull-test
echo $$ > /sys/fs/cgroup/hull-test/cgroup.procs

B=/tmp/bundle
mkdir -p $B/rootfs/bin $B/rootfs/proc $B/rootfs/sys $B/rootfs/dev $B/rootfs/tmp
cp /bin/busybox $B/rootfs/bin/
for a in sh cat echo sleep head mknod ls grep wc; do ln -s busybox $B/rootfs/bin/$a; done
cd $B
# The configs were made on the host by run.sh (hull spec + edits): terminal off, a writable
# root, memory/pids/cpu limits and the default deny-all device rule.
use() { cp /tests/config-$1.json $B/config.json; }
use limits
out=$($H run limits 2>&1 </dev/null)
echo "$out" | sed 's/^/  | /'
[ "$(echo "$out" | sed -n 1p)" = 67108864 ] && ok memory.max || fail memory.max "$out"
[ "$(echo "$out" | sed -n 2p)" = 67108864 ] && ok memory.swap.max || fail memory.swap.max "$out"
[ "$(echo "$out" | sed -n 3p)" = 42 ] && ok pids.max || fail pids.max "$out"
[ "$(echo "$out" | sed -n 4p)" = 39 ] && ok cpu.weight-from-shares || fail cpu.weight-from-shares "$out"
[ "$(echo "$out" | sed -n 5p)" = "50000 100000" ] && ok cpu.max || fail cpu.max "$out"
[ "$(echo "$out" | sed -n 6p)" = "0::/" ] && ok cgroupns-root || fail cgroupns-root "$out"
[ ! -d /sys/fs/cgroup/limits ] && ok cgroup-removed || fail cgroup-removed "left /sys/fs/cgroup/limits"

use devices
out=$($H run devices 2>&1 </dev/null)
echo "$out" | sed 's/^/  | /'
echo "$out" | grep -q '^denied$' && ok bpf-device-deny || fail bpf-device-deny "$out"
echo "$out" | grep -q '^4$' && ok bpf-device-allow || fail bpf-device-allow "$out"

use sleeper
$H run -d sleeper </dev/null >/dev/null 2>&1
pid=$($H state sleeper | grep '"pid"' | tr -dc 0-9)
grep -qx "$pid" /sys/fs/cgroup/sleeper/cgroup.procs && ok clone-into-cgroup || fail clone-into-cgroup "pid $pid not in /sys/fs/cgroup/sleeper"
check pause $H pause sleeper
$H state sleeper | grep -q '"status": "paused"' && ok paused-state || fail paused-state "$($H state sleeper)"
grep -q '^frozen 1' /sys/fs/cgroup/sleeper/cgroup.events && ok cgroup.freeze || fail cgroup.freeze "$(cat /sys/fs/cgroup/sleeper/cgroup.events)"
check resume $H resume sleeper
$H update --memory 33554432 --pids-limit 7 sleeper
[ "$(cat /sys/fs/cgroup/sleeper/memory.max)" = 33554432 ] && ok update-memory || fail update-memory "$(cat /sys/fs/cgroup/sleeper/memory.max)"
[ "$(cat /sys/fs/cgroup/sleeper/pids.max)" = 7 ] && ok update-pids || fail update-pids "$(cat /sys/fs/cgroup/sleeper/pids.max)"
echo '{"unified": {"memory.high": "30000000"}}' | $H update -r - sleeper
[ "$(cat /sys/fs/cgroup/sleeper/memory.high)" = 29999104 ] || [ "$(cat /sys/fs/cgroup/sleeper/memory.high)" = 30000000 ] && ok update-unified || fail update-unified "$(cat /sys/fs/cgroup/sleeper/memory.high)"
[ "$($H ps --format json sleeper)" = "[$pid]" ] && ok ps-json || fail ps-json "$($H ps --format json sleeper)"
ev=$($H events --stats sleeper)
echo "$ev" | grep -q '"type":"stats"' && echo "$ev" | grep -q '"limit":33554432' && ok events-stats-v2 || fail events-stats-v2 "$ev"
check delete-force $H delete --force sleeper
[ ! -d /sys/fs/cgroup/sleeper ] && ok cgroup-removed-after-delete || fail cgroup-removed-after-delete "left"
echo "VMTEST done"
poweroff -f
