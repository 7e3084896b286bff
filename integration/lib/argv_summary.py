#!/usr/bin/env python3
"""Summarise the argv logs of the runtime wrappers: for each client and runtime, the global
options and every subcommand with the flags it was given (values dropped, counts kept).

usage: argv_summary.py ARGV_DIR
"""
import collections, os, shlex, sys

GLOBAL_WITH_VALUE = {"--root", "--log", "--log-format", "--criu"}
GLOBAL_FLAGS = {"--debug", "--systemd-cgroup", "--rootless", "--version", "-v"}
# subcommand flags that take a separate value (so the value is not mistaken for a flag)
d = sys.argv[1]
for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
    if not name.endswith(".log"):
        continue
    client, rt = name[:-4].split(".", 1)
    glob = collections.Counter()
    subs = collections.OrderedDict()
    calls = 0
    for line in open(os.path.join(d, name)):
        try:
            argv = shlex.split(line)
        except ValueError:
            argv = line.split()
        calls += 1
        i, sub = 0, None
        while i < len(argv):
            a = argv[i]
            key = a.split("=", 1)[0]
            if key in GLOBAL_WITH_VALUE:
                glob[a if key == "--log-format" else key + ("=" if "=" in a else "")] += 1
                i += 1 if "=" in a else 2
                continue
            if key in GLOBAL_FLAGS:
                glob[key] += 1
                i += 1
                continue
            sub = a
            break
        if sub is None:
            sub = "(none)"
            flags = []
        else:
            flags = sorted({x.split("=", 1)[0] for x in argv[i + 1:] if x.startswith("-") and not x[1:].isdigit()})
            if sub == "kill" and len(argv) > i + 2:
                flags.append("SIGNAL=" + argv[-1])  # kill [--all] ID SIGNAL
        entry = subs.setdefault(sub, collections.Counter())
        entry[" ".join(flags) or "-"] += 1
    print(f"{client} -> {rt}: {calls} calls; global options: " +
          ", ".join(f"{k} x{v}" for k, v in sorted(glob.items())))
    for sub, forms in subs.items():
        print(f"  {sub:9} " + " | ".join(f"[{f}] x{n}" for f, n in forms.items()))
