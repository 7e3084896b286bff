//! Private procfs handles. Every write hull makes to procfs (sysctls, the exec.fifo reopen,
//! the LSM exec attributes) goes through one of these, never through a `/proc` path the
//! container or its config's mounts could redirect: CVE-2019-16884 was a fake /proc (a volume
//! mounted over it) swallowing runc's AppArmor write, so the container ran unconfined;
//! CVE-2025-52881 redirected the same kind of write to another procfs file.

use crate::error::{Ctx, Error, Result};
use crate::{rootfs, sys};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// statfs(2) f_type of procfs.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
/// Inode number of a procfs root directory.
const PROC_ROOT_INO: u64 = 1;

/// What a private instance shows and allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Everything, writable: for the sysctl writes only, closed right after them.
    Full,
    /// Process directories only (`subset=pid`), writable: `<pid>/attr/*` for the LSM labels.
    Pids,
    /// Process directories only, read-only: what init holds until start (see `launch::init`).
    PidsReadOnly,
}

/// A procfs instance of our own (fsopen), mounted nowhere, in the caller's pid namespace.
/// Nothing mounted anywhere can hide it or stand in for it; it is checked anyway, cheaply.
pub fn private(view: View) -> Result<OwnedFd> {
    let mut o = rootfs::options::MountOptions {
        set: sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV | sys::MOUNT_ATTR_NOEXEC,
        ..Default::default()
    };
    if view != View::Full {
        o.data.push("subset=pid".into());
    }
    if view == View::PidsReadOnly {
        o.set |= sys::MOUNT_ATTR_RDONLY;
    }
    let fd = rootfs::mounts::new_fs("proc", Some("proc"), &o)?;
    verify(&fd, "private procfs")?;
    Ok(fd)
}

/// A procfs handle for a process that is about to join a container (`exec`), opened on the
/// host side before any setns: a private instance when hull may create one, else the host's
/// /proc (rootless hull lacks CAP_SYS_ADMIN for fsopen), verified to be a procfs root. The
/// process joining the container stays visible in it: the container's pid namespace is a
/// descendant of ours.
pub fn for_exec() -> Result<OwnedFd> {
    match private(View::Pids) {
        Ok(fd) => Ok(fd),
        Err(e) if e.errno() == Some(libc::EPERM) => {
            let fd = sys::openat(
                libc::AT_FDCWD,
                Path::new("/proc"),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                0,
            )
            .ctx("open", "/proc")?;
            verify(&fd, "/proc")?;
            Ok(fd)
        }
        Err(e) => Err(e),
    }
}

/// The fd must be the root of a procfs: anything else (a tmpfs or bind mount standing in for
/// /proc, a subdirectory) is refused.
pub fn verify(fd: &OwnedFd, what: &str) -> Result<()> {
    let fs = sys::fstatfs_type(fd.as_raw_fd()).ctx("statfs", what)?;
    if fs != PROC_SUPER_MAGIC {
        return Err(Error::msg(format!(
            "{what} is not a procfs (filesystem type {fs:#x}); refusing to write through it"
        )));
    }
    let st = sys::fstat(fd.as_raw_fd()).ctx("stat", what)?;
    if st.st_ino != PROC_ROOT_INO {
        return Err(Error::msg(format!(
            "{what} is not the root of a procfs (inode {}); refusing to write through it",
            st.st_ino
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_proc_passes_and_other_filesystems_fail() {
        let proc = sys::openat(
            libc::AT_FDCWD,
            Path::new("/proc"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .unwrap();
        verify(&proc, "/proc").unwrap();
        // A directory inside procfs is procfs, but not its root.
        let sub = sys::openat(
            libc::AT_FDCWD,
            Path::new("/proc/self"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .unwrap();
        let e = verify(&sub, "/proc/self").unwrap_err().to_string();
        assert!(e.contains("not the root of a procfs"), "{e}");
        let dev = sys::openat(libc::AT_FDCWD, Path::new("/dev"), libc::O_PATH, 0).unwrap();
        let e = verify(&dev, "/dev").unwrap_err().to_string();
        assert!(e.contains("/dev is not a procfs"), "{e}");
    }

    #[test]
    fn private_instances_are_verified_procfs() {
        // Root only (fsopen needs CAP_SYS_ADMIN); the test suite runs as root.
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: not root");
            return;
        }
        for v in [View::Full, View::Pids, View::PidsReadOnly] {
            let fd = private(v).unwrap();
            verify(&fd, "private").unwrap();
        }
        for_exec().unwrap();
    }
}
