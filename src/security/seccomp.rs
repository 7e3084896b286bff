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

/// Load the filter; returns the notify fd when the profile uses SCMP_ACT_NOTIFY.
pub fn load(ctx: &ScmpFilterContext, notify: bool) -> Result<Option<RawFd>> {
    ctx.load()
        .map_err(|e| Error::msg(format!("seccomp: load filter: {e}")))?;
    if notify {
        let fd = ctx
            .get_notify_fd()
            .map_err(|e| Error::msg(format!("seccomp: notify fd: {e}")))?;
        return Ok(Some(fd));
    }
    Ok(None)
}

/// A compiled filter waiting to be loaded, with the seccomp agent connection when the
/// profile uses SCMP_ACT_NOTIFY.
pub struct Prepared {
    ctx: ScmpFilterContext,
    listener: Option<(std::os::unix::net::UnixStream, String)>,
    state_json: String,
}

impl Prepared {
    /// Compile the profile, and connect to `listenerPath` now, while the host's paths are
    /// still visible (before pivot_root).
    pub fn new(s: &LinuxSeccomp) -> Result<Prepared> {
        let ctx = build(s)?;
        let listener = if uses_notify(s) {
            let path = s.listener_path().as_ref().ok_or_else(|| {
                Error::Config("linux.seccomp uses SCMP_ACT_NOTIFY but has no listenerPath".into())
            })?;
            let sock = std::os::unix::net::UnixStream::connect(path)
                .map_err(|e| Error::sys("connect to seccomp listener", path.display(), e))?;
            Some((sock, s.listener_metadata().clone().unwrap_or_default()))
        } else {
            None
        };
        Ok(Prepared {
            ctx,
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
        let fd = load(&self.ctx, self.listener.is_some())?;
        if let (Some(fd), Some((sock, metadata))) = (fd, &self.listener) {
            let state: serde_json::Value =
                serde_json::from_str(&self.state_json).unwrap_or(serde_json::Value::Null);
            let msg = serde_json::json!({
                "ociVersion": crate::state::OCI_VERSION,
                "fds": ["seccompFd"],
                "pid": state.get("pid").cloned().unwrap_or(serde_json::Value::Null),
                "metadata": metadata,
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
