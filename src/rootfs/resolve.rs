//! Resolving paths inside the container's rootfs without ever leaving it. Every lookup is an
//! openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS relative to an fd of the rootfs, so a
//! symlink planted by the image (or by another container sharing a volume) resolves inside the
//! rootfs instead of on the host. CVE-2021-30465 (symlink-exchange race on mount targets),
//! CVE-2019-19921 and CVE-2024-45310 were all string joins followed by mount or mkdir.

use crate::error::{Ctx, Error, Result};
use crate::sys;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

const IN_ROOT: u64 = sys::RESOLVE_IN_ROOT | sys::RESOLVE_NO_MAGICLINKS;

/// `path` (absolute or not) as a clean path relative to the root fd. `..` is applied
/// lexically and never climbs above the root, matching RESOLVE_IN_ROOT.
fn relative(path: &Path) -> PathBuf {
    let mut rel = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::ParentDir => {
                rel.pop();
            }
            Component::RootDir => rel = PathBuf::new(),
            Component::CurDir | Component::Prefix(_) => {}
        }
    }
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

pub fn open(root: RawFd, path: &Path, flags: i32) -> io::Result<OwnedFd> {
    sys::openat2(root, &relative(path), flags, 0, IN_ROOT)
}

/// Open a directory inside the root, creating missing components (mode 0755) one at a time.
/// Each component is created with mkdirat relative to the fd of its already-resolved parent,
/// so no component can be a path the container redirected. A component that is a dangling
/// symlink has its target created instead (inside the root, like `mkdir -p` in a chroot):
/// images commonly ship links such as /var/run -> /run before /run exists.
pub fn mkdir_all(root: RawFd, path: &Path) -> Result<OwnedFd> {
    let mut want = relative(path);
    let mut hops = 0;
    'restart: loop {
        let mut so_far = PathBuf::new();
        let mut cur = sys::openat2(
            root,
            Path::new("."),
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            IN_ROOT,
        )
        .ctx("open rootfs", path.display())?;
        let comps: Vec<PathBuf> = want
            .components()
            .map(|c| PathBuf::from(c.as_os_str()))
            .collect();
        for (i, comp) in comps.iter().enumerate() {
            let parent = so_far.clone();
            so_far.push(comp);
            match sys::openat2(root, &so_far, libc::O_PATH | libc::O_DIRECTORY, 0, IN_ROOT) {
                Ok(fd) => {
                    cur = fd;
                    continue;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e).ctx("open", Path::new("/").join(&so_far).display()),
            }
            let name = sys::cstr(comp)?;
            // SAFETY: `cur` is an open directory fd and `name` a single component.
            if unsafe { libc::mkdirat(cur.as_raw_fd(), name.as_ptr(), 0o755) } == 0 {
                cur = sys::openat2(root, &so_far, libc::O_PATH | libc::O_DIRECTORY, 0, IN_ROOT)
                    .ctx("open", Path::new("/").join(&so_far).display())?;
                continue;
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(e).ctx("mkdir", Path::new("/").join(&so_far).display());
            }
            // It exists but does not resolve: a dangling symlink. Follow it by hand.
            let target = nix::fcntl::readlinkat(&cur, comp.as_path())
                .ctx("readlink", Path::new("/").join(&so_far).display())?;
            hops += 1;
            if hops > 40 {
                return Err(Error::sys(
                    "mkdir",
                    path.display(),
                    std::io::Error::from_raw_os_error(libc::ELOOP),
                ));
            }
            let mut next = parent.join(&target);
            for rest in &comps[i + 1..] {
                next.push(rest);
            }
            want = relative(&next);
            continue 'restart;
        }
        return Ok(cur);
    }
}

/// Open (creating when missing) a file inside the root to serve as a mount target for a file
/// bind mount. The file is created with O_NOFOLLOW relative to its parent's fd.
pub fn ensure_file(root: RawFd, path: &Path) -> Result<OwnedFd> {
    if let Ok(fd) = open(root, path, libc::O_PATH) {
        return Ok(fd);
    }
    let rel = relative(path);
    let parent = mkdir_all(root, rel.parent().unwrap_or(Path::new(".")))?;
    let name = rel.file_name().map(Path::new).unwrap_or(Path::new("."));
    match sys::openat(
        parent.as_raw_fd(),
        name,
        libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY,
        0o644,
    ) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
        Err(e) => return Err(e).ctx("create", path.display()),
    }
    open(root, path, libc::O_PATH).ctx("open", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let dir = std::env::temp_dir().join(format!("hull-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::create_dir_all(dir.join("outside")).unwrap();
        // An absolute symlink and a relative one that climbs out: both must land in root.
        symlink(dir.join("outside"), dir.join("root/abs")).unwrap();
        symlink("../../../../outside", dir.join("root/rel")).unwrap();
        let root = std::fs::File::open(dir.join("root")).unwrap();
        mkdir_all(root.as_raw_fd(), Path::new("/abs/x")).unwrap();
        mkdir_all(root.as_raw_fd(), Path::new("rel/y")).unwrap();
        ensure_file(root.as_raw_fd(), Path::new("/rel/file")).unwrap();
        assert!(
            std::fs::read_dir(dir.join("outside"))
                .unwrap()
                .next()
                .is_none(),
            "escaped the root"
        );
        assert!(dir
            .join("root")
            .join(dir.join("outside").strip_prefix("/").unwrap())
            .join("x")
            .is_dir());
        assert!(dir.join("root/outside/y").is_dir());
        assert!(dir.join("root/outside/file").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
