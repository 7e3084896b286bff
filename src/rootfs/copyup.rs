//! `tmpcopyup` (a runc extension podman uses): a tmpfs mounted over a directory of the image
//! starts with a copy of that directory's contents. The copy goes from an fd of the directory
//! in the rootfs to the fd of the new, still detached tmpfs, entry by entry with *at calls that
//! never follow symlinks, so nothing outside either tree is read or written.

use crate::error::{Ctx, Result};
use crate::sys;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn open_dir(dir: RawFd, name: &CStr) -> std::io::Result<OwnedFd> {
    // SAFETY: openat relative to an open directory fd, never following a final symlink.
    let fd = unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Copy the tree under `from` (a directory fd) into `to` (a directory fd), `depth` levels at most.
pub fn copy_tree(from: RawFd, to: RawFd, what: &Path, depth: usize) -> Result<()> {
    if depth > 64 {
        return Ok(());
    }
    let dup = sys::openat(from, Path::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .ctx("open", what.display())?;
    let mut dir = nix::dir::Dir::from_fd(dup.into()).ctx("read dir", what.display())?;
    let entries: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in entries {
        let p = what.join(String::from_utf8_lossy(name.as_bytes()).as_ref());
        // SAFETY: a zeroed stat is a valid out-parameter; fstatat does not follow symlinks.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstatat(from, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } != 0 {
            continue;
        }
        let kind = st.st_mode & libc::S_IFMT;
        // SAFETY (all calls below): *at calls on open directory fds with valid C strings.
        unsafe {
            match kind {
                libc::S_IFDIR => {
                    if libc::mkdirat(to, name.as_ptr(), st.st_mode & 0o7777) != 0 {
                        return Err(std::io::Error::last_os_error()).ctx("copy up", p.display());
                    }
                    let (src, dst) = (
                        open_dir(from, &name).ctx("open", p.display())?,
                        open_dir(to, &name).ctx("open", p.display())?,
                    );
                    copy_tree(src.as_raw_fd(), dst.as_raw_fd(), &p, depth + 1)?;
                }
                libc::S_IFREG => {
                    let src = libc::openat(
                        from,
                        name.as_ptr(),
                        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                    );
                    if src < 0 {
                        return Err(std::io::Error::last_os_error()).ctx("open", p.display());
                    }
                    let src = OwnedFd::from_raw_fd(src);
                    let dst = libc::openat(
                        to,
                        name.as_ptr(),
                        libc::O_WRONLY
                            | libc::O_CREAT
                            | libc::O_EXCL
                            | libc::O_NOFOLLOW
                            | libc::O_CLOEXEC,
                        st.st_mode & 0o7777,
                    );
                    if dst < 0 {
                        return Err(std::io::Error::last_os_error()).ctx("copy up", p.display());
                    }
                    let dst = OwnedFd::from_raw_fd(dst);
                    let mut left = st.st_size as usize;
                    while left > 0 {
                        let n = libc::sendfile(
                            dst.as_raw_fd(),
                            src.as_raw_fd(),
                            std::ptr::null_mut(),
                            left,
                        );
                        if n <= 0 {
                            return Err(std::io::Error::last_os_error())
                                .ctx("copy up", p.display());
                        }
                        left -= n as usize;
                    }
                }
                libc::S_IFLNK => {
                    let target = nix::fcntl::readlinkat(
                        std::os::fd::BorrowedFd::borrow_raw(from),
                        name.as_c_str(),
                    )
                    .ctx("readlink", p.display())?;
                    let t = sys::cstr(&target)?;
                    if libc::symlinkat(t.as_ptr(), to, name.as_ptr()) != 0 {
                        return Err(std::io::Error::last_os_error()).ctx("copy up", p.display());
                    }
                }
                _ => {
                    if libc::mknodat(to, name.as_ptr(), st.st_mode, st.st_rdev) != 0 {
                        return Err(std::io::Error::last_os_error()).ctx("copy up", p.display());
                    }
                }
            }
            libc::fchownat(
                to,
                name.as_ptr(),
                st.st_uid,
                st.st_gid,
                libc::AT_SYMLINK_NOFOLLOW,
            );
            if kind != libc::S_IFLNK {
                // chown clears setuid bits; put the mode back.
                libc::fchmodat(to, name.as_ptr(), st.st_mode & 0o7777, 0);
            }
        }
    }
    Ok(())
}
