//! Switching the container onto its rootfs.

use crate::error::{Ctx, Result};
use crate::sys;
use std::path::Path;

/// pivot_root(".", ".") inside the new root, then detach the old root stacked on top. No
/// temporary directory is created in the rootfs, so a read-only rootfs works and nothing of
/// the host stays reachable by name.
///
/// `park`: detached mounts (fsmount/open_tree fds) that init keeps using but never attaches,
/// such as its private procfs. Closing such an fd dissolves its mount, and every dissolve costs
/// a synchronize_rcu_expedited(), a kernel-wide wait that serialises parallel container starts.
/// Attached under the old root just before it is detached, they go with it in one unmount and
/// the fds stay usable; their last close then has nothing left to dissolve.
pub fn pivot(rootfs: &Path, park: &[Park]) -> Result<()> {
    let old = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx("open", "/")?;
    let new = nix::fcntl::open(
        rootfs,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx("open", rootfs.display())?;
    nix::unistd::fchdir(&new).ctx("chdir", rootfs.display())?;
    match sys::pivot_root_dot() {
        // pivot_root refuses a new root whose parent mount is shared: the bundle can sit on a
        // mount that is a slave *and* shared. Make that one mount private, as runc does, and
        // retry (only then is mountinfo read).
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            make_parent_mount_private(rootfs)?;
            sys::pivot_root_dot().ctx("pivot_root", rootfs.display())?;
        }
        r => r.ctx("pivot_root", rootfs.display())?,
    }
    nix::unistd::fchdir(&old).ctx("chdir", "old root")?;
    // The old root must not propagate its unmount back to the host.
    sys::mount(
        None,
        Path::new("."),
        None,
        libc::MS_SLAVE | libc::MS_REC,
        None,
    )
    .ctx("make old root slave", "/")?;
    park_under_old_root(park);
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH).ctx("unmount old root", "/")?;
    nix::unistd::chdir("/").ctx("chdir", "/")?;
    Ok(())
}

/// A detached mount to park, and where under the old root: a directory mount goes onto the
/// old root's `proc`, a file mount (hull's read-only exe bind) onto the file it was cloned
/// from, since a mount's target must be of its own kind.
pub struct Park<'a> {
    pub fd: std::os::fd::RawFd,
    pub target: &'a Path,
}

/// Attach each detached mount at its target in the old root (the host's tree, in our own copy
/// of its mount namespace; the old root is a slave, so nothing reaches the host). Best effort:
/// a mount that cannot be parked keeps its old fate, a dissolve on close.
fn park_under_old_root(park: &[Park]) {
    for p in park {
        let rel = p.target.strip_prefix("/").unwrap_or(p.target);
        let Ok(target) = sys::openat(
            libc::AT_FDCWD,
            rel,
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        ) else {
            continue;
        };
        let _ = sys::move_mount_raw(p.fd, std::os::fd::AsRawFd::as_raw_fd(&target));
    }
}

fn make_parent_mount_private(rootfs: &Path) -> Result<()> {
    let parent = rootfs.parent().unwrap_or(Path::new("/"));
    let info =
        std::fs::read_to_string("/proc/self/mountinfo").ctx("read", "/proc/self/mountinfo")?;
    // The mount holding the parent: the longest mount point that is a prefix of it (the last
    // such line when mounts are stacked on one point).
    let mut best: Option<std::path::PathBuf> = None;
    for line in info.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        let mp = std::path::PathBuf::from(
            mp.replace("\\040", " ")
                .replace("\\011", "\t")
                .replace("\\134", "\\"),
        );
        if parent.starts_with(&mp)
            && best
                .as_ref()
                .is_none_or(|b| mp.as_os_str().len() >= b.as_os_str().len())
        {
            best = Some(mp);
        }
    }
    let mp = best.unwrap_or_else(|| std::path::PathBuf::from("/"));
    sys::mount(None, &mp, None, libc::MS_PRIVATE, None)
        .ctx("make private the mount of", mp.display())
}

/// `--no-pivot`: move the rootfs over / and chroot into it (for ramfs roots, where
/// pivot_root is impossible).
pub fn move_root(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx("chdir", rootfs.display())?;
    sys::mount(Some(rootfs), Path::new("/"), None, libc::MS_MOVE, None)
        .ctx("move rootfs onto", "/")?;
    nix::unistd::chroot(".").ctx("chroot", rootfs.display())?;
    nix::unistd::chdir("/").ctx("chdir", "/")
}
