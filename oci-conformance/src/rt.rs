//! Runtimes under test, per-case contexts, bundles and runtime invocations.
use serde_json::{json, Value};
use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const TIMEOUT: Duration = Duration::from_secs(20);
static N: AtomicUsize = AtomicUsize::new(0);
/// Set when the run is interrupted: no new runtime commands start, except delete.
pub static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A runtime under test: a display name and the argv prefix that invokes it.
#[derive(Clone, Debug)]
pub struct Runtime {
    pub name: String,
    pub argv: Vec<String>,
    /// State directory passed as `--root`.
    pub root: PathBuf,
}

/// Why a case did not pass.
#[derive(Debug)]
pub enum Fail {
    Fail(String),
    Skip(String),
}
impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Fail(s)
    }
}
impl From<&str> for Fail {
    fn from(s: &str) -> Self {
        Fail::Fail(s.to_string())
    }
}
pub type R = Result<(), Fail>;

#[macro_export]
macro_rules! ensure {
    ($c:expr, $($m:tt)*) => { if !$c { return Err($crate::rt::Fail::Fail(format!($($m)*))); } };
}
#[macro_export]
macro_rules! skip {
    ($($m:tt)*) => { return Err($crate::rt::Fail::Skip(format!($($m)*))) };
}

/// What one runtime invocation did.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}
impl Out {
    pub fn ok(&self, what: &str) -> Result<&Self, Fail> {
        if self.code == 0 {
            Ok(self)
        } else {
            Err(Fail::Fail(format!(
                "{what}: exit {} stderr {:?}",
                self.code,
                self.stderr.trim()
            )))
        }
    }
    pub fn json(&self) -> Result<Value, Fail> {
        // A pty turns \n into \r\n; JSON takes \r as whitespace. Take the first JSON line.
        let text = self.stdout.trim();
        serde_json::from_str(text)
            .or_else(|_| {
                let l = text
                    .lines()
                    .find(|l| l.trim_start().starts_with('{'))
                    .unwrap_or("");
                serde_json::from_str(l.trim())
            })
            .map_err(|e| {
                Fail::Fail(format!(
                    "output is not JSON ({e}): {:?} stderr {:?}",
                    short(&self.stdout),
                    short(&self.stderr)
                ))
            })
    }
}

pub fn short(s: &str) -> String {
    let s = s.trim();
    if s.len() > 300 {
        format!(
            "{}...",
            &s[..s.char_indices().nth(300).map(|x| x.0).unwrap_or(s.len())]
        )
    } else {
        s.to_string()
    }
}

/// Files every bundle's rootfs is made of: built once, hard-linked into each bundle.
pub struct Base {
    pub dir: PathBuf,
}

impl Base {
    pub fn build(dir: &Path, probe: &Path) -> Result<Base, String> {
        let rootfs = dir.join("rootfs");
        let _ = fs::remove_dir_all(&rootfs);
        for d in [
            "bin",
            "sbin",
            "etc",
            "proc",
            "sys",
            "dev",
            "tmp",
            "root",
            "home/user",
            "usr/bin",
            "usr/sbin",
            "mnt",
            "run",
            "var",
        ] {
            fs::create_dir_all(rootfs.join(d)).map_err(|e| format!("mkdir {d}: {e}"))?;
        }
        let bb = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .ok_or("no busybox: install busybox-static")?;
        fs::copy(bb, rootfs.join("bin/busybox")).map_err(|e| format!("copy busybox: {e}"))?;
        let list = Command::new(bb)
            .arg("--list")
            .output()
            .map_err(|e| format!("busybox --list: {e}"))?;
        for app in String::from_utf8_lossy(&list.stdout).lines() {
            let app = app.trim();
            if !app.is_empty() && app != "busybox" {
                let _ = symlink("busybox", rootfs.join("bin").join(app));
            }
        }
        fs::copy(probe, rootfs.join("probe"))
            .map_err(|e| format!("copy probe {}: {e}", probe.display()))?;
        fs::set_permissions(rootfs.join("probe"), fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        // The probe is a normal dynamically linked binary: bring its libraries along.
        let ldd = Command::new("ldd")
            .arg(probe)
            .output()
            .map_err(|e| format!("ldd: {e}"))?;
        for l in String::from_utf8_lossy(&ldd.stdout).lines() {
            let lib = l.split_whitespace().find(|w| w.starts_with('/'));
            if let Some(lib) = lib {
                let dst = rootfs.join(lib.trim_start_matches('/'));
                fs::create_dir_all(dst.parent().unwrap()).map_err(|e| e.to_string())?;
                fs::copy(lib, &dst).map_err(|e| format!("copy {lib}: {e}"))?;
            }
        }
        fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))
            .map_err(|e| e.to_string())?;
        fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n").map_err(|e| e.to_string())?;
        fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
        )
        .map_err(|e| e.to_string())?;
        Ok(Base { dir: rootfs })
    }
}

/// Copy a tree with hard links for files (fast, and the rootfs is never written through them).
fn link_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dst)?;
    fs::set_permissions(dst, fs::metadata(src)?.permissions())?;
    for e in fs::read_dir(src)? {
        let e = e?;
        let (s, d) = (e.path(), dst.join(e.file_name()));
        let t = e.file_type()?;
        if t.is_dir() {
            link_tree(&s, &d)?;
        } else if t.is_symlink() {
            symlink(fs::read_link(&s)?, &d)?;
        } else {
            fs::hard_link(&s, &d)?;
        }
    }
    Ok(())
}

/// An OCI bundle being prepared: its directory and config (written before each use).
pub struct Bundle {
    pub dir: PathBuf,
    pub config: Value,
}
impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn write(&self) {
        let _ = fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap_or_default(),
        );
    }
    pub fn args(&mut self, a: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(a);
        self
    }
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["/bin/sh", "-c", script])
    }
    /// Run the probe with these extra arguments.
    pub fn probe(&mut self, extra: &[&str]) -> &mut Self {
        let mut a = vec!["/probe"];
        a.extend_from_slice(extra);
        self.args(&a)
    }
    pub fn linux(&mut self) -> &mut Value {
        &mut self.config["linux"]
    }
    pub fn process(&mut self) -> &mut Value {
        &mut self.config["process"]
    }
    pub fn remove_ns(&mut self, t: &str) {
        if let Some(a) = self.config["linux"]["namespaces"].as_array_mut() {
            a.retain(|n| n["type"] != t);
        }
    }
    pub fn add_ns(&mut self, t: &str, path: Option<&str>) {
        self.remove_ns(t);
        let mut n = json!({"type": t});
        if let Some(p) = path {
            n["path"] = json!(p);
        }
        if let Some(a) = self.config["linux"]["namespaces"].as_array_mut() {
            a.push(n);
        }
    }
    pub fn add_mount(&mut self, m: Value) {
        if let Some(a) = self.config["mounts"].as_array_mut() {
            a.push(m);
        }
    }
}

pub fn default_caps() -> Value {
    json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
    ])
}

/// The config every case starts from (runc's `spec` defaults, plus a docker-like capability set).
/// ociVersion 1.0.2: crun 1.8 refuses newer versions.
pub fn template() -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/probe"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": default_caps(), "effective": default_caps(), "permitted": default_caps()},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "oci-conformance",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Options for one invocation.
#[derive(Default)]
pub struct Opts<'a> {
    pub stdin: Option<&'a str>,
    /// Extra fds to pass as 3, 4, ... (the files at these paths, opened read-write).
    pub extra_files: Vec<PathBuf>,
    pub timeout: Option<Duration>,
    pub cwd: Option<PathBuf>,
}

/// One case's view of one runtime: a work dir, container ids to clean up.
pub struct Ctx<'a> {
    pub rt: &'a Runtime,
    pub base: &'a Base,
    pub work: PathBuf,
    ids: RefCell<Vec<String>>,
}

impl<'a> Ctx<'a> {
    pub fn new(rt: &'a Runtime, base: &'a Base, work: PathBuf) -> Self {
        let _ = fs::create_dir_all(&work);
        Ctx {
            rt,
            base,
            work,
            ids: RefCell::new(vec![]),
        }
    }
    pub fn uniq(&self) -> usize {
        N.fetch_add(1, Ordering::SeqCst)
    }
    /// A fresh container id (deleted with --force when the case ends).
    pub fn id(&self) -> String {
        let id = format!("oc-{}-{}-{}", self.rt.name, std::process::id(), self.uniq());
        self.ids.borrow_mut().push(id.clone());
        id
    }
    pub fn bundle(&self) -> Bundle {
        let dir = self.work.join(format!("b{}", self.uniq()));
        if !STOP.load(Ordering::SeqCst) {
            let _ = link_tree(&self.base.dir, &dir.join("rootfs"));
        }
        Bundle {
            dir,
            config: template(),
        }
    }
    /// Run the runtime with these arguments after `--root`.
    pub fn rt(&self, args: &[&str]) -> Out {
        self.rt_with(args, Opts::default())
    }
    pub fn rt_with(&self, args: &[&str], o: Opts) -> Out {
        if STOP.load(Ordering::SeqCst) && args.first() != Some(&"delete") {
            return Out {
                code: -1,
                stdout: String::new(),
                stderr: "interrupted".into(),
                took: Duration::ZERO,
            };
        }
        let mut c = Command::new(&self.rt.argv[0]);
        if self.rt.argv[0] == "nsenter" {
            // nsenter changes to the namespace's root: keep the intended working directory.
            let wd = o
                .cwd
                .clone()
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_else(|| PathBuf::from("/"));
            c.arg(format!("--wd={}", wd.display()));
        }
        c.args(&self.rt.argv[1..])
            .arg("--root")
            .arg(&self.rt.root)
            .args(args);
        self.exec(c, o)
    }
    /// Run a prepared command, capturing stdout/stderr through files (a detached container
    /// inheriting them never keeps us waiting), killing it after the timeout.
    pub fn exec(&self, mut c: Command, o: Opts) -> Out {
        let n = self.uniq();
        let (po, pe) = (
            self.work.join(format!("out{n}")),
            self.work.join(format!("err{n}")),
        );
        let (fo, fe) = match (fs::File::create(&po), fs::File::create(&pe)) {
            (Ok(a), Ok(b)) => (a, b),
            _ => {
                return Out {
                    code: -1,
                    stdout: String::new(),
                    stderr: "cannot create capture files".into(),
                    took: Duration::ZERO,
                }
            }
        };
        c.stdout(fo).stderr(fe);
        if let Some(s) = o.stdin {
            let p = self.work.join(format!("in{n}"));
            let _ = fs::write(&p, s);
            match fs::File::open(&p) {
                Ok(f) => c.stdin(f),
                Err(_) => c.stdin(Stdio::null()),
            };
        } else {
            c.stdin(Stdio::null());
        }
        if let Some(d) = &o.cwd {
            c.current_dir(d);
        }
        let files: Vec<fs::File> = o
            .extra_files
            .iter()
            .filter_map(|p| {
                fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(p)
                    .ok()
            })
            .collect();
        if !files.is_empty() {
            use std::os::unix::io::AsRawFd;
            use std::os::unix::process::CommandExt;
            let raw: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
            // SAFETY: between fork and exec we only call dup2/fcntl, which are async-signal-safe.
            unsafe {
                c.pre_exec(move || {
                    // Move the sources out of the way first, then place them at 3, 4, ...
                    let mut tmp = vec![];
                    for &fd in &raw {
                        let t = libc::fcntl(fd, libc::F_DUPFD, 100);
                        tmp.push(t);
                    }
                    for (i, &t) in tmp.iter().enumerate() {
                        libc::dup2(t, 3 + i as i32);
                        libc::close(t);
                    }
                    Ok(())
                });
            }
        }
        let start = Instant::now();
        let timeout = o.timeout.unwrap_or(TIMEOUT);
        let mut child = match c.spawn() {
            Ok(ch) => ch,
            Err(e) => {
                return Out {
                    code: -1,
                    stdout: String::new(),
                    stderr: format!("spawn: {e}"),
                    took: Duration::ZERO,
                }
            }
        };
        drop(files);
        let code = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
                Ok(None) if start.elapsed() > timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break -2;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => break -1,
            }
        };
        let out = Out {
            code,
            stdout: fs::read_to_string(&po).unwrap_or_default(),
            stderr: if code == -2 {
                format!(
                    "timed out after {timeout:?}; {}",
                    fs::read_to_string(&pe).unwrap_or_default()
                )
            } else {
                fs::read_to_string(&pe).unwrap_or_default()
            },
            took: start.elapsed(),
        };
        let _ = fs::remove_file(&po);
        let _ = fs::remove_file(&pe);
        out
    }

    /// `run --bundle B ID` in the foreground; the container's stdout is the result.
    pub fn run(&self, b: &Bundle) -> Out {
        b.write();
        let id = self.id();
        self.rt(&["run", "--bundle", b.dir.to_str().unwrap_or(""), &id])
    }
    /// Run the bundle and parse the probe's JSON (the run must exit 0).
    pub fn probe(&self, b: &Bundle) -> Result<Value, Fail> {
        let o = self.run(b);
        o.ok("run")?;
        o.json()
    }
    /// `create --bundle B [extra] ID`; returns the id.
    pub fn create(&self, b: &Bundle, extra: &[&str]) -> (String, Out) {
        b.write();
        let id = self.id();
        let mut a = vec!["create", "--bundle", b.dir.to_str().unwrap_or("")];
        a.extend_from_slice(extra);
        a.push(&id);
        let o = self.rt(&a);
        (id, o)
    }
    /// create that must succeed.
    pub fn created(&self, b: &Bundle) -> Result<String, Fail> {
        let (id, o) = self.create(b, &[]);
        o.ok("create")?;
        Ok(id)
    }
    /// create + start that must succeed.
    pub fn started(&self, b: &Bundle) -> Result<String, Fail> {
        let id = self.created(b)?;
        self.rt(&["start", &id]).ok("start")?;
        Ok(id)
    }
    pub fn state(&self, id: &str) -> Result<Value, Fail> {
        let o = self.rt(&["state", id]);
        o.ok("state")?;
        o.json()
    }
    pub fn status(&self, id: &str) -> String {
        self.state(id)
            .ok()
            .and_then(|s| s["status"].as_str().map(String::from))
            .unwrap_or_else(|| "<no state>".into())
    }
    pub fn pid(&self, id: &str) -> Result<i64, Fail> {
        let s = self.state(id)?;
        s["pid"]
            .as_i64()
            .filter(|&p| p > 0)
            .ok_or_else(|| Fail::Fail(format!("state has no pid: {s}")))
    }
    /// Poll until the container has this status.
    pub fn wait_status(&self, id: &str, want: &str, t: Duration) -> Result<(), Fail> {
        let end = Instant::now() + t;
        loop {
            let s = self.status(id);
            if s == want {
                return Ok(());
            }
            if Instant::now() > end {
                return Err(Fail::Fail(format!("status stayed {s:?}, wanted {want:?}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    /// Wait for a file the container writes (through the bundle's rootfs).
    pub fn wait_file(&self, p: &Path, t: Duration) -> Result<String, Fail> {
        let end = Instant::now() + t;
        loop {
            if let Ok(s) = fs::read_to_string(p) {
                if !s.is_empty() {
                    return Ok(s);
                }
            }
            if Instant::now() > end {
                return Err(Fail::Fail(format!("{} never appeared", p.display())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    pub fn cleanup(&self) {
        for id in self.ids.borrow().iter() {
            if self.rt.root.join(id).exists() {
                let _ = self.rt_with(
                    &["delete", "--force", id],
                    Opts {
                        timeout: Some(Duration::from_secs(10)),
                        ..Default::default()
                    },
                );
            }
        }
    }
}

/// Lazily unmount everything mounted at or below `dir` in our mount namespace (mounts that
/// propagated back from a container with shared rootfs propagation).
pub fn umount_under(dir: &Path) {
    let d = dir.to_string_lossy().to_string();
    let mut mps: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .filter(|m| m.starts_with(&format!("{d}/")))
        .collect();
    mps.sort();
    mps.dedup();
    for m in mps.iter().rev() {
        if let Ok(c) = std::ffi::CString::new(m.as_str()) {
            // SAFETY: c is a valid C string.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        self.cleanup();
        umount_under(&self.work);
        let _ = fs::remove_dir_all(&self.work);
    }
}

/// The host's own namespace link, e.g. "net:[4026531840]".
pub fn host_ns(t: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{t}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The directory of a process's cgroup for a v1 controller (or "" for the v2 hierarchy).
pub fn cgroup_dir(pid: i64, controller: &str) -> Option<PathBuf> {
    let s = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for l in s.lines() {
        let mut f = l.splitn(3, ':');
        let (_, keys, path) = (f.next()?, f.next()?, f.next()?);
        let hit = if controller.is_empty() {
            keys.is_empty()
        } else {
            keys.split(',').any(|k| k == controller)
        };
        if hit {
            if path == "/" {
                // The root cgroup: the process was not placed in this hierarchy.
                return None;
            }
            let mp = if controller.is_empty() {
                "/sys/fs/cgroup/unified".to_string()
            } else {
                // v1 mountpoints join co-mounted controllers (cpu,cpuacct); the symlinks cover both.
                format!("/sys/fs/cgroup/{keys}")
            };
            let mut p = PathBuf::from(mp);
            if !p.exists() {
                p = PathBuf::from(format!("/sys/fs/cgroup/{controller}"));
            }
            return Some(p.join(path.trim_start_matches('/')));
        }
    }
    None
}

pub fn read_trim(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}
