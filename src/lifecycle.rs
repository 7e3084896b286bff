//! `kill`, `delete`, `state` and `list`: operations on containers that already exist.

use crate::error::{Ctx, Error, Result};
use crate::state::{self, Container, OciState, Status};
use crate::{cgroups, sys, Runtime};
use std::fs;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

pub fn state(rt: &Runtime, id: &str) -> Result<OciState> {
    Ok(Container::load(&rt.root, id)?.oci_state())
}

pub fn list(rt: &Runtime) -> Result<Vec<OciState>> {
    let mut out = Vec::new();
    for id in state::list_ids(&rt.root)? {
        // A container deleted while we list is simply not listed.
        if let Ok(c) = Container::load(&rt.root, &id) {
            out.push(c.oci_state());
        }
    }
    Ok(out)
}

/// Signal init through a pidfd opened after checking the pid still belongs to it, so a pid
/// recycled since the container exited is never signalled.
fn signal_init(c: &Container, sig: i32) -> Result<()> {
    let pid = c.saved.pid;
    let fd = sys::pidfd_open(pid).ctx("pidfd_open", pid)?;
    if !c.alive() {
        return Err(Error::NotRunning(c.saved.id.clone()));
    }
    sys::pidfd_send_signal(&fd, sig).ctx("kill", format!("container {} (pid {pid})", c.saved.id))
}

fn signal_all(c: &Container, sig: i32) {
    for pid in cgroups::pids(&c.saved.cgroups) {
        // SAFETY: kill with plain integers; a pid that left meanwhile gives ESRCH, ignored.
        unsafe { libc::kill(pid, sig) };
    }
    // A container sharing the host's pid namespace has init outside any cgroup we read only
    // if cgroup files are unreadable; signal it directly too.
    let _ = signal_init(c, sig);
}

pub fn kill(rt: &Runtime, id: &str, sig: i32, all: bool) -> Result<()> {
    let c = Container::load(&rt.root, id)?;
    match c.status() {
        Status::Stopped => return Err(Error::NotRunning(id.into())),
        Status::Paused if !all => {}
        _ => {}
    }
    if all {
        signal_all(&c, sig);
        Ok(())
    } else {
        signal_init(&c, sig)
    }
}

/// Wait until init has exited (it is not our child: watch it through a pidfd).
fn wait_gone(c: &Container, timeout: Duration) -> bool {
    let Ok(fd) = sys::pidfd_open(c.saved.pid) else {
        return true;
    };
    let deadline = Instant::now() + timeout;
    while c.alive() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut p, 1, left.as_millis().min(100) as i32) };
    }
    true
}

fn destroy(c: &Container) -> Result<()> {
    // Whatever is left in the cgroup (a container sharing the host pid namespace can leave
    // processes behind its init) goes too: delete leaves nothing running.
    let left = cgroups::pids(&c.saved.cgroups);
    if !left.is_empty() {
        for &pid in &left {
            // SAFETY: plain kill.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    if cgroups::is_frozen(&c.saved.cgroups) {
        cgroups::thaw(&c.saved.cgroups);
    }
    cgroups::remove(&c.saved.cgroups)?;
    fs::remove_dir_all(&c.dir).ctx("remove state dir", c.dir.display())
}

pub fn delete(rt: &Runtime, id: &str, force: bool) -> Result<()> {
    let c = match Container::load(&rt.root, id) {
        Ok(c) => c,
        Err(Error::NotExist(_)) => {
            // create killed before it wrote state.json leaves only the directory.
            let dir = rt.root.join(id);
            if state::validate_id(id).is_ok() && dir.is_dir() {
                fs::remove_dir_all(&dir).ctx("remove state dir", dir.display())?;
                return Ok(());
            }
            return if force {
                Ok(())
            } else {
                Err(Error::NotExist(id.into()))
            };
        }
        Err(e) => return Err(e),
    };
    let status = c.status();
    match status {
        Status::Stopped => {}
        // runc deletes a created container without --force: its process never ran.
        Status::Created => {
            let _ = signal_init(&c, libc::SIGKILL);
            wait_gone(&c, Duration::from_secs(10));
        }
        _ if force => {
            if status == Status::Paused {
                cgroups::thaw(&c.saved.cgroups);
            }
            signal_all(&c, libc::SIGKILL);
            if !wait_gone(&c, Duration::from_secs(10)) {
                return Err(Error::msg(format!(
                    "delete {id}: init (pid {}) did not exit after SIGKILL",
                    c.saved.pid
                )));
            }
        }
        _ => {
            return Err(Error::msg(format!(
                "cannot delete container {id} that is not stopped: {}",
                status.as_str()
            )))
        }
    }
    let state = crate::launch::hook_state(&c);
    destroy(&c)?;
    // poststop failures are warnings: the container is gone either way (runtime-spec).
    if let Err(e) = crate::hooks::run(c.saved.hooks.as_ref(), crate::hooks::Kind::Poststop, &state)
    {
        rt.log.warn(&e.to_string());
    }
    Ok(())
}

pub fn pause(rt: &Runtime, id: &str) -> Result<()> {
    let c = Container::load(&rt.root, id)?;
    match c.status() {
        Status::Running | Status::Created => cgroups::freeze(&c.saved.cgroups),
        Status::Paused => Err(Error::msg(format!("container {id} is already paused"))),
        _ => Err(Error::NotRunning(id.into())),
    }
}

pub fn resume(rt: &Runtime, id: &str) -> Result<()> {
    let c = Container::load(&rt.root, id)?;
    match c.status() {
        Status::Paused => {
            cgroups::thaw(&c.saved.cgroups);
            Ok(())
        }
        Status::Stopped => Err(Error::NotRunning(id.into())),
        _ => Err(Error::msg(format!("container {id} is not paused"))),
    }
}

/// The host pids of every process in the container.
pub fn pids(rt: &Runtime, id: &str) -> Result<Vec<i32>> {
    let c = Container::load(&rt.root, id)?;
    if c.status() == Status::Stopped {
        return Ok(vec![]);
    }
    let mut p = cgroups::pids(&c.saved.cgroups);
    p.sort_unstable();
    Ok(p)
}

pub fn update(rt: &Runtime, id: &str, r: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let c = Container::load(&rt.root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::NotRunning(id.into()));
    }
    cgroups::apply_resources(&c.saved.cgroups, r, &[])
}

/// The container's cgroups, for `events`; an error once it has stopped.
pub fn running_cgroups(
    rt: &Runtime,
    id: &str,
) -> Result<std::collections::BTreeMap<String, std::path::PathBuf>> {
    let c = Container::load(&rt.root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::NotRunning(id.into()));
    }
    Ok(c.saved.cgroups.clone())
}
