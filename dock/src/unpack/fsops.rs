//! The *at system calls the unpacker and the copy fallback use, on directory fds only. Paths
//! inside a root are resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS); final
//! components are single validated names.

use hull::sys::{openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One path component: no `/`, no NUL, not `.` or `..`, not empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(CString);

impl Name {
    pub fn new(b: &[u8]) -> io::Result<Name> {
        if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad path component {:?}", String::from_utf8_lossy(b)),
            ));
        }
        CString::new(b)
            .map(Name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a name"))
    }
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
    pub fn c(&self) -> &CStr {
        &self.0
    }
}

fn cvt(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn join(names: &[Name]) -> std::path::PathBuf {
    let mut v = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            v.push(b'/');
        }
        v.extend_from_slice(n.as_bytes());
    }
    if v.is_empty() {
        v.push(b'.');
    }
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&v))
}

const IN_ROOT: u64 = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

/// An open directory.
pub struct Dir(OwnedFd);

impl Dir {
    pub fn from_fd(fd: &OwnedFd) -> io::Result<Dir> {
        Ok(Dir(fd.try_clone()?))
    }

    pub fn open(path: &Path) -> io::Result<Dir> {
        hull::sys::openat(
            libc::AT_FDCWD,
            path,
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW,
            0,
        )
        .map(Dir)
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.0
    }

    /// The directory at `names` below `root`, resolved inside it (symlinks included).
    pub fn open_in_root(root: &OwnedFd, names: &[Name]) -> io::Result<Dir> {
        openat2(
            root.as_raw_fd(),
            &join(names),
            libc::O_DIRECTORY | libc::O_RDONLY,
            0,
            IN_ROOT,
        )
        .map(Dir)
    }

    /// Like [`open_in_root`](Self::open_in_root), creating missing directories (0755) on the way.
    pub fn mkdir_all_in_root(root: &OwnedFd, names: &[Name]) -> io::Result<Dir> {
        let mut cur = Dir::from_fd(root)?;
        for i in 0..names.len() {
            match Dir::open_in_root(root, &names[..=i]) {
                Ok(d) => cur = d,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    // `cur` is the resolved parent; create the plain name in it.
                    // SAFETY: valid fd and NUL-terminated name.
                    let r =
                        unsafe { libc::mkdirat(cur.0.as_raw_fd(), names[i].c().as_ptr(), 0o755) };
                    if r < 0 {
                        let err = io::Error::last_os_error();
                        if err.raw_os_error() != Some(libc::EEXIST) {
                            return Err(err);
                        }
                    }
                    // A dangling symlink in the way makes this fail again: an error, no loop.
                    cur = Dir::open_in_root(root, &names[..=i])?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(cur)
    }

    pub fn stat(&self, name: &Name) -> io::Result<Option<libc::stat>> {
        // SAFETY: zeroed stat is a valid out-buffer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid fd, name and buffer.
        let r = unsafe {
            libc::fstatat(
                self.0.as_raw_fd(),
                name.c().as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        match cvt(r) {
            Ok(()) => Ok(Some(st)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Remove `name` (a whole tree if it is a directory); absent is fine.
    pub fn remove(&self, name: &Name) -> io::Result<()> {
        let Some(st) = self.stat(name)? else {
            return Ok(());
        };
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            let sub = self.open_dir(name)?;
            sub.clear()?;
            // SAFETY: valid fd and name.
            cvt(unsafe {
                libc::unlinkat(self.0.as_raw_fd(), name.c().as_ptr(), libc::AT_REMOVEDIR)
            })
        } else {
            // SAFETY: valid fd and name.
            cvt(unsafe { libc::unlinkat(self.0.as_raw_fd(), name.c().as_ptr(), 0) })
        }
    }

    /// Remove everything in this directory.
    pub fn clear(&self) -> io::Result<()> {
        for n in self.names()? {
            self.remove(&n)?;
        }
        Ok(())
    }

    /// The names in this directory.
    pub fn names(&self) -> io::Result<Vec<Name>> {
        let mut out = Vec::new();
        // Listing through our own fd's /proc entry reads exactly this directory.
        for e in std::fs::read_dir(hull::sys::fd_path(self.0.as_raw_fd()))? {
            let e = e?;
            out.push(Name::new(e.file_name().as_bytes())?);
        }
        Ok(out)
    }

    /// Open the subdirectory `name`, never through a symlink.
    pub fn open_dir(&self, name: &Name) -> io::Result<Dir> {
        hull::sys::openat(
            self.0.as_raw_fd(),
            Path::new(std::ffi::OsStr::from_bytes(name.as_bytes())),
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW,
            0,
        )
        .map(Dir)
    }

    /// mkdir, or reuse an existing directory (anything else in the way is replaced).
    pub fn mkdir(&self, name: &Name, mode: u32) -> io::Result<Dir> {
        if let Some(st) = self.stat(name)? {
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                return self.open_dir(name);
            }
            self.remove(name)?;
        }
        // SAFETY: valid fd and name.
        cvt(unsafe { libc::mkdirat(self.0.as_raw_fd(), name.c().as_ptr(), mode) })?;
        self.open_dir(name)
    }

    /// A new regular file opened for writing (O_EXCL | O_NOFOLLOW).
    pub fn create_file(&self, name: &Name) -> io::Result<OwnedFd> {
        hull::sys::openat(
            self.0.as_raw_fd(),
            Path::new(std::ffi::OsStr::from_bytes(name.as_bytes())),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW,
            0o600,
        )
    }

    /// Open an existing non-directory entry for reading, never through a symlink.
    pub fn open_file(&self, name: &Name) -> io::Result<OwnedFd> {
        hull::sys::openat(
            self.0.as_raw_fd(),
            Path::new(std::ffi::OsStr::from_bytes(name.as_bytes())),
            libc::O_RDONLY | libc::O_NOFOLLOW,
            0,
        )
    }

    /// An O_PATH fd of the entry itself (a device node or fifo is not opened).
    pub fn open_node(&self, name: &Name) -> io::Result<OwnedFd> {
        hull::sys::openat(
            self.0.as_raw_fd(),
            Path::new(std::ffi::OsStr::from_bytes(name.as_bytes())),
            libc::O_PATH | libc::O_NOFOLLOW,
            0,
        )
    }

    pub fn symlink(&self, target: &[u8], name: &Name) -> io::Result<()> {
        let t = CString::new(target)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in symlink target"))?;
        // SAFETY: valid strings and fd.
        cvt(unsafe { libc::symlinkat(t.as_ptr(), self.0.as_raw_fd(), name.c().as_ptr()) })
    }

    pub fn readlink(&self, name: &Name) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
        // SAFETY: buffer of the given length.
        let n = unsafe {
            libc::readlinkat(
                self.0.as_raw_fd(),
                name.c().as_ptr(),
                buf.as_mut_ptr() as *mut libc::c_char,
                buf.len(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        buf.truncate(n as usize);
        Ok(buf)
    }

    pub fn mknod(&self, name: &Name, mode: u32, major: u32, minor: u32) -> io::Result<()> {
        // SAFETY: valid fd and name.
        cvt(unsafe {
            libc::mknodat(
                self.0.as_raw_fd(),
                name.c().as_ptr(),
                mode,
                libc::makedev(major, minor),
            )
        })
    }

    pub fn lchown(&self, name: &Name, uid: u32, gid: u32) -> io::Result<()> {
        // SAFETY: valid fd and name.
        cvt(unsafe {
            libc::fchownat(
                self.0.as_raw_fd(),
                name.c().as_ptr(),
                uid,
                gid,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
    }

    pub fn lutimes(&self, name: &Name, mtime: i64) -> io::Result<()> {
        let ts = times(mtime);
        // SAFETY: valid fd, name and a two-element timespec array.
        cvt(unsafe {
            libc::utimensat(
                self.0.as_raw_fd(),
                name.c().as_ptr(),
                ts.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
    }

    pub fn set_times(&self, mtime: &i64) -> io::Result<()> {
        futimens(&self.0, *mtime)
    }

    pub fn set_xattr(&self, k: &[u8], v: &[u8]) -> io::Result<()> {
        fsetxattr(self.0.as_raw_fd(), k, v)
    }

    pub fn get_xattr(&self, k: &[u8]) -> Option<Vec<u8>> {
        let k = CString::new(k).ok()?;
        let mut buf = [0u8; 256];
        // SAFETY: valid fd, name and buffer.
        let n = unsafe {
            libc::fgetxattr(
                self.0.as_raw_fd(),
                k.as_ptr(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        (n >= 0).then(|| buf[..n as usize].to_vec())
    }
}

fn times(mtime: i64) -> [libc::timespec; 2] {
    let t = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    [t, t]
}

pub fn futimens(fd: &OwnedFd, mtime: i64) -> io::Result<()> {
    let ts = times(mtime);
    // SAFETY: valid fd and a two-element timespec array.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) })
}

pub fn fchown(fd: &OwnedFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: valid fd.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) })
}

pub fn fchmod(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    // SAFETY: valid fd.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
}

/// chown of the entry an O_PATH fd refers to.
pub fn fchown_path(fd: &OwnedFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: valid fd; empty path with AT_EMPTY_PATH acts on the fd itself.
    cvt(unsafe {
        libc::fchownat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            uid,
            gid,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// chmod of the entry an O_PATH fd refers to (through its /proc/self/fd link, which names
/// exactly that inode).
pub fn chmod_path(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    let p = CString::new(hull::sys::fd_path(fd.as_raw_fd()).as_os_str().as_bytes())?;
    // SAFETY: valid path string.
    cvt(unsafe { libc::chmod(p.as_ptr(), mode) })
}

pub fn fsetxattr(fd: RawFd, k: &[u8], v: &[u8]) -> io::Result<()> {
    let k = CString::new(k)?;
    // SAFETY: valid fd, name and value buffer.
    cvt(unsafe {
        libc::fsetxattr(
            fd,
            k.as_ptr(),
            v.as_ptr() as *const libc::c_void,
            v.len(),
            0,
        )
    })
}

/// Hardlink `from_dir/from` as `to_dir/to`; a symlink at `from` is linked itself, not followed.
pub fn linkat(from_dir: &Dir, from: &Name, to_dir: &Dir, to: &Name) -> io::Result<()> {
    // SAFETY: valid fds and names.
    cvt(unsafe {
        libc::linkat(
            from_dir.0.as_raw_fd(),
            from.c().as_ptr(),
            to_dir.0.as_raw_fd(),
            to.c().as_ptr(),
            0,
        )
    })
}

/// Wrap a raw fd we own.
///
/// # Safety
/// `fd` must be open and owned by nobody else.
pub unsafe fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller's promise.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
