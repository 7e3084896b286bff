//! A user namespace that exists only to carry id maps: mount_setattr(MOUNT_ATTR_IDMAP) takes
//! the mapping of an idmapped mount from a user namespace fd, and the kernel offers no way to
//! make one without a process in it. So a throwaway child is cloned into a new user
//! namespace, its maps are written, its /proc/PID/ns/user is opened, and it is killed and
//! reaped; the open fd keeps the namespace alive for as long as it is needed.

use crate::error::{Ctx, Error, Result};
use crate::sys;
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Kills and reaps the helper however the parent leaves `with_maps`: no process outlives it.
struct Helper {
    pid: libc::pid_t,
}

impl Drop for Helper {
    fn drop(&mut self) {
        // SAFETY: `pid` is our own child and not yet reaped, so the number cannot be reused.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            while libc::waitpid(self.pid, std::ptr::null_mut(), 0) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
        }
    }
}

/// The helper's whole life: wait for end-of-file on the pipe (the parent kills it before
/// that, or died, in which case the child must not linger), then exit. Only raw system calls:
/// this runs in a fork of a process that may hold locks it can no longer release.
fn helper_main(wait_fd: i32) -> ! {
    // SAFETY: plain system calls on fds this copy of the process owns. Everything but the
    // pipe is closed first, so the helper holds no state-dir lock, socket or tree of ours.
    unsafe {
        if wait_fd > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, (wait_fd - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (wait_fd + 1) as u32, u32::MAX, 0u32);
        let mut b = 0u8;
        libc::read(wait_fd, &mut b as *mut u8 as *mut libc::c_void, 1);
        libc::_exit(0)
    }
}

/// A user namespace fd whose uid_map and gid_map are `uids` and `gids`. `what` names the
/// mappings in errors (`mounts[2].uidMappings`).
pub fn with_maps(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping], what: &str) -> Result<OwnedFd> {
    let (wait_rd, wait_wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx("pipe", "user namespace helper")?;
    let mut args = sys::CloneArgs {
        flags: sys::CLONE_NEWUSER,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: create is single-threaded (require_single_thread), and the child runs only
    // `helper_main`, which never returns.
    let pid =
        unsafe { sys::clone3(&mut args) }.ctx("clone3", "user namespace for an idmapped mount")?;
    if pid == 0 {
        helper_main(wait_rd.as_raw_fd());
    }
    let helper = Helper { pid };
    drop(wait_rd);
    // Root writes both maps directly; no setgroups=deny is needed with CAP_SETGID in the
    // parent namespace, and none is wanted (it would be irrelevant to a mount's mapping).
    let uid_map = format!("/proc/{pid}/uid_map");
    std::fs::write(&uid_map, format(uids))
        .ctx("write", format!("{uid_map} ({what} uidMappings)"))?;
    let gid_map = format!("/proc/{pid}/gid_map");
    std::fs::write(&gid_map, format(gids))
        .ctx("write", format!("{gid_map} ({what} gidMappings)"))?;
    let ns = format!("/proc/{pid}/ns/user");
    let fd = sys::openat(libc::AT_FDCWD, Path::new(&ns), libc::O_RDONLY, 0).ctx("open", &ns)?;
    drop(helper);
    drop(wait_wr);
    Ok(fd)
}

/// The kernel's map format: one `inside outside count` line per range, written in one go.
pub fn format(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Checks the kernel would make when the map is written, done first so the error names the
/// config field: proc(5) user_namespaces "Defining user and group ID mappings".
pub fn validate(maps: &[LinuxIdMapping], field: &str) -> Result<()> {
    let bad = |m: String| Err(Error::Config(format!("{field}: {m}")));
    if maps.is_empty() {
        return bad("is empty (an idmapped mount needs at least one range)".into());
    }
    // The kernel's limit on ranges per map (since Linux 4.15), and a map is one write of less
    // than a page.
    if maps.len() > 340 {
        return bad(format!(
            "{} ranges; the kernel accepts at most 340",
            maps.len()
        ));
    }
    if format(maps).len() >= 4096 {
        return bad("is longer than the kernel accepts (one page)".into());
    }
    for (i, m) in maps.iter().enumerate() {
        let (c, h, n) = (m.container_id() as u64, m.host_id() as u64, m.size() as u64);
        if n == 0 {
            return bad(format!("[{i}] has size 0"));
        }
        // 4294967295 is (uid_t)-1, "no id": no range may reach it.
        if c + n > u32::MAX as u64 || h + n > u32::MAX as u64 {
            return bad(format!(
                "[{i}] ({c} {h} {n}) runs past the largest id 4294967294"
            ));
        }
        for (j, o) in maps.iter().enumerate().take(i) {
            let (oc, oh, on) = (o.container_id() as u64, o.host_id() as u64, o.size() as u64);
            if c < oc + on && oc < c + n {
                return bad(format!("[{i}] and [{j}] overlap in containerID"));
            }
            if h < oh + on && oh < h + n {
                return bad(format!("[{i}] and [{j}] overlap in hostID"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    fn m(c: u32, h: u32, n: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(n)
            .build()
            .unwrap()
    }

    #[test]
    fn validation() {
        assert!(validate(&[m(0, 1000, 1)], "x").is_ok());
        assert!(validate(&[m(0, 100000, 65536), m(65536, 0, 1)], "x").is_ok());
        let err = |v: &[LinuxIdMapping]| {
            validate(v, "mounts[0].uidMappings")
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[]).contains("mounts[0].uidMappings: is empty"));
        assert!(err(&[m(0, 1, 0)]).contains("size 0"));
        assert!(err(&[m(0, 10, 5), m(4, 100, 1)]).contains("overlap in containerID"));
        assert!(err(&[m(0, 10, 5), m(100, 14, 1)]).contains("overlap in hostID"));
        assert!(err(&[m(u32::MAX - 1, 0, 2)]).contains("runs past"));
        let many: Vec<_> = (0..341).map(|i| m(i, i, 1)).collect();
        assert!(err(&many).contains("at most 340"));
    }
}
