#!/bin/sh
# Runs in the guest, a pure cgroup v2 host with AppArmor: each check prints "VMTEST ok NAME" or
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
# AppArmor (Debian's default LSM): the test profile is loaded here, before any container;
# hull switches a container process to it at its execve.
mount -t securityfs securityfs /sys/kernel/security
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ] && [ -d /sys/kernel/security/apparmor ]; then
  ok apparmor-enabled
else
  fail apparmor-enabled "enabled=$(cat /sys/module/apparmor/parameters/enabled 2>&1); $(ls /sys/kernel/security 2>&1)"
fi
apparmor_parser -K -r /tests/hull-test.apparmor >/tmp/aa-load.out 2>&1
grep -q '^hull-test (enforce)' /sys/kernel/security/apparmor/profiles && ok apparmor-profile-loaded || fail apparmor-profile-loaded "$(cat /tmp/aa-load.out)"
# confined: attr/current names the profile, and /etc/secret is denied.
confined() { echo "$1" | grep -qx 'hull-test (enforce)' && ! echo "$1" | grep -q secret-data && echo "$1" | grep -q 'Permission denied'; }
# hull's own cgroup: a child of the root, so containers (taken from its parent) are siblings.
mkdir -p /sys/fs/cgroup/hull-test
echo $$ > /sys/fs/cgroup/hull-test/cgroup.procs

B=/tmp/bundle
mkdir -p $B/rootfs/bin $B/rootfs/proc $B/rootfs/sys $B/rootfs/dev $B/rootfs/tmp $B/rootfs/etc
echo secret-data > $B/rootfs/etc/secret
cp /bin/busybox $B/rootfs/bin/
for a in sh cat echo sleep head mknod ls grep wc stat; do ln -s busybox $B/rootfs/bin/$a; done
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
[ "$(echo "$out" | sed -n 7p)" = unconfined ] && ok apparmor-none-unconfined || fail apparmor-none-unconfined "$out"
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
# exec into a running container: switched at its execve like init, or not at all.
out=$($H exec --apparmor hull-test sleeper sh -c 'cat /proc/self/attr/current; cat /etc/secret' 2>&1 </dev/null)
echo "$out" | sed 's/^/  | /'
confined "$out" && ok apparmor-exec-flag || fail apparmor-exec-flag "$out"
echo '{"args": ["sh", "-c", "cat /proc/self/attr/current; cat /etc/secret"], "cwd": "/", "apparmorProfile": "hull-test"}' > /tmp/aa-process.json
out=$($H exec --process /tmp/aa-process.json sleeper 2>&1 </dev/null)
confined "$out" && ok apparmor-exec-process-file || fail apparmor-exec-process-file "$out"
out=$($H exec sleeper sh -c 'cat /proc/self/attr/current; cat /etc/secret' 2>&1 </dev/null)
[ "$out" = "unconfined
secret-data" ] && ok apparmor-exec-unconfined || fail apparmor-exec-unconfined "$out"
out=$($H exec --apparmor no-such-profile sleeper echo ran 2>&1 </dev/null); rc=$?
[ $rc = 255 ] && echo "$out" | grep -q '"no-such-profile"' && [ -z "$(cat /proc/$pid/task/$pid/children)" ] && ok apparmor-exec-unknown || fail apparmor-exec-unknown "rc=$rc $out; children: $(cat /proc/$pid/task/$pid/children)"
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
echo '{"memory": {"limit": 4096, "checkBeforeUpdate": true}}' | $H update -r - sleeper 2>/tmp/cbu.err && fail check-before-update "a limit below usage was accepted" || { grep -q checkBeforeUpdate /tmp/cbu.err && ok check-before-update || fail check-before-update "$(cat /tmp/cbu.err)"; }
ev=$($H events --stats sleeper)
echo "$ev" | grep -q '"type":"stats"' && echo "$ev" | grep -q '"limit":33554432' && ok events-stats-v2 || fail events-stats-v2 "$ev"
check delete-force $H delete --force sleeper
[ ! -d /sys/fs/cgroup/sleeper ] && ok cgroup-removed-after-delete || fail cgroup-removed-after-delete "left"
use oom
$H run -d oomc </dev/null >/tmp/oom.out 2>&1
$H events --interval 200ms oomc >/tmp/oom.events 2>&1 &
evpid=$!
i=0
while [ $i -lt 60 ] && ! grep -q child-done /tmp/oom.out; do sleep 1; i=$((i+1)); done
sleep 1
kill $evpid 2>/dev/null
$H delete --force oomc
grep -q '"type":"oom"' /tmp/oom.events && ok oom-event || fail oom-event "$(tail -c 300 /tmp/oom.events)"
grep -q 'child-done' /tmp/oom.out && ! grep -q survived /tmp/oom.out && ok oom-killed-child || fail oom-killed-child "$(cat /tmp/oom.out)"

use forkbomb
out=$($H run fork 2>&1 </dev/null)
n=$(echo "$out" | tail -1)
[ "$n" -le 42 ] 2>/dev/null && ok pids-max-stops-forks || fail pids-max-stops-forks "$out"

use throttle
out=$($H run thr 2>&1 </dev/null)
echo "$out" | sed 's/^/  | /'
t=$(echo "$out" | awk '/^nr_throttled/{print $2}')
[ "${t:-0}" -gt 0 ] && ok cpu-max-throttles || fail cpu-max-throttles "$out"

# A container with apparmorProfile runs confined from its first instruction; one naming a
# profile that is not loaded fails create with nothing left.
use aa
out=$($H run aa 2>&1 </dev/null)
echo "$out" | sed 's/^/  | /'
confined "$out" && ok apparmor-init-confined || fail apparmor-init-confined "$out"
use aa-fakeproc
out=$($H run aaf 2>&1 </dev/null)
echo "$out" | sed 's/^/  | /'
echo "$out" | grep -q '^fstype=tmpfs' && echo "$out" | grep -q 'Permission denied' && ! echo "$out" | grep -q secret-data \
  && ok apparmor-fake-proc-cve-2019-16884 || fail apparmor-fake-proc-cve-2019-16884 "$out"
use aa-unknown
out=$($H run aau 2>&1 </dev/null); rc=$?
echo "$out" | sed 's/^/  | /'
[ $rc = 1 ] && echo "$out" | grep -q '"no-such-profile"' && ! echo "$out" | grep -q should-not-run \
  && [ ! -e /run/hull/aau ] && [ ! -d /sys/fs/cgroup/aau ] \
  && ok apparmor-unknown-profile || fail apparmor-unknown-profile "rc=$rc $out; left: $(ls /run/hull /sys/fs/cgroup | grep aau)"
echo "VMTEST done"
poweroff -f
