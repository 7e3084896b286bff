//! Switching to the container user. Supplementary groups are always set (to additionalGids, or
//! none), so no host group leaks into the container.

use crate::error::{Ctx, Result};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::User;

/// `setgroups_allowed` is false in a user namespace whose setgroups is denied (rootless).
pub fn switch(user: &User, setgroups_allowed: bool) -> Result<()> {
    if setgroups_allowed {
        let gids: Vec<Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|&g| Gid::from_raw(g))
            .collect();
        setgroups(&gids).ctx("setgroups", format!("{:?}", user.additional_gids()))?;
    }
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).ctx("setresgid", user.gid())?;
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).ctx("setresuid", user.uid())
}

/// HOME for the container user when the spec's env has none, from the container's own
/// /etc/passwd (read after pivot_root), falling back to "/" as runc does.
pub fn home_of(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
            })
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}
