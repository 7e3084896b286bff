//! config-linux.md and runtime-linux.md.
use super::mount_at;
use crate::rt::{cgroup_dir, host_ns, read_trim, Ctx, R};
use crate::{case, ensure, skip, Case};
use serde_json::{json, Value};
use std::path::Path;

pub fn cases() -> Vec<Case> {
    vec![
        case!("config-linux.md/namespaces/pid", |c| ns_new(
            c, "pid", "pid"
        )),
        case!("config-linux.md/namespaces/network", |c| ns_new(
            c, "network", "net"
        )),
        case!("config-linux.md/namespaces/ipc", |c| ns_new(
            c, "ipc", "ipc"
        )),
        case!("config-linux.md/namespaces/uts", |c| ns_new(
            c, "uts", "uts"
        )),
        case!("config-linux.md/namespaces/mount", |c| ns_new(
            c, "mount", "mnt"
        )),
        case!("config-linux.md/namespaces/cgroup", |c| ns_new(
            c, "cgroup", "cgroup"
        )),
        case!("config-linux.md/namespaces/user", |c| ns_new(
            c, "user", "user"
        )),
        case!(
            "config-linux.md/namespaces/absent-shares-runtime",
            ns_absent
        ),
        case!("config-linux.md/namespaces/path-joins", ns_path),
        case!("config-linux.md/namespaces/pid-path-joins", ns_pid_path),
        case!("config-linux.md/namespaces/duplicate-fails", ns_duplicate),
        case!(
            "config-linux.md/namespaces/path-wrong-type-fails",
            ns_wrong_type
        ),
        case!(
            "config-linux.md/user-namespace-mappings/uid-gid-maps",
            userns_maps
        ),
        case!("config-linux.md/devices/char", dev_char),
        case!("config-linux.md/devices/block", dev_block),
        case!("config-linux.md/devices/fifo", dev_fifo),
        case!(
            "config-linux.md/default-devices/present-and-usable",
            default_devices
        ),
        case!("config-linux.md/devices/dev-pts-ptmx", dev_ptmx),
        case!("config-linux.md/cgroups-path/absolute", cgroups_path),
        case!(
            "config-linux.md/cgroups-path/relative",
            cgroups_path_relative
        ),
        case!("config-linux.md/cgroups/memory", cg_memory),
        case!("config-linux.md/cgroups/memory-swap", cg_memsw),
        case!("config-linux.md/cgroups/cpu", cg_cpu),
        case!("config-linux.md/cgroups/cpuset", cg_cpuset),
        case!("config-linux.md/cgroups/pids", cg_pids),
        case!("config-linux.md/cgroups/pids-enforced", cg_pids_enforced),
        case!("config-linux.md/cgroups/hugepage-limits", cg_hugetlb),
        case!("config-linux.md/cgroups/blkio-weight", cg_blkio),
        case!("config-linux.md/cgroups/network", cg_network),
        case!("config-linux.md/cgroups/devices-allow-list", cg_devices),
        case!(
            "config-linux.md/cgroups/devices-deny-enforced",
            cg_devices_deny
        ),
        case!("config-linux.md/sysctl/namespaced-values", sysctl),
        case!("config-linux.md/sysctl/host-namespace-fails", sysctl_bad),
        case!("config-linux.md/seccomp/errno", seccomp_errno),
        case!("config-linux.md/seccomp/errnoRet", seccomp_errno_ret),
        case!("config-linux.md/seccomp/kill", seccomp_kill),
        case!("config-linux.md/seccomp/args-condition", seccomp_args),
        case!(
            "config-linux.md/seccomp/default-errno-allowlist",
            seccomp_allowlist
        ),
        case!(
            "runc/seccomp/unknown-syscall-name-ignored",
            seccomp_unknown_name
        ),
        case!("config-linux.md/seccomp/log-allows", seccomp_log),
        case!("config-linux.md/seccomp/trap", seccomp_trap),
        case!("config-linux.md/rootfs-mount-propagation/private", |c| {
            propagation(c, "private")
        }),
        case!("config-linux.md/rootfs-mount-propagation/slave", |c| {
            propagation(c, "slave")
        }),
        case!("config-linux.md/rootfs-mount-propagation/shared", |c| {
            propagation(c, "shared")
        }),
        case!("config-linux.md/rootfs-mount-propagation/unbindable", |c| {
            propagation(c, "unbindable")
        }),
        case!("config-linux.md/masked-paths/file", masked_file),
        case!("config-linux.md/masked-paths/directory", masked_dir),
        case!(
            "config-linux.md/masked-paths/missing-ignored",
            masked_missing
        ),
        case!(
            "config-linux.md/readonly-paths/dirs-files-proc",
            readonly_paths
        ),
        case!("config-linux.md/personality/linux32", personality),
        case!("runtime-linux.md/file-descriptors/only-stdio", fds),
        case!("runtime-linux.md/dev-symbolic-links/fd-stdio", dev_symlinks),
    ]
}

fn ns_new(c: &Ctx, t: &str, link: &str) -> R {
    let mut b = c.bundle();
    if t == "user" {
        b.add_ns("user", None);
        b.linux()["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.linux()["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    } else {
        b.add_ns(t, None);
    }
    let p = c.probe(&b)?;
    ensure!(
        p["ns"][link].is_string(),
        "no {link} ns in the probe: {}",
        p["ns"]
    );
    ensure!(
        p["ns"][link] != host_ns(link).as_str(),
        "{link} namespace is the host's: {}",
        p["ns"][link]
    );
    if t == "pid" {
        ensure!(
            p["pid"] == 1,
            "process is not pid 1 in its pid namespace: {}",
            p["pid"]
        );
    }
    Ok(())
}

fn ns_absent(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.remove_ns("network");
    b.remove_ns("ipc");
    let p = c.probe(&b)?;
    ensure!(
        p["ns"]["net"] == host_ns("net").as_str(),
        "net ns not inherited: {}",
        p["ns"]["net"]
    );
    ensure!(
        p["ns"]["ipc"] == host_ns("ipc").as_str(),
        "ipc ns not inherited: {}",
        p["ns"]["ipc"]
    );
    Ok(())
}

fn ns_path(c: &Ctx) -> R {
    // A first container owns the namespaces, a second joins them by path.
    let mut a = c.bundle();
    a.args(&["sleep", "30"]);
    let ida = c.created(&a)?;
    let pid = c.pid(&ida)?;
    let mut b = c.bundle();
    for (t, l) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
        b.add_ns(t, Some(&format!("/proc/{pid}/ns/{l}")));
    }
    b.config.as_object_mut().map(|o| o.remove("hostname"));
    let p = c.probe(&b)?;
    for l in ["net", "ipc", "uts"] {
        let want = std::fs::read_link(format!("/proc/{pid}/ns/{l}"))
            .map(|x| x.to_string_lossy().into_owned())
            .unwrap_or_default();
        ensure!(
            p["ns"][l] == want.as_str(),
            "{l}: joined {} want {want}",
            p["ns"][l]
        );
    }
    Ok(())
}

fn ns_duplicate(c: &Ctx) -> R {
    let mut b = c.bundle();
    if let Some(a) = b.config["linux"]["namespaces"].as_array_mut() {
        a.push(json!({"type": "ipc"}));
    }
    ensure!(
        c.run(&b).code != 0,
        "a duplicated namespace type was accepted"
    );
    Ok(())
}

fn ns_wrong_type(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.add_ns("network", Some("/proc/self/ns/ipc"));
    ensure!(
        c.run(&b).code != 0,
        "an ipc namespace path given as network was accepted"
    );
    Ok(())
}

fn userns_maps(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.add_ns("user", None);
    b.linux()["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 1000}, {"containerID": 1000, "hostID": 300000, "size": 10}]);
    b.linux()["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 2000}]);
    let p = c.probe(&b)?;
    let norm = |v: &Value| {
        v.as_str()
            .unwrap_or("")
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    ensure!(
        norm(&p["uid_map"]) == ["0 200000 1000", "1000 300000 10"],
        "uid_map {:?}",
        norm(&p["uid_map"])
    );
    ensure!(
        norm(&p["gid_map"]) == ["0 200000 2000"],
        "gid_map {:?}",
        norm(&p["gid_map"])
    );
    ensure!(p["uid"] == 0, "uid inside {}", p["uid"]);
    Ok(())
}

fn dev_case(c: &Ctx, d: Value, path: &str, kind: &str) -> R {
    let mut b = c.bundle();
    b.linux()["devices"] = json!([d.clone()]);
    b.probe(&["--path", path]);
    let p = c.probe(&b)?;
    let s = &p["paths"][path];
    ensure!(s["type"] == kind, "{path}: type {} want {kind}", s["type"]);
    if kind != "fifo" {
        ensure!(
            s["major"] == d["major"] && s["minor"] == d["minor"],
            "{path}: {}:{}",
            s["major"],
            s["minor"]
        );
    }
    ensure!(
        s["mode"] == d["fileMode"],
        "{path}: mode {:o}",
        s["mode"].as_u64().unwrap_or(0)
    );
    ensure!(
        s["uid"] == d["uid"] && s["gid"] == d["gid"],
        "{path}: owner {}:{}",
        s["uid"],
        s["gid"]
    );
    Ok(())
}

fn dev_char(c: &Ctx) -> R {
    dev_case(
        c,
        json!({"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 1001}),
        "/dev/mynull",
        "char",
    )
}

fn dev_block(c: &Ctx) -> R {
    dev_case(
        c,
        json!({"path": "/dev/myloop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600, "uid": 0, "gid": 0}),
        "/dev/myloop",
        "block",
    )
}

fn dev_fifo(c: &Ctx) -> R {
    dev_case(
        c,
        json!({"path": "/dev/myfifo", "type": "p", "fileMode": 0o644, "uid": 0, "gid": 0}),
        "/dev/myfifo",
        "fifo",
    )
}

fn default_devices(c: &Ctx) -> R {
    let mut b = c.bundle();
    let devs = [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ];
    let mut args = vec![];
    for (d, _, _) in &devs {
        args.push("--path");
        args.push(d);
    }
    b.probe(&args);
    let p = c.probe(&b)?;
    for (d, ma, mi) in devs {
        let s = &p["paths"][d];
        ensure!(
            s["type"] == "char" && s["major"] == ma && s["minor"] == mi,
            "{d}: {s}"
        );
        if d != "/dev/tty" {
            ensure!(
                s["read"]["ok"] == true && s["write"]["ok"] == true,
                "{d} not usable (device cgroup?): {s}"
            );
        }
    }
    Ok(())
}

fn dev_symlinks(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.probe(&[
        "--path",
        "/dev/fd",
        "--path",
        "/dev/stdin",
        "--path",
        "/dev/stdout",
        "--path",
        "/dev/stderr",
        "--path",
        "/dev/ptmx",
    ]);
    let p = c.probe(&b)?;
    for (l, t) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        ensure!(p["paths"][l]["target"] == t, "{l}: {}", p["paths"][l]);
    }
    Ok(())
}

fn dev_ptmx(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.probe(&["--path", "/dev/ptmx", "--path", "/dev/pts/ptmx"]);
    let p = c.probe(&b)?;
    let ptmx = &p["paths"]["/dev/ptmx"];
    ensure!(
        ptmx["target"] == "pts/ptmx"
            || (ptmx["type"] == "char" && ptmx["major"] == 5 && ptmx["minor"] == 2),
        "/dev/ptmx {ptmx}"
    );
    ensure!(
        mount_at(&p, "/dev/pts")
            .map(|m| m["fstype"] == "devpts")
            .unwrap_or(false),
        "no devpts at /dev/pts"
    );
    Ok(())
}

fn created_pid(c: &Ctx, b: &crate::rt::Bundle) -> Result<(String, i64), crate::rt::Fail> {
    let id = c.created(b)?;
    let pid = c.pid(&id)?;
    Ok((id, pid))
}

fn cgfile(pid: i64, ctrl: &str, file: &str) -> Result<String, crate::rt::Fail> {
    let d = cgroup_dir(pid, ctrl).ok_or_else(|| format!("pid {pid} has no {ctrl} cgroup"))?;
    read_trim(&d.join(file))
        .ok_or_else(|| crate::rt::Fail::Fail(format!("cannot read {}", d.join(file).display())))
}

fn need_v1(ctrl: &str) -> R {
    if !Path::new(&format!("/sys/fs/cgroup/{ctrl}")).exists() {
        skip!("no v1 {ctrl} hierarchy on this host");
    }
    Ok(())
}

fn cgroups_path(c: &Ctx) -> R {
    need_v1("memory")?;
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let name = format!("/oci-conformance-{}-{}", c.rt.name, c.uniq());
    b.linux()["cgroupsPath"] = json!(name);
    let (_id, pid) = created_pid(c, &b)?;
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    for ctrl in ["memory", "pids", "cpu", "devices"] {
        let line = cg
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .map(|k| k.split(',').any(|x| x == ctrl))
                    .unwrap_or(false)
            })
            .unwrap_or("");
        ensure!(
            line.ends_with(&name),
            "{ctrl} cgroup is {line:?}, want {name}"
        );
    }
    Ok(())
}

fn with_resources(c: &Ctx, r: Value) -> Result<i64, crate::rt::Fail> {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    b.linux()["resources"] = r;
    Ok(created_pid(c, &b)?.1)
}

fn cg_memory(c: &Ctx) -> R {
    need_v1("memory")?;
    let pid = with_resources(
        c,
        json!({"memory": {"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 10}}),
    )?;
    ensure!(
        cgfile(pid, "memory", "memory.limit_in_bytes")? == (64u64 << 20).to_string(),
        "memory.limit_in_bytes"
    );
    ensure!(
        cgfile(pid, "memory", "memory.soft_limit_in_bytes")? == (32u64 << 20).to_string(),
        "memory.soft_limit_in_bytes"
    );
    ensure!(
        cgfile(pid, "memory", "memory.swappiness")? == "10",
        "memory.swappiness"
    );
    Ok(())
}

fn cg_cpu(c: &Ctx) -> R {
    need_v1("cpu")?;
    let pid = with_resources(
        c,
        json!({"cpu": {"shares": 512, "quota": 50000, "period": 100000}}),
    )?;
    ensure!(
        cgfile(pid, "cpu", "cpu.shares")? == "512",
        "cpu.shares {}",
        cgfile(pid, "cpu", "cpu.shares")?
    );
    ensure!(
        cgfile(pid, "cpu", "cpu.cfs_quota_us")? == "50000",
        "cpu.cfs_quota_us"
    );
    ensure!(
        cgfile(pid, "cpu", "cpu.cfs_period_us")? == "100000",
        "cpu.cfs_period_us"
    );
    Ok(())
}

fn cg_cpuset(c: &Ctx) -> R {
    need_v1("cpuset")?;
    let pid = with_resources(c, json!({"cpu": {"cpus": "0", "mems": "0"}}))?;
    ensure!(
        cgfile(pid, "cpuset", "cpuset.cpus")? == "0",
        "cpuset.cpus {}",
        cgfile(pid, "cpuset", "cpuset.cpus")?
    );
    ensure!(cgfile(pid, "cpuset", "cpuset.mems")? == "0", "cpuset.mems");
    Ok(())
}

fn cg_pids(c: &Ctx) -> R {
    need_v1("pids")?;
    let pid = with_resources(c, json!({"pids": {"limit": 42}}))?;
    ensure!(
        cgfile(pid, "pids", "pids.max")? == "42",
        "pids.max {}",
        cgfile(pid, "pids", "pids.max")?
    );
    Ok(())
}

fn cg_hugetlb(c: &Ctx) -> R {
    need_v1("hugetlb")?;
    if !Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        skip!("no 2MB huge pages");
    }
    let pid = with_resources(
        c,
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}),
    )?;
    ensure!(
        cgfile(pid, "hugetlb", "hugetlb.2MB.limit_in_bytes")? == (4u64 << 20).to_string(),
        "hugetlb.2MB.limit_in_bytes"
    );
    Ok(())
}

fn cg_blkio(c: &Ctx) -> R {
    need_v1("blkio")?;
    if !Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists()
        && !Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists()
    {
        skip!("the host's blkio controller has no weight file (no CFQ/BFQ)");
    }
    let pid = with_resources(c, json!({"blockIO": {"weight": 300}}))?;
    let w = cgfile(pid, "blkio", "blkio.weight")
        .or_else(|_| cgfile(pid, "blkio", "blkio.bfq.weight"))?;
    ensure!(w.ends_with("300"), "blkio weight {w}");
    Ok(())
}

fn cg_network(c: &Ctx) -> R {
    if !Path::new("/sys/fs/cgroup/net_cls").exists() {
        skip!("no net_cls hierarchy on this host");
    }
    let pid = with_resources(c, json!({"network": {"classID": 1048577}}))?;
    ensure!(
        cgfile(pid, "net_cls", "net_cls.classid")? == "1048577",
        "net_cls.classid"
    );
    Ok(())
}

fn cg_devices(c: &Ctx) -> R {
    need_v1("devices")?;
    let pid = with_resources(
        c,
        json!({"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]}),
    )?;
    let l = cgfile(pid, "devices", "devices.list")?;
    ensure!(
        l.lines().any(|x| x == "c 1:3 rw" || x == "c 1:3 rwm"),
        "devices.list lacks c 1:3: {l:?}"
    );
    ensure!(
        !l.lines().any(|x| x == "a *:* rwm"),
        "devices.list allows everything: {l:?}"
    );
    Ok(())
}

fn cg_devices_deny(c: &Ctx) -> R {
    // A device outside the allow list (c 1:1, /dev/mem) cannot be made or opened, even with
    // CAP_MKNOD.
    let mut b = c.bundle();
    b.linux()["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    b.sh("mknod /tmp/xmem c 1 1 2>/dev/null; if head -c 1 /tmp/xmem >/dev/null 2>&1; then echo OPENED; else echo DENIED; fi");
    let o = c.run(&b);
    o.ok("run")?;
    ensure!(
        o.stdout.trim() == "DENIED",
        "a device outside the device cgroup was opened: {:?}",
        o.stdout
    );
    Ok(())
}

fn sysctl(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.linux()["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789", "net.core.somaxconn": "1000"});
    b.probe(&[
        "--sysctl",
        "net.ipv4.ip_forward",
        "--sysctl",
        "kernel.shmmax",
        "--sysctl",
        "net.core.somaxconn",
    ]);
    let p = c.probe(&b)?;
    ensure!(
        p["sysctl"]["net.ipv4.ip_forward"] == "1",
        "ip_forward {}",
        p["sysctl"]
    );
    ensure!(
        p["sysctl"]["kernel.shmmax"] == "123456789",
        "shmmax {}",
        p["sysctl"]
    );
    ensure!(
        p["sysctl"]["net.core.somaxconn"] == "1000",
        "somaxconn {}",
        p["sysctl"]
    );
    Ok(())
}

fn sysctl_bad(c: &Ctx) -> R {
    // net.* without a network namespace would change the host: must be refused. The value
    // asked for is the host's somaxconn minus one (harmless if a runtime does write it; other
    // work on this machine must not see ip_forward flip), restored at once.
    const P: &str = "/proc/sys/net/core/somaxconn";
    let mut b = c.bundle();
    b.remove_ns("network");
    let before = std::fs::read_to_string(P).unwrap_or_default();
    let cur: i64 = before.trim().parse().unwrap_or(4096);
    b.linux()["sysctl"] = json!({"net.core.somaxconn": (cur - 1).to_string()});
    let o = c.run(&b);
    let after = std::fs::read_to_string(P).unwrap_or_default();
    if before != after {
        let _ = std::fs::write(P, &before);
        return Err(format!(
            "the host's net.core.somaxconn was changed ({} -> {}; restored)",
            before.trim(),
            after.trim()
        )
        .into());
    }
    ensure!(
        o.code != 0,
        "a net sysctl without a network namespace was accepted"
    );
    Ok(())
}

fn seccomp(c: &Ctx, s: Value, probe_args: &[&str]) -> Result<Value, crate::rt::Fail> {
    let mut b = c.bundle();
    b.linux()["seccomp"] = s;
    b.probe(probe_args);
    c.probe(&b)
}

fn seccomp_errno(c: &Ctx) -> R {
    let p = seccomp(
        c,
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
        &["--mkdir", "/tmp/x"],
    )?;
    ensure!(
        p["status"]["Seccomp"] == "2",
        "Seccomp mode {}",
        p["status"]["Seccomp"]
    );
    ensure!(
        p["mkdir"]["/tmp/x"]["ok"] == false && p["mkdir"]["/tmp/x"]["errno"] == libc::EPERM,
        "mkdir {}",
        p["mkdir"]
    );
    Ok(())
}

fn seccomp_errno_ret(c: &Ctx) -> R {
    let p = seccomp(
        c,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV}]}),
        &["--mkdir", "/tmp/x"],
    )?;
    ensure!(
        p["mkdir"]["/tmp/x"]["errno"] == libc::EXDEV,
        "mkdir {}",
        p["mkdir"]
    );
    Ok(())
}

fn seccomp_kill(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.linux()["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]});
    b.args(&["/bin/mkdir", "/tmp/x"]);
    let o = c.run(&b);
    ensure!(
        o.code == 128 + libc::SIGSYS,
        "exit {} want {} (killed by SIGSYS): {}",
        o.code,
        128 + libc::SIGSYS,
        o.stderr.trim()
    );
    Ok(())
}

fn seccomp_args(c: &Ctx) -> R {
    // mkdirat with mode 0o755 fails, other modes pass.
    let p = seccomp(
        c,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0o755, "op": "SCMP_CMP_EQ"}]},
                     {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 0o755, "op": "SCMP_CMP_EQ"}]}]}),
        &["--mkdir", "/tmp/x"],
    )?;
    ensure!(
        p["mkdir"]["/tmp/x"]["errno"] == libc::EPERM,
        "mkdir mode 755 {}",
        p["mkdir"]
    );
    let mut b = c.bundle();
    b.linux()["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 0o700, "op": "SCMP_CMP_EQ"}]},
                     {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 0o700, "op": "SCMP_CMP_EQ"}]}]});
    b.probe(&["--mkdir", "/tmp/y"]);
    let p = c.probe(&b)?;
    ensure!(
        p["mkdir"]["/tmp/y"]["ok"] == true,
        "mkdir with a non-matching argument blocked: {}",
        p["mkdir"]
    );
    Ok(())
}

fn seccomp_allowlist(c: &Ctx) -> R {
    // Default errno, allow-list of what the probe and runtime need after the filter is set.
    let allow = [
        "read",
        "write",
        "openat",
        "open",
        "close",
        "fstat",
        "newfstatat",
        "statx",
        "lstat",
        "stat",
        "mmap",
        "munmap",
        "mprotect",
        "brk",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "ioctl",
        "pread64",
        "access",
        "execve",
        "execveat",
        "exit",
        "exit_group",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "prlimit64",
        "getrandom",
        "readlink",
        "readlinkat",
        "getdents64",
        "getpid",
        "getppid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getsid",
        "getpgrp",
        "getgroups",
        "getrlimit",
        "umask",
        "uname",
        "getcwd",
        "sigaltstack",
        "poll",
        "sched_getaffinity",
        "futex",
        "clock_gettime",
        "clock_nanosleep",
        "nanosleep",
        "lseek",
        "fcntl",
        "capget",
        "capset",
        "prctl",
        "setgroups",
        "setuid",
        "setgid",
        "setresuid",
        "setresgid",
        "chdir",
        "fchdir",
        "dup",
        "dup2",
        "dup3",
        "pipe2",
        "epoll_pwait",
        "sched_yield",
        "statfs",
        "fstatfs",
        "close_range",
        "getdents",
        "unlink",
        "unlinkat",
        "madvise",
        "mremap",
        "gettid",
        "tgkill",
        "writev",
        "faccessat2",
    ];
    let p = seccomp(
        c,
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": allow.to_vec(), "action": "SCMP_ACT_ALLOW"}]}),
        &["--mkdir", "/tmp/x"],
    )?;
    ensure!(
        p["mkdir"]["/tmp/x"]["errno"] == libc::EPERM,
        "mkdir outside the allow list: {}",
        p["mkdir"]
    );
    Ok(())
}

fn propagation(c: &Ctx, mode: &str) -> R {
    let mut b = c.bundle();
    b.linux()["rootfsPropagation"] = json!(mode);
    let p = c.probe(&b)?;
    let root = mount_at(&p, "/").ok_or("no / mount")?;
    let opt = root["optional"].as_str().unwrap_or("");
    let ok = match mode {
        "shared" => opt.contains("shared:"),
        // A slave receives the host's mounts and sends none back: never "shared:".
        "slave" => !opt.contains("shared:"),
        "private" => !opt.contains("master:") && !opt.contains("shared:"),
        "unbindable" => opt.contains("unbindable"),
        _ => false,
    };
    ensure!(ok, "rootfsPropagation {mode}: / has {opt:?}");
    Ok(())
}

fn masked_file(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.linux()["maskedPaths"] = json!(["/proc/version", "/etc/passwd"]);
    b.probe(&[
        "--path",
        "/proc/version",
        "--read",
        "/proc/version",
        "--read",
        "/etc/passwd",
    ]);
    let p = c.probe(&b)?;
    let k = &p["paths"]["/proc/version"];
    ensure!(
        k["type"] == "char" && k["major"] == 1 && k["minor"] == 3,
        "/proc/version is not /dev/null: {k}"
    );
    ensure!(
        p["files"]["/proc/version"] == "" && p["files"]["/etc/passwd"] == "",
        "masked files readable: {}",
        p["files"]
    );
    Ok(())
}

fn masked_dir(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.linux()["maskedPaths"] = json!(["/sys/firmware", "/proc/scsi", "/etc"]);
    b.probe(&["--path", "/sys/firmware", "--path", "/etc"]);
    let p = c.probe(&b)?;
    for d in ["/sys/firmware", "/etc"] {
        let s = &p["paths"][d];
        ensure!(
            s["type"] == "dir" && s["entries"] == 0,
            "{d} not masked (empty): {s}"
        );
        ensure!(s["write"]["ok"] == false, "{d} masked but writable: {s}");
    }
    Ok(())
}

fn masked_missing(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.linux()["maskedPaths"] = json!(["/does/not/exist", "/proc/kcore"]);
    b.linux()["readonlyPaths"] = json!(["/nor/this"]);
    c.probe(&b)?;
    Ok(())
}

fn readonly_paths(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.linux()["readonlyPaths"] = json!(["/proc/sys", "/tmp", "/etc/passwd"]);
    b.probe(&[
        "--path",
        "/tmp",
        "--path",
        "/etc/passwd",
        "--path",
        "/proc/sys/kernel/hostname",
    ]);
    let p = c.probe(&b)?;
    for d in ["/tmp", "/etc/passwd", "/proc/sys/kernel/hostname"] {
        ensure!(
            p["paths"][d]["write"]["errno"] == libc::EROFS,
            "{d} writable: {}",
            p["paths"][d]
        );
    }
    ensure!(
        p["paths"]["/etc/passwd"]["read"]["ok"] == true,
        "readonly path unreadable"
    );
    Ok(())
}

fn personality(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.linux()["personality"] = json!({"domain": "LINUX32"});
    let p = c.probe(&b)?;
    ensure!(
        p["personality"] == "00000008",
        "personality {}",
        p["personality"]
    );
    Ok(())
}

fn fds(c: &Ctx) -> R {
    let b = c.bundle();
    let p = c.probe(&b)?;
    let fds = p["fds"].as_object().ok_or("no fds")?;
    // 0-2, plus the probe's own read_dir fd (which points at /proc/.../fd).
    let extra: Vec<_> = fds
        .iter()
        .filter(|(k, v)| {
            !["0", "1", "2"].contains(&k.as_str()) && !v.as_str().unwrap_or("").contains("/fd")
        })
        .collect();
    ensure!(extra.is_empty(), "fds leaked into the container: {extra:?}");
    Ok(())
}

fn ns_pid_path(c: &Ctx) -> R {
    let mut a = c.bundle();
    a.args(&["sleep", "30"]);
    let ida = c.started(&a)?;
    let pid = c.pid(&ida)?;
    let mut b = c.bundle();
    b.add_ns("pid", Some(&format!("/proc/{pid}/ns/pid")));
    let p = c.probe(&b)?;
    let want = std::fs::read_link(format!("/proc/{pid}/ns/pid"))
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_default();
    ensure!(
        p["ns"]["pid"] == want.as_str(),
        "pid ns {} want {want}",
        p["ns"]["pid"]
    );
    ensure!(p["pid"] != 1, "the joining process is pid 1");
    Ok(())
}

fn cgroups_path_relative(c: &Ctx) -> R {
    need_v1("memory")?;
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let name = format!("oci-conformance-rel-{}-{}", c.rt.name, c.uniq());
    b.linux()["cgroupsPath"] = json!(name);
    let (_id, pid) = created_pid(c, &b)?;
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let line = cg
        .lines()
        .find(|l| {
            l.split(':')
                .nth(1)
                .map(|k| k.split(',').any(|x| x == "memory"))
                .unwrap_or(false)
        })
        .unwrap_or("");
    ensure!(
        line.ends_with(&format!("/{name}")),
        "memory cgroup is {line:?}, want .../{name}"
    );
    Ok(())
}

fn cg_memsw(c: &Ctx) -> R {
    need_v1("memory")?;
    if !Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        skip!("the kernel has no swap accounting (memory.memsw.*)");
    }
    let pid = with_resources(c, json!({"memory": {"limit": 64 << 20, "swap": 128 << 20}}))?;
    ensure!(
        cgfile(pid, "memory", "memory.memsw.limit_in_bytes")? == (128u64 << 20).to_string(),
        "memory.memsw.limit_in_bytes"
    );
    Ok(())
}

fn cg_pids_enforced(c: &Ctx) -> R {
    need_v1("pids")?;
    let mut b = c.bundle();
    b.linux()["resources"] = json!({"pids": {"limit": 5}});
    // The shell is one pid; the sixth fork must fail with EAGAIN.
    b.sh("for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait");
    let o = c.run(&b);
    let all = format!("{}{}", o.stdout, o.stderr);
    ensure!(
        all.contains("fork") || all.contains("Resource temporarily unavailable"),
        "10 forks under pids.max 5 all succeeded: {:?}",
        crate::rt::short(&all)
    );
    Ok(())
}

fn seccomp_unknown_name(c: &Ctx) -> R {
    let p = seccomp(
        c,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat", "no_such_syscall_oci"], "action": "SCMP_ACT_ERRNO"}]}),
        &["--mkdir", "/tmp/x"],
    )?;
    ensure!(
        p["mkdir"]["/tmp/x"]["errno"] == libc::EPERM,
        "mkdir {}",
        p["mkdir"]
    );
    Ok(())
}

fn seccomp_log(c: &Ctx) -> R {
    let p = seccomp(
        c,
        json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_LOG"}]}),
        &["--mkdir", "/tmp/x"],
    )?;
    ensure!(
        p["status"]["Seccomp"] == "2",
        "Seccomp mode {}",
        p["status"]["Seccomp"]
    );
    ensure!(
        p["mkdir"]["/tmp/x"]["ok"] == true,
        "SCMP_ACT_LOG blocked mkdir: {}",
        p["mkdir"]
    );
    Ok(())
}

fn seccomp_trap(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.linux()["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_TRAP"}]});
    b.args(&["/bin/mkdir", "/tmp/x"]);
    let o = c.run(&b);
    ensure!(
        o.code == 128 + libc::SIGSYS,
        "exit {} want {} (SIGSYS from the trap)",
        o.code,
        128 + libc::SIGSYS
    );
    Ok(())
}
