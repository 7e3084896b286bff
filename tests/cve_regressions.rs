//! Attacks that once succeeded against hull, kept as regression tests: CVE-2019-5736 through
//! `#!/proc/self/exe` (fixed by re-executing from a read-only bind mount of the binary, or a sealed memfd when rootless), /dev/console as a symlink
//! into procfs, `exec --cap` parsing, init's procfs reachable with CAP_SYS_PTRACE before
//! start, and sysctls that are not namespaced.

mod common;
mod cve_support;

use common::*;
use cve_support::*;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// CVE-2019-5736, the real attack: `exec` of a container program whose interpreter is
/// `#!/proc/self/exe`. At that execve, /proc/self/exe of the exec'ing process is the runtime
/// binary on the host (hull never re-execs, so its container-side processes are clones of the
/// host binary); the kernel runs the runtime binary inside the container, dumpable, as the
/// container's root. A second container process opens /proc/PID/exe, waits for ETXTBSY to
/// clear and reopens it for writing through /proc/self/fd. The runtime under test is a copy,
/// so a successful attack damages nothing else. hull now re-executes from a detached read-only
/// bind mount of its binary (a sealed memfd when rootless) before it clones anything, so what
/// the attacker reaches is that read-only file, and writes fail.
#[test]
fn cve_2019_5736_overwrite_runtime_via_shebang_proc_self_exe() {
    let env = Env::new("cve5736b");
    let tool = build_tool(&env);
    let mut rts = Vec::new();
    let hcopy = env.base.join("hull-copy");
    copy_exe(Path::new(HULL), &hcopy);
    rts.push(Rt::new(&env, "hull", &hcopy));
    if Path::new(RUNC).exists() {
        let rcopy = env.base.join("runc-copy");
        copy_exe(Path::new(RUNC), &rcopy);
        rts.push(Rt::new(&env, "runc", &rcopy));
    }
    let mut hull_escaped = None;
    for rt in rts {
        let b = env.bundle();
        let rootfs = b.rootfs();
        // A real image carries the dynamic loader and libc the runtime binary needs.
        copy_libs(&rt.bin, &rootfs);
        mkfile(&rootfs.join("bin/evil"), "#!/proc/self/exe\n", 0o755);
        fs::copy(&tool, rootfs.join("attacker")).unwrap();
        let size = fs::metadata(&rt.bin).unwrap().len().to_string();
        b.args(&["/attacker", "exe", &size, "20", "/tmp/result"]);
        b.edit(|c| c["root"]["readonly"] = serde_json::json!(false));
        let before = fs::read(&rt.bin).unwrap();
        let id = rt.id(&env, "x");
        rt.run_detached(&env, &b, &id).ok();
        let result = rootfs.join("tmp/result");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut tries = 0;
        let mut last = String::new();
        while Instant::now() < deadline {
            let s = fs::read_to_string(&result).unwrap_or_default();
            if s.contains("DONE") {
                break;
            }
            if !s.contains("GOT") && tries < 60 {
                // The administrator runs the (replaced) program in the container.
                let o = rt
                    .cmd()
                    .args(["exec", &id, "/bin/evil"])
                    .stdout(std::process::Stdio::null())
                    .output();
                tries += 1;
                last = match o {
                    Ok(o) => first_line(&String::from_utf8_lossy(&o.stderr)),
                    Err(e) => format!("could not run the runtime: {e}"),
                };
            } else {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let seen = fs::read_to_string(&result).unwrap_or_default();
        let after = fs::read(&rt.bin).unwrap();
        let changed = before != after;
        rt.delete(&id);
        let escaped = changed || seen.contains("WROTE");
        let what = format!(
            "{tries} x `exec /bin/evil` (#!/proc/self/exe; last stderr {last:?}) with a container \
                 process waiting on /proc/PID/exe: attacker saw {:?}; runtime binary {}",
            seen.replace('\n', " | "),
            if changed { "MODIFIED" } else { "unchanged" }
        );
        eprintln!("CVE-2019-5736 [{}]: {} — {what}", rt.name, verdict(escaped));
        if rt.is_hull() && escaped {
            hull_escaped = Some(what);
        }
    }
    assert!(
        hull_escaped.is_none(),
        "CVE-2019-5736: hull was escaped: {hull_escaped:?}"
    );
}

/// Copy a runtime binary with cp(1) in a child process: a write fd opened by this
/// multi-threaded test process could leak into a concurrently forked child and make the copy
/// ETXTBSY for as long as that child lives.
fn copy_exe(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// CVE-2025-52565 (target side): /dev/console in the container is a symlink to a procfs file;
/// hull resolves the mount target inside the rootfs but still follows the symlink, and binds
/// the pty over /proc/sys/kernel/domainname. DESIGN.md says /dev/console is created with
/// O_NOFOLLOW and verified.
#[test]
fn cve_2025_52565_dev_console_symlink_into_procfs() {
    let env = Env::new("cve52565p");
    let mut hull_escaped = None;
    for rt in runtimes(&env) {
        let (what, escaped) = console_symlink(&env, &rt, "/proc/sys/kernel/domainname");
        eprintln!(
            "CVE-2025-52565 [{}]: {} — {what}",
            rt.name,
            verdict(escaped)
        );
        if rt.is_hull() && escaped {
            hull_escaped = Some(what);
        }
    }
    assert!(
        hull_escaped.is_none(),
        "CVE-2025-52565: hull followed the symlink: {hull_escaped:?}"
    );
}

/// `hull exec --cap NAME` rejects every capability name ("--cap: unknown capability"): it
/// builds "CAP_SYS_ADMIN" and parses it with oci_spec's Capability::from_str, which wants
/// "SYS_ADMIN". Fails closed (not an escape), but the flag is unusable.
#[test]
fn exec_cap_flag_is_accepted() {
    let env = Env::new("execcap");
    let rt = Rt::new(&env, "hull", Path::new(HULL));
    let b = env.bundle();
    b.args(&["sleep", "20"]);
    let id = rt.id(&env, "c");
    rt.run_detached(&env, &b, &id).ok();
    for name in ["CAP_SYS_ADMIN", "SYS_ADMIN", "sys_admin"] {
        let o = rt.run(
            &env,
            &[
                "exec",
                "--cap",
                name,
                &id,
                "grep",
                "^CapBnd",
                "/proc/self/status",
            ],
        );
        eprintln!(
            "hull exec --cap {name}: exit {} {}",
            o.code,
            first_line(&o.stderr)
        );
        o.ok();
    }
}

/// CVE-2016-9962 / CVE-2024-21626 class: while a container is created but not started, its
/// init (non-dumpable) still holds hull's private procfs fd — a full, read-write procfs with
/// no masked or read-only paths. A process exec'd into the container with CAP_SYS_PTRACE
/// (ptrace_may_access passes for a non-dumpable task in the same user namespace) reaches it
/// through /proc/1/fd/N and can open the host-global /proc/sys/kernel/core_pattern for
/// writing (the container's own /proc/sys is read-only). This test only opens it (O_APPEND),
/// never writes.
#[test]
fn created_init_private_procfs_reachable_with_sys_ptrace() {
    let env = Env::new("createdproc");
    let mut hull_escaped = None;
    for rt in runtimes(&env) {
        let b = env.bundle();
        b.args(&["sleep", "30"]);
        b.edit(|c| {
            let caps = &mut c["process"]["capabilities"];
            for set in ["bounding", "effective", "permitted"] {
                caps[set]
                    .as_array_mut()
                    .unwrap()
                    .push("CAP_SYS_PTRACE".into());
            }
        });
        let id = rt.id(&env, "c");
        rt.run(&env, &["create", "--bundle", b.dir.to_str().unwrap(), &id])
            .ok();
        let o = rt.run(
            &env,
            &[
                "exec",
                &id,
                "sh",
                "-c",
                "(exec 3>>/proc/sys/kernel/core_pattern && echo own=writable) 2>/dev/null || echo own=refused; \
                 for f in /proc/1/fd/*; do \
                   (exec 3>>$f/sys/kernel/core_pattern && echo via=$f) 2>/dev/null; done; \
                 echo fds=$(for f in /proc/1/fd/*; do echo -n \"${f##*/}->$(readlink $f) \"; done)",
            ],
        );
        rt.delete(&id);
        let via: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with("via=")).collect();
        let escaped = !via.is_empty();
        let what = format!(
            "exec with CAP_SYS_PTRACE into a created container, open core_pattern for writing \
             through init's fds: {via:?}; container's own /proc/sys: {}; {} (exit {})",
            kv(&o.stdout).get("own").cloned().unwrap_or_default(),
            o.stdout
                .lines()
                .find(|l| l.starts_with("fds="))
                .unwrap_or(""),
            o.code
        );
        eprintln!(
            "created-init procfs [{}]: {} — {what}",
            rt.name,
            verdict(escaped)
        );
        if rt.is_hull() && escaped {
            hull_escaped = Some(what);
        }
    }
    assert!(hull_escaped.is_none(), "hull: {hull_escaped:?}");
}

/// Hardening (runc and crun refuse this): hull writes any `linux.sysctl` key, including ones
/// that are not namespaced (kernel.core_pattern: host-global) or whose namespace the
/// container does not have (net.* without a network namespace). The test writes the host's
/// current values back, so nothing changes; hull must refuse the config like runc does.
#[test]
fn non_namespaced_sysctls_are_refused() {
    let env = Env::new("sysctlns");
    let core = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let mut hull_accepted = Vec::new();
    for rt in runtimes(&env) {
        for (key, value, drop_netns) in [
            ("kernel.core_pattern", core.trim(), false),
            ("net.ipv4.ip_forward", fwd.trim(), true),
        ] {
            let b = env.bundle();
            b.edit(|c| {
                c["linux"]["sysctl"] = serde_json::json!({ key: value });
                if drop_netns {
                    c["linux"]["namespaces"]
                        .as_array_mut()
                        .unwrap()
                        .retain(|n| n["type"] != "network");
                }
            });
            let id = rt.id(&env, "s");
            let o = rt.run_bundle(&env, &b, &id);
            eprintln!(
                "sysctl {key} ({}) [{}]: exit {} {}",
                if drop_netns {
                    "host network namespace"
                } else {
                    "host-global"
                },
                rt.name,
                o.code,
                if o.code == 0 {
                    "ACCEPTED (written on the host)".into()
                } else {
                    first_line(&o.stderr)
                }
            );
            if rt.is_hull() && o.code == 0 {
                hull_accepted.push(key);
            }
        }
    }
    assert!(fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap() == core);
    assert!(
        hull_accepted.is_empty(),
        "hull wrote host sysctls: {hull_accepted:?}"
    );
}
