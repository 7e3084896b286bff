//! Snapshots: each layer unpacked once into `<root>/snapshots/<diff-id hex>`, written into a
//! temporary directory and renamed into place, so a snapshot that exists is complete. A
//! container's rootfs is an overlayfs of its image's snapshots plus its own upper dir, or, where
//! overlayfs is unavailable, a copy of the layers applied in order.

use super::fsops::{self, Dir, Name};
use super::{decompress, unpack, Options, UnpackError};
use crate::digest::Digest;
use crate::manifest::ImageManifest;
use crate::store::Store;
use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("layer {digest}: {source}")]
    Unpack { digest: String, source: UnpackError },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("image config: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SnapshotError {
    let path = path.display().to_string();
    move |source| SnapshotError::Io { op, path, source }
}

pub struct Snapshots {
    dir: PathBuf,
    pub opts: Options,
}

/// The layers of an image, base first: (compressed blob digest, diff-id).
pub fn image_layers(
    store: &Store,
    manifest: &ImageManifest,
) -> Result<Vec<(Digest, Digest)>, SnapshotError> {
    let config: serde_json::Value =
        serde_json::from_slice(&store.read_blob(&manifest.config.digest)?)
            .map_err(|e| SnapshotError::Config(e.to_string()))?;
    let ids = config["rootfs"]["diff_ids"]
        .as_array()
        .ok_or_else(|| SnapshotError::Config("rootfs.diff_ids missing".into()))?;
    if ids.len() != manifest.layers.len() {
        return Err(SnapshotError::Config(format!(
            "{} diff_ids for {} layers",
            ids.len(),
            manifest.layers.len()
        )));
    }
    let mut out = Vec::new();
    for (l, id) in manifest.layers.iter().zip(ids) {
        let id = id
            .as_str()
            .and_then(|s| Digest::parse(s).ok())
            .ok_or_else(|| SnapshotError::Config(format!("bad diff_id {id}")))?;
        out.push((l.digest.clone(), id));
    }
    Ok(out)
}

impl Snapshots {
    pub fn new(data_root: &Path) -> Result<Snapshots, SnapshotError> {
        let dir = data_root.join("snapshots");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_err("mkdir", &dir))?;
        Ok(Snapshots {
            dir,
            opts: Options::default(),
        })
    }

    pub fn path(&self, diff_id: &Digest) -> PathBuf {
        // Digests are validated on parse: the hex is a safe single component.
        self.dir
            .join(format!("{}-{}", diff_id.algorithm().name(), diff_id.hex()))
    }

    /// The snapshot of one layer, unpacked now if it is not there yet.
    pub fn ensure(
        &self,
        store: &Store,
        blob: &Digest,
        diff_id: &Digest,
    ) -> Result<PathBuf, SnapshotError> {
        let dest = self.path(diff_id);
        if dest.is_dir() {
            return Ok(dest);
        }
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}-{}",
            diff_id.hex(),
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&tmp)
            .map_err(io_err("mkdir", &tmp))?;
        let result = (|| {
            let file = std::fs::File::open(store.blob_path(blob))
                .map_err(io_err("open", &store.blob_path(blob)))?;
            let reader =
                decompress(io::BufReader::new(file)).map_err(|e| SnapshotError::Unpack {
                    digest: blob.to_string(),
                    source: UnpackError::Read(e),
                })?;
            let root = Dir::open(&tmp).map_err(io_err("open", &tmp))?;
            unpack(reader, root.fd(), &self.opts, Some(&diff_id.to_string())).map_err(|e| {
                SnapshotError::Unpack {
                    digest: blob.to_string(),
                    source: e,
                }
            })?;
            // SAFETY: syncfs on a valid fd.
            unsafe { libc::syncfs(root.fd().as_raw_fd()) };
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            let _ = std::fs::remove_dir_all(&tmp);
            // Another dock unpacked the same layer meanwhile: theirs is as good.
            if !dest.is_dir() {
                return Err(io_err("rename", &dest)(e));
            }
        }
        Ok(dest)
    }

    /// Snapshots of every layer of an image, base first.
    pub fn ensure_image(
        &self,
        store: &Store,
        manifest: &ImageManifest,
    ) -> Result<Vec<PathBuf>, SnapshotError> {
        image_layers(store, manifest)?
            .iter()
            .map(|(blob, id)| self.ensure(store, blob, id))
            .collect()
    }
}

impl Snapshots {
    /// Remove snapshots not in `keep` and temporary dirs of unpackers that are gone. Returns
    /// how many were removed. The caller holds the store's gc lock (no unpack starts).
    pub fn gc(&self, keep: &std::collections::HashSet<PathBuf>) -> usize {
        let mut removed = 0;
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let stale = if let Some(rest) = name.strip_prefix(".tmp-") {
                // .tmp-<hex>-<pid>-<nanos>
                let pid = rest.split('-').nth(1).and_then(|p| p.parse::<i32>().ok());
                pid.is_none_or(|p| {
                    !hull::state::proc_stat(p).is_some_and(|(st, _)| st != 'Z' && st != 'X')
                })
            } else {
                !keep.contains(&path)
            };
            if stale && std::fs::remove_dir_all(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}

/// The overlay mount options for layers given base first (overlayfs wants the top first).
pub fn overlay_options(lowers: &[PathBuf], upper: &Path, work: &Path) -> String {
    let lower: Vec<String> = lowers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    )
}

pub fn mount_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> io::Result<()> {
    // The option string separates with `,` and `:`: paths holding them cannot be expressed.
    for p in lowers.iter().map(PathBuf::as_path).chain([upper, work]) {
        let b = p.as_os_str().as_bytes();
        if b.contains(&b',') || b.contains(&b':') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: `,` or `:` in an overlay path", p.display()),
            ));
        }
    }
    let opts = CString::new(overlay_options(lowers, upper, work))?;
    let t = CString::new(target.as_os_str().as_bytes())?;
    // SAFETY: valid NUL-terminated strings.
    let r = unsafe {
        libc::mount(
            c"overlay".as_ptr(),
            t.as_ptr(),
            c"overlay".as_ptr(),
            0,
            opts.as_ptr() as *const libc::c_void,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Detach whatever is mounted on `target` (not mounted is fine).
pub fn unmount(target: &Path) -> io::Result<()> {
    let t = CString::new(target.as_os_str().as_bytes())?;
    // SAFETY: valid string.
    let r = unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) && e.raw_os_error() != Some(libc::ENOENT) {
            return Err(e);
        }
    }
    Ok(())
}

/// The copy fallback: apply snapshots (base first) onto `target`, honouring their overlay
/// whiteouts and opaque markers.
pub fn copy_layers(lowers: &[PathBuf], target: &Path) -> io::Result<()> {
    let dst = Dir::open(target)?;
    for l in lowers {
        let src = Dir::open(l)?;
        copy_tree(&src, &dst)?;
    }
    Ok(())
}

fn copy_tree(src: &Dir, dst: &Dir) -> io::Result<()> {
    for name in src.names()? {
        let Some(st) = src.stat(&name)? else { continue };
        let fmt = st.st_mode & libc::S_IFMT;
        let perm = st.st_mode & 0o7777;
        if fmt == libc::S_IFCHR && st.st_rdev == 0 {
            dst.remove(&name)?;
            continue;
        }
        match fmt {
            libc::S_IFDIR => {
                let s = src.open_dir(&name)?;
                if s.get_xattr(b"trusted.overlay.opaque").as_deref() == Some(b"y") {
                    dst.remove(&name)?;
                }
                let d = dst.mkdir(&name, 0o700)?;
                copy_tree(&s, &d)?;
                meta(d.fd(), &st)?;
            }
            libc::S_IFREG => {
                dst.remove(&name)?;
                let mut from = std::fs::File::from(src.open_file(&name)?);
                let mut to = std::fs::File::from(dst.create_file(&name)?);
                io::copy(&mut from, &mut to)?;
                let fd = std::os::fd::OwnedFd::from(to);
                if let Some(cap) = Dir::from_fd(&std::os::fd::OwnedFd::from(from))
                    .ok()
                    .and_then(|f| f.get_xattr(b"security.capability"))
                {
                    fsops::fchown(&fd, st.st_uid, st.st_gid)?;
                    fsops::fsetxattr(fd.as_raw_fd(), b"security.capability", &cap)?;
                    fsops::fchmod(&fd, perm)?;
                    fsops::futimens(&fd, st.st_mtime)?;
                } else {
                    meta(&fd, &st)?;
                }
            }
            libc::S_IFLNK => {
                dst.remove(&name)?;
                dst.symlink(&src.readlink(&name)?, &name)?;
                let _ = dst.lchown(&name, st.st_uid, st.st_gid);
                dst.lutimes(&name, st.st_mtime)?;
            }
            _ => {
                dst.remove(&name)?;
                dst.mknod(
                    &name,
                    fmt | perm,
                    libc::major(st.st_rdev),
                    libc::minor(st.st_rdev),
                )?;
                let fd = dst.open_node(&name)?;
                let _ = fsops::fchown_path(&fd, st.st_uid, st.st_gid);
                fsops::chmod_path(&fd, perm)?;
            }
        }
    }
    Ok(())
}

fn meta(fd: &std::os::fd::OwnedFd, st: &libc::stat) -> io::Result<()> {
    // Ownership only as root; chmod after chown (chown clears setuid).
    let _ = fsops::fchown(fd, st.st_uid, st.st_gid);
    fsops::fchmod(fd, st.st_mode & 0o7777)?;
    fsops::futimens(fd, st.st_mtime)
}

/// Used by tests: is `name` under `dir` an overlay whiteout?
pub fn is_whiteout(dir: &Path, name: &str) -> bool {
    let Ok(d) = Dir::open(dir) else { return false };
    let Ok(n) = Name::new(name.as_bytes()) else {
        return false;
    };
    matches!(d.stat(&n), Ok(Some(st)) if st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0)
}
