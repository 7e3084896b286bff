#!/usr/bin/env python3
"""Build an offline busybox image as a docker archive (what `docker save` writes), which
`ctr images import`, `podman load` and `docker load` all read.

usage: mkimage.py BUSYBOX OUT.tar

Three tags share one layer: busybox:int (no User), busybox:user (User 1000:1000), so clients
without a user flag (ctr run) still get a non-root process through the image config, and
busybox:pause (sleeps forever) as the CRI sandbox image.
"""
import hashlib, io, json, sys, tarfile

busybox, out = sys.argv[1], sys.argv[2]
APPLETS = ("sh ash cat echo env id pwd sleep ls ps kill true false head tail grep wc "
           "mkdir rm touch stat tr cut sed tty stty readlink nproc ulimit top date").split()
MTIME = 1700000000


def add(t, name, kind, data=b"", mode=0o755, link=""):
    ti = tarfile.TarInfo(name)
    ti.mtime, ti.uid, ti.gid, ti.mode = MTIME, 0, 0, mode
    if kind == "dir":
        ti.type = tarfile.DIRTYPE
        t.addfile(ti)
    elif kind == "sym":
        ti.type, ti.linkname = tarfile.SYMTYPE, link
        t.addfile(ti)
    else:
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))


layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.GNU_FORMAT) as t:
    for d in ("bin", "etc", "dev", "proc", "sys", "tmp", "root", "home", "home/user", "work"):
        add(t, d, "dir", mode=0o1777 if d == "tmp" else 0o755)
    with open(busybox, "rb") as f:
        add(t, "bin/busybox", "file", f.read())
    for a in APPLETS:
        add(t, "bin/" + a, "sym", link="busybox")
    add(t, "etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\n"
        b"user:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n", 0o644)
    add(t, "etc/group", "file", b"root:x:0:\nuser:x:1000:\nextra:x:2000:user\nnogroup:x:65534:\n", 0o644)
layer_bytes = layer.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()


def config(user, entrypoint=None):
    c = {"architecture": "amd64", "os": "linux",
         "config": {"Env": ["PATH=/bin", "IMGVAR=fromimage"], "Cmd": ["sh"], "WorkingDir": "/"},
         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
         "created": "2023-11-14T22:13:20Z", "history": [{"created": "2023-11-14T22:13:20Z"}]}
    if user:
        c["config"]["User"] = user
    if entrypoint:
        c["config"]["Entrypoint"], c["config"]["Cmd"] = entrypoint, None
    b = json.dumps(c, sort_keys=True).encode()
    return hashlib.sha256(b).hexdigest(), b


layer_dir = hashlib.sha256(layer_bytes).hexdigest()
manifest = []
with tarfile.open(out, mode="w", format=tarfile.GNU_FORMAT) as t:
    add(t, layer_dir, "dir")
    add(t, layer_dir + "/layer.tar", "file", layer_bytes, 0o644)
    add(t, layer_dir + "/VERSION", "file", b"1.0", 0o644)
    for tag, user, ep in (("busybox:int", None, None), ("busybox:user", "1000:1000", None),
                          ("busybox:pause", None, ["sleep", "2147483647"])):
        h, b = config(user, ep)
        add(t, h + ".json", "file", b, 0o644)
        manifest.append({"Config": h + ".json", "RepoTags": [tag], "Layers": [layer_dir + "/layer.tar"]})
    add(t, "manifest.json", "file", json.dumps(manifest).encode(), 0o644)
    add(t, "repositories", "file", json.dumps(
        {"busybox": {"int": layer_dir, "user": layer_dir, "pause": layer_dir}}).encode(), 0o644)
