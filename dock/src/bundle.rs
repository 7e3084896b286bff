//! Image config + `run` flags → an OCI runtime spec (config.json) for hull.
//!
//! The image config decides only what happens inside the container (command, env, cwd, user,
//! volume mount points); host paths come from the command line and dock's own data root.

use crate::unpack::fsops::Dir;
use hull::sys::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// What `dock run`/`dock create` were asked for (kept in the container record).
#[derive(clap::Args, Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunFlags {
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run in the background and print the container id
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep stdin open
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Container name
    #[arg(long)]
    pub name: Option<String>,
    /// none (a new network namespace with only lo) or host
    #[arg(long, default_value = "none")]
    pub network: String,
    /// Override the image's ENTRYPOINT ("" clears it)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to take it from dock's environment)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from files
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// name|uid[:group|gid]
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// host-path:container-path[:ro] or volume-name:container-path[:ro]
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Mount the root filesystem read-only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// A tmpfs mount: path[:options]
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Container host name
    #[arg(long = "hostname", short = 'h')]
    pub hostname: Option<String>,
    /// Memory limit (bytes, or with k/m/g suffix)
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Process limit (-1 unlimited)
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// no-new-privileges, seccomp=unconfined, seccomp=FILE
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Give the container all capabilities and host devices, no seccomp, no masked paths
    #[arg(long)]
    pub privileged: bool,
}

impl RunFlags {
    /// `--network`, with the library default (empty) meaning `none`.
    pub fn network_mode(&self) -> &str {
        if self.network.is_empty() {
            "none"
        } else {
            &self.network
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BundleError(pub String);

fn err<T>(s: impl Into<String>) -> Result<T, BundleError> {
    Err(BundleError(s.into()))
}

/// docker's default capabilities.
pub const DEFAULT_CAPS: &[&str] = &[
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
    "CAP_AUDIT_WRITE",
];

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Capabilities this kernel knows (`/proc/sys/kernel/cap_last_cap`) that dock itself may
/// pass on (its bounding set), as docker's list of "all" capabilities.
fn kernel_caps() -> Vec<String> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(40);
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPS
        .iter()
        .enumerate()
        .take(last + 1)
        .filter(|(i, _)| bounding & (1u64 << i) != 0)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn cap_name(s: &str) -> String {
    let up = s.to_ascii_uppercase();
    if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    }
}

pub fn capabilities(f: &RunFlags) -> Result<Vec<String>, BundleError> {
    if f.privileged {
        return Ok(kernel_caps());
    }
    let known = kernel_caps();
    let mut caps: Vec<String> = DEFAULT_CAPS.iter().map(|s| s.to_string()).collect();
    for d in &f.cap_drop {
        if d.eq_ignore_ascii_case("all") {
            caps.clear();
        } else {
            let n = cap_name(d);
            if !ALL_CAPS.contains(&n.as_str()) {
                return err(format!("unknown capability to drop: {d:?}"));
            }
            caps.retain(|c| *c != n);
        }
    }
    for a in &f.cap_add {
        if a.eq_ignore_ascii_case("all") {
            caps = known.clone();
        } else {
            let n = cap_name(a);
            if !known.contains(&n) {
                return err(format!("unknown capability to add: {a:?}"));
            }
            if !caps.contains(&n) {
                caps.push(n);
            }
        }
    }
    Ok(caps)
}

/// docker's masked and read-only paths.
const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// `-m 512m` etc.
pub fn parse_size(s: &str) -> Result<i64, BundleError> {
    let s = s.trim();
    let (num, mul) = match s.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('b') => (&s[..s.len() - 1], 1),
        Some('k') => (&s[..s.len() - 1], 1 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n > 0)
        .ok_or_else(|| BundleError(format!("invalid size {s:?}")))
}

/// Read a small file inside `rootfs`, resolved in it (a symlinked /etc/passwd cannot point at
/// the host's).
pub fn read_in_root(rootfs: &Path, path: &str) -> Option<String> {
    let root = Dir::open(rootfs).ok()?;
    // Non-blocking, and only a regular file: an image's /etc/passwd may be a fifo.
    let fd = openat2(
        root.fd().as_raw_fd(),
        Path::new(path.trim_start_matches('/')),
        libc::O_RDONLY | libc::O_NONBLOCK,
        0,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
    .ok()?;
    let st = hull::sys::fstat(fd.as_raw_fd()).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let mut s = String::new();
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut s)
        .ok()?;
    Some(s)
}

#[derive(Debug, PartialEq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional: Vec<u32>,
}

/// Resolve `name|uid[:group|gid]` against the image's /etc/passwd and /etc/group.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<User, BundleError> {
    let passwd = read_in_root(rootfs, "/etc/passwd").unwrap_or_default();
    let group = read_in_root(rootfs, "/etc/group").unwrap_or_default();
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let users: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3)
        .collect();
    let entry = users
        .iter()
        .find(|f| f[0] == u || (u.parse::<u32>().is_ok() && f[2] == u));
    let (uid, mut gid, name) = match (entry, u.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse::<u32>()
                .map_err(|_| BundleError(format!("bad uid in /etc/passwd for {u}")))?,
            f[3].parse::<u32>()
                .map_err(|_| BundleError(format!("bad gid in /etc/passwd for {u}")))?,
            Some(f[0]),
        ),
        (None, Ok(n)) => (n, 0, None),
        (None, Err(_)) => {
            return err(format!(
                "unable to find user {u}: no matching entries in passwd file"
            ))
        }
    };
    if let Some(g) = g {
        gid = match groups.iter().find(|f| f[0] == g) {
            Some(f) => f[2]
                .parse()
                .map_err(|_| BundleError(format!("bad gid in /etc/group for {g}")))?,
            None => g.parse().map_err(|_| {
                BundleError(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        };
    }
    let mut additional = Vec::new();
    if let (Some(name), None) = (name, g) {
        for f in &groups {
            if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
                if let Ok(id) = f[2].parse::<u32>() {
                    if id != gid && !additional.contains(&id) {
                        additional.push(id);
                    }
                }
            }
        }
    }
    Ok(User {
        uid,
        gid,
        additional,
    })
}

/// A container path from an image or the command line: absolute, no `..`.
pub fn check_container_path(p: &str, what: &str) -> Result<String, BundleError> {
    if !p.starts_with('/') {
        return err(format!("{what} {p:?}: not an absolute path"));
    }
    if p.split('/').any(|c| c == "..") {
        return err(format!("{what} {p:?}: contains `..`"));
    }
    Ok(p.to_string())
}

/// Parse an env file (KEY=VALUE lines, `#` comments, bare KEY from dock's environment).
fn env_file(p: &Path) -> Result<Vec<String>, BundleError> {
    let s = std::fs::read_to_string(p)
        .map_err(|e| BundleError(format!("env file {}: {e}", p.display())))?;
    Ok(s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(expand_env)
        .collect())
}

fn expand_env(e: &str) -> Option<String> {
    if e.contains('=') {
        Some(e.to_string())
    } else {
        std::env::var(e).ok().map(|v| format!("{e}={v}"))
    }
}

fn set_env(env: &mut Vec<String>, kv: String) {
    let key = kv.split('=').next().unwrap_or("").to_string();
    env.retain(|e| e.split('=').next() != Some(&key));
    env.push(kv);
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The process args: ENTRYPOINT + CMD with docker's override rules.
pub fn command(f: &RunFlags, args: &[String], image: &Value) -> Result<Vec<String>, BundleError> {
    let entry = match &f.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => strings(&image["Entrypoint"]),
    };
    let cmd = if !args.is_empty() {
        args.to_vec()
    } else if f.entrypoint.is_some() {
        Vec::new()
    } else {
        strings(&image["Cmd"])
    };
    let all: Vec<String> = entry.into_iter().chain(cmd).collect();
    if all.is_empty() {
        return err("no command specified");
    }
    Ok(all)
}

/// A mount the container gets: named or anonymous volumes live under the data root.
pub struct Volumes<'a> {
    pub data_root: &'a Path,
}

impl Volumes<'_> {
    pub fn dir(&self, name: &str) -> Result<PathBuf, BundleError> {
        let ok = !name.is_empty()
            && name.len() <= 128
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && !name.starts_with('.');
        if !ok {
            return err(format!("invalid volume name {name:?}"));
        }
        let d = self.data_root.join("volumes").join(name).join("_data");
        std::fs::create_dir_all(&d).map_err(|e| BundleError(format!("volume {name}: {e}")))?;
        Ok(d)
    }
}

/// Everything `build` needs that is not in the flags.
pub struct Inputs<'a> {
    pub id: &'a str,
    pub args: &'a [String],
    pub image_config: &'a Value,
    pub rootfs: &'a Path,
    pub container_dir: &'a Path,
    pub data_root: &'a Path,
}

/// The result: the spec, and the anonymous volumes made for it.
pub struct Built {
    pub spec: Value,
    pub anon_volumes: Vec<String>,
}

pub fn build(f: &RunFlags, i: &Inputs) -> Result<Built, BundleError> {
    let img = &i.image_config["config"];
    let mut spec = hull::spec::default_spec(false);
    let args = command(f, i.args, img)?;

    let mut env: Vec<String> = Vec::new();
    set_env(
        &mut env,
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
    );
    let hostname = f
        .hostname
        .clone()
        .unwrap_or_else(|| i.id.chars().take(12).collect());
    set_env(&mut env, format!("HOSTNAME={hostname}"));
    for e in strings(&img["Env"]) {
        set_env(&mut env, e);
    }
    for p in &f.env_file {
        for e in env_file(p)? {
            set_env(&mut env, e);
        }
    }
    for e in &f.env {
        if let Some(kv) = expand_env(e) {
            set_env(&mut env, kv);
        }
    }
    if f.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }

    let cwd = match f
        .workdir
        .clone()
        .or_else(|| img["WorkingDir"].as_str().map(str::to_string))
        .filter(|s| !s.is_empty())
    {
        Some(w) => check_container_path(&w, "working directory")?,
        None => "/".into(),
    };
    let user_spec = f
        .user
        .clone()
        .or_else(|| img["User"].as_str().map(str::to_string))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "0".into());
    let user = resolve_user(i.rootfs, &user_spec)?;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        // HOME from the image's passwd (as docker does): the user's home, else `/`.
        let home = read_in_root(i.rootfs, "/etc/passwd")
            .and_then(|p| {
                p.lines()
                    .map(|l| l.split(':').collect::<Vec<_>>())
                    .find(|f| f.len() >= 6 && f[2] == user.uid.to_string())
                    .map(|f| f[5].to_string())
            })
            .filter(|h| h.starts_with('/'))
            .unwrap_or_else(|| {
                if user.uid == 0 {
                    "/root".into()
                } else {
                    "/".into()
                }
            });
        env.push(format!("HOME={home}"));
    }

    let caps = capabilities(f)?;
    let mut nnp = false;
    let mut seccomp = if f.privileged {
        SeccompChoice::None
    } else {
        SeccompChoice::Default
    };
    for o in &f.security_opt {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o.as_str(), ""));
        match (k, v) {
            ("no-new-privileges", "" | "true") => nnp = true,
            ("no-new-privileges", "false") => nnp = false,
            ("seccomp", "unconfined") => seccomp = SeccompChoice::None,
            ("seccomp", file) if !file.is_empty() => {
                seccomp = SeccompChoice::File(PathBuf::from(file))
            }
            _ => return err(format!("unsupported --security-opt {o:?}")),
        }
    }

    let p = &mut spec["process"];
    p["terminal"] = json!(f.tty);
    p["args"] = json!(args);
    p["env"] = json!(env);
    p["cwd"] = json!(cwd);
    p["user"] = json!({"uid": user.uid, "gid": user.gid, "additionalGids": user.additional});
    p["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    p["noNewPrivileges"] = json!(nnp);
    p.as_object_mut().map(|o| o.remove("rlimits"));
    spec["root"] = json!({"path": "rootfs", "readonly": f.read_only});
    spec["hostname"] = json!(hostname);

    // Mounts.
    let mut mounts = spec["mounts"].as_array().cloned().unwrap_or_default();
    if f.privileged {
        for m in mounts.iter_mut() {
            if m["type"] == "sysfs" || m["type"] == "cgroup" {
                m["options"] = json!(["nosuid", "noexec", "nodev"]);
            }
        }
    }
    let cd = i.container_dir;
    for (file, dest) in [
        ("hosts", "/etc/hosts"),
        ("hostname", "/etc/hostname"),
        ("resolv.conf", "/etc/resolv.conf"),
    ] {
        mounts.push(json!({"destination": dest, "type": "bind",
            "source": cd.join(file), "options": ["rbind", "rprivate"]}));
    }
    let vols = Volumes {
        data_root: i.data_root,
    };
    let mut anon = Vec::new();
    let mut dests: Vec<String> = Vec::new();
    for v in &f.volumes {
        let parts: Vec<&str> = v.split(':').collect();
        let (src, dst, ro) = match parts.as_slice() {
            [s, d] => (*s, *d, false),
            [s, d, "ro"] => (*s, *d, true),
            [s, d, "rw"] => (*s, *d, false),
            [d] => ("", *d, false),
            _ => return err(format!("invalid volume specification {v:?}")),
        };
        let dst = check_container_path(dst, "volume destination")?;
        let source = if src.is_empty() {
            let name = random_hex(32);
            let d = vols.dir(&name)?;
            anon.push(name);
            d
        } else if src.starts_with('/') {
            let p = PathBuf::from(src);
            if !p.exists() {
                std::fs::create_dir_all(&p)
                    .map_err(|e| BundleError(format!("volume source {src}: {e}")))?;
            }
            p
        } else {
            vols.dir(src)?
        };
        let mut opts = vec!["rbind", "rprivate"];
        if ro {
            opts.push("ro");
        }
        dests.push(dst.clone());
        mounts.push(json!({"destination": dst, "type": "bind", "source": source, "options": opts}));
    }
    if let Some(iv) = img["Volumes"].as_object() {
        for dst in iv.keys() {
            let dst = check_container_path(dst, "image volume")?;
            if dests.contains(&dst) {
                continue;
            }
            let name = random_hex(32);
            let d = vols.dir(&name)?;
            anon.push(name);
            mounts.push(json!({"destination": dst, "type": "bind", "source": d,
                "options": ["rbind", "rprivate"]}));
        }
    }
    for t in &f.tmpfs {
        let (dst, o) = t.split_once(':').unwrap_or((t.as_str(), ""));
        let dst = check_container_path(dst, "tmpfs")?;
        let mut opts: Vec<String> = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
        opts.extend(o.split(',').filter(|s| !s.is_empty()).map(str::to_string));
        mounts
            .push(json!({"destination": dst, "type": "tmpfs", "source": "tmpfs", "options": opts}));
    }
    spec["mounts"] = json!(mounts);

    // Linux.
    let l = &mut spec["linux"];
    if f.privileged {
        l["maskedPaths"] = json!([]);
        l["readonlyPaths"] = json!([]);
    } else {
        l["maskedPaths"] = json!(MASKED);
        l["readonlyPaths"] = json!(READONLY);
    }
    match f.network_mode() {
        "none" => {}
        "host" => {
            if let Some(ns) = l["namespaces"].as_array_mut() {
                ns.retain(|n| n["type"] != "network");
            }
        }
        other => return err(format!("unsupported --network {other:?} (none or host)")),
    }
    // Privileged: every host device, and the device cgroup allows them all (as docker).
    let mut res = if f.privileged {
        l["devices"] = json!(crate::hostdev::host_devices(Path::new("/dev")));
        json!({"devices": [{"allow": true, "access": "rwm"}]})
    } else {
        json!({"devices": [{"allow": false, "access": "rwm"}]})
    };
    if let Some(m) = &f.memory {
        res["memory"] = json!({"limit": parse_size(m)?});
    }
    if let Some(c) = f.cpus {
        if !(c > 0.0 && c.is_finite()) {
            return err(format!("invalid --cpus {c}"));
        }
        res["cpu"] = json!({"quota": (c * 100_000.0) as i64, "period": 100_000});
    }
    if let Some(p) = f.pids_limit {
        res["pids"] = json!({"limit": if p <= 0 { -1 } else { p }});
    }
    l["resources"] = res;
    l["cgroupsPath"] = json!(format!("/dock/{}", i.id));
    match seccomp {
        SeccompChoice::None => {}
        SeccompChoice::Default => {
            l["seccomp"] = crate::seccomp::convert(&crate::seccomp::docker_default(), &caps);
        }
        SeccompChoice::File(p) => {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| BundleError(format!("seccomp profile {}: {e}", p.display())))?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| BundleError(format!("seccomp profile {}: {e}", p.display())))?;
            l["seccomp"] = crate::seccomp::convert(&v, &caps);
        }
    }
    Ok(Built {
        spec,
        anon_volumes: anon,
    })
}

enum SeccompChoice {
    None,
    Default,
    File(PathBuf),
}

/// `n` random hex characters from the kernel's random pool.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n.div_ceil(2)];
    // SAFETY: getrandom into a buffer of the given length.
    unsafe { libc::getrandom(buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    let mut s: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    s.truncate(n);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entrypoint_and_cmd() {
        let img = json!({"Entrypoint": ["/e"], "Cmd": ["a", "b"]});
        let f = RunFlags::default();
        assert_eq!(command(&f, &[], &img).unwrap(), ["/e", "a", "b"]);
        assert_eq!(command(&f, &["x".into()], &img).unwrap(), ["/e", "x"]);
        let f = RunFlags {
            entrypoint: Some("/o".into()),
            ..Default::default()
        };
        assert_eq!(command(&f, &[], &img).unwrap(), ["/o"]);
        let f = RunFlags {
            entrypoint: Some("".into()),
            ..Default::default()
        };
        assert!(command(&f, &[], &img).is_err());
    }

    #[test]
    fn paths_and_sizes() {
        assert!(check_container_path("/a/../b", "v").is_err());
        assert!(check_container_path("a", "v").is_err());
        assert_eq!(parse_size("2m").unwrap(), 2 << 20);
        assert!(parse_size("x").is_err());
    }
}
