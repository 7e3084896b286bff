//! Helpers shared by the integration tests: a per-test environment (its own state root, temp
//! dir and container ids, all cleaned up on drop, even on panic), a busybox bundle builder, a
//! way to run hull with a timeout and capture its output, and a host-cleanliness check.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The hull binary under test: the one cargo built for this test run, or the release build
/// named by HULL_TEST_BINARY when the tests were compiled (scripts/test.sh tests the static
/// release binary we ship).
pub const HULL: &str = match option_env!("HULL_TEST_BINARY") {
    Some(p) => p,
    None => env!("CARGO_BIN_EXE_hull"),
};
/// Default per-invocation timeout: a hull command that takes longer has hung.
pub const TIMEOUT: Duration = Duration::from_secs(20);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What one hull invocation did.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panic with everything we know unless the command exited 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "hull failed: code {} stdout {:?} stderr {:?}",
            self.code, self.stdout, self.stderr
        );
        self
    }
    /// Panic unless the command exited with `code` and its stderr contains every one of `needles`.
    #[track_caller]
    pub fn fails_with(&self, code: i32, needles: &[&str]) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}: stdout {:?} stderr {:?}",
            self.stdout, self.stderr
        );
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr should mention {n:?}: {:?}",
                self.stderr
            );
        }
        self
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }
}

/// An exit status as a shell reports it: the code, or 128+N for death by signal N.
pub fn status_code(s: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

/// Wait for a child, killing it (SIGKILL) and panicking if it takes longer than `timeout`.
#[track_caller]
pub fn wait_timeout(mut child: Child, timeout: Duration, what: &str) -> ExitStatus {
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(timeout) {
        Ok(r) => r.unwrap_or_else(|e| panic!("wait for {what}: {e}")),
        Err(_) => {
            // SAFETY: the child is not reaped (its waiter thread is still blocked in wait), so
            // the pid is still ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("{what}: hung for more than {timeout:?} (killed pid {pid})");
        }
    }
}

/// The container's busybox applets (`busybox --list`), asked once.
fn applets() -> &'static Vec<String> {
    static A: OnceLock<Vec<String>> = OnceLock::new();
    A.get_or_init(|| {
        let out = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("run /bin/busybox --list: install busybox-static");
        assert!(out.status.success(), "busybox --list failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && l != "busybox")
            .collect()
    })
}

/// An OCI bundle: `dir/config.json` and `dir/rootfs`.
pub struct Bundle {
    pub dir: PathBuf,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn config(&self) -> Value {
        serde_json::from_slice(&fs::read(self.config_path()).expect("read config.json"))
            .expect("config.json is JSON")
    }
    pub fn write_config(&self, v: &Value) {
        fs::write(
            self.config_path(),
            serde_json::to_vec_pretty(v).expect("encode config"),
        )
        .expect("write config.json");
    }
    /// Change config.json with a closure.
    pub fn edit(&self, f: impl FnOnce(&mut Value)) -> &Self {
        let mut v = self.config();
        f(&mut v);
        self.write_config(&v);
        self
    }
    pub fn args(&self, args: &[&str]) -> &Self {
        self.edit(|c| c["process"]["args"] = serde_json::json!(args))
    }
    /// `sh -c SCRIPT`
    pub fn script(&self, script: &str) -> &Self {
        self.args(&["sh", "-c", script])
    }
}

/// Build a busybox rootfs at `dir/rootfs` and a config.json from `hull spec`.
pub fn make_bundle(dir: &Path) -> Bundle {
    let rootfs = dir.join("rootfs");
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
    ] {
        fs::create_dir_all(rootfs.join(d)).expect("mkdir in rootfs");
    }
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("copy /bin/busybox");
    for app in applets() {
        let link = rootfs.join("bin").join(app);
        if !link.exists() {
            symlink("busybox", &link).expect("applet symlink");
        }
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\n\
         user:x:1000:1000::/home/user:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n",
    )
    .unwrap();
    let out = Command::new(HULL)
        .args(["spec", "--bundle"])
        .arg(dir)
        .output()
        .expect("run hull spec");
    assert!(
        out.status.success(),
        "hull spec: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = Bundle {
        dir: dir.to_path_buf(),
    };
    b.edit(|c| {
        c["process"]["terminal"] = Value::Bool(false);
        c["process"]["args"] = serde_json::json!(["true"]);
    });
    b
}

/// One test's world: a temp dir holding its bundles and its own hull state root. Every
/// container id handed out by `id()` is force-deleted on drop, and the dir removed.
pub struct Env {
    pub name: String,
    pub base: PathBuf,
    pub root: PathBuf,
    ids: Mutex<Vec<String>>,
    /// Host mounts the test made (unmounted on drop, before the dir is removed).
    host_mounts: Mutex<Vec<PathBuf>>,
    n: AtomicUsize,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = PathBuf::from(format!("/tmp/hull-test-{}-{n}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).expect("create test dir");
        let root = base.join("state");
        Env {
            name: name.to_string(),
            base,
            root,
            ids: Mutex::new(Vec::new()),
            host_mounts: Mutex::new(Vec::new()),
            n: AtomicUsize::new(0),
        }
    }

    /// A new container id, unique on this host, naming the test; deleted on drop.
    pub fn id(&self, tag: &str) -> String {
        let id = format!(
            "{}-{tag}-{}-{}",
            self.name.replace('_', "-"),
            std::process::id(),
            self.n.fetch_add(1, Ordering::SeqCst)
        );
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// A fresh bundle under the test dir.
    pub fn bundle(&self) -> Bundle {
        let dir = self
            .base
            .join(format!("bundle{}", self.n.fetch_add(1, Ordering::SeqCst)));
        make_bundle(&dir)
    }

    /// A fresh path under the test dir (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.base
            .join(format!("{name}-{}", self.n.fetch_add(1, Ordering::SeqCst)))
    }

    /// A hull command with `--root` set and stdin closed.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(HULL);
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        c
    }

    /// Run hull with these arguments (after `--root`), from `cwd` if given.
    #[track_caller]
    pub fn hull(&self, args: &[&str]) -> Out {
        self.hull_in(None, args, TIMEOUT)
    }

    /// Run hull in directory `cwd` with a timeout. stdout/stderr go to files (not pipes), so a
    /// detached container inheriting them never keeps us waiting for EOF.
    #[track_caller]
    pub fn hull_in(&self, cwd: Option<&Path>, args: &[&str], timeout: Duration) -> Out {
        let mut c = self.cmd();
        c.args(args);
        if let Some(d) = cwd {
            c.current_dir(d);
        }
        self.run_cmd(c, &args.join(" "), timeout)
    }

    /// Run a prepared command with stdout/stderr captured through files.
    #[track_caller]
    pub fn run_cmd(&self, mut c: Command, what: &str, timeout: Duration) -> Out {
        let (o, e) = (self.path("stdout"), self.path("stderr"));
        c.stdout(fs::File::create(&o).unwrap())
            .stderr(fs::File::create(&e).unwrap());
        let child = c.spawn().expect("spawn hull");
        let st = wait_timeout(child, timeout, &format!("hull {what}"));
        let out = Out {
            code: status_code(st),
            stdout: fs::read_to_string(&o).unwrap_or_default(),
            stderr: fs::read_to_string(&e).unwrap_or_default(),
        };
        let _ = fs::remove_file(&o);
        let _ = fs::remove_file(&e);
        out
    }

    /// Start hull in the background (stdout/stderr to files whose paths are returned).
    pub fn spawn(&self, args: &[&str]) -> (Child, PathBuf, PathBuf) {
        let (o, e) = (self.path("stdout"), self.path("stderr"));
        let child = self
            .cmd()
            .args(args)
            .stdout(fs::File::create(&o).unwrap())
            .stderr(fs::File::create(&e).unwrap())
            .spawn()
            .expect("spawn hull");
        (child, o, e)
    }

    /// `hull run ID` in the bundle dir (foreground): the container's output is in stdout.
    #[track_caller]
    pub fn run(&self, b: &Bundle, id: &str) -> Out {
        self.hull(&["run", "--bundle", b.dir.to_str().unwrap(), id])
    }

    #[track_caller]
    pub fn create(&self, b: &Bundle, id: &str) -> Out {
        self.hull(&["create", "--bundle", b.dir.to_str().unwrap(), id])
    }

    /// `state ID` parsed; panics if it fails.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let o = self.hull(&["state", id]);
        o.ok();
        o.json()
    }

    #[track_caller]
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or("").to_string()
    }

    /// Poll until `state ID` says `status` (a container still being created may not exist yet).
    #[track_caller]
    pub fn wait_status(&self, id: &str, status: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let o = self.hull(&["state", id]);
            if o.code == 0 {
                let s = o.json();
                if s["status"] == status {
                    return s;
                }
            }
            if Instant::now() > deadline {
                panic!("container {id} did not reach {status:?} in {timeout:?}: {o:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Record a host mount made by the test so that drop unmounts it.
    pub fn host_mount(&self, p: &Path) {
        self.host_mounts.lock().unwrap().push(p.to_path_buf());
    }

    /// Assert that nothing of container `id` (bundle `b`) is left on the host.
    #[track_caller]
    pub fn assert_clean(&self, id: &str, b: &Bundle) {
        let problems = leftovers(&self.root, id, &b.rootfs());
        assert!(
            problems.is_empty(),
            "container {id} left things behind:\n  {}",
            problems.join("\n  ")
        );
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        for id in ids {
            if self.root.join(&id).exists() {
                let _ = Command::new(HULL)
                    .arg("--root")
                    .arg(&self.root)
                    .args(["delete", "--force", &id])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        for m in self
            .host_mounts
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
        {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = fs::remove_dir_all(&self.base);
    }
}

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "blkio",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// The cgroup hierarchies mounted on the host: mountpoint by controller key as
/// /proc/self/cgroup spells it ("" for cgroup2).
pub fn cgroup_mounts() -> BTreeMap<String, PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut out = BTreeMap::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (fstype, _src, opts) = (r.next().unwrap_or(""), r.next(), r.next().unwrap_or(""));
        let mp = PathBuf::from(left.split(' ').nth(4).unwrap_or(""));
        let key = match fstype {
            "cgroup2" => String::new(),
            "cgroup" => opts
                .split(',')
                .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                .collect::<Vec<_>>()
                .join(","),
            _ => continue,
        };
        out.entry(key).or_insert(mp);
    }
    out
}

/// Directories under `dir` (at most `depth` levels down) whose name matches `want`.
fn find_dirs(dir: &Path, want: &dyn Fn(&str) -> bool, depth: usize, found: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let p = e.path();
        if want(&e.file_name().to_string_lossy()) {
            found.push(p.clone());
        }
        if depth > 1 {
            find_dirs(&p, want, depth - 1, found);
        }
    }
}

/// Cgroup directories (bounded search under /sys/fs/cgroup/*/) whose name starts with `prefix`.
pub fn cgroup_dirs_with_prefix(prefix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            find_dirs(&h.path(), &|n| n.starts_with(prefix), 6, &mut found);
        }
    }
    found
}

/// Every cgroup directory named `id` under /sys/fs/cgroup/*/: the default place
/// (<our own cgroup>/<id>, hull being our child) and a bounded recursive search.
pub fn cgroup_dirs_named(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let own = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mounts = cgroup_mounts();
    for l in own.lines() {
        let mut f = l.splitn(3, ':');
        let (_, key, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
        if let Some(mp) = mounts.get(key) {
            let p = mp.join(path.trim_start_matches('/')).join(id);
            if p.exists() {
                found.push(p);
            }
        }
    }
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        for h in rd.flatten() {
            find_dirs(&h.path(), &|n| n == id, 6, &mut found);
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Processes whose root or cwd lies inside `rootfs`, or whose root mount is a bind of it (a
/// container process after pivot_root shows "/" as its root link, but its mountinfo names
/// the rootfs as the source of "/").
pub fn processes_in(rootfs: &Path) -> Vec<String> {
    let rootfs_s = rootfs.to_string_lossy().to_string();
    // mountinfo's root field is relative to the filesystem holding the rootfs; the unique
    // tail of the path is enough to recognise it.
    let tail: String = {
        let comps: Vec<_> = rootfs.components().collect();
        let n = comps.len();
        comps[n.saturating_sub(3)..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect::<Vec<_>>()
            .join("/")
    };
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let pid = e.file_name().to_string_lossy().to_string();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let p = e.path();
        for link in ["root", "cwd"] {
            if let Ok(t) = fs::read_link(p.join(link)) {
                if t.starts_with(rootfs) {
                    out.push(format!("pid {pid}: {link} -> {}", t.display()));
                }
            }
        }
        if let Ok(mi) = fs::read_to_string(p.join("mountinfo")) {
            for line in mi.lines() {
                let f: Vec<&str> = line.split(' ').collect();
                if f.len() > 4 && f[4] == "/" && (f[3] == rootfs_s || f[3].ends_with(&tail)) {
                    let comm = fs::read_to_string(p.join("comm")).unwrap_or_default();
                    out.push(format!(
                        "pid {pid} ({}) has the rootfs as its root mount: {line}",
                        comm.trim()
                    ));
                }
            }
        }
    }
    out
}

/// Mounts in our own mount namespace that involve `rootfs`.
pub fn host_mounts_of(rootfs: &Path) -> Vec<String> {
    let s = rootfs.to_string_lossy().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() > 4 && (f[4].starts_with(&s) || f[3].starts_with(&s))
        })
        .map(String::from)
        .collect()
}

/// Everything container `id` could have left behind: state dir, cgroups, mounts, processes.
pub fn leftovers(state_root: &Path, id: &str, rootfs: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let sd = state_root.join(id);
    if sd.exists() {
        problems.push(format!("state dir {} still exists", sd.display()));
    }
    for d in cgroup_dirs_named(id) {
        problems.push(format!("cgroup {} still exists", d.display()));
    }
    for m in host_mounts_of(rootfs) {
        problems.push(format!("mount of the rootfs on the host: {m}"));
    }
    problems.extend(processes_in(rootfs));
    problems.extend(processes_of(state_root, id));
    problems
}

/// Live processes whose command line names both this state root and this id: hull commands
/// for the container, and its init before it has exec'd (a clone of hull shares its argv).
pub fn processes_of(state_root: &Path, id: &str) -> Vec<String> {
    let root = state_root.to_string_lossy().to_string();
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let pid = e.file_name().to_string_lossy().to_string();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmd
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let has_root = args
            .iter()
            .any(|a| a == &root || a.ends_with(&format!("={root}")));
        if has_root && args.iter().any(|a| a == id) {
            out.push(format!("pid {pid} is still running: {}", args.join(" ")));
        }
    }
    out
}

/// Is the process alive (not a zombie)?
pub fn pid_alive(pid: i64) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let st = s
                .rfind(')')
                .and_then(|i| s[i + 2..].chars().next())
                .unwrap_or('X');
            st != 'Z' && st != 'X'
        }
        Err(_) => false,
    }
}

/// Poll `f` until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Parse `KEY=VALUE` lines printed by a container script.
pub fn kv(s: &str) -> BTreeMap<String, String> {
    s.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}
