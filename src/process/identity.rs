//! The last steps before execve, shared by init and `exec`: rlimits, capabilities, user and
//! groups, no_new_privs, umask, cwd, environment, and the lookup of the program. Runs inside the
//! container (after pivot_root, or after joining the container's mount namespace).

use super::{exec, rlimits, sched, user};
use crate::error::{Ctx, Error, Result};
use crate::security::capabilities;
use crate::security::seccomp::Prepared;
use oci_spec::runtime::Process;
use std::os::fd::RawFd;
use std::path::PathBuf;

pub fn prctl(op: libc::c_int, arg: libc::c_ulong, what: &str) -> Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(op, arg, 0, 0, 0) } != 0 {
        return Err(Error::sys("prctl", what, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// What execve needs once the identity is in place.
pub struct Ready {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
}

/// `seccomp` is loaded here, before the privileges go, when no_new_privs is off (loading a
/// filter then needs CAP_SYS_ADMIN); otherwise the caller loads it right before execve, so as
/// few of our own syscalls as possible have to pass it.
pub fn apply(process: &Process, in_userns: bool, seccomp: Option<&Prepared>) -> Result<Ready> {
    rlimits::apply(process.rlimits().as_deref().unwrap_or(&[]))?;
    // Before the user switch: real-time policies and classes need privileges it drops.
    if let Some(s) = process.scheduler() {
        sched::set_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        sched::set_io_priority(p)?;
    }
    if let Some(f) = seccomp.filter(|_| !process.no_new_privileges().unwrap_or(false)) {
        f.install()?;
    }
    let caps = process
        .capabilities()
        .as_ref()
        .map(capabilities::wanted)
        .transpose()?;
    if let Some(w) = &caps {
        capabilities::drop_bounding(w)?;
        prctl(libc::PR_SET_KEEPCAPS, 1, "PR_SET_KEEPCAPS")?;
    }
    let setgroups_allowed = !in_userns
        || std::fs::read_to_string("/proc/self/setgroups").map_or(true, |s| s.trim() != "deny");
    user::switch(process.user(), setgroups_allowed)?;
    if let Some(w) = &caps {
        prctl(libc::PR_SET_KEEPCAPS, 0, "PR_SET_KEEPCAPS")?;
        capabilities::apply(w)?;
    }
    if process.no_new_privileges().unwrap_or(false) {
        prctl(libc::PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")?;
    }
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    let cwd = process.cwd();
    nix::unistd::chdir(cwd).ctx("chdir to process.cwd", cwd.display())?;
    // The cwd must be inside the container: CVE-2024-21626 started a process in a leaked host
    // directory fd, whose path reads "(unreachable)/...".
    let here = nix::unistd::getcwd().ctx("getcwd", cwd.display())?;
    if !here.starts_with("/") {
        return Err(Error::msg(format!(
            "process.cwd {} is outside the container",
            cwd.display()
        )));
    }
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user::home_of(process.user().uid())));
    }
    let args = process.args().clone().unwrap_or_default();
    let arg0 = args
        .first()
        .ok_or_else(|| Error::Config("process.args is empty".into()))?;
    let path = exec::look_path(arg0, &env)?;
    Ok(Ready { path, args, env })
}

/// Only stdio and the `--preserve-fds` range survive execve.
pub fn seal_fds(preserve_fds: u32) -> Result<()> {
    let first_private = 3 + preserve_fds;
    for fd in 3..first_private {
        // SAFETY: clearing FD_CLOEXEC on an fd the caller asked us to pass on.
        unsafe { libc::fcntl(fd as RawFd, libc::F_SETFD, 0) };
    }
    crate::sys::cloexec_from(first_private).ctx("close_range", "inherited fds")
}

/// Signal dispositions and the mask are inherited across execve; the process must start with
/// the defaults (Rust ignores SIGPIPE, `run` and `exec` block everything while they forward).
pub fn reset_signals() {
    // SAFETY: resetting dispositions to SIG_DFL and clearing the mask are always valid.
    unsafe {
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// execve the prepared program; on failure say so on stderr (nobody waits on a sync socket
/// any more) and exit 127 (not found) or 126, as a shell would.
pub fn exec_or_exit(r: &Ready, late_seccomp: Option<&Prepared>) -> ! {
    if let Some(f) = late_seccomp {
        if let Err(e) = f.install() {
            eprintln!("hull: {e}");
            // SAFETY: _exit in the container process before exec.
            unsafe { libc::_exit(1) }
        }
    }
    let err = exec::exec(&r.path, &r.args, &r.env);
    eprintln!("hull: {err}");
    let code = if err.errno() == Some(libc::ENOENT) {
        127
    } else {
        126
    };
    // SAFETY: _exit skips the parent's atexit handlers and buffered state.
    unsafe { libc::_exit(code) }
}

/// Make sure fds 3..3+n are all open before hull opens anything of its own: a gap in the
/// range the caller promised would be filled by one of hull's fds (a cgroup directory, our
/// private procfs) which `seal_fds` would then hand to the container, a leaked host fd as in
/// CVE-2024-21626. Gaps get /dev/null.
pub fn reserve_preserved_fds(n: u32) -> Result<()> {
    for fd in 3..3 + n as RawFd {
        // SAFETY: F_GETFD only queries the descriptor.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1 {
            continue;
        }
        let null = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .ctx("open", "/dev/null")?;
        // SAFETY: dup2 onto a free number; the original is closed when `null` drops.
        if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) } < 0 {
            return Err(std::io::Error::last_os_error())
                .ctx("dup2 /dev/null onto preserved fd", fd);
        }
    }
    Ok(())
}
