//! Scheduling and personality settings of the container process: `process.scheduler`
//! (sched_setattr), `process.ioPriority` (ioprio_set) and `linux.personality`.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxIOPriority, LinuxPersonality, Scheduler};

fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

pub fn set_scheduler(s: &Scheduler) -> Result<()> {
    let policy = match name_of(&s.policy()).as_str() {
        "SCHED_OTHER" => 0,
        "SCHED_FIFO" => 1,
        "SCHED_RR" => 2,
        "SCHED_BATCH" => 3,
        "SCHED_ISO" => 4,
        "SCHED_IDLE" => 5,
        "SCHED_DEADLINE" => 6,
        other => {
            return Err(Error::Config(format!(
                "process.scheduler.policy: unknown {other:?}"
            )))
        }
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match name_of(f).as_str() {
            "SCHED_FLAG_RESET_ON_FORK" => 0x01,
            "SCHED_FLAG_RECLAIM" => 0x02,
            "SCHED_FLAG_DL_OVERRUN" => 0x04,
            "SCHED_FLAG_KEEP_POLICY" => 0x08,
            "SCHED_FLAG_KEEP_PARAMS" => 0x10,
            "SCHED_FLAG_UTIL_CLAMP_MIN" => 0x20,
            "SCHED_FLAG_UTIL_CLAMP_MAX" => 0x40,
            other => {
                return Err(Error::Config(format!(
                    "process.scheduler.flags: unknown {other:?}"
                )))
            }
        };
    }
    let mut attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    // SAFETY: sched_setattr on ourselves with a sched_attr of the size we pass.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &mut attr as *mut SchedAttr, 0) };
    if r != 0 {
        return Err(Error::sys(
            "sched_setattr",
            "process.scheduler",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

pub fn set_io_priority(p: &LinuxIOPriority) -> Result<()> {
    let class = match name_of(&p.class()).as_str() {
        "IOPRIO_CLASS_RT" => 1,
        "IOPRIO_CLASS_BE" => 2,
        "IOPRIO_CLASS_IDLE" => 3,
        other => {
            return Err(Error::Config(format!(
                "process.ioPriority.class: unknown {other:?}"
            )))
        }
    };
    if !(0..=7).contains(&p.priority()) {
        return Err(Error::Config(format!(
            "process.ioPriority.priority {} is not 0..7",
            p.priority()
        )));
    }
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    let value = (class << 13) | p.priority() as libc::c_int;
    // SAFETY: ioprio_set on ourselves with integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if r != 0 {
        return Err(Error::sys(
            "ioprio_set",
            "process.ioPriority",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

pub fn set_personality(p: &LinuxPersonality) -> Result<()> {
    let domain: libc::c_ulong = match name_of(&p.domain()).as_str() {
        "LINUX" => 0x0000,
        "LINUX32" => 0x0008,
        other => {
            return Err(Error::Config(format!(
                "linux.personality.domain: unknown {other:?}"
            )))
        }
    };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(Error::Config(
            "linux.personality.flags: no flags are defined by the runtime-spec".into(),
        ));
    }
    // SAFETY: personality with an integer persona.
    if unsafe { libc::personality(domain) } == -1 {
        return Err(Error::sys(
            "personality",
            "linux.personality",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
