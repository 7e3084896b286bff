//! The in-container probe: prints, as one JSON object, what the process sees.
//!
//! usage: oci-probe [--path P]... [--read P]... [--sysctl K]... [--mkdir P]... [--out FILE]
//!                  [--sleep SECS] [--exit N]
//! Nothing here resolves users or hosts: it needs no NSS and runs in a bare rootfs.
use serde_json::{json, Map, Value};
use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn io_res(r: std::io::Result<()>) -> Value {
    match r {
        Ok(()) => json!({"ok": true}),
        Err(e) => {
            json!({"ok": false, "errno": e.raw_os_error().unwrap_or(0), "error": e.to_string()})
        }
    }
}

fn ns() -> Value {
    let mut m = Map::new();
    if let Ok(rd) = fs::read_dir("/proc/self/ns") {
        for e in rd.flatten() {
            if let Ok(t) = fs::read_link(e.path()) {
                m.insert(
                    e.file_name().to_string_lossy().into(),
                    json!(t.to_string_lossy()),
                );
            }
        }
    }
    Value::Object(m)
}

fn mounts() -> Value {
    let s = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = vec![];
    for l in s.lines() {
        let Some((left, right)) = l.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if f.len() < 6 {
            continue;
        }
        out.push(json!({
            "id": f[0], "parent": f[1], "dev": f[2], "root": f[3], "mountpoint": f[4],
            "options": f[5], "optional": f[6..].join(" "),
            "fstype": r.first().copied().unwrap_or(""), "source": r.get(1).copied().unwrap_or(""),
            "superopts": r.get(2).copied().unwrap_or(""),
        }));
    }
    Value::Array(out)
}

fn path_info(p: &str) -> Value {
    let mut m = Map::new();
    match fs::symlink_metadata(p) {
        Err(e) => {
            m.insert("exists".into(), json!(false));
            m.insert("errno".into(), json!(e.raw_os_error()));
            return Value::Object(m);
        }
        Ok(md) => {
            let ft = md.file_type();
            let kind = if ft.is_symlink() {
                "symlink"
            } else if ft.is_dir() {
                "dir"
            } else if ft.is_char_device() {
                "char"
            } else if ft.is_block_device() {
                "block"
            } else if ft.is_fifo() {
                "fifo"
            } else if ft.is_socket() {
                "socket"
            } else {
                "file"
            };
            m.insert("exists".into(), json!(true));
            m.insert("type".into(), json!(kind));
            m.insert("mode".into(), json!(md.mode() & 0o7777));
            m.insert("uid".into(), json!(md.uid()));
            m.insert("gid".into(), json!(md.gid()));
            m.insert("size".into(), json!(md.size()));
            let rdev = md.rdev();
            m.insert("major".into(), json!(libc::major(rdev)));
            m.insert("minor".into(), json!(libc::minor(rdev)));
            if ft.is_symlink() {
                if let Ok(t) = fs::read_link(p) {
                    m.insert("target".into(), json!(t.to_string_lossy()));
                }
            }
            if ft.is_dir() {
                let n = fs::read_dir(p).map(|d| d.count() as i64).unwrap_or(-1);
                m.insert("entries".into(), json!(n));
                let t = format!("{}/.oci-probe-write", p.trim_end_matches('/'));
                let r = fs::write(&t, b"x");
                if r.is_ok() {
                    let _ = fs::remove_file(&t);
                }
                m.insert("write".into(), io_res(r));
                m.insert("read".into(), io_res(fs::read_dir(p).map(|_| ())));
            } else if !ft.is_symlink() {
                // Non-blocking: ttys, pty masters and fifos must not hang the probe.
                use std::os::unix::fs::OpenOptionsExt;
                let r = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                    .open(p)
                    .and_then(|mut f| {
                        let mut b = [0u8; 64];
                        match f.read(&mut b) {
                            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(0),
                            r => r,
                        }
                    });
                m.insert(
                    "read".into(),
                    match r {
                        Ok(n) => json!({"ok": true, "bytes": n}),
                        Err(e) => {
                            json!({"ok": false, "errno": e.raw_os_error(), "error": e.to_string()})
                        }
                    },
                );
                // Open for writing without truncating or writing anything.
                let w = fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                    .open(p)
                    .map(|_| ());
                m.insert("write".into(), io_res(w));
            }
        }
    }
    Value::Object(m)
}

fn rlimits() -> Value {
    let names: &[(&str, u32)] = &[
        ("RLIMIT_CPU", libc::RLIMIT_CPU),
        ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
        ("RLIMIT_DATA", libc::RLIMIT_DATA),
        ("RLIMIT_STACK", libc::RLIMIT_STACK),
        ("RLIMIT_CORE", libc::RLIMIT_CORE),
        ("RLIMIT_RSS", libc::RLIMIT_RSS),
        ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
        ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
        ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
        ("RLIMIT_AS", libc::RLIMIT_AS),
        ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
        ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
        ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
        ("RLIMIT_NICE", libc::RLIMIT_NICE),
        ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
        ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
    ];
    let mut m = Map::new();
    for (n, r) in names {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: l is a valid rlimit out-pointer.
        if unsafe { libc::getrlimit(*r as _, &mut l) } == 0 {
            m.insert((*n).into(), json!({"soft": l.rlim_cur, "hard": l.rlim_max}));
        }
    }
    Value::Object(m)
}

fn status() -> Value {
    let s = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut m = Map::new();
    for l in s.lines() {
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim();
            if [
                "CapInh",
                "CapPrm",
                "CapEff",
                "CapBnd",
                "CapAmb",
                "NoNewPrivs",
                "Seccomp",
                "Uid",
                "Gid",
                "Groups",
                "NSpid",
            ]
            .contains(&k)
            {
                m.insert(k.into(), json!(v.trim()));
            }
        }
    }
    Value::Object(m)
}

fn uts() -> (String, String) {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid out-pointer.
    unsafe { libc::uname(&mut u) };
    let f = |a: &[libc::c_char]| {
        let b: Vec<u8> = a
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    (f(&u.nodename), f(&u.domainname))
}

fn fds() -> Value {
    let mut m = Map::new();
    if let Ok(rd) = fs::read_dir("/proc/self/fd") {
        let v: Vec<_> = rd.flatten().collect();
        for e in v {
            let t = fs::read_link(e.path())
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            m.insert(e.file_name().to_string_lossy().into(), json!(t));
        }
    }
    Value::Object(m)
}

fn tty(fd: i32) -> Value {
    // SAFETY: isatty and ioctl only read the fd's state.
    let is = unsafe { libc::isatty(fd) } == 1;
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let size = if is && unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 {
        json!({"rows": ws.ws_row, "cols": ws.ws_col})
    } else {
        Value::Null
    };
    let name = fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default();
    json!({"isatty": is, "size": size, "name": name})
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mut paths, mut reads, mut sysctls, mut mkdirs) = (vec![], vec![], vec![], vec![]);
    let (mut out, mut sleep, mut code) = (None, 0u64, 0i32);
    let mut i = 1;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--path" => paths.push(v),
            "--read" => reads.push(v),
            "--sysctl" => sysctls.push(v),
            "--mkdir" => mkdirs.push(v),
            "--out" => out = Some(v),
            "--sleep" => sleep = v.parse().unwrap_or(0),
            "--exit" => code = v.parse().unwrap_or(0),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    // SAFETY: umask is always safe; restored at once.
    let um = unsafe { libc::umask(0) };
    unsafe { libc::umask(um) };
    let (hostname, domainname) = uts();
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: the buffer holds 256 entries.
    let ng = unsafe { libc::getgroups(256, groups.as_mut_ptr()) };
    groups.truncate(ng.max(0) as usize);
    let rd = |p: &str| fs::read_to_string(p).ok();
    let mut m = Map::new();
    m.insert("args".into(), json!(args));
    m.insert("pid".into(), json!(std::process::id()));
    // SAFETY: plain getters.
    m.insert("ppid".into(), json!(unsafe { libc::getppid() }));
    m.insert("uid".into(), json!(unsafe { libc::getuid() }));
    m.insert("euid".into(), json!(unsafe { libc::geteuid() }));
    m.insert("gid".into(), json!(unsafe { libc::getgid() }));
    m.insert("egid".into(), json!(unsafe { libc::getegid() }));
    m.insert("sid".into(), json!(unsafe { libc::getsid(0) }));
    m.insert("pgid".into(), json!(unsafe { libc::getpgrp() }));
    m.insert("groups".into(), json!(groups));
    m.insert("ns".into(), ns());
    m.insert("mounts".into(), mounts());
    m.insert("rlimits".into(), rlimits());
    m.insert("status".into(), status());
    m.insert("uid_map".into(), json!(rd("/proc/self/uid_map")));
    m.insert("gid_map".into(), json!(rd("/proc/self/gid_map")));
    m.insert("setgroups".into(), json!(rd("/proc/self/setgroups")));
    m.insert("cgroup".into(), json!(rd("/proc/self/cgroup")));
    m.insert(
        "oom_score_adj".into(),
        json!(rd("/proc/self/oom_score_adj").map(|s| s.trim().to_string())),
    );
    m.insert(
        "personality".into(),
        json!(rd("/proc/self/personality").map(|s| s.trim().to_string())),
    );
    m.insert("hostname".into(), json!(hostname));
    m.insert("domainname".into(), json!(domainname));
    m.insert(
        "env".into(),
        json!(std::env::vars_os()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect::<Vec<_>>()),
    );
    m.insert(
        "cwd".into(),
        json!(std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()),
    );
    m.insert("umask".into(), json!(um));
    m.insert("fds".into(), fds());
    m.insert("tty".into(), json!([tty(0), tty(1), tty(2)]));
    let mut pm = Map::new();
    for p in &paths {
        pm.insert(p.clone(), path_info(p));
    }
    m.insert("paths".into(), Value::Object(pm));
    let mut rm = Map::new();
    for p in &reads {
        rm.insert(
            p.clone(),
            match fs::read_to_string(p) {
                Ok(s) => json!(s.trim_end()),
                Err(e) => json!({"errno": e.raw_os_error(), "error": e.to_string()}),
            },
        );
    }
    m.insert("files".into(), Value::Object(rm));
    let mut sm = Map::new();
    for k in &sysctls {
        let p = format!("/proc/sys/{}", k.replace('.', "/"));
        sm.insert(
            k.clone(),
            json!(fs::read_to_string(&p).ok().map(|s| s.trim().to_string())),
        );
    }
    m.insert("sysctl".into(), Value::Object(sm));
    let mut mk = Map::new();
    for p in &mkdirs {
        let c = CString::new(p.as_str()).unwrap_or_default();
        // SAFETY: c is a valid C string.
        let r = unsafe { libc::mkdir(c.as_ptr(), 0o755) };
        let e = if r == 0 { 0 } else { errno() };
        if r == 0 {
            let _ = fs::remove_dir(p);
        }
        mk.insert(p.clone(), json!({"ok": r == 0, "errno": e}));
    }
    m.insert("mkdir".into(), Value::Object(mk));
    let text = Value::Object(m).to_string();
    match out {
        Some(f) => {
            let tmp = format!("{f}.tmp");
            let _ = fs::write(&tmp, &text).and_then(|_| fs::rename(&tmp, &f));
        }
        None => {
            let mut o = std::io::stdout();
            let _ = o.write_all(text.as_bytes());
            let _ = o.write_all(b"\n");
            let _ = o.flush();
        }
    }
    if sleep > 0 {
        std::thread::sleep(std::time::Duration::from_secs(sleep));
    }
    std::process::exit(code);
}
