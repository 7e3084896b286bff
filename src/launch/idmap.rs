//! Writing a new user namespace's uid/gid maps from the parent while init waits. Root writes
//! the files itself; an unprivileged caller (rootless) can only map its own ids that way, and
//! goes through the setuid helpers newuidmap/newgidmap (Debian's uidmap package) for more.

use crate::error::{Ctx, Error, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};
use std::process::Command;

use crate::rootfs::userns_fd::format;

fn only_own(maps: &[LinuxIdMapping], own: u32) -> bool {
    maps.len() == 1 && maps[0].size() == 1 && maps[0].host_id() == own
}

fn helper(tool: &str, pid: i32, maps: &[LinuxIdMapping], field: &str) -> Result<()> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd.output().map_err(|e| {
        Error::Config(format!(
            "{field} maps more than your own id, which needs {tool} (the uidmap package): {e}"
        ))
    })?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "{tool} {pid} ({field}): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub fn write(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let uids = linux.uid_mappings().clone().unwrap_or_default();
    let gids = linux.gid_mappings().clone().unwrap_or_default();
    // SAFETY: geteuid/getegid cannot fail.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if !uids.is_empty() {
        if euid == 0 || only_own(&uids, euid) {
            let p = format!("/proc/{pid}/uid_map");
            std::fs::write(&p, format(&uids)).ctx("write", format!("{p} (linux.uidMappings)"))?;
        } else {
            helper("newuidmap", pid, &uids, "linux.uidMappings")?;
        }
    }
    if !gids.is_empty() {
        if euid == 0 {
            let p = format!("/proc/{pid}/gid_map");
            std::fs::write(&p, format(&gids)).ctx("write", format!("{p} (linux.gidMappings)"))?;
        } else if only_own(&gids, egid) {
            // Without privilege over the parent namespace the kernel only accepts our own gid,
            // and only once setgroups is denied.
            let p = format!("/proc/{pid}/setgroups");
            std::fs::write(&p, "deny").ctx("write", &p)?;
            let p = format!("/proc/{pid}/gid_map");
            std::fs::write(&p, format(&gids)).ctx("write", format!("{p} (linux.gidMappings)"))?;
        } else {
            helper("newgidmap", pid, &gids, "linux.gidMappings")?;
        }
    }
    Ok(())
}
