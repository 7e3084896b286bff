//! Cgroup placement: find the hierarchies the host mounts (v1 controllers, the v2 unified tree,
//! or both on a hybrid host), create the container's directory in each, move init into it, and
//! remove it on delete. Resource limits, update, pause/resume and events build on this.

use crate::error::{Ctx, Error, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One mounted hierarchy. `key` is the controller list as /proc/self/cgroup spells it
/// (`memory`, `cpu,cpuacct`, `name=systemd`), or "" for cgroup v2.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub key: String,
    pub mountpoint: PathBuf,
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

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The hierarchies mounted in the caller's mount namespace, from one read of mountinfo per
/// process: create needs them several times, and mountinfo is long on busy hosts. The cgroup
/// mounts do not change while hull runs; a cloned init inherits the host's list, which is the
/// one it needs to mount cgroupfs in the container.
pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    static CACHE: std::sync::OnceLock<Vec<Hierarchy>> = std::sync::OnceLock::new();
    if let Some(h) = CACHE.get() {
        return Ok(h.clone());
    }
    let h = read_hierarchies()?;
    Ok(CACHE.get_or_init(|| h).clone())
}

fn read_hierarchies() -> Result<Vec<Hierarchy>> {
    let info = fs::read_to_string("/proc/self/mountinfo").ctx("read", "/proc/self/mountinfo")?;
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let (fstype, _src, opts) = (r.next().unwrap_or(""), r.next(), r.next().unwrap_or(""));
        let mountpoint = PathBuf::from(unescape(left.split(' ').nth(4).unwrap_or("")));
        let key = match fstype {
            "cgroup2" => String::new(),
            "cgroup" => {
                let ctrls: Vec<&str> = opts
                    .split(',')
                    .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                    .collect();
                ctrls.join(",")
            }
            _ => continue,
        };
        // A hierarchy mounted twice is used through its first mount.
        if !out.iter().any(|h| h.key == key) {
            out.push(Hierarchy { key, mountpoint });
        }
    }
    Ok(out)
}

/// The caller's own cgroup in each hierarchy, from /proc/self/cgroup.
pub fn own_cgroups() -> Result<BTreeMap<String, PathBuf>> {
    let s = fs::read_to_string("/proc/self/cgroup").ctx("read", "/proc/self/cgroup")?;
    Ok(s.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, key, path) = (f.next()?, f.next()?, f.next()?);
            Some((key.to_string(), PathBuf::from(path)))
        })
        .collect())
}

/// runc's rule for `linux.cgroupsPath`: absolute paths are taken as they are, relative ones
/// (and the default `<id>` when none is given) are relative to hull's own cgroup.
pub fn container_dirs(cgroups_path: Option<&Path>, id: &str) -> Result<BTreeMap<String, PathBuf>> {
    let rel = match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from(id),
    };
    if rel
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(Error::Config(format!(
            "linux.cgroupsPath {rel:?} must not contain \"..\""
        )));
    }
    if rel.to_string_lossy().contains(':') {
        return Err(Error::Config(format!(
            "linux.cgroupsPath {rel:?} is in systemd's slice:prefix:name form, which needs --systemd-cgroup"
        )));
    }
    let own = if rel.is_absolute() {
        BTreeMap::new()
    } else {
        own_cgroups()?
    };
    let mut dirs = BTreeMap::new();
    let hier = hierarchies()?;
    let pure_v2 = !hier.is_empty() && hier.iter().all(|h| h.key.is_empty());
    for h in hier {
        let base = own
            .get(&h.key)
            .cloned()
            .unwrap_or_else(|| PathBuf::from("/"));
        // On a pure v2 host a relative path is taken from the *parent* of hull's cgroup, as
        // runc does: hull's own cgroup holds a process, so it may not have children with
        // controllers enabled (v2's no-internal-processes rule).
        let base = if pure_v2 && !rel.is_absolute() {
            base.parent().map(Path::to_path_buf).unwrap_or(base)
        } else {
            base
        };
        let inner = base.join(&rel);
        let rel_inner = inner.strip_prefix("/").unwrap_or(&inner);
        dirs.insert(h.key.clone(), h.mountpoint.join(rel_inner));
    }
    Ok(dirs)
}

/// Create every directory (and the cpuset values a new v1 cpuset needs before it can hold
/// tasks). On failure everything created so far is removed again.
pub fn create(dirs: &BTreeMap<String, PathBuf>) -> Result<()> {
    let mut made: Vec<PathBuf> = Vec::new();
    let res = (|| {
        for (key, dir) in dirs {
            let mut missing = Vec::new();
            let mut p = dir.as_path();
            while !p.exists() {
                missing.push(p.to_path_buf());
                p = match p.parent() {
                    Some(parent) => parent,
                    None => break,
                };
            }
            for d in missing.iter().rev() {
                fs::create_dir(d).ctx("create cgroup", d.display())?;
                made.push(d.clone());
                if key.split(',').any(|c| c == "cpuset") {
                    inherit_cpuset(d)?;
                }
            }
        }
        if let (Some(dir), Ok(hier)) = (dirs.get(""), hierarchies()) {
            let pure_v2 = hier.iter().all(|h| h.key.is_empty());
            if let Some(h) = hier.iter().find(|h| h.key.is_empty()).filter(|_| pure_v2) {
                v2::enable_controllers(&h.mountpoint, dir)?;
            }
        }
        Ok(())
    })();
    if res.is_err() {
        for d in made.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
    res
}

fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("/"));
    // An existing ancestor (a pod's cgroup made by someone else) may itself be empty: fill it
    // first, or the copy below would copy nothing and joining would fail with ENOSPC.
    if parent.join("cpuset.cpus").exists()
        && fs::read_to_string(parent.join("cpuset.cpus"))
            .unwrap_or_default()
            .trim()
            .is_empty()
        && parent
            .parent()
            .is_some_and(|g| g.join("cpuset.cpus").exists())
    {
        inherit_cpuset(parent)?;
    }
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let cur = fs::read_to_string(dir.join(f)).unwrap_or_default();
        if cur.trim().is_empty() {
            let v = fs::read_to_string(parent.join(f)).ctx("read", parent.join(f).display())?;
            fs::write(dir.join(f), v.trim()).ctx("write", dir.join(f).display())?;
        }
    }
    Ok(())
}

/// The v2 directory to clone init straight into (CLONE_INTO_CGROUP), opened as a directory fd.
pub fn clone_target(dirs: &BTreeMap<String, PathBuf>) -> Option<std::fs::File> {
    dirs.get("").and_then(|d| std::fs::File::open(d).ok())
}

/// Move `pid` into every hierarchy (`skip_v2`: init was cloned into the v2 cgroup already).
pub fn join(dirs: &BTreeMap<String, PathBuf>, pid: i32, skip_v2: bool) -> Result<()> {
    // A process moved into a frozen cgroup freezes at once: init would hang in setup.
    if is_frozen(dirs) {
        return Err(Error::msg(
            "the container's cgroup already exists and is frozen; thaw or remove it first",
        ));
    }
    for (key, dir) in dirs {
        if skip_v2 && key.is_empty() {
            continue;
        }
        let procs = dir.join("cgroup.procs");
        fs::write(&procs, pid.to_string()).ctx("join cgroup", procs.display())?;
    }
    Ok(())
}

/// The pids in the container's cgroup (from the pids or freezer hierarchy when there is one,
/// since every hierarchy holds the same processes).
pub fn pids(dirs: &BTreeMap<String, PathBuf>) -> Vec<i32> {
    let pick = ["pids", "freezer", "", "memory"]
        .iter()
        .find_map(|k| dirs.get(*k))
        .or(dirs.values().next());
    let Some(dir) = pick else { return vec![] };
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

pub fn is_frozen(dirs: &BTreeMap<String, PathBuf>) -> bool {
    if let Some(d) = dirs.get("freezer") {
        return fs::read_to_string(d.join("freezer.state")).is_ok_and(|s| s.trim() == "FROZEN");
    }
    if let Some(d) = dirs.get("") {
        return fs::read_to_string(d.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1");
    }
    false
}

/// Remove the container's cgroup directories. A cgroup holding tasks cannot be removed
/// (EBUSY); exited tasks leave it asynchronously, so EBUSY is retried for a short while.
pub fn remove(dirs: &BTreeMap<String, PathBuf>) -> Result<()> {
    let mut last = Ok(());
    for dir in dirs.values() {
        let mut tries = 0;
        loop {
            match fs::remove_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => {
                    last = Err(Error::sys("remove cgroup", dir.display(), e));
                    break;
                }
            }
        }
    }
    last
}

/// Thaw a frozen container so that signals (SIGKILL included) are delivered.
pub fn thaw(dirs: &BTreeMap<String, PathBuf>) {
    if let Some(d) = dirs.get("freezer") {
        let _ = fs::write(d.join("freezer.state"), "THAWED");
    }
    if let Some(d) = dirs.get("") {
        let _ = fs::write(d.join("cgroup.freeze"), "0");
    }
}

/// Freeze every process of the container and wait until the kernel reports it frozen (v1's
/// freezer passes through FREEZING; a process in an uninterruptible sleep can hold it there).
pub fn freeze(dirs: &BTreeMap<String, PathBuf>) -> Result<()> {
    let (file, value, done): (PathBuf, &str, Box<dyn Fn() -> bool>) = if let Some(d) =
        dirs.get("freezer")
    {
        let state = d.join("freezer.state");
        let s2 = state.clone();
        (
            state,
            "FROZEN",
            Box::new(move || fs::read_to_string(&s2).is_ok_and(|s| s.trim() == "FROZEN")),
        )
    } else if let Some(d) = dirs.get("") {
        let events = d.join("cgroup.events");
        (
            d.join("cgroup.freeze"),
            "1",
            Box::new(move || {
                fs::read_to_string(&events).is_ok_and(|s| s.lines().any(|l| l.trim() == "frozen 1"))
            }),
        )
    } else {
        return Err(Error::msg("pause: the container has no freezer cgroup"));
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        fs::write(&file, value).ctx("write", file.display())?;
        if done() {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            thaw(dirs);
            return Err(Error::msg(format!(
                "pause: {} did not reach the frozen state within 10s",
                file.display()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

pub mod v1;
pub mod v2;

/// Apply `linux.resources` (and allow the spec's own device nodes) to the container's cgroups.
pub fn apply_resources(
    dirs: &BTreeMap<String, PathBuf>,
    r: &oci_spec::runtime::LinuxResources,
    spec_devices: &[oci_spec::runtime::LinuxDevice],
) -> Result<()> {
    // Device nodes from linux.devices are allowed in the device cgroup. Fifos are not
    // devices to the cgroup (v1 only takes a, b and c rules), so they need no rule.
    let devices: Vec<String> = spec_devices
        .iter()
        .filter_map(|d| {
            let t = match d.typ() {
                oci_spec::runtime::LinuxDeviceType::B => "b",
                oci_spec::runtime::LinuxDeviceType::C | oci_spec::runtime::LinuxDeviceType::U => {
                    "c"
                }
                _ => return None,
            };
            Some(format!("{t} {}:{} rwm", d.major(), d.minor()))
        })
        .collect();
    if let Some(s) = r
        .cpu()
        .as_ref()
        .and_then(|c| c.shares())
        .filter(|s| *s != 0)
    {
        // The kernel clamps silently; runc refuses values it would not keep.
        if !(2..=262_144).contains(&s) {
            return Err(Error::Config(format!(
                "linux.resources.cpu.shares {s} is outside 2..262144"
            )));
        }
    }
    if dirs.keys().any(|k| !k.is_empty()) {
        // v1 controllers (a hybrid host too): they hold the limits.
        return v1::apply(dirs, r, &devices);
    }
    match dirs.get("") {
        Some(dir) => v2::apply(dir, r, &devices),
        None => Err(Error::msg(
            "linux.resources: the host mounts no cgroup hierarchy",
        )),
    }
}
pub mod bpf_devices;

/// Whether `r` asks for a limit (devices aside, which a rootless container cannot have).
pub fn limits_requested(r: &oci_spec::runtime::LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.network().is_some()
        || r.rdma().as_ref().is_some_and(|m| !m.is_empty())
        || r.unified().as_ref().is_some_and(|u| !u.is_empty())
}
pub mod stats;

/// One `rdma.max` line (the same syntax on v1 and v2); an absent limit is "max".
pub fn rdma_line(dev: &str, l: &oci_spec::runtime::LinuxRdma) -> String {
    let n = |v: Option<u32>| v.map_or("max".to_string(), |n| n.to_string());
    format!(
        "{dev} hca_handle={} hca_object={}",
        n(l.hca_handles()),
        n(l.hca_objects())
    )
}
