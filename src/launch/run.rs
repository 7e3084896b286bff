//! `run` in the foreground: create, start, then wait for the process while forwarding signals
//! to it (and, with a terminal and no console socket, relaying the pty to hull's own stdio).
//! Signals are taken synchronously from a signalfd, so a fast-exiting process's SIGCHLD can
//! never be lost between a check and a wait (youki 0.7 hangs on exactly that).

use super::{create, release, Console, CreateOpts};
use crate::error::{Ctx, Error, Result};
use crate::{lifecycle, spec, Runtime};
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct RunOpts {
    pub create: CreateOpts,
    pub detach: bool,
    pub keep: bool,
    pub no_subreaper: bool,
}

fn wants_terminal(opts: &CreateOpts) -> Result<bool> {
    let bundle = &opts.bundle;
    let s = spec::load(bundle)?;
    Ok(s.process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false))
}

pub fn run(rt: &Runtime, opts: &RunOpts) -> Result<i32> {
    crate::process::identity::reserve_preserved_fds(opts.create.preserve_fds)?;
    let terminal = wants_terminal(&opts.create)?;
    if opts.detach {
        let console = match &opts.create.console_socket {
            Some(p) => Console::Socket(p.clone()),
            None if terminal => {
                return Err(Error::Config(
                    "cannot allocate a tty for a detached container without --console-socket"
                        .into(),
                ))
            }
            None => Console::None,
        };
        let created = create(rt, &opts.create, console)?;
        super::start_loaded(rt, &created.container)?;
        return Ok(0);
    }

    if !opts.no_subreaper {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    let all = SigSet::all();
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), Some(&mut old))
        .ctx("sigprocmask", "run")?;
    let result = run_foreground(rt, opts, terminal);
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    result
}

fn run_foreground(rt: &Runtime, opts: &RunOpts, terminal: bool) -> Result<i32> {
    let (console, ours) = match (&opts.create.console_socket, terminal) {
        (Some(p), _) => (Console::Socket(p.clone()), None),
        (None, true) => {
            let (a, b) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .ctx("socketpair", "console")?;
            (Console::Internal(b), Some(a))
        }
        (None, false) => (Console::None, None),
    };
    let sfd = SignalFd::with_flags(&SigSet::all(), SfdFlags::SFD_CLOEXEC).ctx("signalfd", "run")?;
    let mut created = create(rt, &opts.create, console)?;
    created.container.unlock();
    let id = opts.create.id.clone();
    let finish = |code: Result<i32>| -> Result<i32> {
        if !opts.keep {
            lifecycle::delete(rt, &id, true)?;
        }
        code
    };
    let master = match ours {
        Some(sock) => match receive_fd(sock.as_raw_fd()) {
            Ok(m) => Some(m),
            Err(e) => return finish(Err(e)),
        },
        None => None,
    };
    if let Err(e) = release(&created.container) {
        return finish(Err(e));
    }
    super::run_poststart(rt, &created.container);
    let raw = master.as_ref().map(|_| RawTerminal::enter());
    let code = wait_loop(&sfd, created.pid, master.as_ref());
    drop(raw);
    finish(code)
}

pub(crate) fn receive_fd(sock: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .ctx("receive pty master", "console")?;
    for c in msg.cmsgs().ctx("receive pty master", "console")? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the fd was just received with SCM_RIGHTS and is ours alone.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(Error::msg("console: init sent no pty master"))
}

fn exit_code(s: WaitStatus) -> Option<i32> {
    match s {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

/// Reap every child that has exited; return init's exit code once it is among them.
fn reap(init: i32) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(s) => {
                if s.pid().map(|p| p.as_raw()) == Some(init) {
                    code = exit_code(s).or(code);
                }
            }
        }
    }
}

fn copy(from: RawFd, to: RawFd) -> bool {
    let mut buf = [0u8; 8192];
    // SAFETY: reading into a valid buffer of the given length.
    let n = unsafe { libc::read(from, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
    match n {
        n if n <= 0 => false,
        n => {
            let n = n as usize;
            let mut off = 0;
            while off < n {
                // SAFETY: writing from a valid buffer to an fd we were given.
                let w = unsafe {
                    libc::write(to, buf[off..n].as_ptr() as *const libc::c_void, n - off)
                };
                if w <= 0 {
                    return false;
                }
                off += w as usize;
            }
            true
        }
    }
}

pub(crate) fn wait_loop(sfd: &SignalFd, init: i32, master: Option<&OwnedFd>) -> Result<i32> {
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    if let Some(m) = master {
        resize(m.as_raw_fd());
    }
    loop {
        let mut fds = vec![libc::pollfd {
            fd: sfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(m) = master.filter(|_| master_open) {
            fds.push(libc::pollfd {
                fd: m.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if stdin_open {
            fds.push(libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: `fds` is a valid array of pollfds for its length.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            continue;
        }
        for p in &fds[1..] {
            if p.revents == 0 {
                continue;
            }
            let m = master.map(|m| m.as_raw_fd()).unwrap_or(-1);
            if p.fd == m && !copy(m, 1) {
                master_open = false;
            } else if p.fd == 0 && !copy(0, m) {
                stdin_open = false;
            }
        }
        if fds[0].revents != 0 {
            while let Ok(Some(info)) = sfd.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGCHLD {
                    if let Some(code) = reap(init) {
                        if let Some(m) = master.filter(|_| master_open) {
                            drain(m.as_raw_fd());
                        }
                        return Ok(code);
                    }
                } else if sig == libc::SIGWINCH {
                    if let Some(m) = master {
                        resize(m.as_raw_fd());
                    }
                } else {
                    // SAFETY: init is our child and not yet reaped: its pid cannot be reused.
                    unsafe { libc::kill(init, sig) };
                }
            }
        }
    }
}

/// Output the process wrote just before exiting is still in the pty: copy it out.
fn drain(master: RawFd) {
    // SAFETY: fcntl on our fd.
    unsafe {
        libc::fcntl(
            master,
            libc::F_SETFL,
            libc::fcntl(master, libc::F_GETFL) | libc::O_NONBLOCK,
        )
    };
    while copy(master, 1) {}
}

fn resize(master: RawFd) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills `ws`; TIOCSWINSZ reads it.
    unsafe {
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// hull's own terminal in raw mode while it relays a container's pty; restored on drop.
pub(crate) struct RawTerminal(Option<nix::sys::termios::Termios>);

impl RawTerminal {
    pub(crate) fn enter() -> RawTerminal {
        use nix::sys::termios::*;
        let stdin = std::io::stdin();
        match tcgetattr(&stdin) {
            Ok(orig) => {
                let mut raw = orig.clone();
                cfmakeraw(&mut raw);
                let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
                RawTerminal(Some(orig))
            }
            Err(_) => RawTerminal(None),
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(orig) = &self.0 {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                orig,
            );
        }
    }
}
