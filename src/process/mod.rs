//! The container process's identity and environment: user and groups, rlimits, the terminal,
//! and the lookup of the program to run.

pub mod exec;
pub mod identity;
pub mod rlimits;
pub mod sched;
pub mod tty;
pub mod user;
