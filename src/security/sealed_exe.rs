//! CVE-2019-5736: a process in the container that execs `/proc/self/exe` (or a script whose
//! interpreter is `#!/proc/self/exe`) while it is still a clone of hull runs the *host's hull
//! binary*, and another container process can then open `/proc/PID/exe` for writing and
//! overwrite it. hull never re-execs itself into a container, but every process it clones
//! carries hull's executable until its own execve. So before `create`, `run` and `exec` clone
//! anything, hull re-executes itself once from a copy of its binary that nobody can write:
//!
//! - as root, a detached read-only bind mount of the binary (open_tree + mount_setattr, never
//!   attached to any mount namespace, so no mount event reaches the host): writes through
//!   /proc/PID/exe fail with EROFS, and the page cache is shared with the installed binary, so
//!   nothing is copied (crun does the same with a bind mount in /tmp; runc 1.2 with an
//!   overlayfs mount);
//! - otherwise (rootless: no CAP_SYS_ADMIN for open_tree), a sealed memfd copy (F_SEAL_WRITE),
//!   as runc 1.0-1.1's cloned_binary did.
//!
//! A binary already on a read-only mount (or already a sealed memfd) is used as it is.
//! A privileged container (CAP_SYS_ADMIN and CAP_SYS_PTRACE in the host's user namespace) could
//! clone the read-only bind mount and make its clone writable; such a container can reach the
//! host in simpler ways (docker's --privileged is root on the host by design).

use crate::error::{Ctx, Error, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Where the binary we were copied from lives (for callers that must name it, e.g. as a hook
/// path), passed across the re-exec.
const ORIGINAL_EXE_VAR: &str = "HULL_SEALED_FROM";

/// The fd number of the read-only bind our binary runs from, passed across the re-exec.
const EXE_MOUNT_VAR: &str = "HULL_EXE_MOUNT_FD";
/// Where that fd is put: above the fds a caller passes (`--preserve-fds`, the console socket).
const EXE_MOUNT_MIN_FD: libc::c_int = 512;

/// The fd of the detached read-only bind this process runs from, when it came through
/// `reexec_sealed` (CLOEXEC from here on). Create parks it with init's other detached mounts
/// under the old root (`rootfs::pivot`), so that no close of it ever dissolves a mount: each
/// dissolve waits for an expedited RCU grace period, which serialises parallel starts. The
/// number comes from the environment, so it is only believed when the fd is our own binary
/// on a read-only mount.
pub fn exe_mount_fd() -> Option<std::os::fd::RawFd> {
    static FD: std::sync::OnceLock<Option<std::os::fd::RawFd>> = std::sync::OnceLock::new();
    *FD.get_or_init(|| {
        let fd: std::os::fd::RawFd = std::env::var(EXE_MOUNT_VAR).ok()?.parse().ok()?;
        if fd < EXE_MOUNT_MIN_FD {
            return None;
        }
        let exe = std::fs::metadata("/proc/self/exe").ok()?;
        // SAFETY: all-zero stat/statvfs are valid values for fstat/fstatvfs to overwrite.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let mut vfs: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: fstat/fstatvfs fill structs we own; a bad fd only makes them fail.
        let ours = unsafe {
            libc::fstat(fd, &mut st) == 0
                && libc::fstatvfs(fd, &mut vfs) == 0
                && vfs.f_flag & libc::ST_RDONLY != 0
        } && {
            use std::os::unix::fs::MetadataExt;
            st.st_dev == exe.dev() && st.st_ino == exe.ino()
        };
        if !ours {
            return None;
        }
        // SAFETY: setting FD_CLOEXEC on an fd checked above.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        Some(fd)
    })
}

/// The path of the program on disk, also after the re-exec (when /proc/self/exe names the
/// memfd).
pub fn original_exe() -> std::io::Result<std::path::PathBuf> {
    match std::env::var_os(ORIGINAL_EXE_VAR) {
        Some(p) if is_sealed() => Ok(std::path::PathBuf::from(p)),
        _ => std::env::current_exe(),
    }
}

/// Whether our executable is already a copy nobody can write: a sealed memfd, or a file on a
/// read-only mount (our own detached bind mount after the re-exec, or an installation on a
/// read-only filesystem).
pub fn is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS only queries the open file.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS {
        return true;
    }
    // SAFETY: an all-zero statvfs is a valid value for fstatvfs to overwrite.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatvfs fills the struct we own for an fd we hold; its f_flag carries the
    // mount's MNT_READONLY as ST_RDONLY.
    unsafe { libc::fstatvfs(f.as_raw_fd(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY != 0 }
}

/// A detached, read-only bind mount of our binary: an fd that execveat can run.
fn readonly_bind() -> Result<OwnedFd> {
    let exe = std::path::Path::new("/proc/self/exe");
    let tree = crate::sys::open_tree(libc::AT_FDCWD, exe, crate::sys::OPEN_TREE_CLONE)
        .ctx("open_tree (read-only bind of hull's binary)", exe.display())?;
    let attr = crate::sys::MountAttr {
        attr_set: crate::sys::MOUNT_ATTR_RDONLY | crate::sys::MOUNT_ATTR_NOSUID,
        ..Default::default()
    };
    crate::sys::mount_setattr(tree.as_raw_fd(), false, &attr)
        .ctx("mount_setattr read-only", exe.display())?;
    Ok(tree)
}

fn sealed_copy() -> Result<OwnedFd> {
    let name = c"hull";
    // SAFETY: memfd_create with a valid name; the fd is owned right below.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(Error::sys(
            "memfd_create",
            "hull",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: a fresh fd we own.
    let mem = unsafe { OwnedFd::from_raw_fd(fd) };
    let exe = std::fs::File::open("/proc/self/exe").ctx("open", "/proc/self/exe")?;
    let len = exe.metadata().ctx("stat", "/proc/self/exe")?.len();
    let mut off = 0u64;
    while off < len {
        // SAFETY: sendfile between two fds we hold; the kernel copies page-cache pages.
        let n = unsafe {
            libc::sendfile(
                mem.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                (len - off) as usize,
            )
        };
        if n <= 0 {
            return Err(Error::sys(
                "copy",
                "/proc/self/exe into a memfd",
                std::io::Error::last_os_error(),
            ));
        }
        off += n as u64;
    }
    // F_SEAL_WRITE fails with EBUSY while the kernel still holds extra references to the
    // freshly written pages (per-CPU LRU batches, seen in CI); they drop within moments.
    let mut tries = 0;
    loop {
        // SAFETY: adding seals to our own memfd.
        if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } == 0 {
            return Ok(mem);
        }
        let err = std::io::Error::last_os_error();
        tries += 1;
        if err.raw_os_error() != Some(libc::EBUSY) || tries >= 50 {
            return Err(Error::sys("seal", "memfd copy of hull", err));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Re-execute the current process from a sealed copy of its binary, with the same arguments,
/// environment and fds (only CLOEXEC ones close). Returns only if it was not needed.
pub fn reexec_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let (mem, mount_fd) = match readonly_bind() {
        Ok(fd) => {
            // A copy is kept open across the exec (see `exe_mount_fd`): closing the last fd of
            // a detached mount dissolves it, at the price of a kernel-wide RCU grace period.
            // It goes high, out of any range a caller may pass with --preserve-fds.
            // SAFETY: F_DUPFD makes a new fd we own (or fails); clearing its FD_CLOEXEC only
            // affects that copy.
            let kept = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD, EXE_MOUNT_MIN_FD) };
            let n = (kept >= 0).then(|| {
                // SAFETY: clearing FD_CLOEXEC on the copy made just above.
                unsafe { libc::fcntl(kept, libc::F_SETFD, 0) };
                kept.to_string()
            });
            (fd, n)
        }
        Err(_) => (sealed_copy()?, None),
    };
    let original = std::fs::read_link("/proc/self/exe").ctx("readlink", "/proc/self/exe")?;
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != ORIGINAL_EXE_VAR && k != EXE_MOUNT_VAR)
        .chain(std::iter::once((
            ORIGINAL_EXE_VAR.into(),
            original.into_os_string(),
        )))
        .chain(mount_fd.map(|n| (EXE_MOUNT_VAR.into(), n.into())))
        .filter_map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).ok()
        })
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    let empty = c"";
    // SAFETY: argv/envp are NULL-terminated arrays of pointers into CStrings that outlive the
    // call; execveat with AT_EMPTY_PATH runs the file the fd refers to.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            mem.as_raw_fd(),
            empty.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(Error::sys(
        "re-exec",
        "sealed copy of hull",
        std::io::Error::last_os_error(),
    ))
}
