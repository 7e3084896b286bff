//! A `cgroup` mount inside the container. On cgroup v2 it is one cgroup2 mount; on v1 and
//! hybrid hosts it is a tmpfs holding one mount per hierarchy, as runc lays it out. Init is in
//! its cgroups by now: with its own cgroup namespace a new mount shows the container's cgroup as
//! its root; without one (podman and docker on v1 hosts) that would be the host's whole
//! hierarchy, so the container's own cgroup directory is bind-mounted instead, as runc does.

use super::mounts::{new_fs, set_attrs};
use super::options::MountOptions;
use super::resolve;
use crate::error::{Ctx, Result};
use crate::sys;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

pub fn mount(root: RawFd, dest: &Path, fstype: &str, o: &MountOptions) -> Result<()> {
    let hier = crate::cgroups::hierarchies()?;
    let pure_v2 = hier.iter().all(|h| h.key.is_empty());
    let fs_opts = MountOptions {
        data: vec![],
        sb_flags: vec![],
        ..o.clone()
    };
    let top = resolve::mkdir_all(root, dest)?;
    if fstype == "cgroup2" || pure_v2 {
        let mnt = new_fs("cgroup2", Some("cgroup"), &fs_opts)?;
        sys::move_mount_fd(&mnt, top.as_raw_fd()).ctx("mount cgroup2 onto", dest.display())?;
        return Ok(());
    }
    let tmpfs_opts = MountOptions {
        set: 0,
        data: vec!["mode=755".into()],
        ..Default::default()
    };
    let tmp = new_fs("tmpfs", Some("tmpfs"), &tmpfs_opts)?;
    let own = crate::cgroups::own_cgroups()?;
    sys::move_mount_fd(&tmp, top.as_raw_fd()).ctx("mount tmpfs onto", dest.display())?;
    for h in &hier {
        let (name, fs, data): (&str, &str, Vec<String>) = if h.key.is_empty() {
            ("unified", "cgroup2", vec![])
        } else {
            let name = h.key.strip_prefix("name=").unwrap_or(&h.key);
            (name, "cgroup", h.key.split(',').map(String::from).collect())
        };
        let sub = resolve::mkdir_all(root, &dest.join(name))?;
        let opts = MountOptions {
            data,
            ..fs_opts.clone()
        };
        // Outside a cgroup namespace /proc/self/cgroup shows the container's full path.
        let host_dir = own
            .get(&h.key)
            .filter(|p| p.as_path() != Path::new("/"))
            .map(|p| h.mountpoint.join(p.strip_prefix("/").unwrap_or(p)));
        let mnt = match host_dir {
            Some(dir) => {
                let t = sys::open_tree(libc::AT_FDCWD, &dir, sys::OPEN_TREE_CLONE)
                    .ctx("bind cgroup", dir.display())?;
                let attrs = MountOptions {
                    set: opts.set,
                    clear: opts.clear,
                    ..Default::default()
                };
                set_attrs(t.as_raw_fd(), &attrs, &dest.join(name))?;
                t
            }
            None => new_fs(fs, Some("cgroup"), &opts)?,
        };
        sys::move_mount_fd(&mnt, sub.as_raw_fd())
            .ctx("mount cgroup onto", dest.join(name).display())?;
        // Controllers that share a hierarchy get runc's compatibility links (cpu -> cpu,cpuacct).
        if h.key.contains(',') && !h.key.contains('=') {
            for ctrl in h.key.split(',') {
                let link = sys::cstr(ctrl)?;
                let target = sys::cstr(name)?;
                // SAFETY: valid strings and an open directory fd.
                unsafe { libc::symlinkat(target.as_ptr(), top.as_raw_fd(), link.as_ptr()) };
            }
        }
    }
    // The tmpfs itself gets the entry's flags (usually ro) once everything is in place.
    let mut attrs = o.clone();
    attrs.propagation.clear();
    let tmp_root = resolve::open(root, dest, libc::O_PATH).ctx("open", dest.display())?;
    set_attrs(tmp_root.as_raw_fd(), &attrs, dest)?;
    set_attrs(
        tmp.as_raw_fd(),
        &MountOptions {
            propagation: o.propagation.clone(),
            ..Default::default()
        },
        dest,
    )
}
