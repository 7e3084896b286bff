//! The monitor of a detached container (`run -d`, `start`): a forked child of dock that
//! outlives it (setsid, subreaper). It gives the container pipes (or a pty with `-t`) for its
//! output and, with `-i`, a stdin pipe whose write end it keeps open, as docker's daemon does,
//! so that later `dock attach`es can write to it. One I/O thread moves output to the
//! json-file log and to attached clients, and clients' input to the container's stdin; the
//! main thread creates and starts the container through hull, waits for it, and records the
//! exit.
//!
//! The thread starts only after `hull::create`: hull clones init from the calling process,
//! which must be single-threaded then.

use crate::attach;
use crate::container::{Containers, Record};
use crate::logfile::{self, Stream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// How long output may keep coming after the container's process exited (a background
/// child still holding its stdout would otherwise keep the monitor forever).
const DRAIN: Duration = Duration::from_secs(2);

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 into a two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are ours alone.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn dup2(from: RawFd, to: RawFd) -> std::io::Result<()> {
    // SAFETY: dup2 of an open fd onto a standard fd.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn null_stdio(fds: &[RawFd]) -> std::io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for &fd in fds {
        dup2(null.as_raw_fd(), fd)?;
    }
    Ok(())
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl flag changes on our own fd.
    unsafe {
        libc::fcntl(
            fd,
            libc::F_SETFL,
            libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
        )
    };
}

/// The container's stdio as the monitor sees it.
struct Stdio {
    /// Output to read: stdout and stderr pipes, or the pty master (as stdout).
    outputs: Vec<(OwnedFd, Stream)>,
    /// Where clients' input goes: the stdin pipe's write end, or the master. None without -i.
    stdin: Option<OwnedFd>,
}

/// Wire fds 0-2 for init to inherit (pipes; /dev/null where there is nothing), keeping the
/// ends the monitor reads and writes.
fn wire_pipes(r: &Record) -> std::io::Result<Stdio> {
    let mut io = Stdio {
        outputs: Vec::new(),
        stdin: None,
    };
    if r.flags.tty {
        // hull gives init the pty; dock's fds only need to be harmless.
        null_stdio(&[0, 1, 2])?;
        return Ok(io);
    }
    for (fd, s) in [(1, Stream::Stdout), (2, Stream::Stderr)] {
        let (rd, wr) = pipe()?;
        dup2(wr.as_raw_fd(), fd)?;
        io.outputs.push((rd, s));
    }
    if r.flags.interactive {
        let (rd, wr) = pipe()?;
        dup2(rd.as_raw_fd(), 0)?;
        io.stdin = Some(wr);
    } else {
        null_stdio(&[0])?;
    }
    Ok(io)
}

struct Client {
    sock: UnixStream,
    /// Still sending input (not yet half-closed).
    reading: bool,
}

/// The I/O thread's state.
struct Relay {
    outputs: Vec<(OwnedFd, Stream)>,
    stdin: Option<OwnedFd>,
    /// Input accepted from a client but not yet taken by the container (its pipe was full).
    pending: Vec<u8>,
    /// docker's StdinOnce: the container's stdin closes when the first client's input ends.
    stdin_once: bool,
    close_stdin_when_flushed: bool,
    listener: Option<UnixListener>,
    clients: Vec<Client>,
    log: logfile::Writer<std::fs::File>,
    /// Readable (hung up) once the main thread has seen the container exit.
    exited: OwnedFd,
}

impl Relay {
    fn add_client(&mut self, sock: UnixStream) {
        // A client that stops reading must not stall the container's output for long.
        let _ = sock.set_write_timeout(Some(Duration::from_secs(10)));
        let reading = self.stdin.is_some();
        self.clients.push(Client { sock, reading });
    }

    fn broadcast(&mut self, kind: u8, data: &[u8]) {
        let f = attach::frame(kind, data);
        self.clients.retain(|c| send_all(&c.sock, &f));
    }

    /// Read what one output has; false at its end.
    fn pump_output(&mut self, i: usize, buf: &mut [u8]) -> bool {
        let (fd, s) = (self.outputs[i].0.as_raw_fd(), self.outputs[i].1);
        // SAFETY: reading into a valid buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            // EIO: a pty whose other side is gone.
            return matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            );
        }
        if n == 0 {
            return false;
        }
        let data = &buf[..n as usize];
        let _ = self.log.write(s, data);
        let kind = match s {
            Stream::Stdout => attach::STDOUT,
            Stream::Stderr => attach::STDERR,
        };
        self.broadcast(kind, data);
        true
    }

    /// Take a client's input; false when the client is gone.
    fn pump_client(&mut self, i: usize, buf: &mut [u8]) -> bool {
        match std::io::Read::read(&mut self.clients[i].sock, buf) {
            Ok(0) => {
                self.clients[i].reading = false;
                if self.stdin_once {
                    // Closed once what is pending has gone in.
                    self.stdin_once = false;
                    self.close_stdin_when_flushed = true;
                    self.flush_stdin();
                }
                true
            }
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                self.flush_stdin();
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
            Err(_) => false,
        }
    }

    fn flush_stdin(&mut self) {
        let Some(fd) = self.stdin.as_ref().map(|f| f.as_raw_fd()) else {
            self.pending.clear();
            return;
        };
        while !self.pending.is_empty() {
            // SAFETY: writing from a valid buffer to our non-blocking fd.
            let n = unsafe {
                libc::write(
                    fd,
                    self.pending.as_ptr() as *const libc::c_void,
                    self.pending.len(),
                )
            };
            if n < 0 {
                match std::io::Error::last_os_error().kind() {
                    std::io::ErrorKind::Interrupted => continue,
                    std::io::ErrorKind::WouldBlock => return,
                    // The container closed its stdin: nothing more can go in.
                    _ => {
                        self.pending.clear();
                        self.stdin = None;
                        return;
                    }
                }
            }
            self.pending.drain(..n as usize);
        }
        if self.close_stdin_when_flushed {
            self.stdin = None;
        }
    }

    /// Poll until the container has exited and its output has ended (or [`DRAIN`] passed).
    /// Returns the clients, which get the exit code once it is recorded.
    fn run(mut self) -> Vec<UnixStream> {
        let mut buf = vec![0u8; 32 << 10];
        let mut deadline: Option<Instant> = None;
        let mut open: Vec<bool> = vec![true; self.outputs.len()];
        loop {
            if let Some(d) = deadline {
                if !open.contains(&true) || Instant::now() >= d {
                    break;
                }
            }
            // [exited, listener?, outputs..., stdin (POLLOUT when pending)?, clients...]
            let mut pfds = vec![pollfd(self.exited.as_raw_fd(), libc::POLLIN)];
            let listen_at = pfds.len();
            if let Some(l) = &self.listener {
                pfds.push(pollfd(l.as_raw_fd(), libc::POLLIN));
            }
            let out_at = pfds.len();
            for (i, (fd, _)) in self.outputs.iter().enumerate() {
                // A closed output stays in place (fd -1 is ignored by poll) to keep indexes.
                pfds.push(pollfd(
                    if open[i] { fd.as_raw_fd() } else { -1 },
                    libc::POLLIN,
                ));
            }
            let stdin_at = pfds.len();
            let stdin_fd = match (&self.stdin, self.pending.is_empty()) {
                (Some(f), false) => f.as_raw_fd(),
                _ => -1,
            };
            pfds.push(pollfd(stdin_fd, libc::POLLOUT));
            let client_at = pfds.len();
            for c in &self.clients {
                // While input is pending, clients' input waits (the pipe is full).
                let ev = if c.reading && self.pending.is_empty() {
                    libc::POLLIN
                } else {
                    0
                };
                pfds.push(pollfd(c.sock.as_raw_fd(), ev));
            }
            let timeout = deadline
                .map(|d| d.saturating_duration_since(Instant::now()).as_millis() as i32 + 1)
                .unwrap_or(-1);
            // SAFETY: a valid pollfd array of its length.
            if unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) } < 0 {
                continue;
            }
            if pfds[0].revents != 0 && deadline.is_none() {
                deadline = Some(Instant::now() + DRAIN);
            }
            if listen_at < out_at && pfds[listen_at].revents != 0 {
                if let Some(Ok((sock, _))) = self.listener.as_ref().map(|l| l.accept()) {
                    self.add_client(sock);
                }
            }
            for i in 0..self.outputs.len() {
                if open[i] && pfds[out_at + i].revents != 0 && !self.pump_output(i, &mut buf) {
                    open[i] = false;
                    let _ = self.log.finish(self.outputs[i].1);
                }
            }
            if pfds[stdin_at].revents != 0 {
                self.flush_stdin();
            }
            // Clients accepted in this round have no pollfd yet.
            let polled = pfds.len() - client_at;
            let mut gone = Vec::new();
            for i in 0..polled.min(self.clients.len()) {
                let re = pfds[client_at + i].revents;
                if re & libc::POLLIN != 0 {
                    if !self.pump_client(i, &mut buf) {
                        gone.push(i);
                    }
                } else if re & (libc::POLLHUP | libc::POLLERR) != 0 {
                    gone.push(i);
                }
            }
            for i in gone.into_iter().rev() {
                self.clients.remove(i);
            }
        }
        for (i, (_, s)) in self.outputs.iter().enumerate() {
            if open[i] {
                let _ = self.log.finish(*s);
            }
        }
        self.clients.into_iter().map(|c| c.sock).collect()
    }
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn dup(fd: RawFd) -> std::io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC of an open fd.
    let n = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new fd, ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// The I/O thread, running until `exited` hangs up and the output has drained.
pub struct IoThread {
    handle: std::thread::JoinHandle<Vec<UnixStream>>,
    exited: OwnedFd,
}

impl IoThread {
    /// The container exited: let the thread drain and stop; its clients.
    pub fn stop(self) -> Vec<UnixStream> {
        drop(self.exited);
        self.handle.join().unwrap_or_default()
    }
}

/// What the monitor sets up before `hull::create`, and the I/O thread it starts after.
pub struct Wiring {
    io: Stdio,
    listener: UnixListener,
    attached: Option<UnixStream>,
}

/// Before create: the container's stdio and the attach socket. `attached` is a client
/// connected from the start (`start -a`), so it misses no output.
pub fn wire(cs: &Containers, r: &Record, attached: Option<UnixStream>) -> anyhow::Result<Wiring> {
    use anyhow::Context;
    let io = wire_pipes(r).context("container stdio")?;
    let listener = attach::listen(&cs.dir(&r.id))?;
    Ok(Wiring {
        io,
        listener,
        attached,
    })
}

impl Wiring {
    /// After create (`master`: the pty's, with -t): drop the monitor's own copies of the
    /// container's fds (so their end is seen), then start relaying.
    pub fn start(
        mut self,
        cs: &Containers,
        r: &Record,
        master: Option<OwnedFd>,
    ) -> anyhow::Result<IoThread> {
        use anyhow::Context;
        null_stdio(&[0, 1, 2]).context("monitor stdio")?;
        if let Some(m) = master {
            if r.flags.interactive {
                self.io.stdin = Some(dup(m.as_raw_fd()).context("dup pty master")?);
            }
            self.io.outputs.push((m, Stream::Stdout));
        }
        if let Some(s) = &self.io.stdin {
            set_nonblocking(s.as_raw_fd());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(cs.log_path(&r.id))
            .with_context(|| format!("open {}", cs.log_path(&r.id).display()))?;
        let (exited_r, exited_w) = pipe().context("pipe")?;
        let mut relay = Relay {
            outputs: self.io.outputs,
            stdin: self.io.stdin,
            pending: Vec::new(),
            stdin_once: r.flags.interactive && !r.flags.detach,
            close_stdin_when_flushed: false,
            listener: Some(self.listener),
            clients: Vec::new(),
            log: logfile::Writer::new(log),
            exited: exited_r,
        };
        if let Some(a) = self.attached {
            relay.add_client(a);
        }
        let handle = std::thread::Builder::new()
            .name("dock-io".into())
            .spawn(move || {
                // The container closing its stdin mid-write: EPIPE, not a signal that would
                // kill the monitor (blocked in this thread only: the container never sees it).
                // SAFETY: sigset operations on a local set, then this thread's mask.
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGPIPE);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                }
                relay.run()
            })
            .context("start the I/O thread")?;
        Ok(IoThread {
            handle,
            exited: exited_w,
        })
    }
}

/// Tell the clients the exit code, once the exit is recorded.
pub fn send_exit(clients: Vec<UnixStream>, code: i32) {
    let f = attach::frame(attach::EXIT, &code.to_be_bytes());
    for c in clients {
        send_all(&c, &f);
    }
}

/// Write all of `data` to a client; false when it is gone (MSG_NOSIGNAL: no SIGPIPE).
fn send_all(sock: &UnixStream, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        // SAFETY: sending from a valid buffer on our socket.
        let n = unsafe {
            libc::send(
                sock.as_raw_fd(),
                data.as_ptr() as *const libc::c_void,
                data.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        data = &data[n as usize..];
    }
    true
}
