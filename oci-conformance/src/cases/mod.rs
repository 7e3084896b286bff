//! The cases, one file per spec document (and one for runc's CLI where the spec is silent).
use crate::Case;
use serde_json::Value;

mod config;
mod linux;
mod runc;
mod runtime;

pub fn all() -> Vec<Case> {
    let mut v = runtime::cases();
    v.extend(config::cases());
    v.extend(linux::cases());
    v.extend(runc::cases());
    v
}

/// Shorthand for a case list entry.
#[macro_export]
macro_rules! case {
    ($name:expr, $f:expr) => {
        $crate::Case {
            name: $name,
            f: $f,
            deviation: None,
        }
    };
    ($name:expr, $f:expr, deviation = $d:expr) => {
        $crate::Case {
            name: $name,
            f: $f,
            deviation: Some($d),
        }
    };
}

/// The last mount at `mp` in the probe's mountinfo.
pub fn mount_at<'a>(p: &'a Value, mp: &str) -> Option<&'a Value> {
    p["mounts"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["mountpoint"] == mp)
}

/// Does a comma-separated option list contain `o`?
pub fn has_opt(list: &Value, o: &str) -> bool {
    list.as_str().unwrap_or("").split(',').any(|x| x == o)
}

/// A capability set from /proc/self/status as a bit mask.
pub fn capmask(p: &Value, set: &str) -> u64 {
    u64::from_str_radix(p["status"][set].as_str().unwrap_or("0"), 16).unwrap_or(u64::MAX)
}

pub fn cap_bit(name: &str) -> u32 {
    const CAPS: &[&str] = &[
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    CAPS.iter()
        .position(|c| *c == name.trim_start_matches("CAP_"))
        .map(|p| p as u32)
        .unwrap_or(63)
}

pub fn mask_of(names: &[&str]) -> u64 {
    names.iter().fold(0, |m, n| m | 1u64 << cap_bit(n))
}
