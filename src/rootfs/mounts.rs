//! Mounting one `mounts[]` entry. Targets are fds resolved inside the rootfs and mounts are
//! attached with the new mount API (open_tree/fsopen + fsmount + move_mount), so the target is
//! never a path string the container could swap between check and use.

use super::options::{self, MountOptions};
use super::resolve;
use crate::error::{Ctx, Error, Result};
use crate::sys::{self, MountAttr};
use oci_spec::runtime::Mount;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
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

/// Mount `m` at its destination inside the root `root`. `idmapped` is the detached tree the
/// parent made for an idmapped mount (`super::idmapped`), attached instead of a fresh copy.
/// `mount_label` (`linux.mountLabel`, only given when SELinux is enabled) labels new
/// filesystems as runc does.
pub fn mount_entry(
    root: RawFd,
    m: &Mount,
    index: usize,
    idmapped: Option<OwnedFd>,
    mount_label: Option<&str>,
) -> Result<()> {
    let dest = m.destination();
    let mut o =
        options::parse(m.options().as_deref().unwrap_or(&[])).map_err(|e| in_config(e, index))?;
    let fstype = m.typ().clone().unwrap_or_default();
    if let Some(ctx) = mount_label
        .filter(|_| !is_bind(m, &o))
        .and_then(|l| crate::security::lsm::mount_context(&fstype, l))
    {
        o.data.push(ctx);
    }
    let wants_idmap = o.idmap || m.uid_mappings().is_some() || m.gid_mappings().is_some();
    let res = if wants_idmap && idmapped.is_none() {
        // Never fall back to a plain bind: the container would see the host's ids.
        Err(Error::msg(format!(
            "idmapped mount {}: no idmapped tree was prepared for it",
            dest.display()
        )))
    } else if is_bind(m, &o) {
        bind(root, m, &o, idmapped)
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
        let mut first = o.clone();
        if o.copy_up {
            // Filled before it is attached, so it must be writable until then.
            first.set &= !sys::MOUNT_ATTR_RDONLY;
        }
        let mnt = new_fs(&fstype, src.as_deref(), &first)?;
        if o.copy_up {
            super::copyup::copy_tree(target.as_raw_fd(), mnt.as_raw_fd(), dest, 0)?;
            // runc gives the tmpfs the mode of the directory it covers: podman's --tmpfs /etc
            // must stay 0755, not tmpfs' default 1777.
            let st = sys::fstat(target.as_raw_fd()).ctx("stat", dest.display())?;
            let top = format!("/proc/self/fd/{}", mnt.as_raw_fd());
            std::fs::set_permissions(&top, std::fs::Permissions::from_mode(st.st_mode & 0o7777))
                .ctx("chmod tmpfs", dest.display())?;
        }
        if let Some(l) = mount_label.filter(|_| fstype == "mqueue") {
            // mqueue takes no context= option: its root is labelled through the xattr.
            label_root(&mnt, l, dest)?;
        }
        sys::move_mount_fd(&mnt, target.as_raw_fd()).ctx("mount onto", dest.display())?;
        let mut after = o.clone();
        after.set = if o.copy_up {
            o.set & sys::MOUNT_ATTR_RDONLY
        } else {
            0
        };
        after.clear = 0;
        set_attrs(mnt.as_raw_fd(), &after, dest)
    };
    res.map_err(|e| in_config(e, index))
}

/// Set the SELinux label of a new (still detached) filesystem's root directory.
fn label_root(mnt: &OwnedFd, label: &str, dest: &Path) -> Result<()> {
    let path = sys::cstr(sys::fd_path(mnt.as_raw_fd())).ctx("label", dest.display())?;
    // SAFETY: NUL-terminated path and attribute name; the value is a valid buffer of its length.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"security.selinux".as_ptr(),
            label.as_ptr() as *const libc::c_void,
            label.len(),
            0,
        )
    };
    if r != 0 {
        return Err(Error::sys(
            "set SELinux label (linux.mountLabel) on",
            dest.display(),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn bind(root: RawFd, m: &Mount, o: &MountOptions, premade: Option<OwnedFd>) -> Result<()> {
    let dest = m.destination();
    let src = host_source(m)
        .ok_or_else(|| Error::Config(format!("bind mount {}: no source", dest.display())))?;
    let is_dir = match &premade {
        Some(tree) => {
            let st =
                sys::fstat(tree.as_raw_fd()).ctx("stat idmapped bind source", src.display())?;
            st.st_mode & libc::S_IFMT == libc::S_IFDIR
        }
        None => std::fs::metadata(&src)
            .ctx("stat bind source", src.display())?
            .is_dir(),
    };
    let target = if is_dir {
        resolve::mkdir_all(root, dest)?
    } else {
        resolve::ensure_file(root, dest)?
    };
    let tree = match premade {
        Some(tree) => tree,
        None => {
            let flags = sys::OPEN_TREE_CLONE
                | if o.recursive_bind {
                    sys::AT_RECURSIVE
                } else {
                    0
                };
            sys::open_tree(libc::AT_FDCWD, &src, flags).ctx("bind", src.display())?
        }
    };
    sys::move_mount_fd(&tree, target.as_raw_fd()).ctx("bind mount onto", dest.display())?;
    set_attrs(tree.as_raw_fd(), o, dest)
}

pub(crate) fn in_config(e: Error, index: usize) -> Error {
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
