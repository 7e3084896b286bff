//! hull: a runc-compatible OCI container runtime, as a library. The `hull` binary is a thin
//! CLI over it, and dock calls the same functions.

pub mod cgroups;
pub mod error;
pub mod hooks;
pub mod json_path;
pub mod launch;
pub mod lifecycle;
pub mod log;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod signal;
pub mod spec;
pub mod state;
pub mod sys;
pub mod time;

pub use error::{Error, Result};
pub use launch::run::RunOpts;
pub use launch::{create, start, Console, CreateOpts};
pub use lifecycle::{delete, kill, list};

use std::path::PathBuf;

/// Global options shared by every operation.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// Where container state lives (`--root`, default /run/hull).
    pub root: PathBuf,
    pub log: log::Logger,
    pub systemd_cgroup: bool,
    /// Rootless mode (`--rootless`, or automatic when not root): cgroups only where they are
    /// delegated to us, ids mapped through newuidmap/newgidmap.
    pub rootless: bool,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            root: PathBuf::from(DEFAULT_ROOT),
            log: log::Logger::default(),
            systemd_cgroup: false,
            rootless: false,
        }
    }
}

pub const DEFAULT_ROOT: &str = "/run/hull";

/// runc's rule for the state root: /run/hull for root, $XDG_RUNTIME_DIR/hull otherwise
/// (/tmp/hull-<uid> when that is unset).
pub fn default_root(euid: u32) -> PathBuf {
    if euid == 0 {
        return PathBuf::from(DEFAULT_ROOT);
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("hull"),
        None => PathBuf::from(format!("/tmp/hull-{euid}")),
    }
}
