//! Finding and executing the container's program.

use crate::error::{Error, Result};
use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The container's program as `execve` needs it, looked up in the PATH of the process's own
/// environment (not hull's), the way runc and a shell do.
pub fn look_path(arg0: &str, env: &[String]) -> Result<PathBuf> {
    if arg0.contains('/') {
        let p = PathBuf::from(arg0);
        if !p.exists() {
            return Err(Error::msg(format!(
                "exec: {arg0:?}: stat {arg0}: no such file or directory"
            )));
        }
        if !is_executable(&p) {
            return Err(Error::msg(format!("exec: {arg0:?}: permission denied")));
        }
        return Ok(p);
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        if is_executable(&cand) {
            return Ok(cand);
        }
    }
    Err(Error::msg(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    )))
}

fn cstrings(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| Error::msg(format!("{s:?} contains a NUL byte")))
        })
        .collect()
}

/// execve; returns only on failure.
pub fn exec(path: &Path, args: &[String], env: &[String]) -> Error {
    let (p, a, e) = match (crate::sys::cstr(path), cstrings(args), cstrings(env)) {
        (Ok(p), Ok(a), Ok(e)) => (p, a, e),
        (Err(e), ..) => return Error::sys("exec", path.display(), e),
        (_, Err(e), _) | (.., Err(e)) => return e,
    };
    let err = nix::unistd::execve(&p, &a, &e).unwrap_err();
    Error::sys(
        "exec",
        path.display(),
        std::io::Error::from_raw_os_error(err as i32),
    )
}
