//! `exec`: `--process FILE` (what containerd and conmon pass) or runc's flag form, which starts
//! from the container's own process settings.

use hull::launch::exec::ExecOpts;
use hull::{Error, Result, Runtime};
use oci_spec::runtime::{Capability, Process, User};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSON file with the process to run (a runtime-spec `process` object)
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// KEY=VALUE, repeatable
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID], numeric
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Capability to add (to bounding, effective and permitted only), repeatable
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Sub-cgroup to run in (cgroup v2 only; not supported yet)
    #[arg(long)]
    pub cgroup: Option<String>,
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    pub id: String,
    /// Command and arguments (flag form)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn parse_process(data: &[u8], what: &str) -> Result<Process> {
    // runc accepts a process without `user` (root) or `cwd` ("/"); the spec type requires them.
    let mut v: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| Error::Config(format!("{what}: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
        o.entry("cwd").or_insert_with(|| serde_json::json!("/"));
    }
    hull::json_path::from_value(&v, "process").map_err(|e| Error::Config(format!("{what}: {e}")))
}

/// `-u` takes numbers only: a name would be looked up in a file the container controls, and
/// loose parsing of this flag was crun CVE-2026-30892.
fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::Config(format!("--user {s:?}: expected UID or UID:GID (numbers)"));
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u.parse::<u32>().map_err(|_| bad())?;
    let gid = g.map(|g| g.parse::<u32>().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

fn from_flags(rt: &Runtime, a: &Args) -> Result<Process> {
    if a.command.is_empty() {
        return Err(Error::Config(
            "exec: give --process FILE or a command to run".into(),
        ));
    }
    let c = hull::state::Container::load(&rt.root, &a.id)?;
    let spec = hull::spec::load(&c.saved.bundle)?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    let mut user: User = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        user.set_uid(uid);
        user.set_gid(gid.unwrap_or(0));
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    // Without capabilities in the config the process keeps all of root's, so --cap adds
    // nothing. (oci-spec's default capability set must not be used as a base: it fills the
    // inheritable and ambient sets too, exactly what CVE-2022-29162 was about.)
    if let (false, Some(mut caps)) = (a.cap.is_empty(), p.capabilities().clone()) {
        for name in &a.cap {
            let full = if name.to_ascii_uppercase().starts_with("CAP_") {
                name.to_ascii_uppercase()
            } else {
                format!("CAP_{}", name.to_ascii_uppercase())
            };
            // oci-spec's capability type reads the spec's JSON spelling ("CAP_X") through serde.
            let cap: Capability =
                serde_json::from_value(serde_json::Value::String(full.clone()))
                    .map_err(|_| Error::Config(format!("--cap: unknown capability {name:?}")))?;
            for set in [
                caps.bounding().clone(),
                caps.effective().clone(),
                caps.permitted().clone(),
            ]
            .iter()
            .enumerate()
            {
                let mut s = set.1.clone().unwrap_or_default();
                s.insert(cap);
                match set.0 {
                    0 => caps.set_bounding(Some(s)),
                    1 => caps.set_effective(Some(s)),
                    _ => caps.set_permitted(Some(s)),
                };
            }
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    // Refused by their flag names when the host lacks the LSM.
    hull::security::lsm::apparmor_profile(a.apparmor.as_deref(), "--apparmor")?;
    hull::security::lsm::selinux_label(a.process_label.as_deref(), "--process-label")?;
    if a.cgroup.is_some() {
        return Err(Error::Config(
            "exec: --cgroup is not supported by this build of hull".into(),
        ));
    }
    let mut process = match &a.process {
        Some(path) => {
            let data = std::fs::read(path).map_err(|e| Error::sys("read", path.display(), e))?;
            parse_process(&data, &path.display().to_string())?
        }
        None => from_flags(rt, &a)?,
    };
    // The flags win over the process file and over the container's own profile and label
    // (which the flag form starts from). runc ignores them next to --process; a profile that
    // was asked for and silently not applied would be worse than runc's quirk.
    // launch::exec checks the result against the host before it starts anything.
    if let Some(ap) = a.apparmor.as_ref().filter(|s| !s.is_empty()) {
        process.set_apparmor_profile(Some(ap.clone()));
    }
    if let Some(l) = a.process_label.as_ref().filter(|s| !s.is_empty()) {
        process.set_selinux_label(Some(l.clone()));
    }
    if process.args().as_ref().is_none_or(|v| v.is_empty()) {
        return Err(Error::Config("exec: process.args is empty".into()));
    }
    let opts = ExecOpts {
        id: a.id.clone(),
        process,
        console_socket: a.console_socket.clone(),
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
        program: None,
    };
    hull::launch::exec::exec(rt, &opts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_flag_is_strict() {
        assert_eq!(super::parse_user("1000").unwrap(), (1000, None));
        assert_eq!(super::parse_user("1000:50").unwrap(), (1000, Some(50)));
        for bad in ["root", "1000:", ":5", "1000:50:1", "-1", "1000 ", "0x10"] {
            assert!(super::parse_user(bad).is_err(), "{bad}");
        }
    }
}
