//! Security settings applied by init last, just before exec.
pub mod capabilities;
pub mod lsm;
pub mod procfs;
pub mod sealed_exe;
pub mod seccomp;
