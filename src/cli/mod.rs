//! runc's command line. Global options come before the subcommand and take both `--opt val`
//! and `--opt=val` (podman uses the latter).

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;

use clap::{Parser, Subcommand};
use hull::log::{Format, Logger};
use hull::Runtime;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "hull",
    about = "hull: a runc-compatible OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    /// Directory for container state (default /run/hull; $XDG_RUNTIME_DIR/hull when not root)
    #[arg(long)]
    root: Option<PathBuf>,
    /// Write log lines to this file instead of stderr
    #[arg(long)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", default_value = "text")]
    log_format: String,
    /// Log debug messages too
    #[arg(long)]
    debug: bool,
    /// Manage cgroups through systemd
    #[arg(long = "systemd-cgroup")]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = false)]
    rootless: Option<String>,
    /// Path to criu (accepted for compatibility)
    #[arg(long, hide = true)]
    criu: Option<String>,
    /// Print the version
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a container (its process waits for `start`)
    Create(create::Args),
    /// Start the process of a created container
    Start(start::Args),
    /// Create and start a container, and wait for it unless --detach
    Run(run::Args),
    /// Print a container's resource usage and OOM events (runc's format)
    Events(events::Args),
    /// Run a new process inside a running container
    Exec(exec::Args),
    /// Send a signal to a container's init (or all its processes with --all)
    Kill(kill::Args),
    /// Delete a container and everything it holds on the host
    Delete(delete::Args),
    /// Print a container's state as JSON
    State(state::Args),
    /// Freeze every process of a container
    Pause(pause::Args),
    /// Thaw a paused container
    Resume(pause::Args),
    /// List a container's processes
    Ps(ps::Args),
    /// Change a container's resource limits
    Update(update::Args),
    /// List containers
    List(list::Args),
    /// Write a template config.json
    Spec(spec::Args),
    /// Print the features this build of hull supports, as JSON
    Features(features::Args),
}

/// println! that does not panic when stdout is a closed pipe (`hull features | head -1`):
/// like runc, the output just stops.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// The subcommand named on the command line, found without clap: global options that take a
/// value (`--root DIR`) are skipped with it. Only a hint for re-executing before the full
/// parse; `main` decides again from what clap parsed.
fn subcommand_hint(args: &[std::ffi::OsString]) -> Option<&str> {
    const TAKES_VALUE: &[&str] = &["--root", "--log", "--log-format", "--criu"];
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let a = a.to_str()?;
        if TAKES_VALUE.contains(&a) {
            it.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

pub fn main() -> i32 {
    // Re-execute from the protected binary before doing any other work: the copy would parse
    // the command line and build clap's tables all over again.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if matches!(subcommand_hint(&args), Some("create" | "run" | "exec")) {
        // A failure is reported below, once the log options are known.
        let _ = hull::security::sealed_exe::reexec_sealed();
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    if cli.version {
        out!("hull version {}", env!("CARGO_PKG_VERSION"));
        out!(
            "commit: {}",
            option_env!("HULL_COMMIT").unwrap_or("unknown")
        );
        out!("spec: {}", hull::state::OCI_VERSION);
        return 0;
    }
    let format = match cli.log_format.as_str() {
        "json" => Format::Json,
        "text" => Format::Text,
        other => {
            eprintln!("unknown log format {other:?}: use text or json");
            return 1;
        }
    };
    let logger = Logger {
        file: cli.log.clone(),
        format,
        debug: cli.debug,
    };
    if let Some(r) = cli.rootless.as_deref() {
        if !matches!(r, "true" | "false" | "auto") {
            logger.error(&format!(
                "invalid --rootless value {r:?}: use true, false or auto"
            ));
            eprintln!("invalid --rootless value {r:?}: use true, false or auto");
            return 1;
        }
    }
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let rootless = match cli.rootless.as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => euid != 0,
    };
    let root = match cli.root {
        Some(r) if r.is_absolute() => r,
        Some(r) => std::env::current_dir().unwrap_or_default().join(r),
        None => hull::default_root(euid),
    };
    let rt = Runtime {
        root,
        log: logger.clone(),
        systemd_cgroup: cli.systemd_cgroup,
        rootless,
    };
    let Some(cmd) = cli.command else {
        eprintln!("hull: no command given; see hull --help");
        return 1;
    };
    // Commands that clone processes into a container first make sure hull's own executable
    // cannot be reached from inside it (CVE-2019-5736; see security/sealed_exe.rs).
    if matches!(cmd, Command::Create(_) | Command::Run(_) | Command::Exec(_)) {
        if let Err(e) = hull::security::sealed_exe::reexec_sealed() {
            logger.error(&e.to_string());
            eprintln!("{e}");
            return 1;
        }
    }
    // Claimed (and made CLOEXEC) now, before anything can run a hook or clone init.
    let _ = hull::security::sealed_exe::exe_mount_fd();
    // runc's rule: a failed exec setup exits 255, so it cannot be mistaken for the process's code.
    let failure_code = if matches!(cmd, Command::Exec(_)) {
        255
    } else {
        1
    };
    let res = match cmd {
        Command::Create(a) => create::run(&rt, a),
        Command::Start(a) => start::run(&rt, a),
        Command::Run(a) => run::run(&rt, a),
        Command::Events(a) => events::run(&rt, a),
        Command::Exec(a) => exec::run(&rt, a),
        Command::Kill(a) => kill::run(&rt, a),
        Command::Delete(a) => delete::run(&rt, a),
        Command::State(a) => state::run(&rt, a),
        Command::List(a) => list::run(&rt, a),
        Command::Update(a) => update::run(&rt, a),
        Command::Pause(a) => pause::pause(&rt, a),
        Command::Resume(a) => pause::resume(&rt, a),
        Command::Ps(a) => ps::run(&rt, a),
        Command::Spec(a) => spec::run(&rt, a),
        Command::Features(a) => features::run(&rt, a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            let msg = e.to_string();
            logger.error(&msg);
            eprintln!("{msg}");
            failure_code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subcommand_hint;

    fn hint(args: &[&str]) -> Option<String> {
        let v: Vec<std::ffi::OsString> = args.iter().map(|a| a.into()).collect();
        subcommand_hint(&v).map(str::to_string)
    }

    #[test]
    fn the_subcommand_is_found_past_global_options() {
        assert_eq!(hint(&["hull", "run", "x"]).as_deref(), Some("run"));
        assert_eq!(
            hint(&["hull", "--root", "/r", "--log=/l", "--debug", "exec", "x"]).as_deref(),
            Some("exec")
        );
        assert_eq!(
            hint(&["hull", "--log-format", "json", "create", "x"]).as_deref(),
            Some("create")
        );
        assert_eq!(
            hint(&["hull", "--root", "run", "state", "x"]).as_deref(),
            Some("state")
        );
        assert_eq!(hint(&["hull", "--version"]), None);
    }
}
