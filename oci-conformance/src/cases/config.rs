//! config.md: ociVersion, root, mounts, process, hostname/domainname, annotations.
use super::{capmask, has_opt, mask_of, mount_at};
use crate::rt::{Ctx, R};
use crate::{case, ensure, skip, Case};
use serde_json::json;
use std::fs;

pub fn cases() -> Vec<Case> {
    vec![
        case!("config.md/specification-version/1.0.0", |c| version(
            c, "1.0.0"
        )),
        case!("config.md/specification-version/1.0.2", |c| version(
            c, "1.0.2"
        )),
        case!("config.md/specification-version/1.1.0", |c| version(
            c, "1.1.0"
        )),
        case!("config.md/specification-version/1.2.0", |c| version(
            c, "1.2.0"
        )),
        case!("config.md/specification-version/1.3.0", |c| version(
            c, "1.3.0"
        )),
        case!("config.md/root/path-relative", root_relative),
        case!("config.md/root/path-absolute", root_absolute),
        case!("config.md/root/readonly", root_readonly),
        case!("config.md/root/path-missing-fails", root_missing),
        case!("config.md/process/args-empty-fails", args_empty),
        case!("config.md/process/cwd-relative-fails", cwd_relative),
        case!(
            "config.md/process/user-uid-without-passwd-entry",
            uid_no_passwd
        ),
        case!("config.md/mounts/destination-created", mount_dest_created),
        case!("config.md/mounts/order", mount_order),
        case!("config.md/mounts/bind", mount_bind),
        case!("config.md/mounts/bind-file", mount_bind_file),
        case!("config.md/mounts/bind-ro", mount_bind_ro),
        case!("config.md/mounts/options-flags", mount_flags),
        case!("config.md/mounts/tmpfs-data-options", mount_tmpfs_data),
        case!("config.md/mounts/bind-relative-source", mount_bind_relative),
        case!("config.md/mounts/cgroup-filesystem", mount_cgroup),
        case!("config.md/mounts/recursive-bind-submounts", mount_rbind),
        case!("config.md/mounts/idmapped-bind", mount_idmapped),
        case!("runc/mounts/tmpcopyup", mount_tmpcopyup),
        case!(
            "config.md/mounts/destination-symlink-stays-in-rootfs",
            mount_symlink_dest
        ),
        case!("config.md/process/env-home-default", env_home),
        case!("config.md/process/args", process_args),
        case!("config.md/process/env", process_env),
        case!("config.md/process/cwd", process_cwd),
        case!("config.md/process/cwd-missing-created", process_cwd_missing),
        case!("config.md/process/user-uid-gid", process_user),
        case!(
            "config.md/process/user-additionalGids",
            process_additional_gids
        ),
        case!("config.md/process/user-umask", process_umask),
        case!("config.md/process/rlimits", process_rlimits),
        case!(
            "config.md/process/rlimits-unknown-type-fails",
            process_rlimits_bad
        ),
        case!("config.md/process/capabilities-sets", process_caps),
        case!(
            "config.md/process/capabilities-ambient",
            process_caps_ambient
        ),
        case!(
            "config.md/process/capabilities-unknown-fails",
            process_caps_unknown
        ),
        case!(
            "config.md/process/capabilities-nonroot",
            process_caps_nonroot
        ),
        case!("config.md/process/noNewPrivileges-true", |c| nnp(c, true)),
        case!("config.md/process/noNewPrivileges-false", |c| nnp(c, false)),
        case!("config.md/process/oomScoreAdj", process_oom),
        case!("config.md/process/apparmorProfile", process_apparmor),
        case!(
            "config.md/process/terminal-false-inherits-stdio",
            process_no_terminal
        ),
        case!("config.md/hostname/set", hostname),
        case!(
            "config.md/hostname/without-uts-namespace-fails",
            hostname_no_uts
        ),
        case!("config.md/domainname/set", domainname),
        case!("config.md/annotations/accepted", annotations),
        case!(
            "config.md/extensibility/unknown-properties-ignored",
            unknown_properties
        ),
        case!("config.md/mounts/bind-without-type", mount_bind_no_type),
    ]
}

fn version(c: &Ctx, v: &str) -> R {
    let mut b = c.bundle();
    b.config["ociVersion"] = json!(v);
    c.probe(&b)?;
    Ok(())
}

fn root_relative(c: &Ctx) -> R {
    let b = c.bundle();
    let p = c.probe(&b)?;
    ensure!(p["pid"] == 1, "probe is not pid 1: {}", p["pid"]);
    Ok(())
}

fn root_absolute(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.config["root"]["path"] = json!(b.rootfs().to_string_lossy());
    c.probe(&b)?;
    Ok(())
}

fn root_readonly(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.config["root"]["readonly"] = json!(true);
    b.probe(&["--path", "/", "--path", "/tmp"]);
    let p = c.probe(&b)?;
    let root = mount_at(&p, "/").ok_or("no / mount")?;
    ensure!(
        has_opt(&root["options"], "ro"),
        "/ is not mounted ro: {root}"
    );
    ensure!(
        p["paths"]["/"]["write"]["errno"] == libc::EROFS,
        "writing to / did not fail with EROFS: {}",
        p["paths"]["/"]
    );
    Ok(())
}

fn mount_dest_created(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.add_mount(json!({"destination": "/a/b/c", "type": "tmpfs", "source": "tmpfs"}));
    let p = c.probe(&b)?;
    ensure!(
        mount_at(&p, "/a/b/c")
            .map(|m| m["fstype"] == "tmpfs")
            .unwrap_or(false),
        "no tmpfs at /a/b/c"
    );
    Ok(())
}

fn mount_order(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.add_mount(
        json!({"destination": "/m", "type": "tmpfs", "source": "first", "options": ["size=1m"]}),
    );
    b.add_mount(json!({"destination": "/m/inner", "type": "tmpfs", "source": "second"}));
    b.add_mount(json!({"destination": "/m", "type": "tmpfs", "source": "third"}));
    let p = c.probe(&b)?;
    let ms = p["mounts"].as_array().ok_or("no mounts")?;
    let order: Vec<&str> = ms
        .iter()
        .filter(|m| {
            m["mountpoint"]
                .as_str()
                .map(|s| s.starts_with("/m"))
                .unwrap_or(false)
        })
        .map(|m| m["source"].as_str().unwrap_or(""))
        .collect();
    ensure!(
        order == ["first", "second", "third"],
        "mounts not applied in order: {order:?}"
    );
    Ok(())
}

fn host_dir(c: &Ctx, name: &str) -> std::path::PathBuf {
    let d = c.work.join(format!("{name}{}", c.uniq()));
    let _ = fs::create_dir_all(&d);
    d
}

fn mount_bind(c: &Ctx) -> R {
    let d = host_dir(c, "hostdir");
    fs::write(d.join("hello"), "from host").map_err(|e| e.to_string())?;
    let mut b = c.bundle();
    b.add_mount(
        json!({"destination": "/host", "type": "bind", "source": d, "options": ["rbind", "rw"]}),
    );
    b.probe(&["--read", "/host/hello", "--path", "/host"]);
    let p = c.probe(&b)?;
    ensure!(
        p["files"]["/host/hello"] == "from host",
        "bind mount content: {}",
        p["files"]
    );
    ensure!(
        p["paths"]["/host"]["write"]["ok"] == true,
        "rw bind not writable: {}",
        p["paths"]["/host"]
    );
    Ok(())
}

fn mount_bind_file(c: &Ctx) -> R {
    let d = host_dir(c, "hostfile");
    fs::write(d.join("f"), "file bind").map_err(|e| e.to_string())?;
    let mut b = c.bundle();
    b.add_mount(json!({"destination": "/etc/bound", "type": "bind", "source": d.join("f"), "options": ["bind"]}));
    b.probe(&["--read", "/etc/bound"]);
    let p = c.probe(&b)?;
    ensure!(
        p["files"]["/etc/bound"] == "file bind",
        "file bind content: {}",
        p["files"]
    );
    Ok(())
}

fn mount_bind_ro(c: &Ctx) -> R {
    let d = host_dir(c, "hostro");
    let mut b = c.bundle();
    b.add_mount(
        json!({"destination": "/ro", "type": "bind", "source": d, "options": ["rbind", "ro"]}),
    );
    b.probe(&["--path", "/ro"]);
    let p = c.probe(&b)?;
    ensure!(
        p["paths"]["/ro"]["write"]["errno"] == libc::EROFS,
        "write to a ro bind: {}",
        p["paths"]["/ro"]
    );
    let m = mount_at(&p, "/ro").ok_or("no /ro mount")?;
    ensure!(
        has_opt(&m["options"], "ro"),
        "/ro mount options {}",
        m["options"]
    );
    Ok(())
}

fn mount_flags(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.add_mount(json!({"destination": "/flags", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "noatime"]}));
    let p = c.probe(&b)?;
    let m = mount_at(&p, "/flags").ok_or("no /flags mount")?;
    for o in ["nosuid", "nodev", "noexec", "noatime"] {
        ensure!(has_opt(&m["options"], o), "{o} missing: {}", m["options"]);
    }
    Ok(())
}

fn mount_tmpfs_data(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.add_mount(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m", "mode=700"]}));
    b.probe(&["--path", "/data"]);
    let p = c.probe(&b)?;
    let m = mount_at(&p, "/data").ok_or("no /data mount")?;
    ensure!(
        has_opt(&m["superopts"], "size=2048k"),
        "size not applied: {}",
        m["superopts"]
    );
    ensure!(
        p["paths"]["/data"]["mode"] == 0o700,
        "mode not applied: {}",
        p["paths"]["/data"]
    );
    Ok(())
}

fn mount_bind_relative(c: &Ctx) -> R {
    // A relative bind source is relative to the bundle directory.
    let mut b = c.bundle();
    fs::create_dir_all(b.dir.join("rel")).map_err(|e| e.to_string())?;
    fs::write(b.dir.join("rel/x"), "relative").map_err(|e| e.to_string())?;
    b.add_mount(
        json!({"destination": "/rel", "type": "bind", "source": "rel", "options": ["bind"]}),
    );
    b.probe(&["--read", "/rel/x"]);
    let p = c.probe(&b)?;
    ensure!(
        p["files"]["/rel/x"] == "relative",
        "relative bind source: {}",
        p["files"]
    );
    Ok(())
}

fn mount_bind_no_type(c: &Ctx) -> R {
    let d = host_dir(c, "notype");
    fs::write(d.join("f"), "t").map_err(|e| e.to_string())?;
    let mut b = c.bundle();
    b.add_mount(json!({"destination": "/nt", "source": d, "options": ["rbind"]}));
    b.probe(&["--read", "/nt/f"]);
    let p = c.probe(&b)?;
    ensure!(
        p["files"]["/nt/f"] == "t",
        "bind without a type: {}",
        p["files"]
    );
    Ok(())
}

fn process_args(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["/probe", "a b", "", "--x=1"]);
    let p = c.probe(&b)?;
    ensure!(
        p["args"] == json!(["/probe", "a b", "", "--x=1"]),
        "argv {}",
        p["args"]
    );
    Ok(())
}

fn process_env(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["env"] = json!(["PATH=/bin", "A=1", "B=with space", "EMPTY="]);
    let p = c.probe(&b)?;
    let mut env: Vec<String> = serde_json::from_value(p["env"].clone()).unwrap_or_default();
    env.sort();
    let mut want = vec!["PATH=/bin", "A=1", "B=with space", "EMPTY="];
    want.sort();
    // HOME may be added by the runtime when absent (runc does); nothing else.
    env.retain(|e| !e.starts_with("HOME="));
    ensure!(env == want, "env {env:?}");
    Ok(())
}

fn process_cwd(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["cwd"] = json!("/tmp");
    let p = c.probe(&b)?;
    ensure!(p["cwd"] == "/tmp", "cwd {}", p["cwd"]);
    Ok(())
}

fn process_cwd_missing(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["cwd"] = json!("/does/not/exist/yet");
    let p = c.probe(&b)?;
    ensure!(p["cwd"] == "/does/not/exist/yet", "cwd {}", p["cwd"]);
    Ok(())
}

fn process_user(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1001});
    let p = c.probe(&b)?;
    ensure!(
        p["uid"] == 1000 && p["euid"] == 1000 && p["gid"] == 1001 && p["egid"] == 1001,
        "uid/gid {} {} {} {}",
        p["uid"],
        p["euid"],
        p["gid"],
        p["egid"]
    );
    ensure!(
        p["groups"]
            .as_array()
            .map(|g| g.iter().all(|x| x == 1001))
            .unwrap_or(false),
        "supplementary groups should be empty or the gid: {}",
        p["groups"]
    );
    Ok(())
}

fn process_additional_gids(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 42, 1000]});
    let p = c.probe(&b)?;
    let g: Vec<u64> = serde_json::from_value(p["groups"].clone()).unwrap_or_default();
    for want in [5, 42] {
        ensure!(g.contains(&want), "additional gid {want} missing: {g:?}");
    }
    Ok(())
}

fn process_umask(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["user"]["umask"] = json!(0o077);
    let p = c.probe(&b)?;
    ensure!(
        p["umask"] == 0o077,
        "umask {:o}",
        p["umask"].as_u64().unwrap_or(0)
    );
    Ok(())
}

fn process_rlimits(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 4096},
        {"type": "RLIMIT_NPROC", "soft": 333, "hard": 444},
    ]);
    let p = c.probe(&b)?;
    let r = &p["rlimits"];
    ensure!(
        r["RLIMIT_NOFILE"] == json!({"soft": 512, "hard": 768}),
        "NOFILE {}",
        r["RLIMIT_NOFILE"]
    );
    ensure!(
        r["RLIMIT_CORE"] == json!({"soft": 0, "hard": 4096}),
        "CORE {}",
        r["RLIMIT_CORE"]
    );
    ensure!(
        r["RLIMIT_NPROC"] == json!({"soft": 333, "hard": 444}),
        "NPROC {}",
        r["RLIMIT_NPROC"]
    );
    Ok(())
}

fn process_rlimits_bad(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["rlimits"] = json!([{"type": "RLIMIT_NOSUCH", "soft": 1, "hard": 1}]);
    let o = c.run(&b);
    ensure!(o.code != 0, "an unknown rlimit type was accepted");
    Ok(())
}

fn process_caps(c: &Ctx) -> R {
    let mut b = c.bundle();
    let bnd = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_RAW",
        "CAP_SETUID",
        "CAP_SETGID",
    ];
    let prm = ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_SETGID"];
    // For uid 0 execve raises effective to permitted (the kernel's root rule): eff == prm.
    let eff = prm;
    let inh = ["CAP_KILL"];
    b.process()["capabilities"] =
        json!({"bounding": bnd, "permitted": prm, "effective": eff, "inheritable": inh});
    let p = c.probe(&b)?;
    for (set, want) in [
        ("CapBnd", &bnd[..]),
        ("CapPrm", &prm[..]),
        ("CapEff", &eff[..]),
        ("CapInh", &inh[..]),
        ("CapAmb", &[][..]),
    ] {
        ensure!(
            capmask(&p, set) == mask_of(want),
            "{set} {:x} want {:x}",
            capmask(&p, set),
            mask_of(want)
        );
    }
    Ok(())
}

fn process_caps_ambient(c: &Ctx) -> R {
    let mut b = c.bundle();
    let s = ["CAP_NET_BIND_SERVICE", "CAP_KILL"];
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    b.process()["noNewPrivileges"] = json!(false);
    b.process()["capabilities"] =
        json!({"bounding": s, "permitted": s, "effective": s, "inheritable": s, "ambient": s});
    let p = c.probe(&b)?;
    ensure!(
        capmask(&p, "CapAmb") == mask_of(&s),
        "CapAmb {:x}",
        capmask(&p, "CapAmb")
    );
    ensure!(
        capmask(&p, "CapEff") == mask_of(&s),
        "CapEff of a non-root user with ambient caps {:x}",
        capmask(&p, "CapEff")
    );
    Ok(())
}

fn process_caps_unknown(c: &Ctx) -> R {
    let mut b = c.bundle();
    let s = ["CAP_CHOWN", "CAP_NO_SUCH_THING"];
    b.process()["capabilities"] = json!({"bounding": s, "permitted": s, "effective": s});
    let o = c.run(&b);
    ensure!(o.code != 0, "an unknown capability name was accepted");
    Ok(())
}

fn process_caps_nonroot(c: &Ctx) -> R {
    // A non-root user without ambient caps: effective and permitted are cleared by execve.
    let mut b = c.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    let p = c.probe(&b)?;
    ensure!(
        capmask(&p, "CapEff") == 0 && capmask(&p, "CapPrm") == 0,
        "non-root has caps: eff {:x} prm {:x}",
        capmask(&p, "CapEff"),
        capmask(&p, "CapPrm")
    );
    ensure!(
        capmask(&p, "CapBnd")
            == mask_of(
                &serde_json::from_value::<Vec<String>>(crate::rt::default_caps())
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
            ),
        "CapBnd {:x}",
        capmask(&p, "CapBnd")
    );
    Ok(())
}

fn nnp(c: &Ctx, on: bool) -> R {
    let mut b = c.bundle();
    b.process()["noNewPrivileges"] = json!(on);
    let p = c.probe(&b)?;
    let want = if on { "1" } else { "0" };
    ensure!(
        p["status"]["NoNewPrivs"] == want,
        "NoNewPrivs {}",
        p["status"]["NoNewPrivs"]
    );
    Ok(())
}

fn process_oom(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["oomScoreAdj"] = json!(123);
    let p = c.probe(&b)?;
    ensure!(
        p["oom_score_adj"] == "123",
        "oom_score_adj {}",
        p["oom_score_adj"]
    );
    Ok(())
}

fn process_no_terminal(c: &Ctx) -> R {
    let b = c.bundle();
    let p = c.probe(&b)?;
    ensure!(
        p["tty"][1]["isatty"] == false,
        "stdout is a tty without process.terminal"
    );
    Ok(())
}

fn hostname(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.config["hostname"] = json!("conformance-host");
    let p = c.probe(&b)?;
    ensure!(
        p["hostname"] == "conformance-host",
        "hostname {}",
        p["hostname"]
    );
    ensure!(
        p["ns"]["uts"] != crate::rt::host_ns("uts").as_str(),
        "no new UTS namespace"
    );
    Ok(())
}

fn hostname_no_uts(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.remove_ns("uts");
    b.config["hostname"] = json!("must-fail");
    // A runtime that accepted it would rename the host: put the name back.
    const P: &str = "/proc/sys/kernel/hostname";
    let before = fs::read_to_string(P).unwrap_or_default();
    let o = c.run(&b);
    if fs::read_to_string(P).unwrap_or_default() != before && !before.is_empty() {
        let _ = fs::write(P, before.trim());
        return Err("the host's hostname was changed (restored)".into());
    }
    ensure!(
        o.code != 0,
        "hostname without a UTS namespace was accepted (would rename the host)"
    );
    Ok(())
}

fn domainname(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.config["domainname"] = json!("example.org");
    let p = c.probe(&b)?;
    ensure!(
        p["domainname"] == "example.org",
        "domainname {}",
        p["domainname"]
    );
    Ok(())
}

fn annotations(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.config["annotations"] = json!({"com.example.a": "1"});
    c.probe(&b)?;
    Ok(())
}

fn unknown_properties(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.config["org.example.unknown"] = json!({"x": 1});
    b.process()["org.example.unknown"] = json!(true);
    c.probe(&b)?;
    Ok(())
}

fn mount_symlink_dest(c: &Ctx) -> R {
    // A destination through an absolute symlink resolves inside the rootfs, never on the host.
    let outside = host_dir(c, "outside");
    let mut b = c.bundle();
    std::os::unix::fs::symlink(&outside, b.rootfs().join("evil")).map_err(|e| e.to_string())?;
    b.add_mount(json!({"destination": "/evil", "type": "tmpfs", "source": "evil-tmpfs"}));
    let p = c.probe(&b)?;
    let inside = outside.to_string_lossy().to_string();
    let m = p["mounts"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["source"] == "evil-tmpfs"))
        .cloned();
    let m = m.ok_or("the tmpfs is not mounted in the container")?;
    ensure!(
        m["mountpoint"] == inside.as_str() || m["mountpoint"] == "/evil",
        "tmpfs at {}",
        m["mountpoint"]
    );
    ensure!(
        std::fs::read_dir(&outside).map(|d| d.count()).unwrap_or(0) == 0,
        "the host directory was touched"
    );
    Ok(())
}

fn env_home(c: &Ctx) -> R {
    // runc sets HOME from the rootfs' /etc/passwd when the config has none.
    let mut b = c.bundle();
    b.process()["user"] = json!({"uid": 1000, "gid": 1000});
    let p = c.probe(&b)?;
    ensure!(
        p["env"]
            .as_array()
            .map(|e| e.iter().any(|x| x == "HOME=/home/user"))
            .unwrap_or(false),
        "env {}",
        p["env"]
    );
    Ok(())
}

fn root_missing(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.config["root"]["path"] = json!("no-such-rootfs");
    let (id, o) = c.create(&b, &[]);
    ensure!(o.code != 0, "create with a missing root.path succeeded");
    ensure!(
        c.rt(&["state", &id]).code != 0,
        "a container exists after the failed create"
    );
    Ok(())
}

fn args_empty(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&[]);
    let (id, o) = c.create(&b, &[]);
    if o.code == 0 {
        let s = c.rt(&["start", &id]);
        ensure!(
            s.code != 0,
            "an empty process.args was accepted and started"
        );
    }
    Ok(())
}

fn cwd_relative(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["cwd"] = json!("tmp");
    ensure!(c.run(&b).code != 0, "a relative process.cwd was accepted");
    Ok(())
}

fn uid_no_passwd(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["user"] = json!({"uid": 4242, "gid": 4343});
    let p = c.probe(&b)?;
    ensure!(
        p["uid"] == 4242 && p["gid"] == 4343,
        "uid {} gid {}",
        p["uid"],
        p["gid"]
    );
    Ok(())
}

fn mount_cgroup(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.add_mount(json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}));
    b.probe(&[
        "--path",
        "/sys/fs/cgroup",
        "--path",
        "/sys/fs/cgroup/memory",
    ]);
    let p = c.probe(&b)?;
    let ms: Vec<_> = p["mounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|m| {
                    m["mountpoint"]
                        .as_str()
                        .map(|s| s.starts_with("/sys/fs/cgroup"))
                        .unwrap_or(false)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    ensure!(!ms.is_empty(), "nothing mounted at /sys/fs/cgroup");
    if std::path::Path::new("/sys/fs/cgroup/memory").exists() {
        ensure!(
            p["paths"]["/sys/fs/cgroup/memory"]["type"] == "dir"
                || p["paths"]["/sys/fs/cgroup/memory"]["type"] == "symlink",
            "no memory hierarchy in the container: {}",
            p["paths"]["/sys/fs/cgroup/memory"]
        );
    }
    // The hierarchies themselves are read-only (v1 runtimes put them on a tmpfs).
    for m in ms
        .iter()
        .filter(|m| m["fstype"] == "cgroup" || m["fstype"] == "cgroup2")
    {
        ensure!(
            has_opt(&m["options"], "ro"),
            "cgroup mount {} is not ro",
            m["mountpoint"]
        );
    }
    Ok(())
}

fn mount_rbind(c: &Ctx) -> R {
    // rbind carries submounts along; bind alone does not.
    let d = host_dir(c, "rbind");
    let sub = d.join("sub");
    fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "oci-conf-sub"])
        .arg(&sub)
        .status()
        .map_err(|e| e.to_string())?;
    ensure!(st.success(), "mount a tmpfs on the host");
    fs::write(sub.join("f"), "sub").map_err(|e| e.to_string())?;
    let mut b = c.bundle();
    b.add_mount(json!({"destination": "/r", "type": "bind", "source": d, "options": ["rbind"]}));
    b.add_mount(json!({"destination": "/nr", "type": "bind", "source": d, "options": ["bind"]}));
    b.probe(&["--read", "/r/sub/f", "--read", "/nr/sub/f"]);
    let p = c.probe(&b);
    let _ = std::process::Command::new("umount")
        .arg("-l")
        .arg(&sub)
        .status();
    let p = p?;
    ensure!(
        p["files"]["/r/sub/f"] == "sub",
        "rbind lost the submount: {}",
        p["files"]
    );
    ensure!(
        p["files"]["/nr/sub/f"].is_object(),
        "bind (not rbind) carried the submount: {}",
        p["files"]
    );
    Ok(())
}

fn mount_idmapped(c: &Ctx) -> R {
    // mounts[].uidMappings/gidMappings (runtime-spec 1.1): the source's ids (containerID) are
    // seen as hostID. Host 1000 -> 0 in a container without a user namespace.
    let no_fd = -1;
    // SAFETY: mount_setattr on an fd that cannot exist, only to learn whether the kernel has
    // it: EBADF if so, ENOSYS if not. The attr pointer is never read.
    let r = unsafe { libc::syscall(libc::SYS_mount_setattr, no_fd, c"".as_ptr(), 0, 0usize, 0) };
    if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
        skip!("the kernel has no mount_setattr (Linux 5.12+)");
    }
    let d = host_dir(c, "idmapped");
    fs::write(d.join("f"), "mapped").map_err(|e| e.to_string())?;
    for p in [d.clone(), d.join("f")] {
        std::os::unix::fs::chown(&p, Some(1000), Some(1000)).map_err(|e| e.to_string())?;
    }
    let map = json!([{"containerID": 1000, "hostID": 0, "size": 1}]);
    let mut b = c.bundle();
    b.add_mount(
        json!({"destination": "/idm", "type": "bind", "source": d, "options": ["bind"],
        "uidMappings": map, "gidMappings": map}),
    );
    b.probe(&["--path", "/idm/f"]);
    let p = c.probe(&b)?;
    let f = &p["paths"]["/idm/f"];
    ensure!(
        f["uid"] == 0 && f["gid"] == 0,
        "host 1000:1000 should show as 0:0 through the mapping: {f}"
    );
    let m = mount_at(&p, "/idm").ok_or("no /idm mount")?;
    ensure!(
        has_opt(&m["options"], "idmapped"),
        "/idm mount options {}",
        m["options"]
    );
    Ok(())
}

fn mount_tmpcopyup(c: &Ctx) -> R {
    let mut b = c.bundle();
    fs::create_dir_all(b.rootfs().join("data")).map_err(|e| e.to_string())?;
    fs::write(b.rootfs().join("data/seed"), "seeded").map_err(|e| e.to_string())?;
    b.add_mount(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    b.probe(&["--read", "/data/seed"]);
    let p = c.probe(&b)?;
    ensure!(
        mount_at(&p, "/data")
            .map(|m| m["fstype"] == "tmpfs")
            .unwrap_or(false),
        "no tmpfs at /data"
    );
    ensure!(
        p["files"]["/data/seed"] == "seeded",
        "tmpcopyup did not copy: {}",
        p["files"]
    );
    Ok(())
}

fn process_apparmor(c: &Ctx) -> R {
    if !std::path::Path::new("/sys/kernel/security/apparmor").exists() {
        crate::skip!("AppArmor is not enabled on this host");
    }
    let mut b = c.bundle();
    b.process()["apparmorProfile"] = json!("unconfined");
    b.probe(&["--read", "/proc/self/attr/current"]);
    let p = c.probe(&b)?;
    ensure!(
        p["files"]["/proc/self/attr/current"]
            .as_str()
            .map(|s| s.starts_with("unconfined"))
            .unwrap_or(false),
        "profile {}",
        p["files"]["/proc/self/attr/current"]
    );
    Ok(())
}
