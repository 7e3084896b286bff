//! The host's device nodes, for `--privileged` (docker gives a privileged container every
//! device under the host's /dev). The walk skips what the container gets from its own mounts
//! (devpts, shm, mqueue, /dev/fd), container managers' private dirs, and `console`, which
//! belongs to the container's terminal: the same list docker (containerd's HostDevices) skips.

use serde_json::{json, Value};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

const SKIP_DIRS: &[&str] = &["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"];

/// Every character and block device under `dev` as `linux.devices` entries (paths as seen
/// under /dev). Symlinks are not followed; unreadable subdirectories are skipped.
pub fn host_devices(dev: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    walk(dev, Path::new("/dev"), &mut out);
    out.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    out
}

fn walk(dir: &Path, shown_as: &Path, out: &mut Vec<Value>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(n) = name.to_str() else { continue };
        let Ok(md) = e.metadata() else { continue };
        let ft = md.file_type();
        if ft.is_dir() {
            if !SKIP_DIRS.contains(&n) {
                walk(&e.path(), &shown_as.join(n), out);
            }
            continue;
        }
        if n == "console" {
            continue;
        }
        let typ = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else {
            continue;
        };
        let rdev = md.rdev();
        out.push(json!({
            "path": shown_as.join(n),
            "type": typ,
            "major": libc::major(rdev),
            "minor": libc::minor(rdev),
            "fileMode": md.mode() & 0o7777,
            "uid": md.uid(),
            "gid": md.gid(),
        }));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_null_is_listed_and_pts_is_not() {
        let devs = super::host_devices(std::path::Path::new("/dev"));
        assert!(devs
            .iter()
            .any(|d| d["path"] == "/dev/null" && d["major"] == 1 && d["minor"] == 3));
        assert!(!devs
            .iter()
            .any(|d| d["path"].as_str().unwrap().starts_with("/dev/pts/")));
        assert!(!devs.iter().any(|d| d["path"] == "/dev/console"));
    }
}
