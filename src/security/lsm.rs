//! AppArmor profiles and SELinux labels, applied as runc applies them: the container process
//! asks the kernel to switch it to the profile/label at its next execve (AppArmor's
//! `change_onexec`, SELinux's `setexeccon`), by writing its own `/proc/thread-self/attr/...`.
//! Nothing before that execve runs confined, so the write can come after every privileged
//! setup step; and no execve may come between the write and the container's program except
//! the startContainer hooks, which run in the container and are confined as under runc.
//!
//! A host without the LSM gets a clear error naming what was asked (as runc and podman do):
//! silently running unconfined is the one thing a user who asked for a profile must never
//! get. The only exception is AppArmor's `unconfined` on a host without AppArmor, which is
//! exactly what the process gets anyway (podman passes it through the same way).

use crate::error::{Ctx, Error, Result};
use crate::sys;
use oci_spec::runtime::Process;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

const APPARMOR_PARAM: &str = "/sys/module/apparmor/parameters/enabled";
const APPARMOR_FS: &str = "/sys/kernel/security/apparmor";
const SELINUX_FS: &str = "/sys/fs/selinux";
/// statfs(2) f_type of selinuxfs.
const SELINUX_MAGIC: i64 = 0xf97c_ff8c;
/// What one write to a procfs attr file may carry (a page).
const MAX_LABEL: usize = 4000;

/// AppArmor is built in, switched on, and its securityfs is mounted (where the profiles are
/// loaded): the same test as runc's `apparmor.IsEnabled`.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string(APPARMOR_PARAM).is_ok_and(|s| s.starts_with('Y'))
        && Path::new(APPARMOR_FS).is_dir()
}

/// SELinux is enabled: selinuxfs is mounted at /sys/fs/selinux (checked by its magic, not just
/// by a path existing) and has its `enforce` node. Permissive mode counts as enabled.
pub fn selinux_enabled() -> bool {
    let Ok(fd) = sys::openat(
        libc::AT_FDCWD,
        Path::new(SELINUX_FS),
        libc::O_PATH | libc::O_DIRECTORY,
        0,
    ) else {
        return false;
    };
    sys::fstatfs_type(fd.as_raw_fd()).is_ok_and(|t| t == SELINUX_MAGIC)
        && Path::new(SELINUX_FS).join("enforce").exists()
}

/// A profile name or label must fit one attr write and carry no line break or NUL: the kernel
/// reads the write as one command, and a newline would end it early.
fn check_text(value: &str, field: &str) -> Result<()> {
    if value.len() > MAX_LABEL || value.chars().any(|c| c.is_control()) || value.trim() != value {
        return Err(Error::Config(format!(
            "{field} {value:?}: not a valid name (control characters, surrounding blanks or over {MAX_LABEL} bytes)"
        )));
    }
    Ok(())
}

/// The AppArmor profile to switch to, checked against the host. `None` when nothing is to be
/// written.
pub fn apparmor_profile(profile: Option<&str>, field: &str) -> Result<Option<String>> {
    let Some(p) = profile.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    check_text(p, field)?;
    if apparmor_enabled() {
        Ok(Some(p.to_string()))
    } else if p == "unconfined" {
        Ok(None)
    } else {
        Err(Error::Config(format!(
            "{field} {p:?}: AppArmor is not enabled on this host"
        )))
    }
}

/// The SELinux process label, checked against the host.
pub fn selinux_label(label: Option<&str>, field: &str) -> Result<Option<String>> {
    let Some(l) = label.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    check_text(l, field)?;
    if selinux_enabled() {
        Ok(Some(l.to_string()))
    } else {
        Err(Error::Config(format!(
            "{field} {l:?}: SELinux is not enabled on this host"
        )))
    }
}

/// The labels a container process switches to at its execve, decided on the host (where
/// /sys is the host's) before anything is created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecLabels {
    pub apparmor: Option<String>,
    pub selinux: Option<String>,
}

impl ExecLabels {
    /// `process.apparmorProfile` and `process.selinuxLabel`; an error if the host lacks the LSM.
    pub fn of(process: &Process) -> Result<ExecLabels> {
        Ok(ExecLabels {
            apparmor: apparmor_profile(
                process.apparmor_profile().as_deref(),
                "process.apparmorProfile",
            )?,
            selinux: selinux_label(process.selinux_label().as_deref(), "process.selinuxLabel")?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.apparmor.is_none() && self.selinux.is_none()
    }

    /// Request the switch at the next execve. `proc` is a verified procfs (see
    /// `security::procfs`) in which the calling thread is visible. Must run in the process
    /// that will exec, with the credentials it has when it writes (the kernel refuses a write
    /// through an attr file opened under other credentials).
    pub fn apply(&self, proc: &OwnedFd) -> Result<()> {
        if let Some(p) = &self.apparmor {
            // attr/apparmor/ (Linux 5.8+) is AppArmor's own whatever LSM stacking does to the
            // shared attr/exec; older kernels only have the shared one.
            write_attr(
                proc,
                &["apparmor/exec", "exec"],
                apparmor_request(p).as_bytes(),
                &format!("AppArmor profile {p:?} (process.apparmorProfile)"),
            )?;
        }
        if let Some(l) = &self.selinux {
            write_attr(
                proc,
                &["exec"],
                l.as_bytes(),
                &format!("SELinux label {l:?} (process.selinuxLabel)"),
            )?;
        }
        Ok(())
    }
}

/// AppArmor's procattr command for a profile change at the next exec.
fn apparmor_request(profile: &str) -> String {
    format!("exec {profile}")
}

/// The attr files to try, best first: the calling thread's own (a thread's LSM attributes are
/// per thread), then the process's for kernels before 3.17 (hull is single-threaded there).
fn attr_paths(names: &[&str]) -> Vec<String> {
    ["thread-self", "self"]
        .iter()
        .flat_map(|who| names.iter().map(move |n| format!("{who}/attr/{n}")))
        .collect()
}

fn write_attr(proc: &OwnedFd, names: &[&str], data: &[u8], what: &str) -> Result<()> {
    let paths = attr_paths(names);
    // Beneath the procfs root, on that one mount, and no magic links: `thread-self` is an
    // ordinary symlink within procfs, `/proc/<pid>/root`-style jumps are refused.
    let resolve = sys::RESOLVE_BENEATH | sys::RESOLVE_NO_XDEV | sys::RESOLVE_NO_MAGICLINKS;
    for (i, rel) in paths.iter().enumerate() {
        let fd = match sys::openat2(
            proc.as_raw_fd(),
            Path::new(rel),
            libc::O_WRONLY | libc::O_CLOEXEC,
            0,
            resolve,
        ) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && i + 1 < paths.len() => continue,
            Err(e) => return Err(e).ctx("open", format!("/proc/{rel} for {what}")),
        };
        return match nix::unistd::write(&fd, data) {
            Ok(n) if n == data.len() => Ok(()),
            Ok(n) => Err(Error::msg(format!(
                "write /proc/{rel} for {what}: short write ({n} of {} bytes)",
                data.len()
            ))),
            Err(e) => Err(explain(e, what, rel)),
        };
    }
    Err(Error::msg(format!("no attr file in /proc for {what}")))
}

/// The kernel's answers, in words: ENOENT from AppArmor means the profile is not loaded,
/// EINVAL from SELinux that the label is not valid in the loaded policy.
fn explain(e: nix::errno::Errno, what: &str, rel: &str) -> Error {
    let why = match e {
        nix::errno::Errno::ENOENT => ": no such profile is loaded",
        nix::errno::Errno::EINVAL => ": the kernel refused it as invalid",
        nix::errno::Errno::EACCES | nix::errno::Errno::EPERM => ": permission denied by the LSM",
        _ => "",
    };
    Error::sys(
        "apply",
        format!("{what}{why} (write to /proc/{rel})"),
        std::io::Error::from_raw_os_error(e as i32),
    )
}

/// The mount option that labels a new filesystem's files with `linux.mountLabel`, for the
/// filesystems runc labels this way (tmpfs, devpts, and others without their own labelling):
/// not bind mounts (their files keep their labels), not proc/sysfs/cgroup (the kernel labels
/// those by policy) and not mqueue (it takes no context option; labelled by xattr instead).
/// Given to fsconfig as key and value, so a label with MCS categories (`s0:c1,c2`) needs no
/// quoting.
pub fn mount_context(fstype: &str, label: &str) -> Option<String> {
    match fstype {
        "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue" | "bind" | "" | "none" => None,
        _ => Some(format!("context={label}")),
    }
}

/// `linux.mountLabel` when it is to be applied: SELinux enabled on this host. Without SELinux
/// the label means nothing and runc ignores it too (it never confines anything by itself; the
/// process label is what is refused above).
pub fn mount_label(label: Option<&str>) -> Result<Option<String>> {
    let Some(l) = label.filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    check_text(l, "linux.mountLabel")?;
    Ok(selinux_enabled().then(|| l.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_request_is_change_onexec() {
        assert_eq!(apparmor_request("docker-default"), "exec docker-default");
    }

    #[test]
    fn attr_paths_prefer_thread_then_own_dir() {
        assert_eq!(
            attr_paths(&["apparmor/exec", "exec"]),
            [
                "thread-self/attr/apparmor/exec",
                "thread-self/attr/exec",
                "self/attr/apparmor/exec",
                "self/attr/exec"
            ]
        );
    }

    #[test]
    fn names_with_line_breaks_are_refused() {
        for bad in ["a\nb", "a\0", " x", "x ", "p\tq"] {
            assert!(check_text(bad, "f").is_err(), "{bad:?}");
        }
        assert!(check_text(&"x".repeat(MAX_LABEL + 1), "f").is_err());
        for good in [
            "docker-default",
            "/usr/bin/foo",
            "system_u:system_r:container_t:s0:c1,c2",
        ] {
            check_text(good, "f").unwrap();
        }
    }

    #[test]
    fn host_without_the_lsm_refuses_by_name() {
        if !apparmor_enabled() {
            let e = apparmor_profile(Some("my-prof"), "process.apparmorProfile")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("\"my-prof\"") && e.contains("AppArmor is not enabled"),
                "{e}"
            );
            // What the process gets anyway.
            assert_eq!(apparmor_profile(Some("unconfined"), "f").unwrap(), None);
        }
        if !selinux_enabled() {
            let e = selinux_label(Some("system_u:system_r:container_t:s0"), "--process-label")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("--process-label") && e.contains("SELinux is not enabled"),
                "{e}"
            );
            assert_eq!(
                mount_label(Some("system_u:object_r:container_file_t:s0")).unwrap(),
                None
            );
        }
        assert_eq!(apparmor_profile(Some(""), "f").unwrap(), None);
        assert_eq!(selinux_label(None, "f").unwrap(), None);
    }

    #[test]
    fn mount_context_only_where_runc_labels() {
        let l = "system_u:object_r:container_file_t:s0:c1,c2";
        assert_eq!(
            mount_context("tmpfs", l).as_deref(),
            Some("context=system_u:object_r:container_file_t:s0:c1,c2")
        );
        assert!(mount_context("devpts", l).is_some());
        for t in ["proc", "sysfs", "cgroup", "cgroup2", "mqueue", "bind"] {
            assert_eq!(mount_context(t, l), None, "{t}");
        }
    }

    #[test]
    fn apply_with_nothing_asked_writes_nothing() {
        let proc = sys::openat(
            libc::AT_FDCWD,
            Path::new("/proc"),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .unwrap();
        ExecLabels::default().apply(&proc).unwrap();
    }
}
