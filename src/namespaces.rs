//! Which namespaces a container gets: created at clone time, unshared by init, or joined by
//! path with setns.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::fs::File;
use std::path::PathBuf;

pub struct Plan {
    /// CLONE_NEW* flags for clone3.
    pub clone_flags: u64,
    /// A new cgroup namespace is unshared by init after the parent moved it into its cgroup,
    /// so the namespace's root is the container's cgroup, not hull's.
    pub unshare_cgroup: bool,
    /// Namespaces joined by path, opened by the parent before clone (so a bad path is an error
    /// naming it, before anything exists). The user namespace comes first.
    pub join: Vec<(LinuxNamespaceType, PathBuf, File)>,
    /// pid and time namespaces given by path, entered by the parent for its children only.
    pub parent_join: Vec<(LinuxNamespaceType, PathBuf, File)>,
    pub new_user: bool,
    pub has_mount: bool,
    pub has_uts: bool,
    pub in_userns: bool,
}

pub fn plan(spec: &Spec) -> Result<Plan> {
    let mut p = Plan {
        clone_flags: 0,
        unshare_cgroup: false,
        join: vec![],
        parent_join: vec![],
        new_user: false,
        has_mount: false,
        has_uts: false,
        in_userns: false,
    };
    let nss = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for (i, ns) in nss.iter().enumerate() {
        let t = ns.typ();
        match t {
            LinuxNamespaceType::Mount => p.has_mount = true,
            LinuxNamespaceType::Uts => p.has_uts = true,
            LinuxNamespaceType::User => p.in_userns = true,
            _ => {}
        }
        match ns.path() {
            Some(path) => {
                let f = File::open(path).map_err(|e| {
                    Error::Config(format!(
                        "linux.namespaces[{i}] ({t}): open {}: {e}",
                        path.display()
                    ))
                })?;
                // The file must be a namespace of the declared type: joining, say, an ipc
                // namespace where a network one was asked for must not pass silently.
                const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
                // SAFETY: an ioctl that only queries the open file.
                let kind =
                    unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(&f), NS_GET_NSTYPE) };
                if kind < 0 || kind as u64 != t as u64 {
                    return Err(Error::Config(format!(
                        "linux.namespaces[{i}]: {} is not a {t} namespace",
                        path.display()
                    )));
                }
                let entry = (t, path.clone(), f);
                match t {
                    LinuxNamespaceType::Pid | LinuxNamespaceType::Time => p.parent_join.push(entry),
                    LinuxNamespaceType::User => p.join.insert(0, entry),
                    _ => p.join.push(entry),
                }
            }
            None => match t {
                LinuxNamespaceType::Cgroup => p.unshare_cgroup = true,
                LinuxNamespaceType::User => {
                    p.new_user = true;
                    p.clone_flags |= t as u64;
                }
                _ => p.clone_flags |= t as u64,
            },
        }
    }
    let joins_user = p
        .join
        .first()
        .is_some_and(|(t, ..)| *t == LinuxNamespaceType::User);
    if joins_user && p.clone_flags != 0 {
        return Err(Error::Config(
            "joining a user namespace by path together with new namespaces is not supported by this build of hull".into(),
        ));
    }
    Ok(p)
}
