//! `process.terminal`: a pty from the container's own devpts instance. The master goes to the
//! console socket (one sendmsg, one SCM_RIGHTS fd, as containerd and conmon expect); the slave
//! becomes /dev/console and the process's stdio and controlling terminal.

use crate::error::{Ctx, Error, Result};
use crate::rootfs::resolve;
use crate::sys;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;
const TIOCGPTPEER: libc::c_ulong = 0x5441;

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub number: u32,
}

/// Open a pty pair on the devpts mounted at /dev/pts inside `root`.
pub fn open_in(root: RawFd) -> Result<Pty> {
    let master = resolve::open(
        root,
        Path::new("/dev/pts/ptmx"),
        libc::O_RDWR | libc::O_NOCTTY,
    )
    .ctx(
        "open",
        "/dev/pts/ptmx (process.terminal needs a devpts mount at /dev/pts)",
    )?;
    if sys::fstatfs_type(master.as_raw_fd()).ctx("statfs", "/dev/pts/ptmx")? != DEVPTS_SUPER_MAGIC {
        return Err(Error::msg("/dev/pts/ptmx is not on a devpts filesystem"));
    }
    let unlock: libc::c_int = 0;
    let mut number: libc::c_uint = 0;
    // SAFETY: ioctls on the master fd with correctly typed arguments.
    unsafe {
        if libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) != 0 {
            return Err(std::io::Error::last_os_error()).ctx("unlock pty", "/dev/pts/ptmx");
        }
        if libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) != 0 {
            return Err(std::io::Error::last_os_error()).ctx("get pty number", "/dev/pts/ptmx");
        }
    }
    // TIOCGPTPEER opens the slave through the master itself: no path lookup in /dev/pts.
    // SAFETY: ioctl returning a new fd, owned below.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx("open pty peer", format!("/dev/pts/{number}"));
    }
    // SAFETY: the kernel returned a fresh fd we now own.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    Ok(Pty {
        master,
        slave,
        number,
    })
}

pub fn set_size(fd: RawFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
}

/// Bind the pty slave over /dev/console. The target is opened with O_NOFOLLOW in the fd of
/// the container's /dev and checked to be a plain file or device outside procfs and sysfs:
/// a /dev/console symlink (to a procfs file, say) would otherwise get the pty bound over
/// whatever it points at (CVE-2025-52565). Anything else in its place is removed first.
pub fn mount_console(root: RawFd, pty: &Pty) -> Result<()> {
    let dev = resolve::mkdir_all(root, Path::new("/dev"))?;
    let name = Path::new("console");
    if let Ok(fd) = sys::openat(dev.as_raw_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0) {
        let st = sys::fstat(fd.as_raw_fd()).ctx("stat", "/dev/console")?;
        let kind = st.st_mode & libc::S_IFMT;
        if kind != libc::S_IFREG && kind != libc::S_IFCHR {
            let c = sys::cstr(name)?;
            // SAFETY: unlinkat of one name in an open directory fd.
            if unsafe { libc::unlinkat(dev.as_raw_fd(), c.as_ptr(), 0) } != 0 {
                return Err(std::io::Error::last_os_error()).ctx("remove non-file", "/dev/console");
            }
        }
    }
    match sys::openat(
        dev.as_raw_fd(),
        name,
        libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY,
        0o600,
    ) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        Err(e) => return Err(e).ctx("create", "/dev/console"),
    }
    let target = sys::openat(dev.as_raw_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0)
        .ctx("open", "/dev/console")?;
    let st = sys::fstat(target.as_raw_fd()).ctx("stat", "/dev/console")?;
    let kind = st.st_mode & libc::S_IFMT;
    let fs = sys::fstatfs_type(target.as_raw_fd()).ctx("statfs", "/dev/console")?;
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    const SYSFS_MAGIC: i64 = 0x6265_6572;
    if (kind != libc::S_IFREG && kind != libc::S_IFCHR)
        || fs == PROC_SUPER_MAGIC
        || fs == SYSFS_MAGIC
    {
        return Err(Error::msg("/dev/console in the container is not a plain file or device; refusing to mount the console on it"));
    }
    let tree = sys::open_tree(
        pty.slave.as_raw_fd(),
        Path::new(""),
        sys::OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32,
    )
    .ctx("bind", format!("/dev/pts/{}", pty.number))?;
    sys::move_mount_fd(&tree, target.as_raw_fd()).ctx("bind pty onto", "/dev/console")
}

/// Send the master over the console socket: one message, one fd, the pty's name as payload.
pub fn send_master(socket: RawFd, pty: &Pty) -> Result<()> {
    let name = format!("/dev/pts/{}", pty.number);
    let fds = [pty.master.as_raw_fd()];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        socket,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .ctx("send pty master to", "console socket")?;
    Ok(())
}

/// Make the slave the controlling terminal and stdio of the calling process (after setsid).
pub fn become_stdio(slave: &OwnedFd) -> Result<()> {
    // SAFETY: ioctl and dup2 on fds we own.
    unsafe {
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) != 0 {
            return Err(std::io::Error::last_os_error())
                .ctx("set controlling terminal", "/dev/console");
        }
        for fd in 0..3 {
            if libc::dup2(slave.as_raw_fd(), fd) < 0 {
                return Err(std::io::Error::last_os_error()).ctx("dup2 pty onto", fd);
            }
        }
    }
    Ok(())
}
