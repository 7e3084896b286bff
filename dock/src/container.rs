//! Containers: a record under `<root>/containers/<id>/`, a rootfs from snapshots, a bundle for
//! hull, and the lifecycle (create, start in the background under a small monitor process,
//! run in the foreground, stop, kill, rm). hull's own state lives in `<root>/hull`.

use crate::bundle::{self, RunFlags};
use crate::manifest::ImageManifest;
use crate::monitor;
use crate::store::Store;
use crate::unpack::snapshot::{self, Snapshots};
use anyhow::{anyhow, bail, Context, Result};
use hull::sys::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};
use serde::{Deserialize, Serialize};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub created: String,
    pub args: Vec<String>,
    pub flags: RunFlags,
    /// "overlay" or "copy".
    pub rootfs_kind: String,
    /// Snapshot dirs, base first.
    pub lowers: Vec<PathBuf>,
    pub anon_volumes: Vec<String>,
    /// created, running, exited
    pub status: String,
    pub exit_code: Option<i32>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub pid: Option<i32>,
    /// The process waiting for the container (dock run, or the monitor of -d/start).
    /// (pid, start time in clock ticks): a recycled pid is not mistaken for it.
    #[serde(default)]
    pub monitor: Option<(i32, u64)>,
    /// The image's StopSignal (a signal to the container's own process, nothing on the host).
    #[serde(default)]
    pub stop_signal: Option<i32>,
}

/// A process exit status dock should exit with (125/126/127 for its own errors, as docker).
#[derive(Debug, thiserror::Error)]
#[error("{msg}")]
pub struct ExitStatus {
    pub code: i32,
    pub msg: String,
}

pub fn exit_err(code: i32, msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(ExitStatus {
        code,
        msg: msg.into(),
    })
}

pub struct Containers {
    pub data_root: PathBuf,
    pub rt: hull::Runtime,
    /// The dock binary, run as the createRuntime hook that brings `lo` up for
    /// `--network none`. None (a library caller that is not dock): `lo` stays down.
    pub loopback_hook: Option<PathBuf>,
}

fn now() -> String {
    hull::time::rfc3339_nanos(std::time::SystemTime::now())
}

impl Containers {
    pub fn new(data_root: &Path) -> Result<Containers> {
        for d in ["containers", "hull", "volumes"] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(data_root.join(d))
                .with_context(|| format!("mkdir {}", data_root.join(d).display()))?;
        }
        Ok(Containers {
            data_root: data_root.to_path_buf(),
            rt: hull::Runtime {
                root: data_root.join("hull"),
                ..Default::default()
            },
            loopback_hook: None,
        })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.data_root.join("containers").join(id)
    }

    pub fn bundle(&self, id: &str) -> PathBuf {
        self.dir(id).join("bundle")
    }

    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.bundle(id).join("rootfs")
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir(id).join("container.log")
    }

    pub fn load(&self, id: &str) -> Result<Record> {
        let p = self.dir(id).join("record.json");
        let data = std::fs::read(&p).with_context(|| format!("no such container: {id}"))?;
        serde_json::from_slice(&data).with_context(|| format!("read {}", p.display()))
    }

    pub fn save(&self, r: &Record) -> Result<()> {
        crate::store::atomic_write(
            &self.dir(&r.id).join("record.json"),
            &serde_json::to_vec_pretty(r)?,
        )?;
        Ok(())
    }

    pub fn all(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.data_root.join("containers"))? {
            let e = e?;
            if let Some(id) = e.file_name().to_str() {
                if let Ok(r) = self.load(id) {
                    out.push(r);
                }
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// A container by full id, unique id prefix, or name.
    pub fn find(&self, key: &str) -> Result<Record> {
        let all = self.all()?;
        if let Some(r) = all.iter().find(|r| r.id == key || r.name == key) {
            return Ok(r.clone());
        }
        let m: Vec<_> = all.iter().filter(|r| r.id.starts_with(key)).collect();
        match m.as_slice() {
            [one] if !key.is_empty() => Ok((*one).clone()),
            [] | [_] => bail!("no such container: {key}"),
            _ => bail!("container id prefix {key} is ambiguous"),
        }
    }

    /// The status: hull's while it knows the container, else the record's. A container whose
    /// process ended counts as running until its monitor has recorded the exit code (or the
    /// monitor is gone).
    pub fn status(&self, r: &Record) -> String {
        let monitor_alive = || {
            r.monitor
                .is_some_and(|(p, t)| hull::state::process_alive(p, t))
        };
        match hull::lifecycle::state(&self.rt, &r.id) {
            Ok(s) => match s.status.as_str() {
                "stopped" if r.status == "running" && monitor_alive() => "running".into(),
                "stopped" => "exited".into(),
                "creating" => "created".into(),
                other => other.into(),
            },
            Err(_) if r.status == "running" && monitor_alive() => "running".into(),
            Err(_) if r.status == "running" => "exited".into(),
            Err(_) => r.status.clone(),
        }
    }

    /// Make a container: snapshots, rootfs, bundle. Nothing runs yet.
    pub fn create(
        &self,
        store: &Store,
        image: &str,
        args: &[String],
        f: &RunFlags,
    ) -> Result<Record> {
        let found = resolve_image(store, image)?;
        let manifest: ImageManifest = store.image_manifest(&found.descriptor)?;
        let config: serde_json::Value =
            serde_json::from_slice(&store.read_blob(&manifest.config.digest)?)
                .context("image config")?;
        // Held until the record names the snapshots: `gc` cannot remove them meanwhile.
        let _content = store.content_lock()?;
        let snaps = Snapshots::new(&self.data_root)?;
        let lowers = snaps.ensure_image(store, &manifest)?;

        let id = bundle::random_hex(64);
        let name = match &f.name {
            Some(n) => {
                let ok = !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                    && n.as_bytes()[0].is_ascii_alphanumeric();
                if !ok {
                    bail!("invalid container name {n:?}: [a-zA-Z0-9][a-zA-Z0-9_.-]*");
                }
                n.clone()
            }
            None => format!("dock_{}", &id[..8]),
        };
        if let Some(h) = &f.hostname {
            let ok = !h.is_empty()
                && h.len() <= 253
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
            if !ok {
                bail!("invalid hostname {h:?}");
            }
        }
        let _lock = self.names_lock()?;
        if self.all()?.iter().any(|r| r.name == name) {
            bail!("the container name {name:?} is already in use");
        }
        let dir = self.dir(&id);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("mkdir {}", dir.display()))?;
        let mut rec = Record {
            id: id.clone(),
            name,
            image: image.to_string(),
            image_id: manifest.config.digest.to_string(),
            created: now(),
            args: Vec::new(),
            flags: f.clone(),
            rootfs_kind: String::new(),
            lowers,
            anon_volumes: Vec::new(),
            status: "created".into(),
            exit_code: None,
            started_at: None,
            finished_at: None,
            pid: None,
            monitor: None,
            stop_signal: config["config"]["StopSignal"]
                .as_str()
                .and_then(|s| parse_signal(s).ok()),
        };
        // A record from the start, so `rm` can clean up a half-made container.
        self.save(&rec)?;
        let made = (|| -> Result<()> {
            for d in ["upper", "work", "bundle", "bundle/rootfs"] {
                std::fs::DirBuilder::new().mode(0o755).create(dir.join(d))?;
            }
            rec.rootfs_kind = self.mount_rootfs(&rec)?;
            let hostname = f.hostname.clone().unwrap_or_else(|| id[..12].to_string());
            std::fs::write(dir.join("hostname"), format!("{hostname}\n"))?;
            std::fs::write(
                dir.join("hosts"),
                format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"),
            )?;
            let resolv = if f.network_mode() == "host" {
                std::fs::read("/etc/resolv.conf").unwrap_or_default()
            } else {
                Vec::new()
            };
            std::fs::write(dir.join("resolv.conf"), resolv)?;
            let built = bundle::build(
                f,
                &bundle::Inputs {
                    id: &id,
                    args,
                    image_config: &config,
                    rootfs: &self.rootfs(&id),
                    container_dir: &dir,
                    data_root: &self.data_root,
                },
            )?;
            let mut spec = built.spec;
            if let (Some(exe), "none") = (&self.loopback_hook, f.network_mode()) {
                spec["hooks"] = serde_json::json!({"createRuntime": [{
                    "path": exe, "args": ["dock", "loopback-up-hook"], "timeout": 10}]});
            }
            rec.args = spec["process"]["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            rec.anon_volumes = built.anon_volumes;
            crate::store::atomic_write(
                &self.bundle(&id).join("config.json"),
                &serde_json::to_vec_pretty(&spec)?,
            )?;
            self.save(&rec)?;
            Ok(())
        })();
        if let Err(e) = made {
            let _ = self.remove_files(&rec);
            return Err(exit_err(125, format!("{e:#}")));
        }
        Ok(rec)
    }

    fn names_lock(&self) -> Result<std::fs::File> {
        let p = self.data_root.join("containers.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&p)?;
        // SAFETY: flock on our fd.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        Ok(f)
    }

    /// Mount the container's rootfs if it is not mounted: overlayfs of its snapshots + upper,
    /// or (overlay refused) a copy made once. Returns the kind used.
    pub fn mount_rootfs(&self, r: &Record) -> Result<String> {
        let dir = self.dir(&r.id);
        let target = self.rootfs(&r.id);
        if r.rootfs_kind == "copy" {
            return Ok("copy".into());
        }
        // DOCK_STORAGE_DRIVER=copy forces the fallback (for tests and overlay-less hosts).
        let force_copy = std::env::var("DOCK_STORAGE_DRIVER").as_deref() == Ok("copy");
        if force_copy && r.rootfs_kind.is_empty() {
            snapshot::copy_layers(&r.lowers, &target).context("copy layers")?;
            return Ok("copy".into());
        }
        if is_mountpoint(&target) {
            return Ok("overlay".into());
        }
        match snapshot::mount_overlay(&r.lowers, &dir.join("upper"), &dir.join("work"), &target) {
            Ok(()) => Ok("overlay".into()),
            Err(e) if r.rootfs_kind.is_empty() => {
                tracing::warn!("overlay mount failed ({e}); copying the layers instead");
                snapshot::copy_layers(&r.lowers, &target).context("copy layers")?;
                Ok("copy".into())
            }
            Err(e) => Err(anyhow!("mount overlay on {}: {e}", target.display())),
        }
    }

    pub fn unmount_rootfs(&self, r: &Record) {
        if r.rootfs_kind == "overlay" {
            let _ = snapshot::unmount(&self.rootfs(&r.id));
        }
    }

    /// Check the command is there and executable, as docker reports it: 127 not found, 126
    /// not executable.
    pub fn check_command(&self, r: &Record) -> Result<()> {
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.bundle(&r.id).join("config.json"))?)?;
        self.check_process(r, &spec["process"])
    }

    /// [`check_command`](Self::check_command) for a process (`process` of a spec).
    pub fn check_process(&self, r: &Record, p: &serde_json::Value) -> Result<()> {
        let Some(arg0) = p["args"][0].as_str() else {
            return Err(exit_err(125, "no command specified"));
        };
        let env = p["env"].as_array().cloned().unwrap_or_default();
        let path = env
            .iter()
            .filter_map(|e| e.as_str())
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .to_string();
        let cwd = p["cwd"].as_str().unwrap_or("/");
        let candidates: Vec<String> = if arg0.contains('/') {
            if arg0.starts_with('/') {
                vec![arg0.to_string()]
            } else {
                vec![format!("{cwd}/{arg0}")]
            }
        } else {
            path.split(':').map(|d| format!("{d}/{arg0}")).collect()
        };
        let root = crate::unpack::fsops::Dir::open(&self.rootfs(&r.id))?;
        let mut denied = false;
        for c in candidates {
            let Ok(fd) = openat2(
                root.fd().as_raw_fd(),
                Path::new(c.trim_start_matches('/')),
                libc::O_PATH,
                0,
                RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
            ) else {
                continue;
            };
            let st = hull::sys::fstat(fd.as_raw_fd())?;
            if st.st_mode & libc::S_IFMT == libc::S_IFREG && st.st_mode & 0o111 != 0 {
                return Ok(());
            }
            denied = true;
        }
        if denied {
            Err(exit_err(
                126,
                format!("exec: {arg0:?}: permission denied (not an executable file)"),
            ))
        } else if arg0.contains('/') {
            Err(exit_err(
                127,
                format!("exec: {arg0:?}: no such file or directory"),
            ))
        } else {
            Err(exit_err(
                127,
                format!("exec: {arg0:?}: executable file not found in $PATH"),
            ))
        }
    }

    fn prepare_start(&self, r: &mut Record) -> Result<()> {
        if self.status(r) == "running" {
            bail!("container {} is already running", r.name);
        }
        // Leftovers of a previous run that hull still knows (killed monitor).
        let _ = hull::delete(&self.rt, &r.id, true);
        r.rootfs_kind = self.mount_rootfs(r)?;
        self.check_command(r)?;
        Ok(())
    }

    fn create_opts(&self, r: &Record) -> hull::CreateOpts {
        hull::CreateOpts {
            id: r.id.clone(),
            bundle: self.bundle(&r.id),
            ..Default::default()
        }
    }

    /// Run in the foreground; returns the process's exit code.
    pub fn run_foreground(&self, r: &mut Record) -> Result<i32> {
        self.prepare_start(r).map_err(to125)?;
        if !r.flags.interactive {
            redirect(0, Path::new("/dev/null"), libc::O_RDONLY)?;
        }
        r.status = "running".into();
        r.started_at = Some(now());
        r.monitor = me();
        self.save(r)?;
        let opts = hull::RunOpts {
            create: self.create_opts(r),
            detach: false,
            keep: false,
            no_subreaper: false,
        };
        let result = crate::relay::with_log(&self.log_path(&r.id), || {
            hull::launch::run::run(&self.rt, &opts)
        });
        let code = match result
            .map_err(|e| anyhow!("log relay: {e}"))
            .and_then(|r| r.map_err(|e| anyhow!("{e}")))
        {
            Ok(c) => c,
            Err(e) => {
                self.finish(r, -1);
                return Err(exit_err(125, e.to_string()));
            }
        };
        self.finish(r, code);
        Ok(code)
    }

    /// Record the exit, unmount, and remove the container if it was `--rm`.
    fn finish(&self, r: &mut Record, code: i32) {
        let _ = hull::delete(&self.rt, &r.id, true);
        if let Ok(cur) = self.load(&r.id) {
            r.pid = cur.pid;
        }
        r.status = "exited".into();
        r.exit_code = Some(code);
        r.finished_at = Some(now());
        let _ = self.save(r);
        self.unmount_rootfs(r);
        if r.flags.rm {
            let _ = self.remove_files(r);
        }
    }

    /// Start in the background: a monitor process (a child of dock that outlives it, see
    /// [`crate::monitor`]) creates the container, starts it, relays its output to the log and
    /// to attached clients, waits for it and records its exit code. Returns once the
    /// container runs (or failed to).
    pub fn start_detached(&self, r: &mut Record) -> Result<()> {
        self.spawn_monitor(r, None)
    }

    /// `start -a`: as [`start_detached`](Self::start_detached), with an attach connection
    /// made before the container starts, so none of its output is missed.
    pub fn start_attached(&self, r: &mut Record) -> Result<UnixStream> {
        let (ours, theirs) = UnixStream::pair().context("socketpair")?;
        self.spawn_monitor(r, Some((theirs, ours.as_raw_fd())))?;
        Ok(ours)
    }

    /// `attached`: the monitor's end of a client connection, and the fd of the client's end
    /// (closed in the monitor).
    fn spawn_monitor(&self, r: &mut Record, attached: Option<(UnixStream, i32)>) -> Result<()> {
        self.prepare_start(r).map_err(to125)?;
        let mut fds = [0; 2];
        // SAFETY: pipe2 into a two-element array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            bail!("pipe: {}", std::io::Error::last_os_error());
        }
        // SAFETY: dock is single-threaded here; the child only runs Rust code of this process
        // and ends with _exit.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            bail!("fork: {}", std::io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: closing the read end and the client's end in the child.
            unsafe { libc::close(fds[0]) };
            let attached = attached.map(|(sock, client)| {
                // SAFETY: the client's end belongs to the parent; the child's copy goes.
                unsafe { libc::close(client) };
                sock
            });
            let code = self.monitor(r, fds[1], attached);
            // SAFETY: leave without running the parent's destructors twice.
            unsafe { libc::_exit(code) };
        }
        drop(attached);
        // SAFETY: closing our copy of the write end.
        unsafe { libc::close(fds[1]) };
        // SAFETY: fds[0] is ours.
        let mut rd = std::fs::File::from(unsafe { crate::unpack::fsops::own(fds[0]) });
        let mut msg = String::new();
        use std::io::Read;
        let _ = rd.read_to_string(&mut msg);
        match msg.strip_prefix("ok") {
            Some(_) => {
                *r = self.load(&r.id)?;
                Ok(())
            }
            None => {
                // The monitor exits right after reporting a failure.
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                let m = msg.strip_prefix("err:").unwrap_or("the monitor died");
                Err(exit_err(125, m.to_string()))
            }
        }
    }

    fn monitor(&self, r: &mut Record, report: i32, attached: Option<UnixStream>) -> i32 {
        let say = |s: &str| {
            // SAFETY: writing a buffer to our pipe end.
            unsafe { libc::write(report, s.as_ptr() as *const libc::c_void, s.len()) };
        };
        // SAFETY: plain syscalls in the child.
        unsafe {
            libc::setsid();
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
        let dir = self.dir(&r.id);
        // Anything failing before the container runs: report, undo, leave.
        let fail = |r: &mut Record, msg: String| -> i32 {
            say(&format!("err:{msg}"));
            self.finish(r, -1);
            crate::attach::remove(&dir);
            1
        };
        let wiring = match monitor::wire(self, r, attached) {
            Ok(w) => w,
            Err(e) => return fail(r, format!("{e:#}")),
        };
        // With -t, hull hands us the pty master over a socketpair.
        let mut pair = [-1; 2];
        let console = if r.flags.tty {
            // SAFETY: socketpair into a two-element array.
            let rc = unsafe {
                libc::socketpair(
                    libc::AF_UNIX,
                    libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                    0,
                    pair.as_mut_ptr(),
                )
            };
            if rc < 0 {
                return fail(
                    r,
                    format!("socketpair: {}", std::io::Error::last_os_error()),
                );
            }
            // SAFETY: pair[1] was just made and is given to hull alone.
            hull::Console::Internal(unsafe { crate::unpack::fsops::own(pair[1]) })
        } else {
            hull::Console::None
        };
        let created = match hull::create(&self.rt, &self.create_opts(r), console) {
            Ok(c) => c,
            Err(e) => return fail(r, e.to_string()),
        };
        let master = if r.flags.tty {
            match recv_fd(pair[0]) {
                Ok(m) => Some(m),
                Err(e) => {
                    drop(created);
                    return fail(r, format!("receive the pty master: {e}"));
                }
            }
        } else {
            None
        };
        let io = match wiring.start(self, r, master) {
            Ok(io) => io,
            Err(e) => {
                drop(created);
                return fail(r, format!("{e:#}"));
            }
        };
        let pid = created.pid;
        if let Err(e) = hull::launch::start_loaded(&self.rt, &created.container) {
            drop(created);
            let code = fail(r, e.to_string());
            monitor::send_exit(io.stop(), -1);
            return code;
        }
        drop(created);
        r.status = "running".into();
        r.started_at = Some(now());
        r.pid = Some(pid);
        r.monitor = me();
        let _ = self.save(r);
        say("ok");
        // SAFETY: closing the report pipe: the parent stops waiting.
        unsafe { libc::close(report) };
        let code = wait_for(pid);
        let clients = io.stop();
        self.finish(r, code);
        crate::attach::remove(&dir);
        monitor::send_exit(clients, code);
        0
    }

    /// SIGTERM (or the image's stop signal), then SIGKILL after `timeout`.
    pub fn stop(&self, r: &Record, timeout: Duration) -> Result<()> {
        if self.status(r) != "running" && self.status(r) != "paused" {
            return Ok(());
        }
        let sig = r.stop_signal.unwrap_or(libc::SIGTERM);
        let _ = hull::kill(&self.rt, &r.id, sig, false);
        if self.wait_stopped(r, timeout) {
            return Ok(());
        }
        let _ = hull::kill(&self.rt, &r.id, libc::SIGKILL, true);
        if self.wait_stopped(r, Duration::from_secs(10)) {
            return Ok(());
        }
        bail!("container {} did not stop", r.name)
    }

    /// Wait until the container is no longer running (its monitor recorded the exit).
    pub fn wait_stopped(&self, r: &Record, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let done = match self.load(&r.id) {
                Ok(mut cur) => {
                    let stopped = !matches!(self.status(&cur).as_str(), "running" | "paused");
                    if stopped && cur.status == "running" {
                        // Its monitor is gone (killed): clean up as it would have.
                        self.finish(&mut cur, -1);
                    }
                    stopped
                }
                Err(_) => true,
            };
            if done {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&self, r: &Record, sig: i32) -> Result<()> {
        if self.status(r) != "running" {
            bail!("container {} is not running", r.name);
        }
        hull::kill(&self.rt, &r.id, sig, false).map_err(|e| anyhow!("{e}"))
    }

    pub fn remove(&self, r: &Record, force: bool) -> Result<()> {
        let st = self.status(r);
        if st == "running" || st == "paused" {
            if !force {
                bail!(
                    "cannot remove running container {}: stop it first or use -f",
                    r.name
                );
            }
            let _ = hull::kill(&self.rt, &r.id, libc::SIGKILL, true);
            self.wait_stopped(r, Duration::from_secs(10));
        }
        let _ = hull::delete(&self.rt, &r.id, true);
        self.remove_files(r)
    }

    fn remove_files(&self, r: &Record) -> Result<()> {
        let _ = snapshot::unmount(&self.rootfs(&r.id));
        let dir = self.dir(&r.id);
        if is_mountpoint(&self.rootfs(&r.id)) {
            bail!("{} is still mounted", self.rootfs(&r.id).display());
        }
        for v in &r.anon_volumes {
            let _ = std::fs::remove_dir_all(self.data_root.join("volumes").join(v));
        }
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
        }
        Ok(())
    }
}

/// Remove snapshots no stored image and no container uses (with the store's gc lock held).
pub fn gc_snapshots(store: &Store, cs: &Containers) -> Result<usize> {
    let _gc = store.gc_lock()?;
    let snaps = Snapshots::new(&cs.data_root)?;
    let mut keep = std::collections::HashSet::new();
    for e in store.images()? {
        if let Ok(m) = store.image_manifest(&e.descriptor) {
            if let Ok(layers) = snapshot::image_layers(store, &m) {
                keep.extend(layers.iter().map(|(_, id)| snaps.path(id)));
            }
        }
    }
    for r in cs.all()? {
        keep.extend(r.lowers);
    }
    Ok(snaps.gc(&keep))
}

/// An image by name (`busybox`, `host:5000/a:1`) or id prefix.
pub fn resolve_image(store: &Store, key: &str) -> Result<crate::store::ImageEntry> {
    if let Ok(r) = crate::reference::Reference::parse(key) {
        if let Some(e) = store.find(&r.store_name())?.into_iter().next() {
            return Ok(e);
        }
        if r.digest.is_some() {
            if let Ok(e) = crate::push::find_entry(store, &r) {
                return Ok(e);
            }
        }
    }
    store
        .find(key)?
        .into_iter()
        .next()
        .ok_or_else(|| exit_err(125, format!("no such image: {key}")))
}

pub fn to125(e: anyhow::Error) -> anyhow::Error {
    if e.downcast_ref::<ExitStatus>().is_some() {
        e
    } else {
        exit_err(125, format!("{e:#}"))
    }
}

/// Reap children until `pid` exits; its exit code (128+signal when killed).
fn wait_for(pid: i32) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waitpid on any child into a valid int.
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        if got < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return -1;
        }
        if got == pid {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            if libc::WIFSIGNALED(status) {
                return 128 + libc::WTERMSIG(status);
            }
        }
    }
}

/// A signal by name (`TERM`, `SIGTERM`) or number.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal {s:?}");
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    Ok(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "WINCH" => libc::SIGWINCH,
        "ALRM" => libc::SIGALRM,
        "PWR" => libc::SIGPWR,
        _ => bail!("unknown signal {s:?}"),
    })
}

/// Receive one fd sent with SCM_RIGHTS.
fn recv_fd(sock: i32) -> std::io::Result<std::os::fd::OwnedFd> {
    let mut byte = [0u8; 512];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut libc::c_void,
        iov_len: byte.len(),
    };
    // Room for one cmsghdr carrying one int, aligned.
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; zeroed is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: recvmsg into buffers that live across the call.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: walking the control buffer the kernel filled, with libc's macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const i32);
                return Ok(crate::unpack::fsops::own(fd));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Err(std::io::Error::other("no fd received"))
}

/// This process as a monitor: pid and start time.
fn me() -> Option<(i32, u64)> {
    let pid = std::process::id() as i32;
    hull::state::proc_stat(pid).map(|(_, start)| (pid, start))
}

fn redirect(target: i32, path: &Path, flags: i32) -> Result<()> {
    let fd = hull::sys::openat(libc::AT_FDCWD, path, flags, 0o640)
        .with_context(|| format!("open {}", path.display()))?;
    // SAFETY: dup2 of a valid fd onto a standard fd.
    if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
        bail!("dup2: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// Is something mounted on `p` (its device differs from its parent's)?
pub fn is_mountpoint(p: &Path) -> bool {
    let (Ok(a), Some(Ok(b))) = (
        std::fs::symlink_metadata(p),
        p.parent().map(std::fs::symlink_metadata),
    ) else {
        return false;
    };
    a.dev() != b.dev()
}

/// The createRuntime hook of `--network none`: bring up `lo` in the container's new network
/// namespace (hull, like runc, leaves it down). Reads the OCI state from stdin.
pub fn loopback_up_hook() -> Result<()> {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(std::io::stdin(), 1 << 20), &mut s)?;
    let state: serde_json::Value = serde_json::from_str(&s).context("hook state")?;
    let pid = state["pid"].as_i64().context("hook state: no pid")?;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).context("open netns")?;
    // SAFETY: setns with a namespace fd; this short-lived hook process does nothing else.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } < 0 {
        bail!("setns: {}", std::io::Error::last_os_error());
    }
    // SAFETY: a datagram socket for interface ioctls.
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        bail!("socket: {}", std::io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; zeroed is valid.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: interface ioctls on our socket with a valid ifreq.
    unsafe {
        if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            bail!("SIOCGIFFLAGS lo: {}", std::io::Error::last_os_error());
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock, libc::SIOCSIFFLAGS, &ifr) < 0 {
            bail!("SIOCSIFFLAGS lo: {}", std::io::Error::last_os_error());
        }
        libc::close(sock);
    }
    Ok(())
}
