//! The runc CLI contract that clients depend on (runc's bats areas) beyond the spec's operations:
//! run, exec, kill --all, list, ps, pause/resume, update, pid file, preserve-fds, no-pivot,
//! terminal via console socket, spec, version.
use super::capmask;
use crate::rt::{cgroup_dir, read_trim, Ctx, Opts, R};
use crate::{case, ensure, skip, Case};
use serde_json::{json, Value};
use std::fs;
use std::io::Read;
use std::os::unix::io::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        case!("runc/run/exit-code", run_exit_code),
        case!("runc/run/detach", run_detach),
        case!("runc/exec/joins-namespaces", exec_ns),
        case!("runc/exec/exit-code", exec_exit_code),
        case!("runc/exec/process-json", exec_process_json),
        case!("runc/exec/env-cwd-user", exec_opts),
        case!("runc/exec/caps-match-init", exec_caps),
        case!("runc/exec/stopped-fails", exec_stopped),
        case!("runc/exec/cap-flag", exec_cap_flag),
        case!("runc/exec/additional-gids", exec_additional_gids),
        case!("runc/events/stats", events_stats),
        case!("runc/kill/invalid-signal-fails", kill_invalid),
        case!("runc/state/paused", state_paused),
        case!("runc/update/stopped-fails", update_stopped),
        case!("runc/exec/detach-pid-file", exec_detach),
        case!("runc/exec/preserve-fds", exec_preserve_fds),
        case!("runc/kill/all", kill_all),
        case!("runc/kill/default-signal-term", kill_default),
        case!("runc/ps/table", ps_table),
        case!("runc/exec/tty-console-socket", exec_tty),
        case!("runc/delete/force-created", delete_force_created),
        case!("runc/list/table-and-json", list),
        case!("runc/ps/json", ps_json),
        case!("runc/pause/resume", pause_resume),
        case!("runc/pause/stopped-fails", pause_stopped),
        case!("runc/delete/force-paused", delete_paused),
        case!("runc/update/memory-pids-cpu", update),
        case!("runc/update/resources-stdin", update_stdin),
        case!("runc/update/memory-unit-suffix", update_suffix),
        case!("runc/pid-file/absolute", pid_file),
        case!("runc/pid-file/relative", pid_file_relative),
        case!("runc/preserve-fds/run", preserve_fds),
        case!("runc/no-pivot/run", no_pivot),
        case!("runc/terminal/console-socket", terminal),
        case!("runc/terminal/consoleSize", terminal_size),
        case!(
            "runc/terminal/without-console-socket-fails",
            terminal_no_socket
        ),
        case!("runc/spec/template-runs", spec_template),
        case!("runc/version/spec-line", version),
        case!("runc/cgroups/removed-after-delete", cgroups_removed),
    ]
}

pub fn alive(pid: i64) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rfind(')')
            .and_then(|i| s[i + 2..].chars().next())
            .map(|c| c != 'Z' && c != 'X')
            .unwrap_or(false),
        Err(_) => false,
    }
}

fn run_exit_code(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.probe(&["--exit", "42"]);
    let o = c.run(&b);
    ensure!(o.code == 42, "run exit {} want 42", o.code);
    Ok(())
}

fn run_detach(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    b.write();
    let id = c.id();
    let o = c.rt(&[
        "run",
        "--detach",
        "--bundle",
        b.dir.to_str().unwrap_or(""),
        &id,
    ]);
    o.ok("run --detach")?;
    ensure!(
        o.took < Duration::from_secs(15),
        "run --detach waited for the process"
    );
    ensure!(c.status(&id) == "running", "status {}", c.status(&id));
    Ok(())
}

fn sleeper(c: &Ctx) -> Result<(String, i64, crate::rt::Bundle), crate::rt::Fail> {
    let mut b = c.bundle();
    b.args(&["sleep", "60"]);
    let id = c.started(&b)?;
    let pid = c.pid(&id)?;
    Ok((id, pid, b))
}

fn exec_ns(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    let o = c.rt(&["exec", &id, "/probe"]);
    o.ok("exec")?;
    let p = o.json()?;
    for l in ["mnt", "pid", "net", "ipc", "uts"] {
        let want = fs::read_link(format!("/proc/{pid}/ns/{l}"))
            .map(|x| x.to_string_lossy().into_owned())
            .unwrap_or_default();
        ensure!(
            p["ns"][l] == want.as_str(),
            "exec {l} ns {} != init's {want}",
            p["ns"][l]
        );
    }
    let cg_init = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    ensure!(
        p["cgroup"]
            .as_str()
            .map(|s| s.contains(
                cg_init
                    .lines()
                    .find(|l| l.contains("memory"))
                    .unwrap_or("?")
            ))
            .unwrap_or(false),
        "exec not in init's memory cgroup: {}",
        p["cgroup"]
    );
    ensure!(p["pid"] != 1, "exec got pid 1");
    Ok(())
}

fn exec_exit_code(c: &Ctx) -> R {
    let (id, _, _) = sleeper(c)?;
    let o = c.rt(&["exec", &id, "sh", "-c", "exit 7"]);
    ensure!(o.code == 7, "exec exit {} want 7", o.code);
    let o = c.rt(&["exec", &id, "sh", "-c", "kill -9 $$"]);
    ensure!(
        o.code == 137,
        "exec of a SIGKILLed process: exit {} want 137",
        o.code
    );
    Ok(())
}

fn exec_process_json(c: &Ctx) -> R {
    let (id, _, b) = sleeper(c)?;
    let proc_ = json!({"terminal": false, "user": {"uid": 1000, "gid": 1000}, "args": ["/probe", "--from-json"], "env": ["PATH=/bin", "X=y"], "cwd": "/tmp",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": [], "permitted": []}, "noNewPrivileges": true});
    let f = b.dir.join("process.json");
    fs::write(&f, proc_.to_string()).map_err(|e| e.to_string())?;
    let o = c.rt(&["exec", "--process", f.to_str().unwrap_or(""), &id]);
    o.ok("exec --process")?;
    let p = o.json()?;
    ensure!(
        p["args"] == json!(["/probe", "--from-json"]),
        "args {}",
        p["args"]
    );
    ensure!(
        p["uid"] == 1000 && p["cwd"] == "/tmp",
        "uid {} cwd {}",
        p["uid"],
        p["cwd"]
    );
    ensure!(
        p["env"]
            .as_array()
            .map(|e| e.iter().any(|x| x == "X=y"))
            .unwrap_or(false),
        "env {}",
        p["env"]
    );
    ensure!(
        capmask(&p, "CapBnd") == super::mask_of(&["CAP_KILL"]),
        "CapBnd {:x}",
        capmask(&p, "CapBnd")
    );
    Ok(())
}

fn exec_opts(c: &Ctx) -> R {
    let (id, _, _) = sleeper(c)?;
    let o = c.rt(&[
        "exec",
        "--env",
        "EXTRA=1",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1000",
        &id,
        "/probe",
    ]);
    o.ok("exec --env --cwd --user")?;
    let p = o.json()?;
    ensure!(
        p["env"]
            .as_array()
            .map(|e| e.iter().any(|x| x == "EXTRA=1"))
            .unwrap_or(false),
        "env {}",
        p["env"]
    );
    ensure!(
        p["env"]
            .as_array()
            .map(|e| e
                .iter()
                .any(|x| x.as_str().map(|s| s.starts_with("PATH=")).unwrap_or(false)))
            .unwrap_or(false),
        "exec lost the config's env: {}",
        p["env"]
    );
    ensure!(
        p["cwd"] == "/tmp" && p["uid"] == 1000 && p["gid"] == 1000,
        "cwd {} uid {} gid {}",
        p["cwd"],
        p["uid"],
        p["gid"]
    );
    Ok(())
}

fn exec_caps(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    let o = c.rt(&["exec", &id, "/probe"]);
    o.ok("exec")?;
    let p = o.json()?;
    let st = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    for set in ["CapBnd", "CapEff", "CapPrm", "NoNewPrivs", "Seccomp"] {
        let want = st
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{set}:")))
            .unwrap_or("")
            .trim()
            .to_string();
        ensure!(
            p["status"][set] == want.as_str(),
            "exec {set} {} != init's {want}",
            p["status"][set]
        );
    }
    Ok(())
}

fn exec_stopped(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    let id = c.started(&b)?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    ensure!(
        c.rt(&["exec", &id, "true"]).code != 0,
        "exec in a stopped container succeeded"
    );
    Ok(())
}

fn exec_detach(c: &Ctx) -> R {
    let (id, _, b) = sleeper(c)?;
    let pf = b.dir.join("exec.pid");
    let o = c.rt(&[
        "exec",
        "--detach",
        "--pid-file",
        pf.to_str().unwrap_or(""),
        &id,
        "sleep",
        "30",
    ]);
    o.ok("exec --detach")?;
    let s = fs::read_to_string(&pf).map_err(|e| format!("pid file: {e}"))?;
    let epid: i64 = s
        .parse()
        .map_err(|_| format!("pid file {s:?} is not a bare number"))?;
    ensure!(alive(epid), "detached exec {epid} not running");
    Ok(())
}

fn exec_preserve_fds(c: &Ctx) -> R {
    let (id, _, b) = sleeper(c)?;
    let extra = b.dir.join("extra-fd");
    let o = c.rt_with(
        &["exec", "--preserve-fds", "1", &id, "/probe"],
        Opts {
            extra_files: vec![extra],
            ..Default::default()
        },
    );
    o.ok("exec --preserve-fds 1")?;
    let p = o.json()?;
    ensure!(
        p["fds"]["3"]
            .as_str()
            .map(|s| s.ends_with("extra-fd"))
            .unwrap_or(false),
        "fd 3 not passed: {}",
        p["fds"]
    );
    Ok(())
}

fn kill_all(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    c.rt(&["exec", "--detach", &id, "sleep", "60"])
        .ok("exec --detach")?;
    let procs = cgroup_dir(pid, "pids")
        .or_else(|| cgroup_dir(pid, "memory"))
        .ok_or("no cgroup")?;
    let list = fs::read_to_string(procs.join("cgroup.procs")).unwrap_or_default();
    let pids: Vec<i64> = list.lines().filter_map(|l| l.trim().parse().ok()).collect();
    ensure!(
        pids.len() >= 2,
        "exec'd process not in the cgroup: {pids:?}"
    );
    c.rt(&["kill", "--all", &id, "KILL"]).ok("kill --all")?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(200));
    let left: Vec<_> = pids.iter().filter(|p| alive(**p)).collect();
    ensure!(left.is_empty(), "processes survived kill --all: {left:?}");
    Ok(())
}

fn list(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    let o = c.rt(&["list"]);
    o.ok("list")?;
    ensure!(
        o.stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some(id.as_str()) && l.contains("running")),
        "list table lacks {id}: {:?}",
        o.stdout
    );
    let o = c.rt(&["list", "--format", "json"]);
    o.ok("list --format json")?;
    let v: Value = serde_json::from_str(o.stdout.trim()).map_err(|e| format!("list json: {e}"))?;
    let e = v
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id.as_str()))
        .ok_or("id missing from list json")?;
    ensure!(
        e["pid"] == pid && e["status"] == "running",
        "list entry {e}"
    );
    let o = c.rt(&["list", "-q"]);
    ensure!(
        o.stdout.lines().any(|l| l.trim() == id),
        "list -q: {:?}",
        o.stdout
    );
    Ok(())
}

fn ps_json(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    let o = c.rt(&["ps", "--format", "json", &id]);
    o.ok("ps --format json")?;
    let v: Vec<i64> = serde_json::from_str(o.stdout.trim())
        .map_err(|e| format!("ps json {e}: {:?}", o.stdout))?;
    ensure!(v.contains(&pid), "ps {v:?} lacks init {pid}");
    Ok(())
}

fn proc_state(pid: i64) -> char {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').and_then(|i| s[i + 2..].chars().next()))
        .unwrap_or('?')
}

fn pause_resume(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    c.rt(&["pause", &id]).ok("pause")?;
    ensure!(
        c.status(&id) == "paused",
        "status after pause {}",
        c.status(&id)
    );
    if let Some(fz) = cgroup_dir(pid, "freezer") {
        ensure!(
            read_trim(&fz.join("freezer.state")).as_deref() == Some("FROZEN"),
            "freezer.state {:?}",
            read_trim(&fz.join("freezer.state"))
        );
    }
    ensure!(
        c.rt(&["exec", &id, "true"]).code != 0,
        "exec into a paused container succeeded"
    );
    c.rt(&["resume", &id]).ok("resume")?;
    ensure!(
        c.status(&id) == "running",
        "status after resume {}",
        c.status(&id)
    );
    ensure!(proc_state(pid) != 'D', "still frozen");
    Ok(())
}

fn pause_stopped(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    let id = c.started(&b)?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    ensure!(
        c.rt(&["pause", &id]).code != 0,
        "pause of a stopped container succeeded"
    );
    ensure!(
        c.rt(&["resume", &id]).code != 0,
        "resume of a stopped container succeeded"
    );
    Ok(())
}

fn delete_paused(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    c.rt(&["pause", &id]).ok("pause")?;
    c.rt(&["delete", "--force", &id])
        .ok("delete --force of a paused container")?;
    std::thread::sleep(Duration::from_millis(300));
    ensure!(
        !alive(pid),
        "init survived delete --force of a paused container"
    );
    ensure!(c.rt(&["state", &id]).code != 0, "state still answers");
    Ok(())
}

fn update(c: &Ctx) -> R {
    if !std::path::Path::new("/sys/fs/cgroup/memory").exists() {
        skip!("no v1 memory controller");
    }
    let (id, pid, _) = sleeper(c)?;
    c.rt(&[
        "update",
        "--memory",
        &(100u64 << 20).to_string(),
        "--pids-limit",
        "77",
        "--cpu-share",
        "256",
        &id,
    ])
    .ok("update")?;
    let rd = |ctrl: &str, f: &str| {
        cgroup_dir(pid, ctrl)
            .and_then(|d| read_trim(&d.join(f)))
            .unwrap_or_default()
    };
    ensure!(
        rd("memory", "memory.limit_in_bytes") == (100u64 << 20).to_string(),
        "memory.limit_in_bytes {}",
        rd("memory", "memory.limit_in_bytes")
    );
    ensure!(
        rd("pids", "pids.max") == "77",
        "pids.max {}",
        rd("pids", "pids.max")
    );
    ensure!(
        rd("cpu", "cpu.shares") == "256",
        "cpu.shares {}",
        rd("cpu", "cpu.shares")
    );
    Ok(())
}

fn update_suffix(c: &Ctx) -> R {
    if !std::path::Path::new("/sys/fs/cgroup/memory").exists() {
        skip!("no v1 memory controller");
    }
    let (id, pid, _) = sleeper(c)?;
    c.rt(&["update", "--memory", "100M", &id])
        .ok("update --memory 100M")?;
    let v = cgroup_dir(pid, "memory")
        .and_then(|d| read_trim(&d.join("memory.limit_in_bytes")))
        .unwrap_or_default();
    ensure!(v == (100u64 << 20).to_string(), "memory.limit_in_bytes {v}");
    Ok(())
}

fn update_stdin(c: &Ctx) -> R {
    if !std::path::Path::new("/sys/fs/cgroup/pids").exists() {
        skip!("no v1 pids controller");
    }
    let (id, pid, _) = sleeper(c)?;
    let r = json!({"pids": {"limit": 55}, "memory": {"limit": 200 << 20}});
    c.rt_with(
        &["update", "--resources", "-", &id],
        Opts {
            stdin: Some(&r.to_string()),
            ..Default::default()
        },
    )
    .ok("update --resources -")?;
    let rd = |ctrl: &str, f: &str| {
        cgroup_dir(pid, ctrl)
            .and_then(|d| read_trim(&d.join(f)))
            .unwrap_or_default()
    };
    ensure!(
        rd("pids", "pids.max") == "55",
        "pids.max {}",
        rd("pids", "pids.max")
    );
    ensure!(
        rd("memory", "memory.limit_in_bytes") == (200u64 << 20).to_string(),
        "memory {}",
        rd("memory", "memory.limit_in_bytes")
    );
    Ok(())
}

fn pid_file(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let pf = b.dir.join("init.pid");
    let (id, o) = c.create(&b, &["--pid-file", pf.to_str().unwrap_or("")]);
    o.ok("create --pid-file")?;
    let s = fs::read_to_string(&pf).map_err(|e| format!("pid file: {e}"))?;
    ensure!(
        s.trim() == c.pid(&id)?.to_string(),
        "pid file {s:?} != state pid"
    );
    Ok(())
}

fn preserve_fds(c: &Ctx) -> R {
    let b = c.bundle();
    b.write();
    let id = c.id();
    let f1 = b.dir.join("fd3");
    let f2 = b.dir.join("fd4");
    let o = c.rt_with(
        &[
            "run",
            "--preserve-fds",
            "2",
            "--bundle",
            b.dir.to_str().unwrap_or(""),
            &id,
        ],
        Opts {
            extra_files: vec![f1, f2],
            ..Default::default()
        },
    );
    o.ok("run --preserve-fds 2")?;
    let p = o.json()?;
    ensure!(
        p["fds"]["3"]
            .as_str()
            .map(|s| s.ends_with("fd3"))
            .unwrap_or(false),
        "fd 3: {}",
        p["fds"]
    );
    ensure!(
        p["fds"]["4"]
            .as_str()
            .map(|s| s.ends_with("fd4"))
            .unwrap_or(false),
        "fd 4: {}",
        p["fds"]
    );
    Ok(())
}

fn no_pivot(c: &Ctx) -> R {
    let b = c.bundle();
    b.write();
    let id = c.id();
    let o = c.rt(&[
        "run",
        "--no-pivot",
        "--bundle",
        b.dir.to_str().unwrap_or(""),
        &id,
    ]);
    o.ok("run --no-pivot")?;
    let p = o.json()?;
    ensure!(super::mount_at(&p, "/").is_some(), "no / in mountinfo");
    ensure!(p["pid"] == 1, "pid {}", p["pid"]);
    Ok(())
}

/// Listen on a console socket, run `create` with it, receive the pty master.
fn with_console(c: &Ctx, b: &crate::rt::Bundle) -> Result<(String, OwnedFd), crate::rt::Fail> {
    let mut id = String::new();
    let fd = console_for(c, |sock| {
        let (i, o) = c.create(b, &["--console-socket", sock]);
        id = i;
        o.ok("create --console-socket").map(|_| ())
    })?;
    Ok((id, fd))
}

/// Listen on a console socket, run `f(socket path)`, receive the pty master.
fn console_for(c: &Ctx, f: impl FnOnce(&str) -> R) -> Result<OwnedFd, crate::rt::Fail> {
    let sock = c.work.join(format!("console{}.sock", c.uniq()));
    let l = UnixListener::bind(&sock).map_err(|e| format!("bind console socket: {e}"))?;
    f(sock.to_str().unwrap_or(""))?;
    l.set_nonblocking(true).map_err(|e| e.to_string())?;
    let end = std::time::Instant::now() + Duration::from_secs(5);
    let s = loop {
        match l.accept() {
            Ok((s, _)) => break s,
            Err(_) if std::time::Instant::now() < end => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(format!("nothing connected to the console socket: {e}").into()),
        }
    };
    let _ = s.set_nonblocking(false);
    let mut buf = [0u8; 4096];
    let mut cbuf = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut _,
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all pointers refer to live local buffers of the given sizes.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr() as *mut _;
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: msg is fully initialised above.
    let n = unsafe { libc::recvmsg(s.as_raw_fd(), &mut msg, 0) };
    ensure_io(n >= 0, "recvmsg on the console socket")?;
    // SAFETY: CMSG_FIRSTHDR/CMSG_DATA walk the control buffer the kernel filled in.
    let fd = unsafe {
        let cm = libc::CMSG_FIRSTHDR(&msg);
        if cm.is_null() || (*cm).cmsg_type != libc::SCM_RIGHTS {
            return Err("no SCM_RIGHTS fd on the console socket".into());
        }
        std::ptr::read_unaligned(libc::CMSG_DATA(cm) as *const i32)
    };
    // SAFETY: the fd was just received and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ensure_io(ok: bool, what: &str) -> R {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: {}", std::io::Error::last_os_error()).into())
    }
}

fn read_master(fd: OwnedFd) -> String {
    let raw = fd.as_raw_fd();
    let mut f = fs::File::from(fd);
    let mut out = vec![];
    let mut buf = [0u8; 8192];
    // EIO marks the slave's last close; poll so that a silent container cannot hang us.
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < end {
        let mut pfd = libc::pollfd {
            fd: raw,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd array of length 1.
        if unsafe { libc::poll(&mut pfd, 1, 200) } <= 0 {
            continue;
        }
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn terminal(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["terminal"] = json!(true);
    b.probe(&["--path", "/dev/console"]);
    let (id, m) = with_console(c, &b)?;
    c.rt(&["start", &id]).ok("start")?;
    let out = read_master(m);
    let p: Value = serde_json::from_str(out.trim())
        .map_err(|e| format!("pty output not JSON ({e}): {:?}", crate::rt::short(&out)))?;
    for i in 0..3 {
        ensure!(
            p["tty"][i]["isatty"] == true,
            "fd {i} is not a tty: {}",
            p["tty"][i]
        );
    }
    ensure!(
        p["sid"] == p["pid"],
        "process is not a session leader (no controlling terminal): sid {} pid {}",
        p["sid"],
        p["pid"]
    );
    let con = &p["paths"]["/dev/console"];
    ensure!(
        con["type"] == "char" && con["major"] == 136,
        "/dev/console is not the pty: {con}"
    );
    Ok(())
}

fn terminal_size(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["terminal"] = json!(true);
    b.process()["consoleSize"] = json!({"height": 33, "width": 111});
    let (id, m) = with_console(c, &b)?;
    c.rt(&["start", &id]).ok("start")?;
    let out = read_master(m);
    let p: Value = serde_json::from_str(out.trim())
        .map_err(|e| format!("pty output not JSON ({e}): {:?}", crate::rt::short(&out)))?;
    ensure!(
        p["tty"][0]["size"] == json!({"rows": 33, "cols": 111}),
        "window size {}",
        p["tty"][0]["size"]
    );
    Ok(())
}

fn terminal_no_socket(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.process()["terminal"] = json!(true);
    let (_id, o) = c.create(&b, &[]);
    ensure!(
        o.code != 0,
        "create with terminal=true and no console socket succeeded"
    );
    Ok(())
}

fn spec_template(c: &Ctx) -> R {
    let b = c.bundle();
    let _ = fs::remove_file(b.dir.join("config.json"));
    c.rt_with(
        &["spec"],
        Opts {
            cwd: Some(b.dir.clone()),
            ..Default::default()
        },
    )
    .ok("spec")?;
    let mut v: Value =
        serde_json::from_slice(&fs::read(b.dir.join("config.json")).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    ensure!(
        v["ociVersion"]
            .as_str()
            .map(|s| s.starts_with("1."))
            .unwrap_or(false),
        "ociVersion {}",
        v["ociVersion"]
    );
    v["process"]["terminal"] = json!(false);
    v["process"]["args"] = json!(["/probe"]);
    let b2 = crate::rt::Bundle {
        dir: b.dir.clone(),
        config: v,
    };
    c.probe(&b2)?;
    Ok(())
}

fn version(c: &Ctx) -> R {
    let mut cmd = std::process::Command::new(c.rt.argv.last().map(|s| s.as_str()).unwrap_or(""));
    cmd.arg("--version");
    let o = c.exec(cmd, Opts::default());
    o.ok("--version")?;
    ensure!(
        o.stdout.contains("version") && o.stdout.lines().any(|l| l.starts_with("spec: 1.")),
        "--version output {:?}",
        o.stdout
    );
    Ok(())
}

fn cgroups_removed(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    let dirs: Vec<_> = ["memory", "pids", "cpu", "devices", "freezer"]
        .iter()
        .filter_map(|k| cgroup_dir(pid, k))
        .collect();
    ensure!(!dirs.is_empty(), "no cgroups found");
    c.rt(&["delete", "--force", &id]).ok("delete --force")?;
    let left: Vec<_> = dirs.iter().filter(|d| d.exists()).collect();
    ensure!(left.is_empty(), "cgroups left after delete: {left:?}");
    Ok(())
}

fn kill_default(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.sh(
        "trap 'echo term > /got; exit 0' TERM; echo ready > /ready; while true; do sleep 0.1; done",
    );
    let id = c.started(&b)?;
    c.wait_file(&b.rootfs().join("ready"), Duration::from_secs(10))?;
    c.rt(&["kill", &id]).ok("kill without a signal")?;
    c.wait_file(&b.rootfs().join("got"), Duration::from_secs(10))?;
    Ok(())
}

fn ps_table(c: &Ctx) -> R {
    let (id, pid, _) = sleeper(c)?;
    let o = c.rt(&["ps", &id]);
    o.ok("ps")?;
    let first = o.stdout.lines().next().unwrap_or("");
    ensure!(
        first.split_whitespace().any(|w| w == "PID"),
        "ps header {first:?}"
    );
    ensure!(
        o.stdout
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().any(|w| w == pid.to_string())),
        "ps lacks init {pid}: {:?}",
        o.stdout
    );
    Ok(())
}

fn exec_tty(c: &Ctx) -> R {
    let (id, _, _) = sleeper(c)?;
    let m = console_for(c, |sock| {
        c.rt(&[
            "exec",
            "--detach",
            "--tty",
            "--console-socket",
            sock,
            &id,
            "/probe",
        ])
        .ok("exec --tty --detach")
        .map(|_| ())
    })?;
    let out = read_master(m);
    let p: Value = serde_json::from_str(out.trim())
        .map_err(|e| format!("pty output not JSON ({e}): {:?}", crate::rt::short(&out)))?;
    for i in 0..3 {
        ensure!(
            p["tty"][i]["isatty"] == true,
            "exec fd {i} is not a tty: {}",
            p["tty"][i]
        );
    }
    Ok(())
}

fn delete_force_created(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    let id = c.created(&b)?;
    let pid = c.pid(&id)?;
    c.rt(&["delete", "--force", &id])
        .ok("delete --force of a created container")?;
    std::thread::sleep(Duration::from_millis(200));
    ensure!(!alive(pid), "init survived");
    ensure!(c.rt(&["state", &id]).code != 0, "state still answers");
    Ok(())
}

fn pid_file_relative(c: &Ctx) -> R {
    // A relative --pid-file is relative to the runtime's working directory.
    let mut b = c.bundle();
    b.args(&["sleep", "30"]);
    b.write();
    let id = c.id();
    c.rt_with(
        &[
            "create",
            "--bundle",
            b.dir.to_str().unwrap_or(""),
            "--pid-file",
            "rel.pid",
            &id,
        ],
        Opts {
            cwd: Some(b.dir.clone()),
            ..Default::default()
        },
    )
    .ok("create --pid-file rel.pid")?;
    let s = fs::read_to_string(b.dir.join("rel.pid")).map_err(|e| format!("pid file: {e}"))?;
    ensure!(
        s == c.pid(&id)?.to_string(),
        "pid file {s:?} (no trailing newline expected)"
    );
    Ok(())
}

fn exec_cap_flag(c: &Ctx) -> R {
    let (id, _, _) = sleeper(c)?;
    let o = c.rt(&["exec", "--cap", "CAP_SYS_ADMIN", &id, "/probe"]);
    o.ok("exec --cap CAP_SYS_ADMIN")?;
    let p = o.json()?;
    let bit = 1u64 << super::cap_bit("CAP_SYS_ADMIN");
    for set in ["CapBnd", "CapEff", "CapPrm"] {
        ensure!(
            capmask(&p, set) & bit != 0,
            "{set} lacks CAP_SYS_ADMIN: {:x}",
            capmask(&p, set)
        );
    }
    ensure!(
        capmask(&p, "CapInh") & bit == 0 && capmask(&p, "CapAmb") & bit == 0,
        "--cap leaked into inheritable/ambient"
    );
    Ok(())
}

fn kill_invalid(c: &Ctx) -> R {
    let (id, _, _) = sleeper(c)?;
    ensure!(
        c.rt(&["kill", &id, "NOSUCHSIG"]).code != 0,
        "kill with an unknown signal name succeeded"
    );
    ensure!(c.status(&id) == "running", "status {}", c.status(&id));
    Ok(())
}

fn state_paused(c: &Ctx) -> R {
    let (id, _, _) = sleeper(c)?;
    c.rt(&["pause", &id]).ok("pause")?;
    let s = c.state(&id)?;
    ensure!(s["status"] == "paused", "state {s}");
    c.rt(&["resume", &id]).ok("resume")?;
    c.wait_status(&id, "running", Duration::from_secs(10))
}

fn update_stopped(c: &Ctx) -> R {
    let mut b = c.bundle();
    b.args(&["true"]);
    let id = c.started(&b)?;
    c.wait_status(&id, "stopped", Duration::from_secs(10))?;
    ensure!(
        c.rt(&["update", "--pids-limit", "10", &id]).code != 0,
        "update of a stopped container succeeded"
    );
    Ok(())
}

fn exec_additional_gids(c: &Ctx) -> R {
    let (id, _, _) = sleeper(c)?;
    let o = c.rt(&[
        "exec",
        "--user",
        "1000:1000",
        "--additional-gids",
        "5",
        "--additional-gids",
        "42",
        &id,
        "/probe",
    ]);
    o.ok("exec --additional-gids")?;
    let p = o.json()?;
    let g: Vec<u64> = serde_json::from_value(p["groups"].clone()).unwrap_or_default();
    ensure!(g.contains(&5) && g.contains(&42), "groups {g:?}");
    Ok(())
}

fn events_stats(c: &Ctx) -> R {
    let (id, _, _) = sleeper(c)?;
    let o = c.rt(&["events", "--stats", &id]);
    o.ok("events --stats")?;
    let v: Value = serde_json::from_str(o.stdout.trim()).map_err(|e| {
        format!(
            "events --stats output ({e}): {:?}",
            crate::rt::short(&o.stdout)
        )
    })?;
    ensure!(
        v["type"] == "stats" && v["id"] == id.as_str(),
        "events --stats {}",
        crate::rt::short(&v.to_string())
    );
    ensure!(
        v["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1,
        "no pids.current in stats"
    );
    Ok(())
}
