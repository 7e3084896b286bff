#!/usr/bin/env bash
# cgroup v2 and AppArmor tests in a VM: qemu (software emulation, no KVM: this machine's
# /dev/kvm only runs PVM guests) boots Debian's kernel with an initramfs holding busybox, hull,
# apparmor_parser and their libraries, on a pure cgroup v2 host with AppArmor on, runs
# guest-tests.sh and reports its VMTEST lines.
# usage: integration/vm/run.sh [HULL_BINARY]     (exit 0 only if every check passed)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
hull=${1:-$top/target/debug/hull}
cache=${HULL_VM_CACHE:-/var/cache/hull-vm}
need=""
# apparmor: only for apparmor_parser, copied into the guest (inert on a host without AppArmor).
for p in qemu-system-x86 cpio busybox-static apparmor; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
[ -x "$hull" ] || { echo "vm: no hull binary at $hull (cargo build -p hull first)" >&2; exit 1; }
mkdir -p "$cache"
kernel=$(ls "$cache"/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -z "$kernel" ]; then
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$pkg" ] || { apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}'); }
  (cd "$cache" && apt-get download -qq "$pkg" 2>/dev/null && dpkg -x "$pkg"_*.deb . && rm -f "$pkg"_*.deb)
  kernel=$(ls "$cache"/boot/vmlinuz-* | head -1)
fi
work=$(mktemp -d /tmp/hull-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/initramfs
mkdir -p "$root"/{bin,tests,etc}
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"; done
strip -o "$root/bin/hull" "$hull"
parser=$(command -v apparmor_parser || echo /usr/sbin/apparmor_parser)
cp "$parser" "$root/bin/apparmor_parser"
# Their shared libraries, at the paths the dynamic linker looks for them.
for lib in $(for b in "$hull" "$parser"; do ldd "$b"; done | awk '$3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# The profile the AppArmor checks load in the guest: everything allowed but reading
# /etc/secret, so confinement shows as a denied read.
cat > "$root/tests/hull-test.apparmor" <<'AA'
profile hull-test flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  mount,
  umount,
  pivot_root,
  signal,
  ptrace,
  unix,
  deny /etc/secret r,
}
AA
# The guest has no python: its configs are made here from `hull spec`.
"$hull" spec --bundle "$work"
python3 - "$work/config.json" "$root/tests" <<'PY'
import json, sys
base = json.load(open(sys.argv[1]))
base["process"]["terminal"] = False
base["root"]["readonly"] = False
base["linux"]["resources"].update({"memory": {"limit": 67108864, "swap": 134217728},
                                   "pids": {"limit": 42},
                                   "cpu": {"shares": 1024, "quota": 50000, "period": 100000}})
scripts = {
    "limits": "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.swap.max /sys/fs/cgroup/pids.max "
              "/sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpu.max; cat /proc/self/cgroup; "
              # no apparmorProfile: not confined
              "cat /proc/self/attr/current",
    "devices": "head -c 4 /dev/zero | wc -c; mknod /tmp/sda b 8 0; "
               "head -c 1 /tmp/sda >/dev/null 2>&1 && echo READ-BLOCK-DEVICE || echo denied",
    "sleeper": "sleep 100",
    # A child allocates past memory.max (32 MiB, no swap) and is OOM-killed; init lives on.
    "oom": "sleep 1; sh -c 'x=$(head -c 40000000 /dev/zero | tr \"\\\\0\" a); echo survived ${#x}'; echo child-done; sleep 3",
    "forkbomb": "sh -c 'while :; do sleep 5 & done' 2>/dev/null; set -- /proc/[0-9]*; echo $#",
    "throttle": "timeout 2 sh -c 'while :; do :; done'; grep -E '^(nr_throttled|throttled_usec)' /sys/fs/cgroup/cpu.stat",
    # AppArmor: what the process is confined by, and whether the profile's denied file reads.
    "aa": "cat /proc/self/attr/current; cat /etc/secret || echo read-failed",
    "aa-unknown": "echo should-not-run",
    # CVE-2019-16884: a volume over /proc must not swallow the profile write.
    "aa-fakeproc": "echo fstype=$(stat -f -c %T /proc); cat /etc/secret || echo read-failed",
}
for name, script in scripts.items():
    c = json.loads(json.dumps(base))
    c["process"]["args"] = ["sh", "-c", script]
    if name == "aa":
        c["process"]["apparmorProfile"] = "hull-test"
    if name == "aa-fakeproc":
        c["process"]["apparmorProfile"] = "hull-test"
        c["mounts"].append({"destination": "/proc", "type": "tmpfs", "source": "tmpfs"})
    if name == "aa-unknown":
        c["process"]["apparmorProfile"] = "no-such-profile"
    if name == "oom":
        c["linux"]["resources"]["memory"] = {"limit": 16777216, "swap": 16777216}
    if name == "devices":
        # mknod must be allowed by capabilities so that the device filter is what stops the read.
        for k in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][k].append("CAP_MKNOD")
    json.dump(c, open(f"{sys.argv[2]}/config-{name}.json", "w"), indent=1)
PY
cp "$here/guest-init.sh" "$root/init"
cp "$here/guest-tests.sh" "$root/tests/guest-tests.sh"
chmod +x "$root/init" "$root/tests/guest-tests.sh"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1 > "$work/initrd.gz")
log=$work/console.log
# systemd.unified_cgroup_hierarchy is for systemd; the guest mounts cgroup2 itself, and
# cgroup_no_v1=all keeps every controller on the v2 hierarchy. AppArmor is Debian's default
# LSM; apparmor=1 security=apparmor say so explicitly, should a kernel default change.
timeout ${HULL_VM_TIMEOUT:-180} qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -no-reboot \
  -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 quiet panic=-1 cgroup_no_v1=all apparmor=1 security=apparmor rdinit=/init" </dev/null >"$log" 2>&1 || true
grep -a 'VMTEST\|  | ' "$log" | tr -d '\r'
pass=$(grep -ac 'VMTEST ok ' "$log" || true)
failed=$(grep -ac 'VMTEST FAIL ' "$log" || true)
if ! grep -aq 'VMTEST done' "$log"; then
  echo "vm: the guest did not finish; last console lines:" >&2
  tail -30 "$log" | tr -d '\r' >&2
  failed=$((failed + 1))
fi
echo "vm: $pass passed, $failed failed"
[ "$failed" = 0 ]
