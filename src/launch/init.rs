//! The container side of create, run in the clone3 child: everything from joining namespaces
//! to execve. It never returns; failures before `start` go to the parent over the sync socket
//! (which writes them to the log and exits 1).

use super::sync::{Channel, Msg};
use crate::error::{Ctx, Error, Result};
use crate::namespaces::Plan;
use crate::process::identity::{self, prctl};
use crate::process::tty;
use crate::security::procfs::{self, View};
use crate::security::{lsm, seccomp};
use crate::{hooks, rootfs, sys};
use oci_spec::runtime::Spec;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

pub struct InitArgs<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub plan: &'a Plan,
    pub chan: Channel,
    /// O_PATH fd of `<state>/exec.fifo`, reopened for writing through our private procfs so
    /// the (possibly unprivileged) container user needs no access to the 0700 state dir.
    pub fifo: OwnedFd,
    pub console: Option<OwnedFd>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub seccomp: Option<&'a seccomp::Program>,
    /// AppArmor profile / SELinux label to switch to at execve, checked by the parent.
    pub labels: &'a lsm::ExecLabels,
    /// `linux.mountLabel`, when SELinux is enabled.
    pub mount_label: Option<&'a str>,
    /// The parent is not root, so it writes our id maps as their owner.
    pub unprivileged_parent: bool,
    /// Detached idmapped trees made by the parent, attached by `rootfs::prepare`.
    pub idmapped: std::cell::RefCell<rootfs::idmapped::Trees>,
}

pub fn main(a: InitArgs) -> ! {
    let err = match run(&a) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let _ = a.chan.send(&Msg::Failed(err.to_string()));
    // SAFETY: _exit skips the parent's atexit handlers and buffered state, which belong to it.
    unsafe { libc::_exit(1) }
}

/// The parent has gone away (killed during create): nothing to report to, nothing to run.
fn orphaned() -> ! {
    // SAFETY: see `main`.
    unsafe { libc::_exit(1) }
}

fn write_sysctls(proc_fd: RawFd, spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (k, v) in sysctl {
        let rel = Path::new("sys").join(k.replace('.', "/"));
        let resolve = sys::RESOLVE_BENEATH | sys::RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_XDEV;
        let fd = sys::openat2(proc_fd, &rel, libc::O_WRONLY | libc::O_TRUNC, 0, resolve)
            .ctx("open sysctl", format!("{k} (linux.sysctl in config.json)"))?;
        nix::unistd::write(&fd, v.as_bytes()).ctx("write sysctl", format!("{k}={v}"))?;
    }
    Ok(())
}

fn set_names(spec: &Spec, plan: &Plan) -> Result<()> {
    if !plan.has_uts {
        return Ok(());
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).ctx("sethostname", h)?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: setdomainname with a valid buffer and its length.
        if unsafe { libc::setdomainname(d.as_ptr() as *const libc::c_char, d.len()) } != 0 {
            return Err(Error::sys(
                "setdomainname",
                d,
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

fn run(a: &InitArgs) -> Result<std::convert::Infallible> {
    let spec = a.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Config("config.json: process is required".into()))?;
    // Nothing of the host may be read through /proc/<init>/ until execve: ptrace, /proc/PID/fd
    // and /proc/PID/exe are closed to the container while we hold host fds (CVE-2016-9962).
    // One exception: an unprivileged parent must open our /proc/PID/uid_map, which a
    // non-dumpable process keeps root-owned; then we wait for the maps first. Nothing runs in
    // our new namespaces yet, so only our own user could reach us meanwhile.
    // (Decided by the parent: in here geteuid() changes the moment the parent writes uid_map.)
    let maps_by_unprivileged_parent = a.plan.new_user && a.unprivileged_parent;
    if !maps_by_unprivileged_parent {
        prctl(libc::PR_SET_DUMPABLE, 0, "PR_SET_DUMPABLE")?;
    }
    for (t, path, f) in &a.plan.join {
        nix::sched::setns(f, nix::sched::CloneFlags::empty())
            .ctx(&format!("setns {t}"), path.display())?;
    }
    match a.chan.recv()? {
        Some(Msg::Go) => {
            if maps_by_unprivileged_parent {
                prctl(libc::PR_SET_DUMPABLE, 0, "PR_SET_DUMPABLE")?;
            }
        }
        None => orphaned(),
        Some(_) => return Err(Error::msg("sync: expected go from the parent")),
    }
    if a.plan.new_user {
        // Our ids are still the host's, unmapped in the new namespace (files we create would
        // fail with EOVERFLOW): become the namespace's root, now that the parent wrote the maps.
        let root_gid = nix::unistd::Gid::from_raw(0);
        let root_uid = nix::unistd::Uid::from_raw(0);
        nix::unistd::setresgid(root_gid, root_gid, root_gid)
            .ctx("setresgid", "0 in the user namespace")?;
        nix::unistd::setresuid(root_uid, root_uid, root_uid)
            .ctx("setresuid", "0 in the user namespace")?;
    }
    if a.plan.unshare_cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx("unshare", "cgroup namespace")?;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    if spec
        .linux()
        .as_ref()
        .is_some_and(|l| l.sysctl().as_ref().is_some_and(|s| !s.is_empty()))
    {
        // A full procfs of our own, mounted nowhere, so nothing the container (or its
        // config's mounts) does to /proc can redirect these writes (CVE-2019-16884,
        // CVE-2025-52881); closed right after them.
        let sysctl_proc = procfs::private(View::Full)?;
        write_sysctls(sysctl_proc.as_raw_fd(), spec)?;
    }
    // Held until start, for the exec.fifo reopen: read-only and showing only process
    // directories. A process in the container able to ptrace init (CAP_SYS_PTRACE) can reach
    // init's fds through /proc/1/fd; it must find nothing there that writes host sysctls.
    let proc_fd = procfs::private(View::PidsReadOnly)?;
    // For the LSM attr writes, which come after the privileges are gone (so the instance must
    // be made now) and before Ready (so a profile the kernel refuses fails create, with
    // nothing left behind): writable, process directories only, closed right after the write.
    let lsm_proc = if a.labels.is_empty() {
        None
    } else {
        Some(procfs::private(View::Pids)?)
    };
    set_names(spec, a.plan)?;

    let terminal = process.terminal().unwrap_or(false);
    // Compiled (and the notify agent connected) now: a bad profile fails create, not start.
    // Compiled by the parent; the notify agent (if any) is connected now, before pivot_root.
    let mut filter = a.seccomp.map(seccomp::Prepared::new).transpose()?;
    let root = rootfs::prepare(
        spec,
        a.rootfs,
        a.plan.in_userns,
        &mut a.idmapped.borrow_mut(),
        a.mount_label,
    )?;
    // Attached now; no fd of them stays open in init.
    drop(a.idmapped.take());
    // A missing cwd is created (0755, inside the root), as runc does, before the root can
    // become read-only.
    rootfs::resolve::mkdir_all(root.as_raw_fd(), process.cwd())?;
    // Hooks: the parent runs prestart/createRuntime now (mounts done, no pivot yet); we run
    // createContainer here, in the container's namespaces, and startContainer just before exec.
    let needs_state = filter.as_ref().is_some_and(|f| f.needs_state());
    let hook_state = if super::has_create_hooks(spec) || needs_state {
        a.chan.send(&Msg::Hooks)?;
        match a.chan.recv()? {
            Some(Msg::State(s)) => s,
            None => orphaned(),
            Some(_) => return Err(Error::msg("sync: expected the state from the parent")),
        }
    } else {
        String::new()
    };
    hooks::run(
        spec.hooks().as_ref(),
        hooks::Kind::CreateContainer,
        &hook_state,
    )?;
    if let Some(f) = filter.as_mut() {
        f.set_state(hook_state.clone());
    }
    let pty = if terminal {
        let pty = tty::open_in(root.as_raw_fd())?;
        if let Some(b) = process.console_size() {
            tty::set_size(pty.master.as_raw_fd(), b.height() as u16, b.width() as u16);
        }
        tty::mount_console(root.as_raw_fd(), &pty)?;
        tty::give_to(&pty.slave, process.user().uid(), process.user().gid())?;
        let sock = a
            .console
            .as_ref()
            .ok_or_else(|| Error::msg("process.terminal is set but there is no console socket"))?;
        tty::send_master(sock.as_raw_fd(), &pty)?;
        Some(pty.slave)
    } else {
        None
    };
    drop(root);
    let exe_origin = crate::security::sealed_exe::original_exe().ok();
    let proc_dir = Path::new("/proc");
    let park: Vec<rootfs::pivot::Park> = std::iter::once(proc_fd.as_raw_fd())
        .chain(lsm_proc.as_ref().map(|p| p.as_raw_fd()))
        .map(|fd| rootfs::pivot::Park {
            fd,
            target: proc_dir,
        })
        .chain(
            crate::security::sealed_exe::exe_mount_fd()
                .zip(exe_origin.as_deref())
                .map(|(fd, target)| rootfs::pivot::Park { fd, target }),
        )
        .collect();
    rootfs::enter(spec, a.rootfs, a.no_pivot, &park)?;
    // Init has no use for hull's exe bind; closed here (parked, so nothing to dissolve) so that
    // it cannot end up among the fds a --preserve-fds range hands to the process.
    if let Some(fd) = crate::security::sealed_exe::exe_mount_fd() {
        // SAFETY: closing an fd this process owns and never uses again.
        unsafe { libc::close(fd) };
    }
    rootfs::finalize(spec, a.mount_label)?;

    nix::unistd::setsid().ctx("setsid", "init")?;
    if let Some(slave) = &pty {
        tty::become_stdio(slave)?;
    }
    drop(pty);
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        crate::process::sched::set_personality(p)?;
    }
    // Before any seccomp filter is loaded: close_range is missing from many profiles.
    identity::seal_fds(a.preserve_fds)?;
    let ready = identity::apply(process, a.plan.in_userns, filter.as_ref())?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    // Everything privileged is done; the switch happens at our execve (after start).
    if let Some(p) = lsm_proc {
        a.labels.apply(&p)?;
    }

    a.chan.send(&Msg::Ready)?;
    match a.chan.recv()? {
        Some(Msg::Ack) => {}
        None => orphaned(),
        Some(_) => return Err(Error::msg("sync: expected ack from the parent")),
    }
    // Block until `start` opens the fifo for reading; then tell it we are going.
    let fifo_path = format!("self/fd/{}", a.fifo.as_raw_fd());
    let fifo = sys::openat(
        proc_fd.as_raw_fd(),
        Path::new(&fifo_path),
        libc::O_WRONLY,
        0,
    );
    let fifo = match fifo {
        Ok(f) => f,
        Err(_) => orphaned(),
    };
    if nix::unistd::write(&fifo, b"0").is_err() {
        orphaned();
    }
    drop(fifo);
    drop(proc_fd);
    // With no_new_privs the filter goes on as late as possible, but before the
    // startContainer hooks: they run inside the container and the profile applies to them.
    if let Some(f) = filter.as_ref().filter(|_| nnp) {
        if let Err(e) = f.install() {
            eprintln!("hull: {e}");
            // SAFETY: see `main`.
            unsafe { libc::_exit(1) }
        }
    }
    if let Err(e) = hooks::run(
        spec.hooks().as_ref(),
        hooks::Kind::StartContainer,
        &hook_state,
    ) {
        eprintln!("hull: {e}");
        // SAFETY: see `main`.
        unsafe { libc::_exit(1) }
    }
    identity::reset_signals();
    identity::exec_or_exit(&ready, None)
}
