//! maskedPaths, readonlyPaths and root.readonly, applied after pivot_root.

use super::mounts::new_fs;
use super::options::MountOptions;
use super::resolve;
use crate::error::{Ctx, Error, Result};
use crate::sys::{self, MountAttr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

fn root_fd() -> Result<OwnedFd> {
    sys::openat2(
        libc::AT_FDCWD,
        Path::new("/"),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        0,
    )
    .ctx("open", "/")
}

/// The container's /dev/null, checked to really be the null device (1:3) before it is used to
/// hide anything: CVE-2025-31133 replaced /dev/null with a symlink so that "masking" bound a
/// writable procfs file instead.
fn verified_null(root: &OwnedFd) -> Result<OwnedFd> {
    let fd = sys::openat2(
        root.as_raw_fd(),
        Path::new("dev/null"),
        libc::O_PATH,
        0,
        sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_SYMLINKS,
    )
    .ctx("open", "/dev/null")?;
    let st = sys::fstat(fd.as_raw_fd()).ctx("stat", "/dev/null")?;
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        return Err(Error::msg("/dev/null in the container is not the null device (1:3); refusing to mask paths with it"));
    }
    Ok(fd)
}

/// Masked directories get an empty read-only tmpfs, labelled with `mount_label` (as runc
/// does) so that an SELinux-confined process may still look into it.
pub fn mask(paths: &[String], mount_label: Option<&str>) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let root = root_fd()?;
    let null = verified_null(&root)?;
    for p in paths {
        let target = match resolve::open(root.as_raw_fd(), Path::new(p), libc::O_PATH) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e).ctx("open masked path", p),
        };
        let st = sys::fstat(target.as_raw_fd()).ctx("stat masked path", p)?;
        let mnt = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            let o = MountOptions {
                set: sys::MOUNT_ATTR_RDONLY,
                data: mount_label
                    .and_then(|l| crate::security::lsm::mount_context("tmpfs", l))
                    .into_iter()
                    .collect(),
                ..Default::default()
            };
            new_fs("tmpfs", Some("tmpfs"), &o)?
        } else {
            sys::open_tree(
                null.as_raw_fd(),
                Path::new(""),
                sys::OPEN_TREE_CLONE | libc::AT_EMPTY_PATH as u32,
            )
            .ctx("bind", "/dev/null")?
        };
        sys::move_mount_fd(&mnt, target.as_raw_fd()).ctx("mask", p)?;
    }
    Ok(())
}

pub fn readonly(paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let root = root_fd()?;
    for p in paths {
        let target = match resolve::open(root.as_raw_fd(), Path::new(p), libc::O_PATH) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(e).ctx("open readonly path", p),
        };
        let flags = sys::OPEN_TREE_CLONE | sys::AT_RECURSIVE | libc::AT_EMPTY_PATH as u32;
        let tree = sys::open_tree(target.as_raw_fd(), Path::new(""), flags).ctx("bind", p)?;
        sys::move_mount_fd(&tree, target.as_raw_fd()).ctx("bind onto itself", p)?;
        let attr = MountAttr {
            attr_set: sys::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        sys::mount_setattr(tree.as_raw_fd(), true, &attr).ctx("make read-only", p)?;
    }
    Ok(())
}

pub fn root_readonly() -> Result<()> {
    let root = root_fd()?;
    let attr = MountAttr {
        attr_set: sys::MOUNT_ATTR_RDONLY,
        ..Default::default()
    };
    sys::mount_setattr(root.as_raw_fd(), false, &attr).ctx("make read-only", "/")
}
