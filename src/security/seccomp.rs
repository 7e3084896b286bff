//! `linux.seccomp` compiled with libseccomp (one filter for every listed architecture, all
//! comparison operators, notify), loaded just before exec. Syscall names this libseccomp does
//! not know are skipped, as runc does, so newer profiles load on older hosts.

use crate::error::{Error, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use std::os::fd::RawFd;
use std::str::FromStr;

fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn action(a: LinuxSeccompAction, errno: Option<u32>, what: &str) -> Result<ScmpAction> {
    Ok(match name_of(&a).as_str() {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16),
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        other => {
            return Err(Error::Config(format!(
                "{what}: unknown seccomp action {other:?}"
            )))
        }
    })
}

pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    name_of(&s.default_action()) == "SCMP_ACT_NOTIFY"
        || s.syscalls()
            .iter()
            .flatten()
            .any(|r| name_of(&r.action()) == "SCMP_ACT_NOTIFY")
}

pub fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let lib = |e: libseccomp::error::SeccompError, what: String| {
        Error::msg(format!("seccomp: {what}: {e}"))
    };
    let default = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultAction",
    )?;
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| lib(e, "create filter".into()))?;
    // The spec's noNewPrivileges decides NNP, not libseccomp's default of setting it.
    ctx.set_ctl_nnp(false)
        .map_err(|e| lib(e, "attribute nnp".into()))?;
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let n = name_of(a);
        let arch = ScmpArch::from_str(&n).map_err(|_| {
            Error::Config(format!("linux.seccomp.architectures[{i}]: unknown {n:?}"))
        })?;
        ctx.add_arch(arch)
            .map_err(|e| lib(e, format!("add architecture {n}")))?;
    }
    for f in s.flags().iter().flatten() {
        let r = match name_of(f).as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => ctx.set_ctl_tsync(true).map(drop),
            "SECCOMP_FILTER_FLAG_LOG" => ctx.set_ctl_log(true).map(drop),
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => ctx.set_ctl_ssb(true).map(drop),
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => ctx.set_ctl_waitkill(true).map(drop),
            other => {
                return Err(Error::Config(format!(
                    "linux.seccomp.flags: unknown flag {other:?}"
                )))
            }
        };
        r.map_err(|e| lib(e, format!("flag {}", name_of(f))))?;
    }
    for (i, rule) in s.syscalls().iter().flatten().enumerate() {
        let what = format!("linux.seccomp.syscalls[{i}]");
        let act = action(rule.action(), rule.errno_ret(), &what)?;
        if act == default {
            // libseccomp refuses rules that repeat the default action; they change nothing.
            continue;
        }
        let mut conds = Vec::new();
        let mut idx: Vec<usize> = rule.args().iter().flatten().map(|a| a.index()).collect();
        for (j, a) in rule.args().iter().flatten().enumerate() {
            let op = match name_of(&a.op()).as_str() {
                "SCMP_CMP_MASKED_EQ" => ScmpCompareOp::MaskedEqual(a.value()),
                other => ScmpCompareOp::from_str(other).map_err(|_| {
                    Error::Config(format!("{what}.args[{j}]: unknown operator {other:?}"))
                })?,
            };
            let datum = if matches!(op, ScmpCompareOp::MaskedEqual(_)) {
                a.value_two().unwrap_or(0)
            } else {
                a.value()
            };
            if a.index() > 5 {
                return Err(Error::Config(format!(
                    "{what}.args[{j}]: index {} is not 0..5",
                    a.index()
                )));
            }
            conds.push(ScmpArgCompare::new(a.index() as u32, op, datum));
        }
        // Two conditions on the same argument cannot be ANDed in one libseccomp rule; runc
        // adds them as separate rules (any of them matching applies the action). Same here.
        idx.sort_unstable();
        let repeated = idx.windows(2).any(|w| w[0] == w[1]);
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let r = if conds.is_empty() {
                ctx.add_rule(act, sc).map(drop)
            } else if repeated {
                conds.iter().try_for_each(|c| {
                    ctx.add_rule_conditional(act, sc, std::slice::from_ref(c))
                        .map(drop)
                })
            } else {
                ctx.add_rule_conditional(act, sc, &conds).map(drop)
            };
            r.map_err(|e| lib(e, format!("{what}: rule for {name}")))?;
        }
    }
    Ok(ctx)
}

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 2;
const FLAG_SPEC_ALLOW: u32 = 4;
const FLAG_NEW_LISTENER: u32 = 8;
const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// A compiled profile: classic BPF as the kernel takes it, plus what loading it needs.
#[derive(Clone, Debug)]
pub struct Program {
    pub bpf: Vec<u8>,
    pub flags: u32,
    pub notify: bool,
    pub listener_path: Option<std::path::PathBuf>,
    pub metadata: String,
}

fn flag_bits(s: &LinuxSeccomp) -> u32 {
    s.flags()
        .iter()
        .flatten()
        .map(|f| match name_of(f).as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => FLAG_SPEC_ALLOW,
            "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => FLAG_WAIT_KILLABLE_RECV,
            _ => 0,
        })
        .fold(0, |a, b| a | b)
}

fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>> {
    // seccomp_export_bpf_mem is libseccomp 2.6; 2.5 exports to an fd: use a memfd.
    let name = c"hull-seccomp";
    // SAFETY: memfd_create with a valid name; the fd is owned right below.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::sys(
            "memfd_create",
            "seccomp",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: a fresh fd we own.
    let mut f = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    ctx.export_bpf(&f)
        .map_err(|e| Error::msg(format!("seccomp: export filter: {e}")))?;
    use std::io::{Read, Seek};
    let mut bpf = Vec::new();
    f.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| f.read_to_end(&mut bpf))
        .map_err(|e| Error::sys("read", "seccomp filter", e))?;
    Ok(bpf)
}

/// Compile `s`, or take the BPF from the cache in `cache_dir` when this exact profile was
/// compiled before (libseccomp needs ~10 ms for docker's profile; crun caches the same way).
/// A cache entry holds the profile's full JSON and is used only if it matches byte for byte,
/// so a hash collision can never hand one container another profile's filter.
pub fn compile(s: &LinuxSeccomp, cache_dir: Option<&std::path::Path>) -> Result<Program> {
    use std::hash::{Hash, Hasher};
    let json =
        serde_json::to_vec(s).map_err(|e| Error::msg(format!("seccomp: encode profile: {e}")))?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    json.hash(&mut h);
    let v = libseccomp::ScmpVersion::current()
        .map(|v| (v.major, v.minor, v.micro))
        .unwrap_or((0, 0, 0));
    let key = format!("{:016x}-{}.{}.{}", h.finish(), v.0, v.1, v.2);
    let cached = cache_dir.map(|d| d.join(&key));
    let mut bpf = None;
    if let Some(path) = &cached {
        if let Ok(data) = std::fs::read(path) {
            if data.len() > 8 {
                let n = u64::from_le_bytes(data[..8].try_into().unwrap_or_default()) as usize;
                if data.len() >= 8 + n && data[8..8 + n] == json[..] {
                    bpf = Some(data[8 + n..].to_vec());
                }
            }
        }
    }
    let bpf = match bpf {
        Some(b) => b,
        None => {
            let b = export(&build(s)?)?;
            if let (Some(path), Some(dir)) = (&cached, cache_dir) {
                let mut data = (json.len() as u64).to_le_bytes().to_vec();
                data.extend_from_slice(&json);
                data.extend_from_slice(&b);
                if std::fs::create_dir_all(dir).is_ok() {
                    // A cache that cannot be written only costs time next run.
                    let _ = crate::state::write_atomic(path, &data, 0o600);
                }
            }
            b
        }
    };
    if bpf.is_empty() || bpf.len() % 8 != 0 {
        return Err(Error::msg("seccomp: compiled filter has an invalid size"));
    }
    Ok(Program {
        bpf,
        flags: flag_bits(s),
        notify: uses_notify(s),
        listener_path: s.listener_path().clone(),
        metadata: s.listener_metadata().clone().unwrap_or_default(),
    })
}

/// Load the program with seccomp(2); returns the notify fd when the profile uses
/// SCMP_ACT_NOTIFY.
fn load(p: &Program) -> Result<Option<RawFd>> {
    #[repr(C)]
    struct SockFprog {
        len: libc::c_ushort,
        filter: *const u8,
    }
    let prog = SockFprog {
        len: (p.bpf.len() / 8) as libc::c_ushort,
        filter: p.bpf.as_ptr(),
    };
    let mut flags = p.flags;
    if p.notify {
        // TSYNC and NEW_LISTENER cannot be combined; we are single-threaded anyway.
        flags = (flags & !FLAG_TSYNC) | FLAG_NEW_LISTENER;
    }
    // SAFETY: `prog` points at `bpf`, which outlives the call, in the layout seccomp(2) reads.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const SockFprog,
        )
    };
    if r < 0 {
        return Err(Error::sys(
            "seccomp",
            "load filter",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(if p.notify { Some(r as RawFd) } else { None })
}

/// A compiled filter waiting to be loaded, with the seccomp agent connection when the
/// profile uses SCMP_ACT_NOTIFY.
pub struct Prepared {
    program: Program,
    listener: Option<std::os::unix::net::UnixStream>,
    state_json: String,
}

impl Prepared {
    /// Connect to `listenerPath` now, while the host's paths are still visible (before
    /// pivot_root).
    pub fn new(program: &Program) -> Result<Prepared> {
        let listener = if program.notify {
            let path = program.listener_path.as_ref().ok_or_else(|| {
                Error::Config("linux.seccomp uses SCMP_ACT_NOTIFY but has no listenerPath".into())
            })?;
            Some(
                std::os::unix::net::UnixStream::connect(path)
                    .map_err(|e| Error::sys("connect to seccomp listener", path.display(), e))?,
            )
        } else {
            None
        };
        Ok(Prepared {
            program: program.clone(),
            listener,
            state_json: String::new(),
        })
    }

    pub fn needs_state(&self) -> bool {
        self.listener.is_some()
    }

    pub fn set_state(&mut self, state_json: String) {
        self.state_json = state_json;
    }

    /// Load the filter and hand the notify fd to the agent, as runc does: one message with the
    /// container process state as JSON and the fd as SCM_RIGHTS.
    pub fn install(&self) -> Result<()> {
        let fd = load(&self.program)?;
        if let (Some(fd), Some(sock)) = (fd, &self.listener) {
            let state: serde_json::Value =
                serde_json::from_str(&self.state_json).unwrap_or(serde_json::Value::Null);
            let msg = serde_json::json!({
                "ociVersion": crate::state::OCI_VERSION,
                "fds": ["seccompFd"],
                "pid": state.get("pid").cloned().unwrap_or(serde_json::Value::Null),
                "metadata": self.program.metadata,
                "state": state,
            })
            .to_string();
            let iov = [std::io::IoSlice::new(msg.as_bytes())];
            let fds = [fd];
            use std::os::fd::AsRawFd;
            nix::sys::socket::sendmsg::<()>(
                sock.as_raw_fd(),
                &iov,
                &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
                nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
                None,
            )
            .map_err(|e| Error::msg(format!("seccomp: send notify fd to the listener: {e}")))?;
            // SAFETY: the fd is ours; the agent has its own copy now.
            unsafe { libc::close(fd) };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(errno: u32) -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno},
                {"names": ["no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 255, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }))
        .unwrap()
    }

    /// Run `f` in a forked child and return its exit code.
    fn in_child(f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the test harness may have threads, but the child only makes syscalls and
        // exits; it never touches locks another thread could hold.
        match unsafe { libc::fork() } {
            0 => {
                let code = f();
                unsafe { libc::_exit(code) }
            }
            pid => {
                let mut st = 0;
                unsafe { libc::waitpid(pid, &mut st, 0) };
                libc::WEXITSTATUS(st)
            }
        }
    }

    #[test]
    fn denied_syscall_returns_the_profiles_errno_and_masked_eq_matches() {
        let p = compile(&profile(42), None).unwrap();
        let code = in_child(|| {
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            if Prepared::new(&p).and_then(|f| f.install()).is_err() {
                return 90;
            }
            let r = unsafe { libc::syscall(libc::SYS_getppid) };
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if r != -1 || e != 42 {
                return 91;
            }
            // personality(0x0008) matches (0x0008 & 0xff) == 8; personality(0xffffffff) queries.
            let q = unsafe { libc::personality(0x0008) };
            let ok = unsafe { libc::personality(0xffff_ffff) };
            if q != -1 || ok == -1 {
                return 92;
            }
            0
        });
        assert_eq!(code, 0, "child reported failure stage {code}");
    }

    #[test]
    fn cache_is_used_only_for_the_same_profile() {
        let dir = std::env::temp_dir().join(format!("hull-seccomp-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = compile(&profile(42), Some(&dir)).unwrap();
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1);
        // Same profile: served from the cache, identical program.
        let b = compile(&profile(42), Some(&dir)).unwrap();
        assert_eq!(a.bpf, b.bpf);
        // A poisoned entry (right name, other profile's JSON) is ignored and rewritten.
        let mut data = std::fs::read(&entries[0]).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        data[10] ^= 0x01;
        std::fs::write(&entries[0], &data).unwrap();
        let c = compile(&profile(42), Some(&dir)).unwrap();
        assert_eq!(a.bpf, c.bpf);
        // A different profile compiles to a different program.
        let d = compile(&profile(43), Some(&dir)).unwrap();
        assert_ne!(a.bpf, d.bpf);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
