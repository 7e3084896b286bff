//! Attaching to a detached container: its monitor listens on `<container dir>/attach.sock`
//! (the directory is 0700, root's: only root attaches). A client gets the container's output
//! as frames and may send raw bytes for the container's stdin; a half-close (shutdown of the
//! client's write side) is the end of its input.
//!
//! A frame is docker's stream header (stdcopy): one byte kind, three zero bytes, a big-endian
//! u32 length, then the payload. Kinds: 1 stdout, 2 stderr, and 3, dock's own, the exit code
//! (an i32, big-endian) sent once the container has exited and been cleaned up.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const EXIT: u8 = 3;

const SOCKET: &str = "attach.sock";

pub fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + data.len());
    f.extend_from_slice(&[kind, 0, 0, 0]);
    f.extend_from_slice(&(data.len() as u32).to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// The socket's path reached through an fd of its directory: a container dir under a long
/// data root can be longer than a unix socket address (108 bytes) allows.
fn short_path(dir: &std::fs::File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}/{SOCKET}", dir.as_raw_fd()))
}

fn open_dir(dir: &Path) -> Result<std::fs::File> {
    std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))
}

/// The monitor's listening socket in `dir` (a stale one from a killed monitor is replaced).
pub fn listen(dir: &Path) -> Result<UnixListener> {
    let _ = std::fs::remove_file(dir.join(SOCKET));
    let d = open_dir(dir)?;
    UnixListener::bind(short_path(&d))
        .with_context(|| format!("listen on {}", dir.join(SOCKET).display()))
}

pub fn remove(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(SOCKET));
}

pub fn connect(dir: &Path) -> Result<UnixStream> {
    let d = open_dir(dir)?;
    UnixStream::connect(short_path(&d))
        .with_context(|| format!("connect to {}", dir.join(SOCKET).display()))
}

/// Puts the local terminal in raw mode while a tty container is attached; restores on drop.
struct RawTerminal(Option<libc::termios>);

impl RawTerminal {
    fn enter() -> RawTerminal {
        // SAFETY: termios is plain data; tcgetattr fills it or fails.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: terminal ioctls on fd 0 with a valid termios.
        unsafe {
            if libc::isatty(0) == 0 || libc::tcgetattr(0, &mut t) != 0 {
                return RawTerminal(None);
            }
            let mut raw = t;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(0, libc::TCSANOW, &raw);
        }
        RawTerminal(Some(t))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            // SAFETY: restoring the saved attributes of fd 0.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
        }
    }
}

/// Relay an attach connection: output frames to stdout/stderr, and (with `send_stdin`) our
/// stdin to the container. Returns the container's exit code, or None when the monitor went
/// away without sending one.
pub fn client(sock: UnixStream, send_stdin: bool, tty: bool) -> Result<Option<i32>> {
    let _raw = (tty && send_stdin).then(RawTerminal::enter);
    if send_stdin {
        let mut w = sock.try_clone().context("attach: clone socket")?;
        // A thread: `attach` never creates containers, so dock may be multi-threaded here.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut w);
            let _ = w.shutdown(std::net::Shutdown::Write);
        });
    }
    let mut r = std::io::BufReader::new(sock);
    let mut head = [0u8; 8];
    loop {
        if let Err(e) = r.read_exact(&mut head) {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                return Ok(None);
            }
            bail!("attach: read: {e}");
        }
        let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
        if len > 1 << 20 {
            bail!("attach: frame of {len} bytes");
        }
        let mut data = vec![0u8; len];
        r.read_exact(&mut data).context("attach: read frame")?;
        match head[0] {
            STDOUT => {
                let mut o = std::io::stdout().lock();
                o.write_all(&data)?;
                o.flush()?;
            }
            STDERR => std::io::stderr().write_all(&data)?,
            EXIT if len == 4 => {
                return Ok(Some(i32::from_be_bytes([
                    data[0], data[1], data[2], data[3],
                ])))
            }
            k => bail!("attach: unknown frame kind {k}"),
        }
    }
}
