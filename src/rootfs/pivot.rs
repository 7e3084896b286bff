//! Switching the container onto its rootfs.

use crate::error::{Ctx, Result};
use crate::sys;
use std::path::Path;

/// pivot_root(".", ".") inside the new root, then detach the old root stacked on top. No
/// temporary directory is created in the rootfs, so a read-only rootfs works and nothing of
/// the host stays reachable by name.
pub fn pivot(rootfs: &Path) -> Result<()> {
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
    sys::pivot_root_dot().ctx("pivot_root", rootfs.display())?;
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
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH).ctx("unmount old root", "/")?;
    nix::unistd::chdir("/").ctx("chdir", "/")?;
    Ok(())
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
