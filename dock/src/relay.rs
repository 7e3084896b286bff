//! Output of a foreground container: its stdout and stderr are pipes (as docker gives them,
//! not dock's own terminal), copied to dock's stdout/stderr and appended to the container's
//! log file (json-file entries, one stream each), so `dock logs` shows foreground runs too.
//!
//! The copier is a forked process, not a thread: hull's create clones init from the calling
//! process, and a clone of a multi-threaded process can inherit a lock (malloc, stdio) held by
//! another thread and hang on it.

use crate::logfile::{self, Stream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn dup(fd: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC of a standard fd.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new fd, ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

fn dup2(from: &OwnedFd, to: i32) -> std::io::Result<()> {
    // SAFETY: dup2 of a valid fd onto a standard fd.
    if unsafe { libc::dup2(from.as_raw_fd(), to) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn write_all(fd: i32, mut b: &[u8]) {
    while !b.is_empty() {
        // SAFETY: writing from a valid buffer.
        let n = unsafe { libc::write(fd, b.as_ptr() as *const libc::c_void, b.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        b = &b[n as usize..];
    }
}

/// The copier: (pipe read end, original fd, stream) triples, until every pipe is at EOF.
fn copier(pairs: &[(i32, i32, Stream)], log: std::fs::File) -> ! {
    // Terminal signals go to the whole process group; dock forwards them to the container,
    // the copier must survive them and drain the last output.
    for s in [
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTSTP,
        libc::SIGHUP,
        libc::SIGTERM,
    ] {
        // SAFETY: ignoring a signal.
        unsafe { libc::signal(s, libc::SIG_IGN) };
    }
    let mut open: Vec<(i32, i32, Stream)> = pairs.to_vec();
    let mut log = logfile::Writer::new(log);
    let mut buf = [0u8; 16384];
    while !open.is_empty() {
        let mut pfds: Vec<libc::pollfd> = open
            .iter()
            .map(|&(r, _, _)| libc::pollfd {
                fd: r,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: a valid pollfd array of its length.
        if unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, -1) } < 0 {
            continue;
        }
        let mut closed = Vec::new();
        for (i, p) in pfds.iter().enumerate() {
            if p.revents == 0 {
                continue;
            }
            // SAFETY: reading into a valid buffer.
            let n = unsafe { libc::read(p.fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if n <= 0 {
                if n < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {
                    continue;
                }
                closed.push(i);
                continue;
            }
            write_all(open[i].1, &buf[..n as usize]);
            let _ = log.write(open[i].2, &buf[..n as usize]);
        }
        for i in closed.into_iter().rev() {
            let _ = log.finish(open[i].2);
            open.remove(i);
        }
    }
    // SAFETY: leave the forked child without running the parent's destructors.
    unsafe { libc::_exit(0) }
}

/// Run `f` with fds 1 and 2 replaced by pipes whose contents go to the original fds and to
/// `log` (appended).
pub fn with_log<R>(log: &Path, f: impl FnOnce() -> R) -> std::io::Result<R> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(log)?;
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    let (o1, o2) = (dup(1)?, dup(2)?);
    // SAFETY: dock is single-threaded here; the child only copies bytes and _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        drop((w1, w2));
        copier(
            &[
                (r1.as_raw_fd(), o1.as_raw_fd(), Stream::Stdout),
                (r2.as_raw_fd(), o2.as_raw_fd(), Stream::Stderr),
            ],
            file,
        );
    }
    drop((r1, r2, file));
    dup2(&w1, 1)?;
    dup2(&w2, 2)?;
    drop((w1, w2));
    let result = f();
    let _ = dup2(&o1, 1);
    let _ = dup2(&o2, 2);
    // The container is gone, and with it every other write end: the copier drains and exits.
    // (hull's run may already have reaped it: it reaps every exited child.)
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        // SAFETY: waiting for our own child without blocking.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if r != 0 || Instant::now() >= end {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(result)
}
