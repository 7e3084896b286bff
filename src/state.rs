//! `<root>/<id>/state.json`: what hull remembers about a container between invocations, written
//! atomically (temp file + rename) and guarded by an flock on the container directory.

use crate::error::{Ctx, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const OCI_VERSION: &str = "1.2.0";
pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Everything hull keeps about a container. Only part of it is the OCI state shown to users.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` (field 22 of /proc/PID/stat), so a recycled pid is never mistaken
    /// for the container's init.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Cgroup directories hull created or joined, by controller ("" for the v2 hierarchy).
    #[serde(default)]
    pub cgroups: BTreeMap<String, PathBuf>,
    /// The config's hooks: poststart and poststop run from later invocations.
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The container's seccomp profile, applied to `exec` processes too.
    #[serde(default)]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// The `create` process (pid, start time) while it runs.
    #[serde(default)]
    pub creator: Option<(i32, u64)>,
    /// Set while `create` is still running; a dead init with this set means create was killed.
    #[serde(default)]
    pub creating: bool,
}

/// The OCI state document printed by `state` and `list --format json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OciState {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
}

/// runc's rule: ids are made of letters, digits, `_`, `+`, `-` and `.`, and are not `.`/`..`,
/// so an id can never name a path outside the root.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Msg(format!(
            "invalid container id {id:?}: use letters, digits, '_', '+', '-' and '.'"
        )))
    }
}

pub fn ensure_root(root: &Path) -> Result<()> {
    // State directories are 0700: containerd CVE-2021-41103 was world-readable state.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .ctx("create state root", root.display())
}

fn lock(dir: &Path) -> Result<File> {
    let f = File::open(dir).ctx("open state dir", dir.display())?;
    // SAFETY: flock on an fd we own.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    if r != 0 {
        return Err(Error::sys(
            "lock state dir",
            dir.display(),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(f)
}

pub struct Container {
    pub dir: PathBuf,
    pub saved: Saved,
    lock: Option<File>,
}

impl Container {
    /// Create `<root>/<id>` (mkdir, so a second create of the same id fails) and lock it.
    pub fn create_dir(root: &Path, id: &str) -> Result<(PathBuf, File)> {
        validate_id(id)?;
        ensure_root(root)?;
        let dir = root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.into()))
            }
            Err(e) => return Err(Error::sys("create state dir", dir.display(), e)),
        }
        let l = lock(&dir)?;
        Ok((dir, l))
    }

    /// Load and lock an existing container. A directory without state.json (create killed
    /// before it wrote one) does not exist for every command but `delete --force`.
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        validate_id(id)?;
        let dir = root.join(id);
        if !dir.is_dir() {
            return Err(Error::NotExist(id.into()));
        }
        let l = lock(&dir)?;
        let path = dir.join(STATE_FILE);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotExist(id.into()))
            }
            Err(e) => return Err(Error::sys("read", path.display(), e)),
        };
        let saved: Saved = serde_json::from_slice(&data)
            .map_err(|e| Error::Msg(format!("parse {}: {e}", path.display())))?;
        Ok(Container {
            dir,
            saved,
            lock: Some(l),
        })
    }

    pub fn from_parts(dir: PathBuf, saved: Saved, lock: File) -> Container {
        Container {
            dir,
            saved,
            lock: Some(lock),
        }
    }

    /// Let other hull invocations at this container (a foreground `run` keeps its Container
    /// while it waits for the process, and must not block `state` or `kill` meanwhile).
    pub fn unlock(&mut self) {
        self.lock = None;
    }

    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self.lock.as_ref().map_or(-1, |f| f.as_raw_fd())
    }

    pub fn save(&self) -> Result<()> {
        let data = serde_json::to_vec(&self.saved)
            .map_err(|e| Error::Msg(format!("encode state: {e}")))?;
        write_atomic(&self.dir.join(STATE_FILE), &data, 0o600)
    }

    pub fn fifo(&self) -> PathBuf {
        self.dir.join(EXEC_FIFO)
    }

    pub fn alive(&self) -> bool {
        self.saved.pid > 0 && process_alive(self.saved.pid, self.saved.start_time)
    }

    pub fn status(&self) -> Status {
        if self.saved.creating {
            let creator_alive = self.saved.creator.is_some_and(|(p, t)| process_alive(p, t));
            return if creator_alive || self.alive() {
                Status::Creating
            } else {
                Status::Stopped
            };
        }
        if !self.alive() {
            return Status::Stopped;
        }
        if self.fifo().exists() {
            return Status::Created;
        }
        if crate::cgroups::is_frozen(&self.saved.cgroups) {
            return Status::Paused;
        }
        Status::Running
    }

    pub fn oci_state(&self) -> OciState {
        let status = self.status();
        let owner = fs::metadata(&self.dir)
            .map(|m| user_name(m.uid()))
            .unwrap_or_default();
        OciState {
            oci_version: OCI_VERSION.into(),
            id: self.saved.id.clone(),
            pid: if status == Status::Stopped || !self.alive() {
                0
            } else {
                self.saved.pid
            },
            status,
            bundle: self.saved.bundle.clone(),
            rootfs: self.saved.rootfs.clone(),
            created: self.saved.created.clone(),
            owner,
            annotations: self.saved.annotations.clone(),
        }
    }
}

/// The process's start time and run state from /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    let start = f.nth(18)?.parse().ok()?;
    Some((state, start))
}

pub fn process_alive(pid: i32, start_time: u64) -> bool {
    match proc_stat(pid) {
        Some((state, start)) => start == start_time && state != 'Z' && state != 'X',
        None => false,
    }
}

fn user_name(uid: u32) -> String {
    let found = fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
    });
    found.unwrap_or_else(|| format!("#{uid}"))
}

/// Write `data` to a temporary file beside `path`, fsync-free but atomic: readers see the old
/// or the new content, never a half-written file.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.ctx("write", path.display())
}

pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::sys("read state root", root.display(), e)),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STATE_FILE).exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_checked() {
        assert!(super::validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(super::validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn own_process_is_alive() {
        let pid = std::process::id() as i32;
        let (_, start) = super::proc_stat(pid).unwrap();
        assert!(super::process_alive(pid, start));
        assert!(!super::process_alive(pid, start + 1));
    }
}
