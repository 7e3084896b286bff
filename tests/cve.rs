//! CVE regression suite: one reproduction per container-escape CVE that hit runc, crun or
//! youki, run against hull (which must not be escaped) and, where /usr/sbin/runc is installed,
//! against runc too (its result is printed, never asserted). Each test prints one line per
//! runtime: what it tried and what it saw. Run as root: `cargo test -p hull --test cve`
//! (`-- --nocapture` to read the lines). Needs gcc with a static libc (the attack helper).
//!
//! Not here, because they still succeed against hull (reproductions kept outside the tree
//! until fixed): CVE-2019-5736 through a `#!/proc/self/exe` program run by `hull exec` (the
//! host hull binary is executed inside the container and rewritten through /proc/PID/exe);
//! /dev/console as a symlink into procfs (the pty is bound over the procfs file); a created
//! init's private read-write procfs reachable through /proc/1/fd with CAP_SYS_PTRACE; host
//! sysctls accepted in linux.sysctl; `exec --cap` rejecting every name.

mod common;
mod cve_support;

use common::*;
use cve_support::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// CVE-2019-5736: the container overwrites the runtime binary through /proc/self/exe.
// ---------------------------------------------------------------------------------------------

#[test]
fn cve_2019_5736_proc_self_exe_points_at_container_program() {
    // hull never re-executes itself: the container's pid 1 and every process it can see run
    // the container's own programs, and /proc/1/exe cannot be opened for writing.
    let env = Env::new("cve5736a");
    let hull_before = fs::read(HULL).unwrap();
    for rt in runtimes(&env) {
        let b = env.bundle();
        b.script(
            "echo init=$(readlink /proc/1/exe); echo self=$(readlink /proc/self/exe); \
             for p in /proc/[0-9]*; do echo exe=$(readlink $p/exe); done; \
             (echo x >> /proc/1/exe) 2>/dev/null && echo write=ok || echo write=refused",
        );
        let id = rt.id(&env, "a");
        let o = rt.run_bundle(&env, &b, &id);
        let v = kv(&o.stdout);
        let exes: Vec<&str> = o
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("exe="))
            .collect();
        let runtime_visible = exes
            .iter()
            .any(|e| !e.is_empty() && *e != "/bin/busybox" && !e.starts_with("/bin/"));
        let escaped = o.code != 0
            || v.get("init").map(String::as_str) != Some("/bin/busybox")
            || v.get("write").map(String::as_str) != Some("refused")
            || runtime_visible;
        report(
            "CVE-2019-5736",
            &rt,
            escaped,
            &format!(
                "inside: /proc/1/exe -> {:?}, exes of visible processes {exes:?}, writing /proc/1/exe: {:?} (exit {})",
                v.get("init"),
                v.get("write"),
                o.code
            ),
        );
        rt.assert_clean(&env);
    }
    assert!(
        fs::read(HULL).unwrap() == hull_before,
        "the hull binary changed"
    );
}

// The full #!/proc/self/exe race (exec of a script whose interpreter is /proc/self/exe while a
// second container process waits to reopen the runtime binary for writing) is in
// tests/cve_regressions.rs.

// ---------------------------------------------------------------------------------------------
// CVE-2024-21626: a leaked host directory fd used as the process's cwd.
// ---------------------------------------------------------------------------------------------

fn fds_of(pid: i64) -> Vec<String> {
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            if n.parse::<i32>().map(|n| n > 2).unwrap_or(false) {
                let t = fs::read_link(e.path()).unwrap_or_default();
                v.push(format!("{n}->{}", t.display()));
            }
        }
    }
    v
}

#[test]
fn cve_2024_21626_leaked_fd_as_cwd() {
    let env = Env::new("cve21626");
    let canary = env.base.join("host-canary-21626");
    let token = format!("HOSTSECRET{}", std::process::id());
    mkfile(&canary, &token, 0o644);
    let climb = "../".repeat(15);
    let script = format!(
        "cat {climb}{} 2>/dev/null; echo; echo cwd=$(readlink /proc/self/cwd)",
        canary.display()
    );
    for rt in runtimes(&env) {
        let mut leaks = Vec::new();
        let mut outcomes = Vec::new();
        // init: process.cwd = /proc/self/fd/N
        for n in 3..=9 {
            let b = env.bundle();
            b.script(&script);
            b.edit(|c| c["process"]["cwd"] = json!(format!("/proc/self/fd/{n}")));
            let id = rt.id(&env, "init");
            let o = rt.run_bundle(&env, &b, &id);
            if o.stdout.contains(&token) {
                leaks.push(format!("init cwd fd {n}: {}", first_line(&o.stdout)));
            }
            outcomes.push(format!(
                "init fd{n}: exit {} {}",
                o.code,
                first_line(&o.stderr)
            ));
            rt.delete(&id);
        }
        // exec: --cwd /proc/self/fd/N, and the fds a running init and exec process hold.
        let b = env.bundle();
        b.args(&["sleep", "30"]);
        let id = rt.id(&env, "exec");
        let o = rt.run_detached(&env, &b, &id);
        let mut fd_problems = Vec::new();
        if o.code == 0 {
            for n in 3..=9 {
                let cwd = format!("/proc/self/fd/{n}");
                let o = rt.run(&env, &["exec", "--cwd", &cwd, &id, "sh", "-c", &script]);
                if o.stdout.contains(&token) {
                    leaks.push(format!("exec cwd fd {n}: {}", first_line(&o.stdout)));
                }
                outcomes.push(format!(
                    "exec fd{n}: exit {} {}",
                    o.code,
                    first_line(&o.stderr)
                ));
            }
            if let Some(pid) = rt.init_pid(&env, &id) {
                let f = fds_of(pid);
                if !f.is_empty() {
                    fd_problems.push(format!("init holds {f:?}"));
                }
            }
            let pidf = env.path("exec.pid");
            let o = rt.run(
                &env,
                &[
                    "exec",
                    "-d",
                    "--pid-file",
                    pidf.to_str().unwrap(),
                    &id,
                    "sleep",
                    "30",
                ],
            );
            if o.code == 0 {
                let pid: i64 = fs::read_to_string(&pidf)
                    .unwrap_or_default()
                    .trim()
                    .parse()
                    .unwrap_or(0);
                let f = fds_of(pid);
                if !f.is_empty() {
                    fd_problems.push(format!("exec process holds {f:?}"));
                }
            }
        }
        rt.delete(&id);
        // A created (not started) init still holds the runtime's fds: an exec'd process must
        // not reach them (or a cwd through them) via /proc/1 (CVE-2016-9962's way in).
        let b = env.bundle();
        b.args(&["sleep", "30"]);
        let id = rt.id(&env, "created");
        let mut created = String::from("create failed");
        if rt
            .run(&env, &["create", "--bundle", b.dir.to_str().unwrap(), &id])
            .code
            == 0
        {
            let probe = format!(
                "for f in /proc/1/fd/*; do cat $f/{climb}{c} 2>/dev/null; cd $f 2>/dev/null && \
                 echo cd=$f:$(pwd); done; echo fds=$(ls /proc/1/fd 2>&1 | tr '\n' ' ')",
                c = canary.display()
            );
            let o = rt.run(&env, &["exec", &id, "sh", "-c", &probe]);
            if o.stdout.contains(&token) || o.stdout.contains("cd=") {
                leaks.push(format!("exec into created container: {}", o.stdout.trim()));
            }
            created = format!(
                "exec into the created container: exit {} {}{}",
                o.code,
                first_line(&o.stdout),
                first_line(&o.stderr)
            );
        }
        outcomes.push(created);
        rt.delete(&id);
        let escaped = !leaks.is_empty() || !fd_problems.is_empty();
        report(
            "CVE-2024-21626",
            &rt,
            escaped,
            &format!(
                "cwd=/proc/self/fd/3..9 for init and exec, then read a host file through ../: \
                 leaks {leaks:?}; fds > 2 of the running processes: {fd_problems:?}; {}",
                outcomes.join(" ")
            ),
        );
        rt.assert_clean(&env);
    }
}

// ---------------------------------------------------------------------------------------------
// CVE-2019-16884 and CVE-2025-52881: procfs writes redirected by mounts.
// ---------------------------------------------------------------------------------------------

fn sysctl_redirect(cve: &str, file_bind: bool) {
    let env = Env::new(if file_bind { "cve52881" } else { "cve16884" });
    for rt in runtimes(&env) {
        // A host directory laid out like /proc/sys (or a single host file) is bound over the
        // container's /proc/sys (or its net/ipv4/ip_forward) by the config, which also asks
        // for a sysctl. A runtime writing the sysctl through the container's /proc path
        // writes into the host file instead.
        let fake = env.path("fake-sys");
        let host_file = if file_bind {
            fake.clone()
        } else {
            fake.join("net/ipv4/ip_forward")
        };
        mkfile(&host_file, "CANARY\n", 0o644);
        let before = host_fingerprint(&host_file);
        let b = env.bundle();
        let (dst, src) = if file_bind {
            ("/proc/sys/net/ipv4/ip_forward", fake.clone())
        } else {
            ("/proc/sys", fake.clone())
        };
        append_mounts(
            &b,
            json!([
                {"destination": dst, "type": "bind", "source": src, "options": ["bind", "rw"]},
                {"destination": "/mnt/realproc", "type": "proc", "source": "proc"}
            ]),
        );
        b.edit(|c| {
            c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            c["linux"]["readonlyPaths"] = json!([]);
        });
        b.script(
            "echo real=$(cat /mnt/realproc/sys/net/ipv4/ip_forward); \
             echo seen=$(cat /proc/sys/net/ipv4/ip_forward)",
        );
        let id = rt.id(&env, "s");
        let o = rt.run_bundle(&env, &b, &id);
        let after = host_fingerprint(&host_file);
        let v = kv(&o.stdout);
        let escaped = after != before;
        report(
            cve,
            &rt,
            escaped,
            &format!(
                "bind {} over {dst} + sysctl net.ipv4.ip_forward=1: host file now {:?}, \
                 container's real sysctl {:?}, seen through the redirect {:?} (exit {}{})",
                if file_bind {
                    "a host file"
                } else {
                    "a host dir"
                },
                String::from_utf8_lossy(&after.1).trim(),
                v.get("real"),
                v.get("seen"),
                o.code,
                if o.code != 0 {
                    format!(": {}", first_line(&o.stderr))
                } else {
                    String::new()
                }
            ),
        );
        if rt.is_hull() {
            o.ok();
            assert_eq!(v.get("real").map(String::as_str), Some("1"), "{o:?}");
        }
        rt.assert_clean(&env);
    }
}

#[test]
fn cve_2019_16884_proc_sys_dir_redirected_by_mount() {
    sysctl_redirect("CVE-2019-16884", false);
}

#[test]
fn cve_2025_52881_sysctl_file_redirected_by_bind() {
    sysctl_redirect("CVE-2025-52881", true);
}

// ---------------------------------------------------------------------------------------------
// CVE-2023-27561 / CVE-2023-28642: a rootfs whose /proc is a symlink.
// ---------------------------------------------------------------------------------------------

fn proc_symlink(cve: &str, target: &str) {
    let env = Env::new(&cve.to_lowercase().replace('-', ""));
    for rt in runtimes(&env) {
        let b = env.bundle();
        let rootfs = b.rootfs();
        fs::remove_dir(rootfs.join("proc")).unwrap();
        fs::create_dir_all(rootfs.join("fakeproc/self/attr")).unwrap();
        fs::create_dir_all(rootfs.join("fakeproc/sys/kernel")).unwrap();
        symlink(target, rootfs.join("proc")).unwrap();
        b.script("echo fstype=$(stat -f -c %T /proc/); echo status=$(grep -c ^Seccomp: /proc/self/status)");
        let id = rt.id(&env, "p");
        let o = rt.run_bundle(&env, &b, &id);
        let v = kv(&o.stdout);
        // The runtime must refuse; running with /proc anywhere but a real procfs at /proc is
        // the bypass (AppArmor/SELinux labels and procfs checks written into a fake /proc).
        let ran_with_fake = o.code == 0 && v.get("fstype").map(String::as_str) != Some("proc");
        let escaped = o.code == 0;
        report(
            cve,
            &rt,
            escaped,
            &format!(
                "rootfs /proc -> {target}: exit {}, {}",
                o.code,
                if o.code == 0 {
                    format!(
                        "container ran; /proc/ is {:?}{}",
                        v.get("fstype"),
                        if ran_with_fake { " (fake procfs)" } else { "" }
                    )
                } else {
                    format!("refused: {}", first_line(&o.stderr))
                }
            ),
        );
        if rt.is_hull() {
            assert!(
                o.stderr.contains("symlink"),
                "hull's refusal says why: {o:?}"
            );
        }
        rt.assert_clean(&env);
    }
}

#[test]
fn cve_2023_27561_rootfs_proc_is_symlink() {
    proc_symlink("CVE-2023-27561", "/fakeproc");
}

#[test]
fn cve_2023_28642_rootfs_proc_symlink_to_root() {
    proc_symlink("CVE-2023-28642", "/");
}

// ---------------------------------------------------------------------------------------------
// CVE-2025-31133: maskedPaths through a /dev/null that is a symlink.
// ---------------------------------------------------------------------------------------------

#[test]
fn cve_2025_31133_masked_paths_via_symlinked_dev_null() {
    let env = Env::new("cve31133");
    for rt in runtimes(&env) {
        let dev = dev_dir(&env);
        // /dev/null -> a procfs file: "masking" /proc/keys would bind that file over it,
        // writable (the real attack used /proc/sys/kernel/core_pattern; the container's own
        // hostname is the harmless stand-in).
        symlink("/proc/sys/kernel/hostname", dev.join("null")).unwrap();
        let b = env.bundle();
        bind_dev(&b, &dev);
        b.edit(|c| {
            c["linux"]["maskedPaths"] = json!(["/proc/keys"]);
            c["linux"]["readonlyPaths"] = json!([]);
            c["hostname"] = json!("orig31133");
        });
        // (Nothing here writes to /dev/null: in this container it is the attacker's symlink.)
        b.script(
            "echo masked=$(head -c 64 /proc/keys | tr -dc a-z0-9); \
             if echo pwned31133 > /proc/keys; then echo write=ok; else echo write=refused; fi; \
             echo host=$(cat /proc/sys/kernel/hostname); \
             echo masks=$(grep -c ' /proc/keys ' /proc/self/mountinfo)",
        );
        let id = rt.id(&env, "m");
        let o = rt.run_bundle(&env, &b, &id);
        let v = kv(&o.stdout);
        let escaped = o.code == 0
            && (v.get("masked").map(String::as_str) == Some("orig31133")
                || v.get("host").map(String::as_str) == Some("pwned31133"));
        // Running with /proc/keys not masked at all (the mask silently skipped) is a bypass too.
        let unmasked = o.code == 0 && v.get("masks").map(String::as_str) == Some("0");
        report(
            "CVE-2025-31133",
            &rt,
            escaped || unmasked,
            &format!(
                "/dev/null -> /proc/sys/kernel/hostname, maskedPaths [/proc/keys]: exit {}; {}",
                o.code,
                if o.code == 0 {
                    format!(
                        "/proc/keys reads {:?}, write to it {:?}, hostname now {:?}, mounts on /proc/keys {:?}",
                        v.get("masked"),
                        v.get("write"),
                        v.get("host"),
                        v.get("masks")
                    )
                } else {
                    format!("refused: {}", first_line(&o.stderr))
                }
            ),
        );
        if rt.is_hull() {
            assert!(o.stderr.contains("/dev/null"), "{o:?}");
        }
        rt.assert_clean(&env);
    }
}

// ---------------------------------------------------------------------------------------------
// CVE-2022-29162 / CVE-2022-27650: inheritable capabilities not in the spec.
// ---------------------------------------------------------------------------------------------

const CAP_CHOWN: u64 = 1 << 0;
const CAP_KILL: u64 = 1 << 5;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;
const CAP_NET_RAW: u64 = 1 << 13;
const CAP_SYS_ADMIN: u64 = 1 << 21;

fn caps(out: &str) -> std::collections::BTreeMap<String, u64> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.starts_with("Cap"))
        .map(|(k, v)| {
            (
                k.to_string(),
                u64::from_str_radix(v.trim(), 16).unwrap_or(u64::MAX),
            )
        })
        .collect()
}

fn inheritable_case(cve: &str, user: u32, with_keys: bool) {
    let env = Env::new(&cve.to_lowercase().replace('-', ""));
    for rt in runtimes(&env) {
        let b = env.bundle();
        b.edit(|c| {
            let mut capsv = json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
                "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
                "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            });
            if with_keys {
                capsv["inheritable"] = json!([]);
                capsv["ambient"] = json!([]);
            }
            c["process"]["capabilities"] = capsv;
            c["process"]["user"] = json!({"uid": user, "gid": user});
        });
        b.args(&["sleep", "30"]);
        let id = rt.id(&env, "c");
        let o = rt.run_detached(&env, &b, &id);
        let mut seen = Vec::new();
        let mut escaped = false;
        if o.code == 0 {
            let init_pid = rt.init_pid(&env, &id).unwrap_or(0);
            let st = fs::read_to_string(format!("/proc/{init_pid}/status")).unwrap_or_default();
            let c = caps(&st);
            seen.push(format!(
                "init CapInh={:x} CapAmb={:x}",
                c["CapInh"], c["CapAmb"]
            ));
            escaped |= c["CapInh"] != 0 || c["CapAmb"] != 0;
            // What `exec --cap CAP_SYS_ADMIN` must produce: the capability added to bounding,
            // effective and permitted only. First as an exec --process file (how containerd
            // asks), then with the flag itself.
            let pf = env.path("process.json");
            let mut all = vec!["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"];
            all.sort();
            fs::write(
                &pf,
                serde_json::to_vec(&json!({
                    "args": ["grep", "^Cap", "/proc/self/status"],
                    "cwd": "/",
                    "env": ["PATH=/bin:/sbin:/usr/bin"],
                    "user": {"uid": user, "gid": user},
                    "capabilities": {"bounding": all, "effective": all, "permitted": all}
                }))
                .unwrap(),
            )
            .unwrap();
            let e = rt.run(&env, &["exec", "--process", pf.to_str().unwrap(), &id]);
            let c = caps(&e.stdout);
            if e.code == 0 {
                seen.push(format!(
                    "exec --process (+SYS_ADMIN in bnd/eff/prm): CapInh={:x} CapAmb={:x} CapBnd={:x} CapPrm={:x}",
                    c["CapInh"], c["CapAmb"], c["CapBnd"], c["CapPrm"]
                ));
                escaped |= c["CapInh"] != 0 || c["CapAmb"] != 0;
                if rt.is_hull() {
                    assert_eq!(
                        c["CapBnd"],
                        CAP_CHOWN | CAP_KILL | CAP_NET_RAW | CAP_SYS_ADMIN,
                        "{e:?}"
                    );
                    if user == 0 {
                        assert_eq!(c["CapPrm"], c["CapBnd"], "{e:?}");
                        assert_eq!(c["CapEff"], c["CapBnd"], "{e:?}");
                    } else {
                        assert_eq!(c["CapPrm"], 0, "non-root after execve: {e:?}");
                    }
                }
            } else {
                seen.push(format!("exec --process failed: {}", first_line(&e.stderr)));
                if rt.is_hull() {
                    e.ok();
                }
            }
            let uid = format!("{user}");
            let e = rt.run(
                &env,
                &[
                    "exec",
                    "--cap",
                    "CAP_SYS_ADMIN",
                    "-u",
                    &uid,
                    &id,
                    "grep",
                    "^Cap",
                    "/proc/self/status",
                ],
            );
            let c = caps(&e.stdout);
            if e.code == 0 {
                seen.push(format!(
                    "exec --cap CAP_SYS_ADMIN: CapInh={:x} CapAmb={:x} CapBnd={:x} CapPrm={:x}",
                    c["CapInh"], c["CapAmb"], c["CapBnd"], c["CapPrm"]
                ));
                escaped |= c["CapInh"] != 0 || c["CapAmb"] != 0;
                if rt.is_hull() {
                    assert_eq!(c["CapBnd"] & CAP_SYS_ADMIN, CAP_SYS_ADMIN, "{e:?}");
                }
            } else {
                // hull 0.1.0 rejects every --cap name (see the suite's closing note); the
                // flag can only fail closed here, which is not an escape.
                seen.push(format!("exec --cap refused: {}", first_line(&e.stderr)));
            }
        } else {
            seen.push(format!("run failed: {}", first_line(&o.stderr)));
            if rt.is_hull() {
                o.ok();
            }
        }
        rt.delete(&id);
        report(
            cve,
            &rt,
            escaped,
            &format!(
                "uid {user}, spec {} inheritable/ambient: {}",
                if with_keys { "with empty" } else { "without" },
                seen.join("; ")
            ),
        );
        rt.assert_clean(&env);
    }
}

#[test]
fn cve_2022_29162_exec_cap_not_inheritable() {
    inheritable_case("CVE-2022-29162", 1000, true);
    inheritable_case("CVE-2022-29162", 0, true);
}

#[test]
fn cve_2022_27650_no_default_inheritable_caps() {
    inheritable_case("CVE-2022-27650", 1000, false);
    inheritable_case("CVE-2022-27650", 0, false);
}

// ---------------------------------------------------------------------------------------------
// CVE-2021-30465 and CVE-2019-19921: symlink-exchange races on mount targets.
// ---------------------------------------------------------------------------------------------

struct RaceResult {
    runs: usize,
    inside: usize,
    refused: usize,
    escaped: Vec<String>,
    last_err: String,
}

/// Start `victim` again and again (as `sleep`, detached) while the attacker container swaps
/// names; after each start ask `check` (given the init's mountinfo) whether the mounts stayed
/// inside the rootfs.
fn race_victim(
    env: &Env,
    rt: &Rt,
    victim: &Bundle,
    budget: Duration,
    max_runs: usize,
    check: &dyn Fn(&str) -> Result<(), String>,
) -> RaceResult {
    let mut r = RaceResult {
        runs: 0,
        inside: 0,
        refused: 0,
        escaped: Vec::new(),
        last_err: String::new(),
    };
    let deadline = Instant::now() + budget;
    while Instant::now() < deadline && r.runs < max_runs {
        r.runs += 1;
        let id = rt.id(env, "victim");
        let o = rt.run_detached(env, victim, &id);
        if o.code != 0 {
            r.refused += 1;
            r.last_err = first_line(&o.stderr);
        } else {
            let pid = rt.init_pid(env, &id).unwrap_or(0);
            let mi = mountinfo_of(pid);
            if pid <= 0 || mi.is_empty() {
                // Exited already (or no state): nothing to judge.
                r.refused += 1;
                r.last_err = format!("container gone before inspection (pid {pid})");
            } else {
                match check(&mi) {
                    Ok(()) => r.inside += 1,
                    Err(e) => r.escaped.push(e),
                }
            }
        }
        rt.delete(&id);
    }
    r
}

fn race_summary(r: &RaceResult) -> String {
    format!(
        "{} runs: {} with every mount inside the rootfs, {} refused (last: {:?}), {} escaped {:?}",
        r.runs,
        r.inside,
        r.refused,
        r.last_err,
        r.escaped.len(),
        r.escaped.iter().take(2).collect::<Vec<_>>()
    )
}

const RACE_BUDGET: Duration = Duration::from_secs(6);
const RACE_RUNS: usize = 40;

#[test]
fn cve_2021_30465_volume_symlink_exchange_race() {
    let env = Env::new("cve30465");
    let tool = build_tool(&env);
    for rt in runtimes(&env) {
        // The shared volume: d/ (a directory) and l (a symlink to a host directory) are
        // exchanged by the attacker as fast as the kernel allows.
        let vol = env.path("vol");
        let host_target = env.path("host-target");
        mkfile(&host_target.join("canary"), "HOSTCANARY", 0o644);
        fs::create_dir_all(vol.join("d")).unwrap();
        symlink(&host_target, vol.join("l")).unwrap();
        let src = env.path("src30465");
        mkfile(&src.join("marker"), "S-MARKER", 0o644);
        let src_name = src.file_name().unwrap().to_string_lossy().to_string();

        let attacker = env.bundle();
        fs::copy(&tool, attacker.rootfs().join("cvetool")).unwrap();
        append_mounts(
            &attacker,
            json!([{"destination": "/vol", "type": "bind", "source": vol, "options": ["rbind", "rw"]}]),
        );
        attacker.args(&["/cvetool", "swap", "/vol", "d", "l", "30"]);
        let aid = rt.id(&env, "attacker");
        let ao = rt.run_detached(&env, &attacker, &aid);
        if rt.is_hull() {
            ao.ok();
        }

        const N: usize = 8;
        let victim = env.bundle();
        let mut mounts = vec![json!({"destination": "/vol", "type": "bind", "source": vol,
                                     "options": ["rbind", "rw"]})];
        for _ in 0..N {
            mounts.push(
                json!({"destination": "/vol/d", "type": "bind", "source": src,
                               "options": ["bind", "ro"]}),
            );
        }
        append_mounts(&victim, json!(mounts));
        victim.args(&["sleep", "20"]);
        let check = |mi: &str| {
            let n = mi.lines().filter(|l| l.contains(&src_name)).count();
            if n == N {
                Ok(())
            } else {
                Err(format!("{n} of {N} binds of the source reachable inside"))
            }
        };
        let r = race_victim(&env, &rt, &victim, RACE_BUDGET, RACE_RUNS, &check);
        rt.delete(&aid);
        let host_canary = fs::read_to_string(host_target.join("canary")).unwrap_or_default();
        let host_mounted = fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .contains(&host_target.to_string_lossy().to_string());
        let escaped = !r.escaped.is_empty() || host_canary != "HOSTCANARY" || host_mounted;
        report(
            "CVE-2021-30465",
            &rt,
            escaped,
            &format!(
                "victim binds a dir {N} times at /vol/d while another container exchanges /vol/d \
                 with a symlink to a host dir: {}; host dir untouched: {}",
                race_summary(&r),
                host_canary == "HOSTCANARY" && !host_mounted
            ),
        );
        if rt.is_hull() {
            if r.inside == 0 {
                // Every run was refused (or the machine was too slow for more than a few):
                // nothing escaped, but the race was not exercised past the checks.
                eprintln!("warning: no victim run started: {}", race_summary(&r));
            }
        }
        rt.assert_clean(&env);
    }
}

#[test]
fn cve_2019_19921_proc_mount_target_exchange_race() {
    let env = Env::new("cve19921");
    let tool = build_tool(&env);
    for rt in runtimes(&env) {
        // The victim's rootfs is a volume the attacker container also mounts; it exchanges
        // the victim's /proc (a directory) with a symlink to a host directory, racing the
        // procfs mount (the bypass of CVE-2019-16884's fix).
        let victim = env.bundle();
        let host_target = env.path("host-proc-target");
        mkfile(&host_target.join("canary"), "HOSTCANARY", 0o644);
        symlink(&host_target, victim.rootfs().join("plink")).unwrap();
        victim.args(&["sleep", "20"]);
        victim.edit(|c| c["root"]["readonly"] = json!(false));

        let attacker = env.bundle();
        fs::copy(&tool, attacker.rootfs().join("cvetool")).unwrap();
        append_mounts(
            &attacker,
            json!([{"destination": "/victim", "type": "bind", "source": victim.rootfs(),
                    "options": ["rbind", "rw"]}]),
        );
        attacker.args(&["/cvetool", "swap", "/victim", "proc", "plink", "30"]);
        let aid = rt.id(&env, "attacker");
        let ao = rt.run_detached(&env, &attacker, &aid);
        if rt.is_hull() {
            ao.ok();
        }
        let check = |mi: &str| {
            let procs = mi.lines().filter(|l| l.contains(" - proc ")).count();
            if procs >= 1 {
                Ok(())
            } else {
                Err("no procfs reachable inside the container".to_string())
            }
        };
        let r = race_victim(&env, &rt, &victim, RACE_BUDGET, RACE_RUNS, &check);
        rt.delete(&aid);
        let host_canary = fs::read_to_string(host_target.join("canary")).unwrap_or_default();
        let host_mounted = fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .contains(&host_target.to_string_lossy().to_string());
        let escaped = !r.escaped.is_empty() || host_canary != "HOSTCANARY" || host_mounted;
        report(
            "CVE-2019-19921",
            &rt,
            escaped,
            &format!(
                "victim's /proc exchanged with a symlink to a host dir during create: {}; \
                 host dir untouched: {}",
                race_summary(&r),
                host_canary == "HOSTCANARY" && !host_mounted
            ),
        );
        rt.assert_clean(&env);
    }
}

// ---------------------------------------------------------------------------------------------
// CVE-2025-52565: the /dev/console bind mount redirected by a symlink.
// ---------------------------------------------------------------------------------------------

#[test]
fn cve_2025_52565_dev_console_symlink_to_host_path() {
    // /dev/console -> an absolute host path: resolved inside the rootfs, the pty lands on a
    // file hull creates there, never on the host file. (The variant with the symlink pointing
    // at a procfs file is followed by hull: see the closing note and /tmp/cve-failures.)
    let env = Env::new("cve52565");
    let host = env.path("host-console-target");
    mkfile(&host, "HOSTCANARY", 0o644);
    for rt in runtimes(&env) {
        let (r, _) = console_symlink(&env, &rt, host.to_str().unwrap());
        let host_same = fs::read_to_string(&host).unwrap_or_default() == "HOSTCANARY";
        let host_mounted = fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .contains(host.to_str().unwrap());
        let escaped = !host_same || host_mounted;
        report(
            "CVE-2025-52565",
            &rt,
            escaped,
            &format!("{r}; host file untouched and unmounted: {}", !escaped),
        );
        rt.assert_clean(&env);
    }
}

// ---------------------------------------------------------------------------------------------
// In-container probes: exact capability sets, seccomp mode and filter count, no_new_privs,
// the profile's errno, user namespace maps.
// ---------------------------------------------------------------------------------------------

fn status_field<'a>(status: &'a str, key: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(str::trim)
        .unwrap_or("")
}

#[test]
fn probe_exact_capability_sets() {
    let env = Env::new("probecaps");
    // Root: the bounding set becomes permitted and effective at execve; inheritable exactly
    // the spec's; no ambient.
    let b = env.bundle();
    b.edit(|c| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "inheritable": ["CAP_KILL"],
        });
    });
    b.args(&["cat", "/proc/self/status"]);
    let id = env.id("root");
    let o = env.run(&b, &id);
    o.ok();
    let c = caps(&o.stdout);
    let bnd = CAP_CHOWN | CAP_KILL | CAP_NET_RAW;
    assert_eq!(c["CapBnd"], bnd, "{o:?}");
    assert_eq!(c["CapPrm"], bnd, "{o:?}");
    assert_eq!(c["CapEff"], bnd, "{o:?}");
    assert_eq!(c["CapInh"], CAP_KILL, "{o:?}");
    assert_eq!(c["CapAmb"], 0, "{o:?}");
    // A non-root user keeps exactly the ambient set across execve.
    let b = env.bundle();
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_KILL"],
        });
    });
    b.args(&["cat", "/proc/self/status"]);
    let id = env.id("user");
    let o2 = env.run(&b, &id);
    o2.ok();
    let u = caps(&o2.stdout);
    assert_eq!(u["CapBnd"], bnd | CAP_NET_BIND_SERVICE, "{o2:?}");
    assert_eq!(u["CapInh"], CAP_KILL | CAP_NET_BIND_SERVICE, "{o2:?}");
    assert_eq!(u["CapAmb"], CAP_KILL, "{o2:?}");
    assert_eq!(u["CapPrm"], CAP_KILL, "{o2:?}");
    assert_eq!(u["CapEff"], CAP_KILL, "{o2:?}");
    eprintln!(
        "probe caps [hull]: root {:?}; uid 1000 with ambient KILL {:?}",
        c, u
    );
}

#[test]
fn probe_seccomp_no_new_privs_and_errno() {
    let env = Env::new("probeseccomp");
    let b = env.bundle();
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = json!(true);
        c["root"]["readonly"] = json!(false);
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 42}]
        });
    });
    b.script(
        "grep -E '^(Seccomp|Seccomp_filters|NoNewPrivs):' /proc/self/status; \
         mkdir /tmp/denied 2>&1; echo mkdir_exit=$?; echo allowed=$(echo ok)",
    );
    let id = env.id("sc");
    let o = env.run(&b, &id);
    o.ok();
    let s = &o.stdout;
    assert_eq!(status_field(s, "Seccomp"), "2", "{o:?}");
    assert_eq!(status_field(s, "Seccomp_filters"), "1", "{o:?}");
    assert_eq!(status_field(s, "NoNewPrivs"), "1", "{o:?}");
    // errno 42 is ENOMSG: "No message of desired type".
    assert!(s.contains("No message of desired type"), "{o:?}");
    assert!(!b.rootfs().join("tmp/denied").exists());
    let v = kv(s);
    assert_eq!(v["mkdir_exit"], "1", "{o:?}");
    assert_eq!(v["allowed"], "ok", "{o:?}");
    eprintln!(
        "probe seccomp [hull]: Seccomp {} filters {} NoNewPrivs {}; denied mkdir said {:?}",
        status_field(s, "Seccomp"),
        status_field(s, "Seccomp_filters"),
        status_field(s, "NoNewPrivs"),
        s.lines().find(|l| l.contains("mkdir:")).unwrap_or("")
    );
}

#[test]
fn probe_user_namespace_maps() {
    let env = Env::new("probeuserns");
    let b = env.bundle();
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    });
    b.args(&["sleep", "20"]);
    let id = env.id("u");
    env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id])
        .ok();
    let inside = env.hull(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo uid_map=$(cat /proc/self/uid_map); echo gid_map=$(cat /proc/self/gid_map); \
         echo id=$(id -u):$(id -g)",
    ]);
    inside.ok();
    let v = kv(&inside.stdout);
    let words = |k: &str| {
        v[k].split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(words("uid_map"), ["0", "100000", "65536"], "{inside:?}");
    assert_eq!(words("gid_map"), ["0", "200000", "65536"], "{inside:?}");
    assert_eq!(v["id"], "0:0", "{inside:?}");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let host_uid = status_field(&st, "Uid")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let host_gid = status_field(&st, "Gid")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    assert_eq!(host_uid, "100000", "{st}");
    assert_eq!(host_gid, "200000", "{st}");
    env.hull(&["delete", "--force", &id]).ok();
    eprintln!(
        "probe userns [hull]: uid_map {:?} gid_map {:?}, init is {host_uid}:{host_gid} on the host",
        v["uid_map"], v["gid_map"]
    );
}

#[test]
fn cve_2025_31133_dev_null_exchange_race() {
    // The race form: /dev is a volume shared with another container, which exchanges the
    // real null device with a symlink to a procfs file while the victim masks its paths.
    let env = Env::new("cve31133r");
    let tool = build_tool(&env);
    for rt in runtimes(&env) {
        let dev = dev_dir(&env);
        let null = std::ffi::CString::new(dev.join("null").to_str().unwrap()).unwrap();
        // SAFETY: mknod with a valid path.
        let r = unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        assert_eq!(r, 0, "mknod {null:?}");
        symlink("/proc/sys/kernel/hostname", dev.join("nulllink")).unwrap();

        let attacker = env.bundle();
        fs::copy(&tool, attacker.rootfs().join("cvetool")).unwrap();
        append_mounts(
            &attacker,
            json!([{"destination": "/shared-dev", "type": "bind", "source": dev,
                    "options": ["rbind", "rw"]}]),
        );
        attacker.args(&["/cvetool", "swap", "/shared-dev", "null", "nulllink", "30"]);
        let aid = rt.id(&env, "attacker");
        let ao = rt.run_detached(&env, &attacker, &aid);
        if rt.is_hull() {
            ao.ok();
        }

        let victim = env.bundle();
        bind_dev(&victim, &dev);
        victim.edit(|c| {
            c["linux"]["maskedPaths"] = json!(["/proc/keys", "/proc/timer_list"]);
            c["linux"]["readonlyPaths"] = json!([]);
        });
        victim.args(&["sleep", "20"]);
        let check = |mi: &str| {
            let masks: Vec<&str> = mi
                .lines()
                .filter(|l| {
                    let mp = l.split(' ').nth(4).unwrap_or("");
                    mp == "/proc/keys" || mp == "/proc/timer_list"
                })
                .collect();
            if masks.len() < 2 {
                Err(format!("only {} of 2 masks in place", masks.len()))
            } else if let Some(bad) = masks.iter().find(|l| l.contains(" - proc ")) {
                Err(format!("a procfs file masks a path: {bad}"))
            } else {
                Ok(())
            }
        };
        let r = race_victim(&env, &rt, &victim, RACE_BUDGET, RACE_RUNS, &check);
        rt.delete(&aid);
        report(
            "CVE-2025-31133",
            &rt,
            !r.escaped.is_empty(),
            &format!(
                "/dev/null exchanged with a symlink to /proc/sys/kernel/hostname in a shared /dev \
                 while masking /proc/keys and /proc/timer_list: {}",
                race_summary(&r)
            ),
        );
        if rt.is_hull() {
            if r.inside == 0 {
                // Every run was refused (or the machine was too slow for more than a few):
                // nothing escaped, but the race was not exercised past the checks.
                eprintln!("warning: no victim run started: {}", race_summary(&r));
            }
        }
        rt.assert_clean(&env);
    }
}
