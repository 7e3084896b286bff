//! Security settings applied by init last, just before exec.
pub mod capabilities;
pub mod sealed_exe;
pub mod seccomp;
