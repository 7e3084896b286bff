//! `exec`: start another process in a running container. A first child joins the container's
//! namespaces through a pidfd of its init (one setns for all of them, no /proc paths), after the
//! parent put it in the container's cgroups; it then clones the final process with
//! CLONE_PARENT, so the process is hull's own child (its exit status is ours to wait for) and
//! lives in the container's pid namespace. Both stay non-dumpable until execve.

use super::run::{receive_fd, wait_loop, RawTerminal};
use super::sync::{self, Msg};
use crate::error::{Ctx, Error, Result};
use crate::process::identity::{self, prctl};
use crate::process::tty;
use crate::security::seccomp::Prepared;
use crate::security::{lsm, procfs};
use crate::state::{Container, Status};
use crate::{cgroups, sys, Runtime};
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use oci_spec::runtime::Process;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::linux::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

#[derive(Clone)]
pub struct ExecOpts {
    pub id: String,
    pub process: Process,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// The container's seccomp filter (exec processes get the same one as init), compiled
    /// by `exec` from the saved profile before any process is cloned.
    pub program: Option<crate::security::seccomp::Program>,
}

const NAMESPACES: &[(&str, libc::c_int)] = &[
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
    ("uts", libc::CLONE_NEWUTS),
    ("ipc", libc::CLONE_NEWIPC),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", 0x80),
];

/// The namespaces init is in that hull is not (joining one's own user namespace is EINVAL).
fn namespaces_of(pid: i32) -> (libc::c_int, bool) {
    let mut flags = 0;
    let mut userns = false;
    for &(name, flag) in NAMESPACES {
        let theirs = std::fs::metadata(format!("/proc/{pid}/ns/{name}"));
        let ours = std::fs::metadata(format!("/proc/self/ns/{name}"));
        if let (Ok(t), Ok(o)) = (theirs, ours) {
            if (t.st_ino(), t.st_dev()) != (o.st_ino(), o.st_dev()) {
                flags |= flag;
                userns |= name == "user";
            }
        }
    }
    (flags, userns)
}

pub fn exec(rt: &Runtime, o: &ExecOpts) -> Result<i32> {
    super::require_single_thread("exec")?;
    crate::process::identity::reserve_preserved_fds(o.preserve_fds)?;
    let mut c = Container::load(&rt.root, &o.id)?;
    let program = c
        .saved
        .seccomp
        .as_ref()
        .map(|s| crate::security::seccomp::compile(s, Some(&super::seccomp_cache(rt))))
        .transpose()?;
    let o = &ExecOpts {
        program,
        ..o.clone()
    };
    // The seccomp agent's socket is a host path: connect here, before joining the container.
    let seccomp = o.program.as_ref().map(Prepared::new).transpose()?;
    // Checked against the host's /sys before anything is started.
    let labels = lsm::ExecLabels::of(&o.process)?;
    match c.status() {
        Status::Stopped => {
            return Err(Error::msg(format!(
                "cannot exec in a stopped container: {}",
                o.id
            )))
        }
        Status::Paused if !o.ignore_paused => {
            return Err(Error::msg(format!(
                "cannot exec in a paused container {} (use --ignore-paused)",
                o.id
            )))
        }
        Status::Creating => {
            return Err(Error::msg(format!(
                "cannot exec in container {}: it is being created",
                o.id
            )))
        }
        _ => {}
    }
    c.unlock();
    let init = c.saved.pid;
    let pidfd = sys::pidfd_open(init).ctx(
        "pidfd_open",
        format!("container {} init (pid {init})", o.id),
    )?;
    if !c.alive() {
        return Err(Error::NotRunning(o.id.clone()));
    }
    let (ns_flags, in_userns) = namespaces_of(init);
    let terminal = o.process.terminal().unwrap_or(false);
    let min_fd = 3 + o.preserve_fds as RawFd;
    let (console, ours): (Option<OwnedFd>, Option<OwnedFd>) = match (&o.console_socket, terminal) {
        (_, false) => (None, None),
        (Some(p), true) => {
            let s = UnixStream::connect(p).ctx("connect to console socket", p.display())?;
            (
                Some(sys::dup_above(s.into(), min_fd).ctx("dup", "console socket")?),
                None,
            )
        }
        (None, true) if o.detach => {
            return Err(Error::Config(
                "cannot allocate a tty for a detached exec without --console-socket".into(),
            ))
        }
        (None, true) => {
            let (a, b) = super::run::console_pair()?;
            (
                Some(sys::dup_above(b, min_fd).ctx("dup", "console")?),
                Some(a),
            )
        }
    };
    let pid_file = o.pid_file.as_ref().map(|p| {
        if p.is_absolute() {
            p.clone()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        }
    });
    let (parent_chan, child_chan) = sync::pair()?;
    let parent_chan =
        sync::Channel(sys::dup_above(parent_chan.0, min_fd).ctx("dup", "sync socket")?);
    let child_chan = sync::Channel(sys::dup_above(child_chan.0, min_fd).ctx("dup", "sync socket")?);
    let pidfd = sys::dup_above(pidfd, min_fd).ctx("dup", "pidfd")?;
    // The procfs the process writes its LSM attributes through: opened here, on the host,
    // before anything joins the container, whose /proc is the container's to fake
    // (CVE-2019-16884).
    let lsm_proc = if labels.is_empty() {
        None
    } else {
        Some(sys::dup_above(procfs::for_exec()?, min_fd).ctx("dup", "procfs")?)
    };

    let mut old_mask = SigSet::empty();
    let sfd = if o.detach {
        None
    } else {
        nix::sys::signal::sigprocmask(
            SigmaskHow::SIG_BLOCK,
            Some(&SigSet::all()),
            Some(&mut old_mask),
        )
        .ctx("sigprocmask", "exec")?;
        Some(SignalFd::with_flags(&SigSet::all(), SfdFlags::SFD_CLOEXEC).ctx("signalfd", "exec")?)
    };
    let result = (|| {
        let mut args = sys::CloneArgs {
            exit_signal: libc::SIGCHLD as u64,
            ..Default::default()
        };
        // SAFETY: hull is single-threaded; the child runs `join_and_exec`, which never returns.
        let first = unsafe { sys::clone3(&mut args) }.ctx("clone3", "exec")?;
        if first == 0 {
            // SAFETY: the parent's end of the socket is the parent's; closing our copy lets
            // the parent's death show up as end-of-file.
            unsafe { libc::close(parent_chan.0.as_raw_fd()) };
            join_and_exec(
                o,
                &pidfd,
                ns_flags,
                in_userns,
                &child_chan,
                console.as_ref(),
                seccomp.as_ref(),
                (&labels, lsm_proc.as_ref()),
            );
        }
        drop(child_chan);
        drop(console);
        drop(lsm_proc);
        let reaped = ReapOnDrop(first);
        cgroups::join(&c.saved.cgroups, first, false)?;
        parent_chan.send(&Msg::Go)?;
        let pid = match parent_chan.recv()? {
            Some(Msg::Pid(p)) => p,
            Some(Msg::Failed(m)) => return Err(Error::Msg(m)),
            _ => return Err(Error::msg("exec: the setup process exited early")),
        };
        drop(reaped);
        // The final child reports a setup error, or closes the socket by exec'ing.
        match parent_chan.recv()? {
            None => {}
            Some(Msg::Failed(m)) => {
                // SAFETY: `pid` is our own child (CLONE_PARENT), not yet reaped.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                return Err(Error::Msg(m));
            }
            Some(_) => return Err(Error::msg("exec: unexpected message from the process")),
        }
        if let Some(pf) = &pid_file {
            super::write_pid_file(pf, pid)?;
        }
        let Some(sfd) = &sfd else { return Ok(0) };
        let master = ours
            .as_ref()
            .map(|s| receive_fd(s.as_raw_fd()))
            .transpose()?;
        let raw = master.as_ref().map(|_| RawTerminal::enter());
        let code = wait_loop(sfd, pid, master.as_ref());
        drop(raw);
        code
    })();
    if sfd.is_some() {
        let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
    }
    result
}

struct ReapOnDrop(i32);
impl Drop for ReapOnDrop {
    fn drop(&mut self) {
        // SAFETY: our own child, not yet reaped (so the pid is still its). On success it has
        // already exited; on error paths it may be waiting for us, so it is killed first.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

/// The first child: wait until the parent placed us in the container's cgroups, join the
/// namespaces, clone the final process, report its pid, exit.
fn join_and_exec(
    o: &ExecOpts,
    pidfd: &OwnedFd,
    ns_flags: libc::c_int,
    in_userns: bool,
    chan: &sync::Channel,
    console: Option<&OwnedFd>,
    seccomp: Option<&Prepared>,
    lsm: (&lsm::ExecLabels, Option<&OwnedFd>),
) -> ! {
    let fail = |e: Error| -> ! {
        let _ = chan.send(&Msg::Failed(e.to_string()));
        // SAFETY: _exit in a forked child.
        unsafe { libc::_exit(1) }
    };
    if let Err(e) = prctl(libc::PR_SET_DUMPABLE, 0, "PR_SET_DUMPABLE") {
        fail(e)
    }
    match chan.recv() {
        Ok(Some(Msg::Go)) => {}
        // SAFETY: _exit in a forked child.
        _ => unsafe { libc::_exit(1) },
    }
    if ns_flags != 0 {
        // SAFETY: setns on a pidfd with a mask of namespace types.
        if unsafe { libc::setns(pidfd.as_raw_fd(), ns_flags) } != 0 {
            fail(Error::sys(
                "setns",
                format!("container {} namespaces", o.id),
                std::io::Error::last_os_error(),
            ))
        }
    }
    let mut args = sys::CloneArgs {
        flags: libc::CLONE_PARENT as u64,
        ..Default::default()
    };
    // SAFETY: single-threaded; the child below never returns.
    match unsafe { sys::clone3(&mut args) } {
        Ok(0) => {
            let err = match final_child(o, in_userns, console, seccomp, lsm) {
                Ok(never) => match never {},
                Err(e) => e,
            };
            let _ = chan.send(&Msg::Failed(err.to_string()));
            // SAFETY: _exit in a forked child.
            unsafe { libc::_exit(1) }
        }
        Ok(pid) => {
            let _ = chan.send(&Msg::Pid(pid));
            // SAFETY: _exit in a forked child.
            unsafe { libc::_exit(0) }
        }
        Err(e) => fail(Error::sys("clone3", "exec process", e)),
    }
}

fn final_child(
    o: &ExecOpts,
    in_userns: bool,
    console: Option<&OwnedFd>,
    seccomp: Option<&Prepared>,
    (labels, lsm_proc): (&lsm::ExecLabels, Option<&OwnedFd>),
) -> Result<std::convert::Infallible> {
    if let Some(sock) = console {
        let root = sys::openat2(
            libc::AT_FDCWD,
            Path::new("/"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            0,
        )
        .ctx("open", "/")?;
        let pty = tty::open_in(root.as_raw_fd())?;
        if let Some(b) = o.process.console_size() {
            tty::set_size(pty.master.as_raw_fd(), b.height() as u16, b.width() as u16);
        }
        tty::give_to(&pty.slave, o.process.user().uid(), o.process.user().gid())?;
        tty::send_master(sock.as_raw_fd(), &pty)?;
        nix::unistd::setsid().ctx("setsid", "exec")?;
        tty::become_stdio(&pty.slave)?;
    }
    identity::seal_fds(o.preserve_fds)?;
    let ready = identity::apply(&o.process, in_userns, seccomp)?;
    let nnp = o.process.no_new_privileges().unwrap_or(false);
    // Last, with the final credentials: the switch happens at the execve below.
    if let Some(p) = lsm_proc {
        labels.apply(p)?;
    }
    identity::reset_signals();
    identity::exec_or_exit(&ready, seccomp.filter(|_| nnp))
}
