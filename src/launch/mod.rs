//! The create path (DESIGN.md, "The launch protocol"), `start`, and `run`.

pub mod exec;
pub mod idmap;
pub mod init;
pub mod run;
pub mod sync;

use crate::error::{Ctx, Error, Result};
use crate::state::{self, Container, Saved, Status};
use crate::{cgroups, hooks, namespaces, rootfs, spec, sys, Runtime};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::BTreeMap;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: u32,
}

/// A container whose init is waiting for `start`.
pub struct Created {
    pub container: Container,
    pub pid: i32,
    pub spec: Spec,
}

/// Undo everything a failed create did: init killed and reaped, cgroup and state dir removed.
struct Undo {
    dir: PathBuf,
    cgroups: Option<BTreeMap<String, PathBuf>>,
    pid: Option<i32>,
    armed: bool,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            // SAFETY: `pid` is our own child, not yet reaped, so the number cannot be reused.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if let Some(c) = &self.cgroups {
            let _ = cgroups::remove(c);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn make_fifo(dir: &Path) -> Result<OwnedFd> {
    let path = dir.join(state::EXEC_FIFO);
    // Others may write (the container user opens it through /proc), nobody else may read.
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .ctx("mkfifo", path.display())?;
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .ctx("chmod", path.display())?;
    sys::openat(libc::AT_FDCWD, &path, libc::O_PATH, 0).ctx("open", path.display())
}

/// Where init's terminal master goes: the caller's console socket, or (for `run` in the
/// foreground) a socketpair whose other end hull itself reads.
pub enum Console {
    None,
    Socket(PathBuf),
    Internal(OwnedFd),
}

/// Create the container: everything up to init waiting on exec.fifo.
/// The child of clone3 runs Rust code (allocations included) until execve; with a second
/// thread in the process, a lock that thread held at clone time (malloc's, say) stays locked
/// in the child forever. Library callers must not create containers from a threaded process.
pub fn require_single_thread(what: &str) -> Result<()> {
    let status = fs::read_to_string("/proc/self/status").ctx("read", "/proc/self/status")?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<u32>().ok());
    match threads {
        Some(n) if n > 1 => Err(Error::msg(format!(
            "{what}: the calling process has {n} threads; hull must be called from a single-threaded process"
        ))),
        _ => Ok(()),
    }
}

pub fn create(rt: &Runtime, opts: &CreateOpts, console: Console) -> Result<Created> {
    require_single_thread("create")?;
    crate::process::identity::reserve_preserved_fds(opts.preserve_fds)?;
    state::validate_id(&opts.id)?;
    let bundle = fs::canonicalize(&opts.bundle)
        .map_err(|e| Error::Config(format!("bundle {}: {e}", opts.bundle.display())))?;
    let spec = spec::load(&bundle)?;
    spec::validate(&spec, true)?;
    let rootfs = spec::rootfs(&bundle, &spec)?;
    let plan = namespaces::plan(&spec)?;
    let idmap_requests = rootfs::idmapped::requests(&spec)?;
    if !plan.has_mount {
        return Err(Error::Config(
            "config.json: linux.namespaces must include a mount namespace".into(),
        ));
    }
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && matches!(console, Console::None) {
        return Err(Error::Config(
            "process.terminal is true: use --console-socket to receive the pty master".into(),
        ));
    }
    if rt.systemd_cgroup {
        // No silent fallback to cgroupfs: the caller asked for systemd to own the cgroup.
        return Err(Error::Config(
            if Path::new("/run/systemd/system").exists() {
                "--systemd-cgroup: the systemd cgroup driver is not implemented by this build of hull".into()
            } else {
                "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system)"
                    .into()
            },
        ));
    }
    let cg_path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let cg_dirs = cgroups::container_dirs(cg_path.as_deref(), &opts.id)?;
    let min_fd = 3 + opts.preserve_fds as RawFd;
    // The filter is compiled (or taken from the cache) before anything exists, so a bad
    // profile is an error naming it with nothing to undo.
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| crate::security::seccomp::compile(s, Some(&seccomp_cache(rt))))
        .transpose()?;
    // Decided here, on the host's /sys, before anything exists: init only writes them.
    let labels = match spec.process() {
        Some(p) => crate::security::lsm::ExecLabels::of(p)?,
        None => Default::default(),
    };
    let mount_label = crate::security::lsm::mount_label(
        spec.linux()
            .as_ref()
            .and_then(|l| l.mount_label().as_deref()),
    )?;
    // create changes into the bundle directory below; paths from the command line are the
    // caller's, relative to where it ran us.
    let pid_file = opts.pid_file.as_ref().map(|p| absolute(p));

    let (dir, lock) = Container::create_dir(&rt.root, &opts.id)?;
    // state.json exists from the start, naming the cgroups before they are made: a create
    // killed at any point leaves something `delete --force` can clean up completely.
    let me = std::process::id() as i32;
    let saved = Saved {
        id: opts.id.clone(),
        pid: 0,
        start_time: 0,
        creator: Some((me, state::proc_stat(me).map(|s| s.1).unwrap_or(0))),
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        created: crate::time::rfc3339_nanos(std::time::SystemTime::now()),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        cgroups: cg_dirs.clone(),
        hooks: spec.hooks().clone(),
        seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
        creating: true,
    };
    let mut container = Container::from_parts(dir.clone(), saved, lock);
    let mut undo = Undo {
        dir: dir.clone(),
        cgroups: None,
        pid: None,
        armed: true,
    };
    let fifo = sys::dup_above(make_fifo(&dir)?, min_fd).ctx("dup", "exec.fifo")?;
    let console_fd = match console {
        Console::None => None,
        Console::Internal(fd) => Some(sys::dup_above(fd, min_fd).ctx("dup", "console")?),
        Console::Socket(p) => {
            let s = UnixStream::connect(&p).ctx("connect to console socket", p.display())?;
            Some(sys::dup_above(s.into(), min_fd).ctx("dup", "console socket")?)
        }
    };
    let (parent_chan, child_chan) = sync::pair()?;
    let parent_chan =
        sync::Channel(sys::dup_above(parent_chan.0, min_fd).ctx("dup", "sync socket")?);
    let child_chan = sync::Channel(sys::dup_above(child_chan.0, min_fd).ctx("dup", "sync socket")?);
    container.save()?;
    let resources = spec.linux().as_ref().and_then(|l| l.resources().clone());
    let mut cg_dirs = cg_dirs;
    match cgroups::create(&cg_dirs) {
        Ok(()) => {}
        // Rootless without a delegated cgroup: run without one, as runc does, unless the
        // config asks for limits that only a cgroup can enforce.
        Err(e)
            if rt.rootless
                && matches!(
                    e.errno(),
                    Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS)
                ) =>
        {
            if resources.as_ref().is_some_and(cgroups::limits_requested) {
                return Err(Error::Config(format!(
                    "linux.resources: rootless limits need a cgroup delegated to this user: {e}"
                )));
            }
            cg_dirs.clear();
            container.saved.cgroups.clear();
            container.save()?;
        }
        Err(e) => return Err(e),
    }
    undo.cgroups = Some(cg_dirs.clone());
    if let Some(res) = &resources {
        if !cg_dirs.is_empty() {
            // A rootless container cannot have a device cgroup: its devices are bind mounts
            // of nodes the user may already open.
            let mut res = res.clone();
            if rt.rootless {
                res.set_devices(None);
            }
            // linux.devices nodes are created, not allowed: access is what
            // resources.devices says, as with runc (whose bats suite checks exactly that).
            cgroups::apply_resources(&cg_dirs, &res, &[])?;
        }
    }
    // Relative bind sources are relative to the bundle, as in runc.
    std::env::set_current_dir(&bundle).ctx("chdir", bundle.display())?;
    // Made here, on the host side, before init exists: see rootfs::idmapped for why.
    let idmapped = rootfs::idmapped::prepare(&idmap_requests, min_fd)?;

    // The child must not keep the parent's end of the sync socket (its EOF is how init learns
    // that create died) nor the state-dir lock (start would wait on it forever).
    let close_in_child = [parent_chan.0.as_raw_fd(), container.lock_fd()];
    // On cgroup v2 init is born in its cgroup (CLONE_INTO_CGROUP) and never runs outside it.
    // Read here, not in the child: its euid changes when we write its uid_map.
    // SAFETY: geteuid cannot fail.
    let unprivileged_parent = unsafe { libc::geteuid() } != 0;
    let cg_target = cgroups::clone_target(&cg_dirs);
    let pid = clone_init(
        &plan,
        cg_target.as_ref().map(|f| f.as_raw_fd()),
        &close_in_child,
        |chan| {
            init::main(init::InitArgs {
                spec: &spec,
                rootfs: &rootfs,
                plan: &plan,
                chan,
                fifo,
                console: console_fd,
                no_pivot: opts.no_pivot,
                preserve_fds: opts.preserve_fds,
                seccomp: seccomp.as_ref(),
                labels: &labels,
                mount_label: mount_label.as_deref(),
                unprivileged_parent,
                idmapped: std::cell::RefCell::new(idmapped),
            })
        },
        child_chan,
    )?;
    undo.pid = Some(pid);
    let start_time = state::proc_stat(pid).map(|s| s.1).unwrap_or(0);

    if plan.new_user {
        idmap::write(pid, &spec)?;
    }
    cgroups::join(&cg_dirs, pid, cg_target.is_some())?;
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        let p = format!("/proc/{pid}/oom_score_adj");
        fs::write(&p, adj.to_string()).ctx("write", format!("{p} (process.oomScoreAdj)"))?;
    }
    // Saved once init is ready (below): a create that dies before then leaves init to exit
    // on the sync socket's EOF, and the state saved before clone already names the cgroups
    // that `delete` must remove.
    container.saved.pid = pid;
    container.saved.start_time = start_time;
    parent_chan.send(&sync::Msg::Go)?;
    loop {
        match parent_chan.recv()? {
            Some(sync::Msg::Ready) => break,
            Some(sync::Msg::Hooks) => {
                // The runtime-namespace hooks run here, between init's mounts and its
                // pivot_root; init runs createContainer itself, in the container.
                let state = hook_state(&container);
                let h = spec.hooks().as_ref();
                hooks::run(h, hooks::Kind::Prestart, &state)?;
                hooks::run(h, hooks::Kind::CreateRuntime, &state)?;
                parent_chan.send(&sync::Msg::State(state))?;
            }
            Some(sync::Msg::Failed(m)) => return Err(Error::Msg(m)),
            _ => return Err(Error::msg("container init exited during setup")),
        }
    }
    if let Some(pf) = &pid_file {
        write_pid_file(pf, pid)?;
    }
    container.saved.creating = false;
    container.save()?;
    parent_chan.send(&sync::Msg::Ack)?;
    undo.armed = false;
    Ok(Created {
        container,
        pid,
        spec,
    })
}

/// Compiled seccomp filters, by profile. `@` cannot appear in a container id.
pub fn seccomp_cache(rt: &Runtime) -> PathBuf {
    rt.root.join("@seccomp")
}

/// The state document hooks read on stdin.
pub fn hook_state(c: &Container) -> String {
    serde_json::to_string(&c.oci_state()).unwrap_or_default()
}

/// Hooks that make create stop half-way for the parent (all but poststart/poststop).
pub fn has_create_hooks(spec: &Spec) -> bool {
    use hooks::Kind::*;
    [Prestart, CreateRuntime, CreateContainer, StartContainer]
        .iter()
        .any(|k| !hooks::list(spec.hooks().as_ref(), *k).is_empty())
}

/// poststart hooks: failures are logged, the container keeps running (runtime-spec).
pub fn run_poststart(rt: &Runtime, c: &Container) {
    let state = hook_state(c);
    if let Err(e) = hooks::run(c.saved.hooks.as_ref(), hooks::Kind::Poststart, &state) {
        rt.log.warn(&e.to_string());
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    }
}

/// The pid file: decimal, no newline, written atomically where the caller asked.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    state::write_atomic(path, pid.to_string().as_bytes(), 0o644)
}

/// clone3 the init process into its new namespaces. pid and time namespaces given by path
/// are entered by the parent for its children only, and left again right after the clone.
fn clone_init(
    plan: &namespaces::Plan,
    cgroup: Option<RawFd>,
    close_in_child: &[RawFd],
    child: impl FnOnce(sync::Channel),
    child_chan: sync::Channel,
) -> Result<i32> {
    let mut restore: Vec<(fs::File, &'static str)> = Vec::new();
    for (t, path, f) in &plan.parent_join {
        let (own, flag) = match t {
            LinuxNamespaceType::Pid => ("/proc/self/ns/pid", nix::sched::CloneFlags::CLONE_NEWPID),
            _ => ("/proc/self/ns/time", nix::sched::CloneFlags::empty()),
        };
        let mine = fs::File::open(own).ctx("open", own)?;
        nix::sched::setns(f, flag).ctx(&format!("setns {t}"), path.display())?;
        restore.push((mine, own));
    }
    let mut args = sys::CloneArgs {
        flags: plan.clone_flags
            | if cgroup.is_some() {
                sys::CLONE_INTO_CGROUP
            } else {
                0
            },
        cgroup: cgroup.map_or(0, |fd| fd as u64),
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    // SAFETY: hull is single-threaded here (no threads are ever started before create), so the
    // child is a complete copy of the only thread and may run ordinary Rust code.
    let pid = unsafe { sys::clone3(&mut args) };
    match pid {
        Ok(0) => {
            for &fd in close_in_child {
                // SAFETY: these fds belong to the parent's objects; the child never uses them.
                unsafe { libc::close(fd) };
            }
            child(child_chan);
            // SAFETY: init never returns; should it, the child must not run the parent's code.
            unsafe { libc::_exit(1) }
        }
        Ok(pid) => {
            for (f, own) in restore {
                nix::sched::setns(&f, nix::sched::CloneFlags::empty()).ctx("setns back to", own)?;
            }
            drop(child_chan);
            Ok(pid)
        }
        Err(e) => Err(Error::sys(
            "clone3",
            format!("namespaces {:#x}", plan.clone_flags),
            e,
        )),
    }
}

/// `start`: let init exec the process. Reads exec.fifo; init is blocked opening it for
/// writing and writes one byte once we are there.
pub fn start(rt: &Runtime, id: &str) -> Result<()> {
    let c = Container::load(&rt.root, id)?;
    start_loaded(rt, &c)
}

/// start for a container already loaded (and locked): release init, then poststart hooks.
pub fn start_loaded(rt: &Runtime, c: &Container) -> Result<()> {
    let id = &c.saved.id;
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::msg(format!(
                "cannot start a container that has stopped: {id}"
            )))
        }
        Status::Creating => {
            return Err(Error::msg(format!(
                "cannot start container {id}: it is still being created"
            )))
        }
        _ => {
            return Err(Error::msg(format!(
                "cannot start an already running container: {id}"
            )))
        }
    }
    release(c)?;
    run_poststart(rt, c);
    Ok(())
}

pub fn release(c: &Container) -> Result<()> {
    let fifo_path = c.fifo();
    let fifo = sys::openat(
        libc::AT_FDCWD,
        &fifo_path,
        libc::O_RDONLY | libc::O_NONBLOCK,
        0,
    )
    .ctx("open", fifo_path.display())?;
    let mut byte = [0u8; 1];
    loop {
        let mut pfd = libc::pollfd {
            fd: fifo.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).ctx("poll", fifo_path.display());
        }
        if n > 0 {
            match nix::unistd::read(&fifo, &mut byte) {
                Ok(1) => break,
                Ok(_) => {
                    return Err(Error::msg(format!(
                        "cannot start container {}: init exited before start",
                        c.saved.id
                    )))
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(Error::sys("read", fifo_path.display(), e.into())),
            }
        }
        if !c.alive() {
            return Err(Error::msg(format!(
                "cannot start container {}: init exited before start",
                c.saved.id
            )));
        }
    }
    fs::remove_file(&fifo_path).ctx("remove", fifo_path.display())
}
