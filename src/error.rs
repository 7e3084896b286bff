//! The library's error type. Every error names the operation and the object (path, id, config
//! field) it concerns, because that is what a user reading containerd's or podman's output has.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed: `op` says what hull was doing, `path` on what.
    #[error("{op} {path}: {source}")]
    Sys {
        op: String,
        path: String,
        source: io::Error,
    },
    /// Wording matched by containerd ("does not exist").
    #[error("container {0} does not exist")]
    NotExist(String),
    #[error("container {0} already exists")]
    Exists(String),
    /// Wording matched by containerd ("container not running").
    #[error("container {0}: container not running")]
    NotRunning(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Msg(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn sys(op: impl Into<String>, path: impl std::fmt::Display, source: io::Error) -> Error {
        Error::Sys {
            op: op.into(),
            path: path.to_string(),
            source,
        }
    }
    pub fn msg(m: impl Into<String>) -> Error {
        Error::Msg(m.into())
    }
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Sys { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Sys {
            op: "invalid argument".into(),
            path: String::new(),
            source: e,
        }
    }
}

/// `.ctx("mount", path)` turns an `io::Error` into an `Error::Sys` naming what failed.
pub trait Ctx<T> {
    fn ctx(self, op: &str, path: impl std::fmt::Display) -> Result<T>;
}

impl<T> Ctx<T> for io::Result<T> {
    fn ctx(self, op: &str, path: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| Error::sys(op, path, e))
    }
}

impl<T> Ctx<T> for nix::Result<T> {
    fn ctx(self, op: &str, path: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| Error::sys(op, path, io::Error::from_raw_os_error(e as i32)))
    }
}
