//! Device nodes and the standard /dev links. Nodes are made with mknodat relative to the fd of
//! the container's /dev; where mknod is not allowed (a user namespace) the host's node is
//! bind mounted instead, as runc does.

use super::resolve;
use crate::error::{Ctx, Error, Result};
use crate::sys;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

pub struct Node {
    pub path: PathBuf,
    pub kind: libc::mode_t,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (runtime-spec "Default Devices").
pub fn defaults() -> Vec<Node> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|&(n, maj, min)| Node {
        path: PathBuf::from("/dev").join(n),
        kind: libc::S_IFCHR,
        major: maj,
        minor: min,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

pub fn from_spec(d: &LinuxDevice, index: usize) -> Result<Node> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::Config(format!(
                "linux.devices[{index}]: type \"a\" is not a device node type"
            )))
        }
    };
    if !d.path().starts_with("/dev") {
        return Err(Error::Config(format!(
            "linux.devices[{index}].path {:?} is not under /dev",
            d.path()
        )));
    }
    Ok(Node {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

pub fn create(root: RawFd, node: &Node, bind_only: bool) -> Result<()> {
    let parent = resolve::mkdir_all(root, node.path.parent().unwrap_or(Path::new("/dev")))?;
    let name = node
        .path
        .file_name()
        .ok_or_else(|| Error::Config(format!("device path {:?}", node.path)))?;
    let cname = sys::cstr(name)?;
    if !bind_only {
        let dev = libc::makedev(node.major as u32, node.minor as u32);
        // SAFETY: `parent` is an open directory fd; mknodat never follows a final symlink.
        let r = unsafe {
            libc::mknodat(
                parent.as_raw_fd(),
                cname.as_ptr(),
                node.kind | node.mode,
                dev,
            )
        };
        let err = std::io::Error::last_os_error();
        if r == 0 {
            // SAFETY: fchownat with AT_SYMLINK_NOFOLLOW on the node just created.
            let r = unsafe {
                libc::fchownat(
                    parent.as_raw_fd(),
                    cname.as_ptr(),
                    node.uid,
                    node.gid,
                    libc::AT_SYMLINK_NOFOLLOW,
                )
            };
            if r != 0 {
                return Err(std::io::Error::last_os_error())
                    .ctx("chown device", node.path.display());
            }
            // Init runs with umask 0 while it builds the rootfs, so the spec's mode is exact.
            return Ok(());
        }
        match err.raw_os_error() {
            Some(libc::EEXIST) => return Ok(()),
            Some(libc::EPERM) => {}
            _ => return Err(err).ctx("mknod", node.path.display()),
        }
    }
    // Bind the host's node (user namespaces cannot mknod).
    let target = resolve::ensure_file(root, &node.path)?;
    let tree = sys::open_tree(libc::AT_FDCWD, &node.path, sys::OPEN_TREE_CLONE)
        .ctx("bind device", node.path.display())?;
    sys::move_mount_fd(&tree, target.as_raw_fd()).ctx("bind device onto", node.path.display())
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx (and /dev/core where the host has /proc/kcore).
pub fn links(root: RawFd) -> Result<()> {
    let dev = resolve::mkdir_all(root, Path::new("/dev"))?;
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        symlink(dev.as_raw_fd(), target, name)?;
    }
    // /dev/ptmx must be the container's devpts instance's ptmx, never a host node.
    let n = sys::cstr("ptmx")?;
    // SAFETY: unlinkat on a single name in an open directory fd.
    unsafe { libc::unlinkat(dev.as_raw_fd(), n.as_ptr(), 0) };
    symlink(dev.as_raw_fd(), "pts/ptmx", "ptmx")
}

fn symlink(dir: RawFd, target: &str, name: &str) -> Result<()> {
    let (t, n) = (sys::cstr(target)?, sys::cstr(name)?);
    // SAFETY: valid strings and an open directory fd.
    if unsafe { libc::symlinkat(t.as_ptr(), dir, n.as_ptr()) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e).ctx("symlink", format!("/dev/{name}"));
        }
    }
    Ok(())
}
