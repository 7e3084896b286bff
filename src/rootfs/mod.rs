//! Building the container's filesystem view inside its new mount namespace: propagation, the
//! rootfs bind, every `mounts` entry, devices and /dev links, then (after the console is set
//! up) pivot_root and the masked/read-only paths.

pub mod cgroupfs;
pub mod copyup;
pub mod devices;
pub mod idmapped;
pub mod mounts;
pub mod options;
pub mod paths;
pub mod pivot;
pub mod resolve;
pub mod userns_fd;

use crate::error::{Ctx, Error, Result};
use crate::sys;
use oci_spec::runtime::Spec;
use std::os::fd::OwnedFd;
use std::path::Path;

pub fn propagation_flag(name: &str) -> Option<u64> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

fn root_propagation(spec: &Spec) -> u64 {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation_flag)
        .unwrap_or(libc::MS_SLAVE | libc::MS_REC)
}

/// Everything before the console and pivot_root. Returns an fd of the rootfs mount.
/// `idmapped` holds the trees the parent made for idmapped mounts; each is attached (and its
/// fd closed) as its mount comes up. `mount_label`: `linux.mountLabel` when SELinux is enabled
/// (see `security::lsm`).
pub fn prepare(
    spec: &Spec,
    rootfs: &Path,
    in_userns: bool,
    idmapped: &mut idmapped::Trees,
    mount_label: Option<&str>,
) -> Result<OwnedFd> {
    // Nothing we mount may propagate back to the host: everything becomes a slave first.
    // rootfsPropagation is applied to the container's own root after pivot_root (see
    // `enter`): applied here, shared would make pivot_root fail and unbindable would refuse
    // the rootfs bind below.
    sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_SLAVE | libc::MS_REC,
        None,
    )
    .ctx("set propagation of", "/")?;
    sys::mount(
        Some(rootfs),
        rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .ctx("bind rootfs onto itself", rootfs.display())?;
    let root = sys::openat2(
        libc::AT_FDCWD,
        rootfs,
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        0,
    )
    .ctx("open rootfs", rootfs.display())?;
    let root_raw = std::os::fd::AsRawFd::as_raw_fd(&root);
    // A rootfs whose /proc is a symlink could redirect the procfs mount, and with it every
    // later write to /proc (CVE-2019-16884, CVE-2019-19921): refuse it.
    if let Ok(fd) = sys::openat(
        root_raw,
        Path::new("proc"),
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    ) {
        let st = sys::fstat(std::os::fd::AsRawFd::as_raw_fd(&fd)).ctx("stat", "/proc")?;
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return Err(Error::msg(format!(
                "rootfs {}: /proc is a symlink; refusing to use it",
                rootfs.display()
            )));
        }
    }
    let mut dev_is_bind = false;
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        mounts::mount_entry(root_raw, m, i, idmapped.take(i), mount_label)?;
        if m.destination() == Path::new("/dev") {
            let o = options::parse(m.options().as_deref().unwrap_or(&[]))?;
            dev_is_bind = mounts::is_bind(m, &o);
        }
    }
    if !dev_is_bind {
        for node in devices::defaults() {
            devices::create(root_raw, &node, in_userns)?;
        }
        for (i, d) in spec
            .linux()
            .iter()
            .flat_map(|l| l.devices().iter().flatten())
            .enumerate()
        {
            devices::create(root_raw, &devices::from_spec(d, i)?, in_userns)?;
        }
        devices::links(root_raw)?;
    }
    Ok(root)
}

/// pivot_root (or MS_MOVE + chroot) and everything that must happen on the final root.
/// `park`: detached mounts init holds, to be unmounted with the old root (see `pivot::pivot`).
pub fn enter(spec: &Spec, rootfs: &Path, no_pivot: bool, park: &[pivot::Park]) -> Result<()> {
    if no_pivot {
        pivot::move_root(rootfs)?;
    } else {
        pivot::pivot(rootfs, park)?;
    }
    let prop = root_propagation(spec);
    if prop != libc::MS_SLAVE | libc::MS_REC {
        sys::mount(None, Path::new("/"), None, prop, None).ctx("set rootfsPropagation of", "/")?;
    }
    Ok(())
}

pub fn finalize(spec: &Spec, mount_label: Option<&str>) -> Result<()> {
    if let Some(l) = spec.linux() {
        paths::mask(l.masked_paths().as_deref().unwrap_or(&[]), mount_label)?;
        paths::readonly(l.readonly_paths().as_deref().unwrap_or(&[]))?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        paths::root_readonly()?;
    }
    Ok(())
}
