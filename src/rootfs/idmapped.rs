//! Idmapped bind mounts (`mounts[].uidMappings`/`gidMappings`, options `idmap`/`ridmap`, as in
//! runc 1.2): the source's files are seen through an id mapping, e.g. a host directory owned by
//! uid 1000 shows as owned by root in the container.
//!
//! Who does what, and why:
//! - The host side (the parent, before init is cloned) makes a detached copy of the source
//!   with open_tree(OPEN_TREE_CLONE) and sets MOUNT_ATTR_IDMAP on it. Only it can:
//!   mount_setattr(MOUNT_ATTR_IDMAP) needs CAP_SYS_ADMIN in the user namespace that owns the
//!   source's superblock (the host's, for a host directory), which init no longer has once
//!   it lives in the container's own user namespace; and the idmap can only be set on a mount
//!   nobody has seen yet, i.e. one still detached.
//! - Init inherits the tree fds (it is a clone3 child, not a re-exec) and attaches each one
//!   with move_mount onto its destination, resolved inside the rootfs like every other mount
//!   target (`mounts::mount_entry`), then applies the mount's other options.
//! A failed create closes every copy of the fds, and a detached tree vanishes with its last
//! fd: nothing is left mounted anywhere.
//!
//! The source is resolved in the host's mount namespace (where the path was written), not in
//! the container's; only a source below a mount the container itself makes earlier would see
//! a difference.

use super::mounts::{in_config, is_bind};
use super::options;
use super::userns_fd;
use crate::error::{Ctx, Error, Result};
use crate::sys::{self, MountAttr};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Where an idmapped mount takes its mapping from.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapping {
    Ranges {
        uids: Vec<LinuxIdMapping>,
        gids: Vec<LinuxIdMapping>,
    },
    /// `idmap` without mappings in a container joining a user namespace by path: that one.
    UserNs(PathBuf),
}

/// One idmapped mount of config.json, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub index: usize,
    pub source: PathBuf,
    pub destination: PathBuf,
    /// `rbind`: the copy takes the source's submounts along.
    pub recursive_bind: bool,
    /// `ridmap`: the submounts are idmapped too (with `idmap` only the top mount is).
    pub recursive_idmap: bool,
    pub mapping: Mapping,
}

/// Which mounts are idmapped and how, from config.json alone: called before anything exists
/// on the host, so a bad mapping fails create with nothing to undo.
pub fn requests(spec: &Spec) -> Result<Vec<Request>> {
    check_requests(spec).map_err(|e| match e {
        Error::Config(m) => Error::Config(format!("config.json: {m}")),
        other => other,
    })
}

fn check_requests(spec: &Spec) -> Result<Vec<Request>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let o =
            options::parse(m.options().as_deref().unwrap_or(&[])).map_err(|e| in_config(e, i))?;
        let has_maps = m.uid_mappings().is_some() || m.gid_mappings().is_some();
        if !has_maps && !o.idmap {
            continue;
        }
        let dest = m.destination();
        let here = format!("mounts[{i}] ({})", dest.display());
        if !is_bind(m, &o) {
            return Err(Error::Config(format!(
                "{here}: idmapped mounts (uidMappings, gidMappings, idmap, ridmap) need a bind mount, not type {:?}",
                m.typ().as_deref().unwrap_or("")
            )));
        }
        let source = m
            .source()
            .clone()
            .ok_or_else(|| Error::Config(format!("{here}: bind mount without a source")))?;
        let mapping = if has_maps {
            let (Some(uids), Some(gids)) = (m.uid_mappings(), m.gid_mappings()) else {
                return Err(Error::Config(format!(
                    "{here}: uidMappings and gidMappings must both be given for an idmapped mount"
                )));
            };
            userns_fd::validate(uids, &format!("mounts[{i}].uidMappings"))?;
            userns_fd::validate(gids, &format!("mounts[{i}].gidMappings"))?;
            Mapping::Ranges {
                uids: uids.clone(),
                gids: gids.clone(),
            }
        } else {
            containers_mapping(spec, &here)?
        };
        out.push(Request {
            index: i,
            source,
            destination: dest.clone(),
            recursive_bind: o.recursive_bind,
            recursive_idmap: o.recursive_idmap,
            mapping,
        });
    }
    Ok(out)
}

/// `idmap`/`ridmap` without mappings of their own take the container's user namespace.
fn containers_mapping(spec: &Spec, here: &str) -> Result<Mapping> {
    let linux = spec.linux().as_ref();
    let userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|n| n.iter().find(|n| n.typ() == LinuxNamespaceType::User));
    let Some(userns) = userns else {
        return Err(Error::Config(format!(
            "{here}: option idmap/ridmap without uidMappings/gidMappings needs the container's user namespace to take them from, and it has none"
        )));
    };
    if let Some(p) = userns.path() {
        return Ok(Mapping::UserNs(p.clone()));
    }
    let uids = linux
        .and_then(|l| l.uid_mappings().clone())
        .unwrap_or_default();
    let gids = linux
        .and_then(|l| l.gid_mappings().clone())
        .unwrap_or_default();
    userns_fd::validate(&uids, "linux.uidMappings (for the idmap option)")
        .and_then(|_| userns_fd::validate(&gids, "linux.gidMappings (for the idmap option)"))
        .map_err(|e| Error::Config(format!("{here}: {e}")))?;
    Ok(Mapping::Ranges { uids, gids })
}

/// Whether this kernel has mount_setattr (and with it MOUNT_ATTR_IDMAP, both Linux 5.12), for
/// `features`: containerd only asks for idmapped mounts when it says so. Asked with an fd that
/// cannot exist, so the call fails either way: EBADF when the syscall is there, ENOSYS when not.
pub fn kernel_supports() -> bool {
    let attr = MountAttr::default();
    let e = sys::mount_setattr(-1, false, &attr).err();
    e.and_then(|e| e.raw_os_error()) != Some(libc::ENOSYS)
}

/// Detached, idmapped copies of the sources, by mount index, waiting for init to attach them.
#[derive(Default)]
pub struct Trees(BTreeMap<usize, OwnedFd>);

impl Trees {
    pub fn take(&mut self, index: usize) -> Option<OwnedFd> {
        self.0.remove(&index)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Host side: make every requested tree. Fds land at or above `min_fd`, clear of the fds
/// `--preserve-fds` passes to the container.
pub fn prepare(reqs: &[Request], min_fd: RawFd) -> Result<Trees> {
    let mut trees = Trees::default();
    if reqs.is_empty() {
        return Ok(trees);
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        let r = &reqs[0];
        return Err(in_config(
            Error::Config(format!(
                "idmapped mount {}: needs root (CAP_SYS_ADMIN over the source's filesystem); a rootless container cannot have one",
                r.destination.display()
            )),
            r.index,
        ));
    }
    // Mounts with the same mapping share one namespace, as in runc: one helper process each.
    let mut namespaces: BTreeMap<String, OwnedFd> = BTreeMap::new();
    for r in reqs {
        let userns = match &r.mapping {
            Mapping::UserNs(p) => sys::openat(libc::AT_FDCWD, p, libc::O_RDONLY, 0)
                .ctx("open user namespace", p.display())
                .map_err(|e| in_config(e, r.index))?,
            Mapping::Ranges { uids, gids } => {
                let key = format!("{}/{}", userns_fd::format(uids), userns_fd::format(gids));
                if !namespaces.contains_key(&key) {
                    let what = format!("mounts[{}]", r.index);
                    let fd = userns_fd::with_maps(uids, gids, &what)
                        .map_err(|e| in_config(e, r.index))?;
                    namespaces.insert(key.clone(), fd);
                }
                let fd = &namespaces[&key];
                fd.try_clone().ctx("dup", "user namespace fd")?
            }
        };
        let tree = idmapped_tree(r, &userns).map_err(|e| in_config(e, r.index))?;
        let tree = sys::dup_above(tree, min_fd).ctx("dup", "idmapped mount")?;
        trees.0.insert(r.index, tree);
    }
    Ok(trees)
}

fn idmapped_tree(r: &Request, userns: &OwnedFd) -> Result<OwnedFd> {
    let src = &r.source;
    let flags = sys::OPEN_TREE_CLONE
        | if r.recursive_bind {
            sys::AT_RECURSIVE
        } else {
            0
        };
    let tree = sys::open_tree(libc::AT_FDCWD, src, flags).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOSYS) => Error::Config(format!(
            "idmapped mount of {}: this kernel has no open_tree (Linux 5.2+)",
            src.display()
        )),
        _ => Error::sys("open_tree (bind source)", src.display(), e),
    })?;
    // A copy of a shared host mount joins the host's peer group, and the container's rslave
    // of "/" happens in another namespace, after this: without this, mounts made under the
    // destination inside the container would appear on the host.
    let slave = MountAttr {
        propagation: libc::MS_SLAVE,
        ..Default::default()
    };
    sys::mount_setattr(tree.as_raw_fd(), true, &slave)
        .map_err(|e| setattr_error(e, src, "make the copy a slave of"))?;
    let attr = MountAttr {
        attr_set: sys::MOUNT_ATTR_IDMAP,
        userns_fd: userns.as_raw_fd() as u64,
        ..Default::default()
    };
    sys::mount_setattr(tree.as_raw_fd(), r.recursive_idmap, &attr).map_err(|e| {
        match e.raw_os_error() {
            Some(libc::EINVAL) => Error::Config(format!(
                "idmapped mount of {}: its filesystem ({}) does not support idmapped mounts{} (mount_setattr MOUNT_ATTR_IDMAP: {e})",
                src.display(),
                fs_name(tree.as_raw_fd()),
                if r.recursive_idmap { ", or one of its submounts does not" } else { "" },
            )),
            _ => setattr_error(e, src, "set MOUNT_ATTR_IDMAP on"),
        }
    })?;
    Ok(tree)
}

fn setattr_error(e: io::Error, src: &Path, op: &str) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOSYS) => Error::Config(format!(
            "idmapped mount of {}: this kernel has no mount_setattr (Linux 5.12+), which idmapped mounts need",
            src.display()
        )),
        _ => Error::sys(format!("mount_setattr: {op}"), src.display(), e),
    }
}

/// The filesystem type under `fd`, for error messages.
fn fs_name(fd: RawFd) -> String {
    const NAMES: &[(i64, &str)] = &[
        (0xEF53, "ext2/3/4"),
        (0x0102_1994, "tmpfs"),
        (0x5846_5342, "xfs"),
        (0x9123_683E, "btrfs"),
        (0x794C_7630, "overlayfs"),
        (0x6265_6572, "sysfs"),
        (0x9FA0, "proc"),
        (0x8584_58F6, "ramfs"),
        (0x6969, "nfs"),
        (0x6573_5546, "fuse"),
        (0x1CD1, "devpts"),
        (0x6367_7270, "cgroup2"),
        (0x0027_E0EB, "cgroup"),
        (0x0102_1997, "9p"),
        (0x7366_7378, "squashfs"),
    ];
    match sys::fstatfs_type(fd) {
        Ok(t) => NAMES
            .iter()
            .find(|(m, _)| *m == t)
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| format!("magic {t:#x}")),
        Err(_) => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(mounts: serde_json::Value, linux: serde_json::Value) -> Spec {
        let v = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "mounts": mounts, "linux": linux});
        serde_json::from_value(v).unwrap()
    }

    fn err(s: &Spec) -> String {
        requests(s).unwrap_err().to_string()
    }

    #[test]
    fn which_mounts_are_idmapped() {
        let map = serde_json::json!([{"containerID": 1000, "hostID": 0, "size": 1}]);
        let s = spec(
            serde_json::json!([
                {"destination": "/a", "type": "bind", "source": "/x", "options": ["rbind"],
                 "uidMappings": map, "gidMappings": map},
                {"destination": "/b", "type": "bind", "source": "/x", "options": ["rbind", "ridmap"],
                 "uidMappings": map, "gidMappings": map},
                {"destination": "/c", "type": "bind", "source": "/x", "options": ["bind"]},
            ]),
            serde_json::json!({}),
        );
        let r = requests(&s).unwrap();
        assert_eq!(r.len(), 2);
        assert!(
            r[0].recursive_bind && !r[0].recursive_idmap,
            "mappings alone mean idmap"
        );
        assert!(r[1].recursive_idmap);
        assert_eq!(r[1].index, 1);
    }

    #[test]
    fn clear_errors() {
        let map = serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        let s = spec(
            serde_json::json!([{"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                "uidMappings": map, "gidMappings": map}]),
            serde_json::json!({}),
        );
        assert!(
            err(&s).contains("mounts[0] (/t): idmapped mounts"),
            "{}",
            err(&s)
        );
        let s = spec(
            serde_json::json!([{"destination": "/t", "type": "bind", "source": "/x", "uidMappings": map}]),
            serde_json::json!({}),
        );
        assert!(err(&s).contains("must both be given"), "{}", err(&s));
        let s = spec(
            serde_json::json!([{"destination": "/t", "type": "bind", "source": "/x", "options": ["idmap"]}]),
            serde_json::json!({}),
        );
        assert!(err(&s).contains("has none"), "{}", err(&s));
        let s = spec(
            serde_json::json!([{"destination": "/t", "type": "bind", "source": "/x", "options": ["idmap"]}]),
            serde_json::json!({"namespaces": [{"type": "user"}, {"type": "mount"}],
                "uidMappings": map, "gidMappings": map}),
        );
        assert!(matches!(
            requests(&s).unwrap()[0].mapping,
            Mapping::Ranges { .. }
        ));
    }
}
