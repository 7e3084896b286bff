#!/usr/bin/env python3
"""hull vs runc vs crun, measured in one run with the runtimes interleaved.

Run through bench/run.sh, which installs what is needed, builds hull in release mode and
re-executes this script inside a private mount namespace where /sys/fs/cgroup/unified is
unmounted: crun 1.8 refuses this hybrid-cgroup host otherwise, and every runtime gets the same
view so the comparison is fair.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--hull", required=True)
ap.add_argument("--runs", type=int, default=30)
ap.add_argument("--rss-runs", type=int, default=20)
ap.add_argument("--parallel-total", type=int, default=100)
ap.add_argument("--with-youki", action="store_true")
args = ap.parse_args()

RUNTIMES = [("hull", args.hull), ("runc", shutil.which("runc")), ("crun", shutil.which("crun"))]
if args.with_youki:
    RUNTIMES.append(("youki", shutil.which("youki") or os.path.expanduser("~/.cargo/bin/youki")))
RUNTIMES = [(n, p) for n, p in RUNTIMES if p and os.path.exists(p)]
work = tempfile.mkdtemp(prefix="hull-bench-")
here = os.path.dirname(os.path.abspath(__file__))


def bundle(name, seccomp):
    d = os.path.join(work, name)
    subprocess.run([os.path.join(here, "..", "scripts", "busybox-bundle.sh"), d, args.hull, "/bin/true"],
                   check=True, stdout=subprocess.DEVNULL)
    cfg = os.path.join(d, "config.json")
    c = json.load(open(cfg))
    # crun 1.8 refuses ociVersion 1.2.0 ("unknown version specified"); 1.0.2 suits all three.
    c["ociVersion"] = "1.0.2"
    if seccomp:
        # A docker-like profile: default ERRNO, a large allow list (every syscall this libseccomp
        # knows except the ones docker's profile denies).
        deny = {"mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "ptrace",
                "reboot", "kexec_load", "init_module", "finit_module", "delete_module", "swapon", "swapoff",
                "bpf", "perf_event_open", "userfaultfd", "open_by_handle_at", "pivot_root", "acct",
                "settimeofday", "clock_settime", "quotactl", "lookup_dcookie", "syslog", "vm86", "vm86old"}
        names = [l.split()[1].replace("__NR_", "") for l in open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
                 if l.startswith("#define __NR_")]
        allow = sorted(set(names) - deny)
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                                 "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                                 "syscalls": [{"names": allow, "action": "SCMP_ACT_ALLOW"}]}
    json.dump(c, open(cfg, "w"))
    return d


ERR = os.path.join(work, "stderr")


def timed(cmd, cwd):
    # stderr goes to a file, not a pipe: after `create` the container's init holds the
    # runtime's stdio until `start`, so reading a pipe to EOF would wait for the container.
    with open(ERR, "w") as err:
        t = time.perf_counter()
        r = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed ({r.returncode}): {open(ERR).read()[-500:]}")
    return dt


def interleaved(label, make_cmds, cwd, runs=args.runs, warmup=3):
    """make_cmds(name, path, i) -> list of commands timed together as one sample."""
    samples = {n: [] for n, _ in RUNTIMES}
    for i in range(-warmup, runs):
        for n, p in RUNTIMES:
            t = sum(timed(c, cwd) for c in make_cmds(n, p, i))
            if i >= 0:
                samples[n].append(t)
    return label, samples


def fmt(xs, unit="ms", scale=1000.0):
    m = statistics.median(xs) * scale
    return f"{m:8.2f} {unit} ({min(xs)*scale:.1f}-{max(xs)*scale:.1f})", m


rows = []
plain = bundle("plain", False)
sec = bundle("seccomp", True)
rows.append(interleaved("run /bin/true (no seccomp)", lambda n, p, i: [[p, "--root", f"{work}/root-{n}", "run", f"r{i}"]], plain))
rows.append(interleaved("run /bin/true (seccomp)", lambda n, p, i: [[p, "--root", f"{work}/root-{n}", "run", f"s{i}"]], sec))
rows.append(interleaved("create + start + delete", lambda n, p, i: [
    [p, "--root", f"{work}/root-{n}", "create", f"c{i}"],
    [p, "--root", f"{work}/root-{n}", "start", f"c{i}"],
    [p, "--root", f"{work}/root-{n}", "delete", "--force", f"c{i}"]], plain))

# exec into a running container
sleeper = bundle("sleeper", False)
c = json.load(open(f"{sleeper}/config.json")); c["process"]["args"] = ["sleep", "1000"]
json.dump(c, open(f"{sleeper}/config.json", "w"))
for n, p in RUNTIMES:
    subprocess.run([p, "--root", f"{work}/root-{n}", "run", "-d", "sleeper"], cwd=sleeper, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
rows.append(interleaved("exec /bin/true", lambda n, p, i: [[p, "--root", f"{work}/root-{n}", "exec", "sleeper", "/bin/true"]], sleeper))
for n, p in RUNTIMES:
    subprocess.run([p, "--root", f"{work}/root-{n}", "delete", "--force", "sleeper"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parallel(n, p, i):
    t = time.perf_counter()
    procs = []
    for k in range(args.parallel_total):
        if len(procs) == 2:
            procs.pop(0).wait()
        procs.append(subprocess.Popen([p, "--root", f"{work}/root-{n}", "run", f"p{i}-{k}"], cwd=plain,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for pr in procs:
        pr.wait()
    return time.perf_counter() - t


par = {n: [] for n, _ in RUNTIMES}
for i in range(3):
    for n, p in RUNTIMES:
        par[n].append(parallel(n, p, i))
rows.append((f"{args.parallel_total} runs, 2 at a time (total)", par))


def rss(n, p, i):
    subprocess.run(["/usr/bin/time", "-o", f"{work}/rss", "-f", "%M", p, "--root", f"{work}/root-{n}", "run", f"m{i}"],
                   cwd=plain, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return int(open(f"{work}/rss").read().strip().splitlines()[-1])


mem = {n: [] for n, _ in RUNTIMES}
for i in range(args.rss_runs):
    for n, p in RUNTIMES:
        mem[n].append(rss(n, p, i))

# floor: the same namespaces + chroot + exec with no runtime
floor = []
for i in range(args.runs):
    floor.append(timed(["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "--cgroup",
                        "chroot", f"{plain}/rootfs", "/bin/true"], plain))

sizes, calls = {}, {}
for n, p in RUNTIMES:
    real = os.path.realpath(p)
    s = subprocess.run(["sh", "-c", f"cp {real} {work}/sz && strip {work}/sz 2>/dev/null; stat -c %s {work}/sz"],
                       capture_output=True, text=True).stdout.strip()
    sizes[n] = int(s) if s else 0
    r = subprocess.run(["strace", "-c", "-f", "-U", "calls,name", "-o", f"{work}/strace-{n}", p, "--root",
                        f"{work}/root-{n}", "run", "st"],
                       cwd=plain, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    totals = [l.split() for l in open(f"{work}/strace-{n}") if l.strip().endswith(" total")]
    if r.returncode != 0 or not totals:
        raise SystemExit(f"bench: strace of {n} run failed ({r.returncode})")
    calls[n] = int(totals[-1][0])

names = [n for n, _ in RUNTIMES]
print("\nAll runtimes run inside one private mount namespace with /sys/fs/cgroup/unified unmounted")
print(f"(crun 1.8 refuses this hybrid host otherwise). Medians, (min-max); {args.runs} interleaved runs.\n")
head = f"{'benchmark':38}" + "".join(f"{n:>28}" for n in names) + "".join(f"{'hull/'+n:>12}" for n in names[1:])
print(head)
for label, samples in rows:
    cells, meds = [], {}
    for n in names:
        s, m = fmt(samples[n])
        cells.append(f"{s:>28}")
        meds[n] = m
    ratios = "".join(f"{meds['hull']/meds[n]:>12.2f}" for n in names[1:])
    print(f"{label:38}" + "".join(cells) + ratios)
mm = {n: statistics.median(mem[n]) for n in names}
print(f"{'peak RSS of the runtime (KiB, median)':38}" + "".join(f"{int(mm[n]):>28}" for n in names) + "".join(f"{mm['hull']/mm[n]:>12.2f}" for n in names[1:]))
print(f"{'binary size, stripped (bytes)':38}" + "".join(f"{sizes[n]:>28}" for n in names) + "".join(f"{sizes['hull']/max(sizes[n],1):>12.2f}" for n in names[1:]))
print(f"{'syscalls of one run (strace -c -f)':38}" + "".join(f"{calls[n]:>28}" for n in names) + "".join(f"{calls['hull']/max(calls[n],1):>12.2f}" for n in names[1:]))
fs, _ = fmt(floor)
print(f"{'floor: unshare + chroot + /bin/true':38}{fs:>28}")
shutil.rmtree(work, ignore_errors=True)
