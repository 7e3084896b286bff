//! Mounting one `mounts[]` entry. Targets are fds resolved inside the rootfs and mounts are
//! attached with the new mount API (open_tree/fsopen + fsmount + move_mount), so the target is
//! never a path string the container could swap between check and use.

use super::options::{self, MountOptions};
use super::resolve;
use crate::error::{Ctx, Error, Result};
use crate::sys::{self, MountAttr};
use oci_spec::runtime::Mount;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Apply attributes and propagation to an attached mount.
pub fn set_attrs(mnt: RawFd, o: &MountOptions, what: &Path) -> Result<()> {
    if o.set != 0 || o.clear != 0 {
        let attr = MountAttr {
            attr_set: o.set,
            attr_clr: o.clear,
            ..Default::default()
        };
        sys::mount_setattr(mnt, false, &attr).ctx("set mount flags on", what.display())?;
    }
    if o.rec_set != 0 || o.rec_clear != 0 {
        let attr = MountAttr {
            attr_set: o.rec_set,
            attr_clr: o.rec_clear,
            ..Default::default()
        };
        sys::mount_setattr(mnt, true, &attr).ctx("set recursive mount flags on", what.display())?;
    }
    for &(flag, rec) in &o.propagation {
        let attr = MountAttr {
            propagation: flag,
            ..Default::default()
        };
        sys::mount_setattr(mnt, rec, &attr).ctx("set propagation on", what.display())?;
    }
    Ok(())
}

/// A new filesystem instance (fsopen → fsconfig → fsmount), detached until moved.
pub fn new_fs(fstype: &str, source: Option<&str>, o: &MountOptions) -> Result<OwnedFd> {
    let fs = sys::fsopen(fstype).ctx("fsopen", fstype)?;
    if let Some(src) = source.filter(|s| !s.is_empty()) {
        sys::fsconfig(&fs, sys::FSCONFIG_SET_STRING, Some("source"), Some(src))
            .ctx("fsconfig source", src)?;
    }
    for opt in o.sb_flags.iter().chain(o.data.iter()) {
        let r = match opt.split_once('=') {
            Some((k, v)) => sys::fsconfig(&fs, sys::FSCONFIG_SET_STRING, Some(k), Some(v)),
            None => sys::fsconfig(&fs, sys::FSCONFIG_SET_FLAG, Some(opt), None),
        };
        r.ctx(&format!("{fstype} option"), opt)?;
    }
    sys::fsconfig(&fs, sys::FSCONFIG_CMD_CREATE, None, None).ctx("create filesystem", fstype)?;
    // Mount-level attributes are applied at fsmount; atime bits must be given whole.
    sys::fsmount(&fs, o.set).ctx("fsmount", fstype)
}

/// Where the mount's source lives on the host: relative paths are relative to the bundle, the
/// current directory of create.
fn host_source(m: &Mount) -> Option<PathBuf> {
    m.source().clone()
}

pub fn is_bind(m: &Mount, o: &MountOptions) -> bool {
    o.bind || m.typ().as_deref() == Some("bind")
}

/// Mount `m` at its destination inside the root `root`.
pub fn mount_entry(root: RawFd, m: &Mount, index: usize) -> Result<()> {
    let dest = m.destination();
    let o =
        options::parse(m.options().as_deref().unwrap_or(&[])).map_err(|e| in_config(e, index))?;
    let fstype = m.typ().clone().unwrap_or_default();
    let res = if is_bind(m, &o) {
        bind(root, m, &o)
    } else if fstype == "cgroup" || fstype == "cgroup2" {
        super::cgroupfs::mount(root, dest, &fstype, &o)
    } else if fstype.is_empty() || fstype == "none" {
        Err(Error::Config(format!(
            "mount {}: no type and not a bind mount",
            dest.display()
        )))
    } else {
        let target = resolve::mkdir_all(root, dest)?;
        let src = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned());
        let mnt = new_fs(&fstype, src.as_deref(), &o)?;
        if o.copy_up {
            if fstype != "tmpfs" {
                return Err(in_config(
                    Error::Config(format!(
                        "mount {}: tmpcopyup is only for tmpfs, not {fstype}",
                        dest.display()
                    )),
                    index,
                ));
            }
            // The detached tmpfs is reachable through its fd: fill it before attaching.
            copy_up(target.as_raw_fd(), mnt.as_raw_fd(), dest)?;
        }
        sys::move_mount_fd(&mnt, target.as_raw_fd()).ctx("mount onto", dest.display())?;
        let mut after = o.clone();
        after.set = 0;
        after.clear = 0;
        set_attrs(mnt.as_raw_fd(), &after, dest)
    };
    res.map_err(|e| in_config(e, index))
}

fn bind(root: RawFd, m: &Mount, o: &MountOptions) -> Result<()> {
    let dest = m.destination();
    let src = host_source(m)
        .ok_or_else(|| Error::Config(format!("bind mount {}: no source", dest.display())))?;
    let meta = std::fs::metadata(&src).ctx("stat bind source", src.display())?;
    let target = if meta.is_dir() {
        resolve::mkdir_all(root, dest)?
    } else {
        resolve::ensure_file(root, dest)?
    };
    let flags = sys::OPEN_TREE_CLONE
        | if o.recursive_bind {
            sys::AT_RECURSIVE
        } else {
            0
        };
    let tree = sys::open_tree(libc::AT_FDCWD, &src, flags).ctx("bind", src.display())?;
    sys::move_mount_fd(&tree, target.as_raw_fd()).ctx("bind mount onto", dest.display())?;
    set_attrs(tree.as_raw_fd(), o, dest)
}

/// Copy the directory `src` (the mount point in the rootfs) into `dst` (the new tmpfs), keeping
/// modes and owners; symlinks are copied, never followed. The container is not running yet, so
/// the tree does not change under us.
fn copy_up(src: RawFd, dst: RawFd, dest: &Path) -> Result<()> {
    let from = PathBuf::from(format!("/proc/self/fd/{src}"));
    let to = PathBuf::from(format!("/proc/self/fd/{dst}"));
    let meta = std::fs::metadata(&from).ctx("stat tmpcopyup source", dest.display())?;
    std::os::unix::fs::chown(&to, Some(meta.uid()), Some(meta.gid()))
        .ctx("chown tmpfs", dest.display())?;
    std::fs::set_permissions(&to, meta.permissions()).ctx("chmod tmpfs", dest.display())?;
    copy_tree(&from, &to, dest)
}

fn copy_tree(from: &Path, to: &Path, dest: &Path) -> Result<()> {
    use std::os::unix::fs::{lchown, symlink};
    let entries = std::fs::read_dir(from).ctx("tmpcopyup: read", dest.display())?;
    for entry in entries {
        let entry = entry.ctx("tmpcopyup: read", dest.display())?;
        let name = entry.file_name();
        let (src, dst) = (from.join(&name), to.join(&name));
        let shown = dest.join(&name);
        let meta = std::fs::symlink_metadata(&src).ctx("tmpcopyup: stat", shown.display())?;
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst).ctx("tmpcopyup: mkdir", shown.display())?;
            copy_tree(&src, &dst, &shown)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&src).ctx("tmpcopyup: readlink", shown.display())?;
            symlink(&target, &dst).ctx("tmpcopyup: symlink", shown.display())?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst).ctx("tmpcopyup: copy", shown.display())?;
        } else {
            // Devices, fifos and sockets are skipped: images do not keep them in tmpfs dirs.
            continue;
        }
        lchown(&dst, Some(meta.uid()), Some(meta.gid()))
            .ctx("tmpcopyup: chown", shown.display())?;
        if !ft.is_symlink() {
            // after chown, which clears setuid/setgid bits
            std::fs::set_permissions(&dst, meta.permissions())
                .ctx("tmpcopyup: chmod", shown.display())?;
        }
    }
    Ok(())
}

fn in_config(e: Error, index: usize) -> Error {
    match e {
        Error::Sys { op, path, source } => Error::Sys {
            op,
            path: format!("{path} (mounts[{index}] in config.json)"),
            source,
        },
        Error::Config(m) => Error::Config(format!("{m} (mounts[{index}] in config.json)")),
        other => other,
    }
}
