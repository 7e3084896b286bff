//! Writing a new user namespace's uid/gid maps from the parent while init waits.

use crate::error::{Ctx, Result};
use oci_spec::runtime::{LinuxIdMapping, Spec};

fn format(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub fn write(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let uids = linux.uid_mappings().clone().unwrap_or_default();
    let gids = linux.gid_mappings().clone().unwrap_or_default();
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // Without privilege over the parent namespace the kernel only accepts a gid map once
        // setgroups is denied.
        let p = format!("/proc/{pid}/setgroups");
        std::fs::write(&p, "deny").ctx("write", &p)?;
    }
    if !uids.is_empty() {
        let p = format!("/proc/{pid}/uid_map");
        std::fs::write(&p, format(&uids)).ctx("write", format!("{p} (linux.uidMappings)"))?;
    }
    if !gids.is_empty() {
        let p = format!("/proc/{pid}/gid_map");
        std::fs::write(&p, format(&gids)).ctx("write", format!("{p} (linux.gidMappings)"))?;
    }
    Ok(())
}
