//! CVE-2019-5736: a process in the container that execs `/proc/self/exe` (or a script whose
//! interpreter is `#!/proc/self/exe`) while it is still a clone of hull runs the *host's hull
//! binary*, and another container process can then open `/proc/PID/exe` for writing and
//! overwrite it. hull never re-execs itself into a container, but every process it clones
//! carries hull's executable until its own execve. So before `create`, `run` and `exec` clone
//! anything, hull re-executes itself once from a sealed memfd copy of its binary: from then on
//! /proc/self/exe is a file nobody can write (F_SEAL_WRITE), and the host binary is out of
//! reach. runc 1.0-1.1 did the same with its cloned_binary.

use crate::error::{Ctx, Error, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Whether our executable is already a sealed, unwritable copy.
pub fn is_sealed() -> bool {
    let Ok(f) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS only queries the open file.
    let seals = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
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
    // SAFETY: adding seals to our own memfd.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } != 0 {
        return Err(Error::sys(
            "seal",
            "memfd copy of hull",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(mem)
}

/// Re-execute the current process from a sealed copy of its binary, with the same arguments,
/// environment and fds (only CLOEXEC ones close). Returns only if it was not needed.
pub fn reexec_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let mem = sealed_copy()?;
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
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
    // call; execveat with AT_EMPTY_PATH runs the memfd itself.
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
