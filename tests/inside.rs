//! What the container's process sees: each feature of config.json asserted from inside, by a
//! busybox shell script whose output `hull run` passes through.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Run `script` in a container made from `b` (after `edit`), require exit 0, return stdout.
#[track_caller]
fn run_script(env: &Env, b: &Bundle, script: &str, extra: &[&str]) -> String {
    b.script(script);
    let id = env.id("c");
    let mut args = vec!["run", "--bundle", b.dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(&id);
    let out = env.hull(&args);
    assert_eq!(
        out.code, 0,
        "container failed: stdout {:?} stderr {:?}",
        out.stdout, out.stderr
    );
    env.assert_clean(&id, b);
    out.stdout
}

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
struct MountLine {
    /// Optional fields: shared:N, master:N, ...
    tags: Vec<String>,
    target: String,
    opts: Vec<String>,
    fstype: String,
    root: String,
}

fn mountinfo(text: &str) -> Vec<MountLine> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some(MountLine {
                tags: f[6..].iter().map(|t| t.to_string()).collect(),
                root: f.get(3)?.to_string(),
                target: f.get(4)?.to_string(),
                opts: f.get(5)?.split(',').map(String::from).collect(),
                fstype: r.first()?.to_string(),
            })
        })
        .collect()
}

/// The mount visible at `target` (the last one mounted there).
#[track_caller]
fn mount_at<'a>(m: &'a [MountLine], target: &str) -> &'a MountLine {
    m.iter()
        .rev()
        .find(|l| l.target == target)
        .unwrap_or_else(|| panic!("no mount at {target}: {m:#?}"))
}

#[track_caller]
fn has_opt(m: &MountLine, o: &str) -> bool {
    m.opts.iter().any(|x| x == o)
}

/// Split a script's output at `=== NAME` marker lines.
fn sections(out: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut cur = String::new();
    for l in out.lines() {
        if let Some(n) = l.strip_prefix("=== ") {
            cur = n.to_string();
            map.insert(cur.clone(), String::new());
        } else if let Some(s) = map.get_mut(&cur) {
            s.push_str(l);
            s.push('\n');
        }
    }
    map
}

#[test]
fn namespaces_differ_and_process_is_pid_1() {
    let env = Env::new("ns");
    let b = env.bundle();
    let kinds = ["pid", "net", "ipc", "uts", "mnt", "cgroup"];
    let out = run_script(
        &env,
        &b,
        "for n in pid net ipc uts mnt cgroup; do echo $n=$(readlink /proc/self/ns/$n); done; \
         echo pid1=$$; echo comm1=$(cat /proc/1/comm); echo nprocs=$(ls -d /proc/[0-9]* | wc -l)",
        &[],
    );
    let v = kv(&out);
    for k in kinds {
        let host = fs::read_link(format!("/proc/self/ns/{k}")).unwrap();
        let inside = v
            .get(k)
            .unwrap_or_else(|| panic!("no {k} in {out:?}"))
            .clone();
        assert!(
            inside.starts_with(&format!("{k}:[")),
            "{k} inside is {inside:?}"
        );
        assert_ne!(
            inside,
            host.to_string_lossy(),
            "{k} namespace is the host's"
        );
    }
    assert_eq!(v["pid1"], "1", "the process is pid 1");
    assert_eq!(v["comm1"], "sh");
    // Only the container's own processes are visible: sh, the subshell, ls (and wc).
    let n: usize = v["nprocs"].parse().unwrap();
    assert!(n <= 4, "{n} processes visible in the new pid namespace");
}

#[test]
fn hostname_and_domainname() {
    let env = Env::new("uts");
    let b = env.bundle();
    b.edit(|c| {
        c["hostname"] = json!("box-a");
        c["domainname"] = json!("example.test");
    });
    let host_before = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = run_script(
        &env,
        &b,
        "echo h=$(hostname); echo d=$(cat /proc/sys/kernel/domainname)",
        &[],
    );
    let v = kv(&out);
    assert_eq!(v["h"], "box-a");
    assert_eq!(v["d"], "example.test");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host_before,
        "the host's hostname is untouched"
    );
}

#[test]
fn mounts_and_flags() {
    let env = Env::new("mounts");
    let b = env.bundle();
    let out = run_script(
        &env,
        &b,
        "echo '=== mi'; cat /proc/self/mountinfo; echo '=== t'; \
         touch /newfile 2>/dev/null && echo rootwrite=ok || echo rootwrite=fail; \
         echo x > /dev/shm/f && echo shmwrite=ok || echo shmwrite=fail; \
         cp /bin/busybox /dev/shm/bb && chmod 755 /dev/shm/bb; \
         /dev/shm/bb true 2>/dev/null && echo shmexec=ok || echo shmexec=fail; \
         touch /sys/x 2>/dev/null && echo syswrite=ok || echo syswrite=fail",
        &[],
    );
    let s = sections(&out);
    let m = mountinfo(&s["mi"]);
    let root = mount_at(&m, "/");
    assert!(has_opt(root, "ro"), "root.readonly: / is ro: {root:?}");
    let rootfs = fs::canonicalize(b.rootfs()).unwrap();
    assert!(
        root.root.ends_with(rootfs.to_str().unwrap()),
        "/ is the bundle's rootfs: {root:?}"
    );
    let proc_ = mount_at(&m, "/proc");
    assert_eq!(proc_.fstype, "proc");
    let dev = mount_at(&m, "/dev");
    assert_eq!(dev.fstype, "tmpfs");
    assert!(has_opt(dev, "nosuid"), "{dev:?}");
    let pts = mount_at(&m, "/dev/pts");
    assert_eq!(pts.fstype, "devpts");
    assert!(has_opt(pts, "nosuid") && has_opt(pts, "noexec"), "{pts:?}");
    let shm = mount_at(&m, "/dev/shm");
    assert_eq!(shm.fstype, "tmpfs");
    for o in ["nosuid", "noexec", "nodev"] {
        assert!(has_opt(shm, o), "/dev/shm {o}: {shm:?}");
    }
    let mq = mount_at(&m, "/dev/mqueue");
    assert_eq!(mq.fstype, "mqueue");
    let sys = mount_at(&m, "/sys");
    assert_eq!(sys.fstype, "sysfs");
    assert!(has_opt(sys, "ro"), "{sys:?}");
    let cg = mount_at(&m, "/sys/fs/cgroup");
    assert!(has_opt(cg, "ro"), "{cg:?}");
    let v = kv(&s["t"]);
    assert_eq!(v["rootwrite"], "fail", "read-only root is not writable");
    assert_eq!(v["shmwrite"], "ok");
    assert_eq!(v["shmexec"], "fail", "noexec /dev/shm runs nothing");
    assert_eq!(v["syswrite"], "fail");
    // Nothing of the host's own mounts (e.g. the test dir) is visible.
    assert!(
        !m.iter().any(|l| l.target.starts_with("/tmp/hull-test")),
        "{m:#?}"
    );
}

#[test]
fn writable_root_when_not_readonly() {
    let env = Env::new("rootrw");
    let b = env.bundle();
    b.edit(|c| c["root"]["readonly"] = json!(false));
    let out = run_script(
        &env,
        &b,
        "echo '=== mi'; cat /proc/self/mountinfo; echo '=== t'; \
         echo hi > /newfile && echo rootwrite=ok",
        &[],
    );
    let s = sections(&out);
    assert!(!has_opt(mount_at(&mountinfo(&s["mi"]), "/"), "ro"));
    assert_eq!(kv(&s["t"])["rootwrite"], "ok");
    assert_eq!(
        fs::read_to_string(b.rootfs().join("newfile")).unwrap(),
        "hi\n"
    );
}

#[test]
fn bind_mounts_ro_rbind_rro() {
    let env = Env::new("binds");
    let b = env.bundle();
    let h = env.path("hostdir");
    fs::create_dir_all(h.join("sub")).unwrap();
    fs::write(h.join("hello"), "hello-from-host\n").unwrap();
    // A submount on the host, to see what recursive binds carry.
    nix::mount::mount(
        Some("tmpfs"),
        &h.join("sub"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .expect("mount a tmpfs on the host");
    env.host_mount(&h.join("sub"));
    fs::write(h.join("sub/subfile"), "sub-content\n").unwrap();
    let hs = h.to_str().unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(
            json!({"destination": "/mnt/ro", "type": "bind", "source": hs,
            "options": ["bind", "ro"]}),
        );
        m.push(
            json!({"destination": "/mnt/plain", "type": "bind", "source": hs,
            "options": ["bind"]}),
        );
        m.push(
            json!({"destination": "/mnt/rw", "type": "bind", "source": hs,
            "options": ["rbind", "rw"]}),
        );
        m.push(
            json!({"destination": "/mnt/rro", "type": "bind", "source": hs,
            "options": ["rbind", "rro"]}),
        );
        m.push(json!({"destination": "/etc/hello", "type": "bind",
            "source": format!("{hs}/hello"), "options": ["bind", "ro"]}));
    });
    let out = run_script(
        &env,
        &b,
        r#"t() { if "$@" 2>/dev/null; then echo ok; else echo fail; fi; }
        echo ro_read=$(cat /mnt/ro/hello)
        echo ro_write=$(t touch /mnt/ro/x)
        echo plain_sub=$(t cat /mnt/plain/sub/subfile)
        echo rw_sub=$(cat /mnt/rw/sub/subfile)
        echo rw_write=$(t sh -c 'echo w > /mnt/rw/fromc')
        echo rw_subwrite=$(t sh -c 'echo w > /mnt/rw/sub/fromc')
        echo rro_sub=$(cat /mnt/rro/sub/subfile)
        echo rro_write=$(t touch /mnt/rro/x)
        echo rro_subwrite=$(t touch /mnt/rro/sub/x)
        echo file=$(cat /etc/hello)
        echo file_write=$(t sh -c 'echo x > /etc/hello')
        "#,
        &[],
    );
    let v = kv(&out);
    assert_eq!(v["ro_read"], "hello-from-host", "{out}");
    assert_eq!(v["ro_write"], "fail", "ro bind is read-only");
    assert_eq!(
        v["plain_sub"], "fail",
        "a non-recursive bind does not carry submounts"
    );
    assert_eq!(v["rw_sub"], "sub-content", "rbind carries submounts");
    assert_eq!(v["rw_write"], "ok");
    assert_eq!(v["rw_subwrite"], "ok");
    assert_eq!(fs::read_to_string(h.join("fromc")).unwrap(), "w\n");
    assert_eq!(fs::read_to_string(h.join("sub/fromc")).unwrap(), "w\n");
    assert_eq!(v["rro_sub"], "sub-content");
    assert_eq!(v["rro_write"], "fail", "rro: the bind is read-only");
    assert_eq!(
        v["rro_subwrite"], "fail",
        "rro: its submounts are read-only"
    );
    assert_eq!(v["file"], "hello-from-host");
    assert_eq!(v["file_write"], "fail");
    assert!(!h.join("x").exists() && !h.join("sub/x").exists());
    assert_eq!(
        fs::read_to_string(h.join("hello")).unwrap(),
        "hello-from-host\n"
    );
}

#[test]
fn masked_paths_unreadable() {
    let env = Env::new("masked");
    let b = env.bundle();
    fs::write(b.rootfs().join("etc/secret"), "top-secret\n").unwrap();
    fs::create_dir_all(b.rootfs().join("secretdir")).unwrap();
    fs::write(b.rootfs().join("secretdir/inner"), "x").unwrap();
    b.edit(|c| {
        let m = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        m.push(json!("/etc/secret"));
        m.push(json!("/secretdir"));
        m.push(json!("/does/not/exist"));
    });
    let host_kcore = Path::new("/proc/kcore").exists();
    let host_acpi = Path::new("/proc/acpi").is_dir();
    let out = run_script(
        &env,
        &b,
        r#"t() { if "$@" 2>/dev/null; then echo ok; else echo fail; fi; }
        echo secret=$(wc -c < /etc/secret)
        echo secretdir=$(ls -A /secretdir | wc -l)
        echo secretdir_write=$(t touch /secretdir/new)
        echo keys=$(wc -c < /proc/keys)
        echo timer_list=$(wc -c < /proc/timer_list)
        if [ -e /proc/kcore ]; then echo kcore=$(head -c 16 /proc/kcore 2>/dev/null | wc -c); else echo kcore=absent; fi
        if [ -d /proc/acpi ]; then echo acpi=$(ls -A /proc/acpi | wc -l); else echo acpi=absent; fi
        echo '=== mi'
        cat /proc/self/mountinfo
        "#,
        &[],
    );
    let s = sections(&format!("=== v\n{out}"));
    let v = kv(&s["v"]);
    assert_eq!(v["secret"], "0", "a masked file reads empty");
    assert_eq!(v["secretdir"], "0", "a masked dir is empty");
    assert_eq!(v["secretdir_write"], "fail", "a masked dir is read-only");
    assert_eq!(v["keys"], "0", "/proc/keys is masked");
    assert_eq!(v["timer_list"], "0", "/proc/timer_list is masked");
    if host_kcore {
        assert_eq!(v["kcore"], "0", "/proc/kcore reads nothing");
    } else {
        eprintln!("masked_paths_unreadable: this kernel has no /proc/kcore; checked other paths");
        assert_eq!(v["kcore"], "absent");
    }
    let m = mountinfo(&s["mi"]);
    let sd = mount_at(&m, "/secretdir");
    assert_eq!(sd.fstype, "tmpfs");
    assert!(has_opt(sd, "ro"), "{sd:?}");
    if host_acpi {
        assert_eq!(v["acpi"], "0");
        let a = mount_at(&m, "/proc/acpi");
        assert_eq!(a.fstype, "tmpfs");
        assert!(has_opt(a, "ro"), "{a:?}");
    }
    // The masked file is the container's /dev/null bound over it.
    let sec = mount_at(&m, "/etc/secret");
    assert_eq!(sec.root, "/null", "{sec:?}");
    assert_eq!(
        fs::read_to_string(b.rootfs().join("etc/secret")).unwrap(),
        "top-secret\n"
    );
}

#[test]
fn readonly_paths_not_writable() {
    let env = Env::new("ropaths");
    let b = env.bundle();
    fs::create_dir_all(b.rootfs().join("rodir")).unwrap();
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/rodir"));
    });
    let out = run_script(
        &env,
        &b,
        r#"t() { if "$@" 2>/dev/null; then echo ok; else echo fail; fi; }
        echo procsys=$(t sh -c 'echo other > /proc/sys/kernel/hostname')
        echo hostname=$(hostname)
        echo sysrq=$(t sh -c 'echo h > /proc/sysrq-trigger')
        echo rodir=$(t touch /rodir/x)
        echo rootw=$(t touch /x)
        echo '=== mi'
        cat /proc/self/mountinfo
        "#,
        &[],
    );
    let s = sections(&format!("=== v\n{out}"));
    let v = kv(&s["v"]);
    assert_eq!(v["procsys"], "fail", "/proc/sys is read-only");
    assert_eq!(v["hostname"], "hull");
    let sysrq = Path::new("/proc/sysrq-trigger").exists();
    if sysrq {
        assert_eq!(v["sysrq"], "fail");
    } else {
        eprintln!("readonly_paths_not_writable: no /proc/sysrq-trigger on this kernel");
    }
    assert_eq!(v["rodir"], "fail", "a readonly path is read-only");
    assert_eq!(v["rootw"], "ok", "the rest of the (rw) root is writable");
    let m = mountinfo(&s["mi"]);
    for p in ["/proc/sys", "/proc/sysrq-trigger", "/rodir"] {
        if p == "/proc/sysrq-trigger" && !sysrq {
            continue;
        }
        assert!(has_opt(mount_at(&m, p), "ro"), "{p} ro");
    }
}

#[test]
fn devices_and_dev_links() {
    let env = Env::new("devices");
    let b = env.bundle();
    b.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/hullnull", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o640, "uid": 1000, "gid": 1000},
            {"path": "/dev/sub/loopx", "type": "b", "major": 7, "minor": 200,
             "fileMode": 0o660, "uid": 0, "gid": 6}
        ]);
    });
    let out = run_script(
        &env,
        &b,
        r#"for d in null zero full random urandom tty hullnull sub/loopx; do
          echo "$d=$(stat -c '%F %t:%T %a %u:%g' /dev/$d)"; done
        for l in fd stdin stdout stderr ptmx; do echo "link_$l=$(readlink /dev/$l)"; done
        echo zero_read=$(head -c 5 /dev/zero | wc -c)
        echo null_write=$(echo x > /dev/null && echo ok)
        echo full_write=$(echo x 2>/dev/null > /dev/full && echo ok || echo fail)
        echo pts_ptmx=$(stat -c '%F' /dev/pts/ptmx)
        "#,
        &[],
    );
    let v = kv(&out);
    for (d, maj, min) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        // stat prints major:minor in hex; these are all below 10.
        assert_eq!(
            v[d],
            format!("character special file {maj:x}:{min:x} 666 0:0"),
            "/dev/{d}"
        );
    }
    assert_eq!(v["hullnull"], "character special file 1:3 640 1000:1000");
    assert_eq!(v["sub/loopx"], "block special file 7:c8 660 0:6");
    assert_eq!(v["link_fd"], "/proc/self/fd");
    assert_eq!(v["link_stdin"], "/proc/self/fd/0");
    assert_eq!(v["link_stdout"], "/proc/self/fd/1");
    assert_eq!(v["link_stderr"], "/proc/self/fd/2");
    assert_eq!(v["link_ptmx"], "pts/ptmx");
    assert_eq!(v["zero_read"], "5");
    assert_eq!(v["null_write"], "ok");
    assert_eq!(v["full_write"], "fail", "/dev/full is full");
    assert_eq!(v["pts_ptmx"], "character special file");
}

#[test]
fn rlimits_from_config() {
    let env = Env::new("rlimits");
    let b = env.bundle();
    b.edit(|c| {
        c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768},
            {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096}
        ]);
    });
    let out = run_script(
        &env,
        &b,
        "echo soft=$(ulimit -n); echo hard=$(ulimit -Hn); cat /proc/self/limits",
        &[],
    );
    let v = kv(&out);
    assert_eq!(v["soft"], "512");
    assert_eq!(v["hard"], "768");
    let limit = |name: &str| -> Vec<String> {
        let l = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {out}"));
        l[name.len()..]
            .split_whitespace()
            .take(2)
            .map(String::from)
            .collect()
    };
    assert_eq!(limit("Max open files"), ["512", "768"]);
    assert_eq!(limit("Max processes"), ["300", "400"]);
    assert_eq!(limit("Max core file size"), ["0", "4096"]);
}

#[test]
fn cwd_and_env() {
    let env = Env::new("cwdenv");
    let b = env.bundle();
    fs::create_dir_all(b.rootfs().join("work/dir")).unwrap();
    b.edit(|c| {
        c["process"]["cwd"] = json!("/work/dir");
        c["process"]["env"] = json!(["PATH=/bin", "A=1", "B=two words", "EMPTY="]);
    });
    let out = run_script(
        &env,
        &b,
        "echo cwd=$(pwd); echo '=== env'; cat /proc/1/environ | tr '\\0' '\\n'; true",
        &[],
    );
    let s = sections(&format!("=== v\n{out}"));
    assert_eq!(kv(&s["v"])["cwd"], "/work/dir");
    let mut envs: Vec<&str> = s["env"].lines().collect();
    envs.sort();
    assert_eq!(
        envs,
        ["A=1", "B=two words", "EMPTY=", "HOME=/root", "PATH=/bin"],
        "exactly the config's env plus HOME"
    );
}

#[test]
fn user_groups_and_umask() {
    let env = Env::new("user");
    let b = env.bundle();
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20],
            "umask": 0o027});
    });
    let out = run_script(
        &env,
        &b,
        "echo u=$(id -u); echo g=$(id -g); echo G=$(id -G); echo name=$(id -un); \
         echo umask=$(umask); echo home=$HOME; touch /dev/shm/f; echo fmode=$(stat -c %a /dev/shm/f); \
         grep -E '^(Uid|Gid|Groups):' /proc/self/status | tr '\\t' ' ' | sed 's/: */=/'",
        &[],
    );
    let v = kv(&out);
    assert_eq!(v["u"], "1000");
    assert_eq!(v["g"], "1000");
    assert_eq!(v["name"], "user");
    assert_eq!(v["Uid"], "1000 1000 1000 1000");
    assert_eq!(v["Gid"], "1000 1000 1000 1000");
    assert_eq!(v["Groups"], "10 20", "exactly additionalGids");
    assert_eq!(v["umask"], "0027");
    assert_eq!(v["fmode"], "640", "files created under umask 027");
    assert_eq!(v["home"], "/home/user", "HOME from /etc/passwd");
}

fn caps_of(out: &str) -> BTreeMap<String, u64> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.starts_with("Cap"))
        .map(|(k, v)| (k.to_string(), u64::from_str_radix(v.trim(), 16).unwrap()))
        .collect()
}

const CAP_CHOWN: u64 = 1 << 0;
const CAP_KILL: u64 = 1 << 5;
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;

#[test]
fn capabilities_root() {
    let env = Env::new("caps_root");
    let b = env.bundle();
    let set = json!(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    b.edit(|c| {
        c["process"]["capabilities"] = json!({"bounding": set, "effective": set, "permitted": set});
    });
    // Read init's own status (sh as pid 1), and a child's after one more execve.
    let out = run_script(
        &env,
        &b,
        "grep ^Cap /proc/1/status; echo ===; grep ^Cap /proc/self/status",
        &[],
    );
    let (init, child) = out.split_once("===").unwrap();
    let want = CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE;
    for (who, o) in [("init", init), ("child", child)] {
        let c = caps_of(o);
        assert_eq!(c["CapBnd"], want, "{who} CapBnd: {o}");
        assert_eq!(c["CapEff"], want, "{who} CapEff: {o}");
        assert_eq!(c["CapPrm"], want, "{who} CapPrm: {o}");
        assert_eq!(c["CapInh"], 0, "{who} CapInh: {o}");
        assert_eq!(c["CapAmb"], 0, "{who} CapAmb: {o}");
    }
}

#[test]
fn capabilities_non_root_with_ambient() {
    let env = Env::new("caps_user");
    let b = env.bundle();
    b.edit(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_KILL"]
        });
    });
    let out = run_script(&env, &b, "grep ^Cap /proc/self/status", &[]);
    let c = caps_of(&out);
    assert_eq!(
        c["CapBnd"],
        CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE,
        "{out}"
    );
    assert_eq!(c["CapInh"], CAP_KILL | CAP_NET_BIND_SERVICE, "{out}");
    // A non-root process keeps only its ambient set across execve.
    assert_eq!(c["CapAmb"], CAP_KILL, "{out}");
    assert_eq!(c["CapPrm"], CAP_KILL, "{out}");
    assert_eq!(c["CapEff"], CAP_KILL, "{out}");
}

#[test]
fn no_new_privileges() {
    let env = Env::new("nnp");
    let b = env.bundle();
    let on = run_script(&env, &b, "grep ^NoNewPrivs /proc/self/status", &[]);
    assert_eq!(
        on.trim(),
        "NoNewPrivs:\t1",
        "the template sets noNewPrivileges"
    );
    b.edit(|c| c["process"]["noNewPrivileges"] = json!(false));
    let off = run_script(&env, &b, "grep ^NoNewPrivs /proc/self/status", &[]);
    assert_eq!(off.trim(), "NoNewPrivs:\t0");
}

#[test]
fn oom_score_adj() {
    let env = Env::new("oom");
    let b = env.bundle();
    b.edit(|c| c["process"]["oomScoreAdj"] = json!(100));
    let out = run_script(&env, &b, "cat /proc/self/oom_score_adj", &[]);
    assert_eq!(out.trim(), "100");
    let mine = fs::read_to_string("/proc/self/oom_score_adj").unwrap();
    assert_ne!(mine.trim(), "100", "hull's caller keeps its own value");
}

#[test]
fn sysctl_written() {
    let env = Env::new("sysctl");
    let b = env.bundle();
    let host_fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let host_shm = fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let fwd = if host_fwd.trim() == "1" { "0" } else { "1" };
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": fwd, "kernel.shmmax": "12345678"});
    });
    let out = run_script(
        &env,
        &b,
        "echo fwd=$(cat /proc/sys/net/ipv4/ip_forward); echo shm=$(cat /proc/sys/kernel/shmmax)",
        &[],
    );
    let v = kv(&out);
    assert_eq!(v["fwd"], fwd);
    assert_eq!(v["shm"], "12345678");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd,
        "host value untouched"
    );
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(),
        host_shm
    );
}

#[test]
fn no_pivot_works() {
    let env = Env::new("nopivot");
    let b = env.bundle();
    let marker = env.path("marker");
    fs::write(&marker, "x").unwrap();
    let out = run_script(
        &env,
        &b,
        &format!(
            "echo user=$(grep ^user: /etc/passwd | cut -d: -f3); \
             [ -e {} ] && echo marker=visible || echo marker=hidden; \
             echo root=$(ls / | tr '\\n' ' '); echo '=== mi'; cat /proc/self/mountinfo",
            marker.display()
        ),
        &["--no-pivot"],
    );
    let s = sections(&format!("=== v\n{out}"));
    let v = kv(&s["v"]);
    assert_eq!(v["user"], "1000", "the bundle's /etc/passwd");
    assert_eq!(v["marker"], "hidden", "the host's files are not reachable");
    assert!(v["root"].contains("bin"), "{v:?}");
    let m = mountinfo(&s["mi"]);
    assert!(has_opt(mount_at(&m, "/"), "ro"));
}

#[test]
fn preserve_fds() {
    let env = Env::new("pfds");
    let b = env.bundle();
    b.script(
        "read line <&3; echo fd3=$line; \
         if [ -e /proc/self/fd/4 ]; then read l4 <&4; echo fd4=$l4; else echo fd4=closed; fi",
    );
    let f4 = env.path("fd4file");
    fs::write(&f4, "file-four\n").unwrap();
    for (n, want4) in [("1", "closed"), ("2", "file-four")] {
        // Close-on-exec fds well above 4 (so nothing else running in this test process
        // inherits them, and dup2 onto 3 and 4 cannot clobber one with the other).
        let mut p = [0; 2];
        // SAFETY: pipe2 fills the two-element array.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds were just created and are owned by nobody else.
        let (r0, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        nix::unistd::write(&w, b"pipe-three\n").unwrap();
        drop(w);
        let high = |fd: &OwnedFd| -> OwnedFd {
            // SAFETY: F_DUPFD_CLOEXEC returns a new fd we own.
            let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
            assert!(n >= 100);
            unsafe { OwnedFd::from_raw_fd(n) }
        };
        let r = high(&r0);
        drop(r0);
        let file4 = high(&OwnedFd::from(fs::File::open(&f4).unwrap()));
        let (rfd, ffd) = (r.as_raw_fd(), file4.as_raw_fd());
        let id = env.id("c");
        let mut cmd = env.cmd();
        cmd.args([
            "run",
            "--preserve-fds",
            n,
            "--bundle",
            b.dir.to_str().unwrap(),
            &id,
        ]);
        // SAFETY: only async-signal-safe dup2 calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(rfd, 3) < 0 || libc::dup2(ffd, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = env.run_cmd(cmd, "run --preserve-fds", TIMEOUT);
        drop(r);
        drop(file4);
        assert_eq!(out.code, 0, "{out:?}");
        let v = kv(&out.stdout);
        assert_eq!(v["fd3"], "pipe-three", "--preserve-fds {n}: {out:?}");
        assert_eq!(v["fd4"], want4, "--preserve-fds {n}: {out:?}");
        env.assert_clean(&id, &b);
    }
}

/// Accept one connection on `sock` and receive the pty master (one SCM_RIGHTS fd) and the
/// payload that came with it.
fn receive_master(listener: std::os::unix::net::UnixListener) -> (OwnedFd, Vec<u8>, usize) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener.accept().expect("accept on the console socket");
    let mut buf = vec![0u8; 8192];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg");
    let n = msg.bytes;
    let mut fds = Vec::new();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(f) = c {
            fds.extend(f);
        }
    }
    assert_eq!(fds.len(), 1, "exactly one fd in SCM_RIGHTS: {fds:?}");
    // SAFETY: received just now and owned by nobody else.
    let master = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    buf.truncate(n);
    (master, buf, n)
}

/// Read from the pty master until the slave side is gone (EIO) or `timeout` passes.
fn read_master(master: &OwnedFd, timeout: Duration) -> String {
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!(
                "pty: no EOF in {timeout:?}; read so far {:?}",
                String::from_utf8_lossy(&out)
            );
        }
        let mut p = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left.as_millis().min(200) as i32) };
        if r <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(master, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn terminal_with_console_socket() {
    let env = Env::new("tty");
    let b = env.bundle();
    b.script(
        "[ -t 0 ] && [ -t 1 ] && echo stdio-is-tty; echo tty=$(tty); echo size=$(stty size); \
         echo console=$(stat -c '%F %t:%T' /dev/console); \
         echo term=$TERM; read x; echo got:$x; exit 6",
    )
    .edit(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    });
    let sock = env.path("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_master(listener));
    let id = env.id("c");
    env.hull(&[
        "create",
        "--bundle",
        b.dir.to_str().unwrap(),
        "--console-socket",
        sock.to_str().unwrap(),
        &id,
    ])
    .ok();
    let (master, payload, n) = receiver.join().expect("console socket receiver");
    assert!(n > 0 && n < 4096, "payload of {n} bytes");
    assert!(
        !payload.contains(&0) || payload.ends_with(&[0]),
        "{payload:?}"
    );
    env.hull(&["start", &id]).ok();
    nix::unistd::write(&master, b"abc\n").unwrap();
    let text = read_master(&master, Duration::from_secs(10));
    assert!(text.contains("stdio-is-tty"), "{text:?}");
    assert!(text.contains("tty=/dev/pts/0"), "{text:?}");
    assert!(text.contains("size=30 100"), "{text:?}");
    // /dev/console is the pty slave (devpts major 136 = 0x88).
    assert!(
        text.contains("console=character special file 88:0"),
        "{text:?}"
    );
    assert!(text.contains("got:abc"), "{text:?}");
    // The pty turns \n into \r\n on output.
    assert!(text.contains("got:abc\r\n"), "{text:?}");
    let s = env.wait_status(&id, "stopped", Duration::from_secs(10));
    assert_eq!(s["pid"], 0);
    env.hull(&["delete", &id]).ok();
    env.assert_clean(&id, &b);
}

#[test]
fn terminal_in_foreground_run_is_relayed() {
    let env = Env::new("tty_fg");
    let b = env.bundle();
    b.script("[ -t 1 ] && echo on-a-tty; exit 5")
        .edit(|c| c["process"]["terminal"] = json!(true));
    let id = env.id("c");
    let out = env.run(&b, &id);
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stdout.contains("on-a-tty"), "{out:?}");
    env.assert_clean(&id, &b);
}

#[test]
fn terminal_detached_without_console_socket_is_an_error() {
    let env = Env::new("tty_nosock");
    let b = env.bundle();
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let id = env.id("c");
    let out = env.hull(&["run", "-d", "--bundle", b.dir.to_str().unwrap(), &id]);
    out.fails_with(1, &["console-socket"]);
    env.assert_clean(&id, &b);
    let id = env.id("c");
    env.create(&b, &id).fails_with(1, &["console-socket"]);
    env.assert_clean(&id, &b);
}

/// Not a config feature but the bundle helper's own promise: `Value` edits round-trip.
#[test]
fn bundle_config_edits_apply() {
    let env = Env::new("cfg");
    let b = env.bundle();
    b.edit(|c| c["hostname"] = Value::from("edited"));
    assert_eq!(b.config()["hostname"], "edited");
    assert_eq!(b.config()["process"]["terminal"], false);
}

#[test]
fn mount_propagation() {
    let env = Env::new("propagation");
    let b = env.bundle();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(
            json!({"destination": "/mnt/shared", "type": "tmpfs", "source": "tmpfs",
            "options": ["shared"]}),
        );
        m.push(
            json!({"destination": "/mnt/private", "type": "tmpfs", "source": "tmpfs",
            "options": ["private"]}),
        );
    });
    let script = "cat /proc/self/mountinfo";
    let tagged = |m: &MountLine, t: &str| m.tags.iter().any(|x| x.starts_with(t));
    let m = mountinfo(&run_script(&env, &b, script, &[]));
    assert!(tagged(mount_at(&m, "/mnt/shared"), "shared:"), "{m:#?}");
    assert!(mount_at(&m, "/mnt/private").tags.is_empty(), "{m:#?}");
    // This host's mounts are private, so the default rslave root has no peer group.
    assert!(!tagged(mount_at(&m, "/"), "shared:"), "{m:#?}");
    b.edit(|c| c["linux"]["rootfsPropagation"] = json!("shared"));
    let m = mountinfo(&run_script(&env, &b, script, &[]));
    assert!(
        tagged(mount_at(&m, "/"), "shared:"),
        "rootfsPropagation shared: {:?}",
        mount_at(&m, "/")
    );
    b.edit(|c| c["linux"]["rootfsPropagation"] = json!("private"));
    let m = mountinfo(&run_script(&env, &b, script, &[]));
    assert!(mount_at(&m, "/").tags.is_empty(), "{:?}", mount_at(&m, "/"));
}

#[test]
fn every_namespace_in_features_works() {
    // `features` must list only what works: each namespace it names can be created.
    let env = Env::new("features_ns");
    let f = env.hull(&["features"]);
    f.ok();
    let f = f.json();
    let listed: Vec<String> = f["linux"]["namespaces"]
        .as_array()
        .expect("linux.namespaces in features")
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for want in ["cgroup", "ipc", "mount", "network", "pid", "uts"] {
        assert!(listed.iter().any(|n| n == want), "{want} in {listed:?}");
    }
    let proc_name = |ns: &str| {
        match ns {
            "network" => "net",
            "mount" => "mnt",
            other => other,
        }
        .to_string()
    };
    for ns in &listed {
        let b = env.bundle();
        let pn = proc_name(ns);
        b.edit(|c| {
            let l = c["linux"]["namespaces"].as_array_mut().unwrap();
            if !l.iter().any(|n| n["type"] == ns.as_str()) {
                l.push(json!({"type": ns}));
            }
            if ns == "user" {
                c["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                c["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            }
        });
        let out = run_script(
            &env,
            &b,
            &format!(
                "echo ns=$(readlink /proc/self/ns/{pn}); echo uid_map=$(cat /proc/self/uid_map)"
            ),
            &[],
        );
        let v = kv(&out);
        let host = fs::read_link(format!("/proc/self/ns/{pn}")).unwrap();
        assert_ne!(v["ns"], host.to_string_lossy(), "{ns}: {out}");
        if ns == "user" {
            let m: Vec<&str> = v["uid_map"].split_whitespace().collect();
            assert_eq!(m, ["0", "100000", "65536"], "{out}");
        }
    }
}

#[test]
fn mount_targets_stay_inside_rootfs() {
    // Destinations through symlinks that point out of the rootfs (absolute, or climbing with
    // ..) are resolved inside it: nothing is mounted or created on the host.
    let env = Env::new("symlink_escape");
    let b = env.bundle();
    let victim = env.path("victim");
    fs::create_dir_all(&victim).unwrap();
    std::os::unix::fs::symlink(&victim, b.rootfs().join("abs")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../../../../../..{}", victim.display()),
        b.rootfs().join("rel"),
    )
    .unwrap();
    // A relative bind source is relative to the bundle.
    fs::create_dir_all(b.dir.join("data")).unwrap();
    fs::write(b.dir.join("data/f"), "bundle-data\n").unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/abs/x", "type": "tmpfs", "source": "tmpfs"}));
        m.push(json!({"destination": "/rel/y", "type": "tmpfs", "source": "tmpfs"}));
        m.push(
            json!({"destination": "/mnt/data", "type": "bind", "source": "data",
            "options": ["bind", "ro"]}),
        );
    });
    let out = run_script(
        &env,
        &b,
        "echo one > /abs/x/file && echo two > /rel/y/file && echo written=ok; \
         echo data=$(cat /mnt/data/f); echo '=== mi'; cat /proc/self/mountinfo",
        &[],
    );
    let s = sections(&format!("=== v\n{out}"));
    let v = kv(&s["v"]);
    assert_eq!(v["written"], "ok", "{out}");
    assert_eq!(v["data"], "bundle-data");
    let entries: Vec<_> = fs::read_dir(&victim).unwrap().flatten().collect();
    assert!(entries.is_empty(), "the host dir was touched: {entries:?}");
    let m = mountinfo(&s["mi"]);
    let inside = victim.to_str().unwrap();
    for d in ["x", "y"] {
        let t = format!("{inside}/{d}");
        let l = mount_at(&m, &t);
        assert_eq!(l.fstype, "tmpfs", "{l:?}");
    }
    // ...created under the rootfs instead.
    let rel = victim.strip_prefix("/").unwrap();
    assert!(b.rootfs().join(rel).join("x").is_dir());
    assert!(b.rootfs().join(rel).join("y").is_dir());
    assert!(host_mounts_of(&victim).is_empty());
}

#[test]
fn missing_cwd_is_created() {
    // runc creates process.cwd (0755) in the rootfs when it does not exist.
    let env = Env::new("mkcwd");
    let b = env.bundle();
    b.edit(|c| c["process"]["cwd"] = json!("/new/cwd"));
    let out = run_script(&env, &b, "pwd", &[]);
    assert_eq!(out.trim(), "/new/cwd");
    let meta = fs::metadata(b.rootfs().join("new/cwd")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
}

#[test]
fn fifo_device_entry() {
    let env = Env::new("fifodev");
    let b = env.bundle();
    b.edit(|c| {
        c["linux"]["devices"] = json!([{"path": "/dev/myfifo", "type": "p", "fileMode": 0o600}]);
    });
    let out = run_script(&env, &b, "stat -c '%F %a %u:%g' /dev/myfifo", &[]);
    assert_eq!(out.trim(), "fifo 600 0:0");
}
