//! Seccomp for `dock run`: docker's default profile (kept here as data, so the default does not
//! depend on a file some package may or may not install), and the conversion of docker's
//! profile format (archMap; rules included or excluded by capability, architecture and kernel
//! version) into the OCI `linux.seccomp` hull loads.
//!
//! docker's default denies with EPERM (`defaultErrnoRet: 1`); the only ENOSYS is clone3 for
//! containers without CAP_SYS_ADMIN, so that libc falls back to clone, whose flags the filter
//! can inspect. (containers-common's copy denies with ENOSYS by default, which makes programs
//! think a syscall does not exist rather than that it is not permitted.)

use serde_json::{json, Value};

/// One rule of the profile. `caps`/`arches` in `only_*` must all (caps) / any (arches) match
/// for the rule to apply; a match in `not_*` drops it. `min_kernel` is docker's
/// `includes.minKernel`.
struct Rule {
    names: &'static [&'static str],
    errno: Option<u32>,
    /// (index, value, op) conditions.
    args: &'static [(u32, u64, &'static str)],
    only_caps: &'static [&'static str],
    only_arches: &'static [&'static str],
    not_caps: &'static [&'static str],
    not_arches: &'static [&'static str],
    min_kernel: Option<&'static str>,
}

const fn allow(names: &'static [&'static str]) -> Rule {
    Rule {
        names,
        errno: None,
        args: &[],
        only_caps: &[],
        only_arches: &[],
        not_caps: &[],
        not_arches: &[],
        min_kernel: None,
    }
}

const fn with_cap(cap: &'static [&'static str], names: &'static [&'static str]) -> Rule {
    Rule {
        only_caps: cap,
        ..allow(names)
    }
}

const fn on_arches(arches: &'static [&'static str], names: &'static [&'static str]) -> Rule {
    Rule {
        only_arches: arches,
        ..allow(names)
    }
}

const fn allow_arg(
    name: &'static [&'static str],
    arg: &'static [(u32, u64, &'static str)],
) -> Rule {
    Rule {
        args: arg,
        ..allow(name)
    }
}

/// Syscalls every container may make (docker's first, unconditional group).
const BASE: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_time64",
    "futex_waitv",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may make none of these
/// without CAP_SYS_ADMIN.
const CLONE_NS_FLAGS: u64 = 0x7E02_0000;

const SYS_ADMIN: &[&str] = &["CAP_SYS_ADMIN"];

/// docker's default profile, rule by rule (moby profiles/seccomp/default.json).
const RULES: &[Rule] = &[
    allow(BASE),
    Rule {
        min_kernel: Some("4.8"),
        ..allow(&["process_vm_readv", "process_vm_writev", "ptrace"])
    },
    // AF_VSOCK (40) sockets would reach the host's hypervisor channel.
    allow_arg(&["socket"], &[(0, 40, "SCMP_CMP_NE")]),
    // personality: only the harmless personas (PER_LINUX, UNAME26, PER_LINUX32, query).
    allow_arg(&["personality"], &[(0, 0, "SCMP_CMP_EQ")]),
    allow_arg(&["personality"], &[(0, 8, "SCMP_CMP_EQ")]),
    allow_arg(&["personality"], &[(0, 131072, "SCMP_CMP_EQ")]),
    allow_arg(&["personality"], &[(0, 131080, "SCMP_CMP_EQ")]),
    allow_arg(&["personality"], &[(0, 4294967295, "SCMP_CMP_EQ")]),
    on_arches(&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    on_arches(
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    on_arches(&["amd64", "x32"], &["arch_prctl"]),
    on_arches(&["amd64", "x32", "x86"], &["modify_ldt"]),
    on_arches(
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    on_arches(&["riscv64"], &["riscv_flush_icache"]),
    with_cap(&["CAP_DAC_READ_SEARCH"], &["open_by_handle_at"]),
    with_cap(
        SYS_ADMIN,
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    Rule {
        args: &[(0, CLONE_NS_FLAGS, "SCMP_CMP_MASKED_EQ")],
        not_caps: SYS_ADMIN,
        not_arches: &["s390", "s390x"],
        ..allow(&["clone"])
    },
    // s390 passes clone's flags second.
    Rule {
        args: &[(1, CLONE_NS_FLAGS, "SCMP_CMP_MASKED_EQ")],
        only_arches: &["s390", "s390x"],
        not_caps: SYS_ADMIN,
        ..allow(&["clone"])
    },
    // clone3's flags live in memory the filter cannot read: ENOSYS makes libc use clone.
    Rule {
        errno: Some(libc::ENOSYS as u32),
        not_caps: SYS_ADMIN,
        ..allow(&["clone3"])
    },
    with_cap(&["CAP_SYS_BOOT"], &["reboot"]),
    with_cap(&["CAP_SYS_CHROOT"], &["chroot"]),
    with_cap(
        &["CAP_SYS_MODULE"],
        &["delete_module", "init_module", "finit_module"],
    ),
    with_cap(&["CAP_SYS_PACCT"], &["acct"]),
    with_cap(
        &["CAP_SYS_PTRACE"],
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    with_cap(&["CAP_SYS_RAWIO"], &["iopl", "ioperm"]),
    with_cap(
        &["CAP_SYS_TIME"],
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    with_cap(&["CAP_SYS_TTY_CONFIG"], &["vhangup"]),
    with_cap(
        &["CAP_SYS_NICE"],
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    with_cap(&["CAP_SYSLOG"], &["syslog"]),
    with_cap(&["CAP_BPF"], &["bpf"]),
    with_cap(&["CAP_PERFMON"], &["perf_event_open"]),
];

/// Architectures of docker's archMap: the native one and those its kernel also runs.
const ARCH_MAP: &[(&str, &[&str])] = &[
    ("SCMP_ARCH_X86_64", &["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
    ("SCMP_ARCH_AARCH64", &["SCMP_ARCH_ARM"]),
    ("SCMP_ARCH_S390X", &["SCMP_ARCH_S390"]),
    ("SCMP_ARCH_PPC64LE", &[]),
    ("SCMP_ARCH_RISCV64", &[]),
];

/// docker's default profile in docker's own format (what `docker info` calls "builtin").
pub fn docker_default() -> Value {
    let arch_map: Vec<Value> = ARCH_MAP
        .iter()
        .map(|(a, subs)| json!({"architecture": a, "subArchitectures": subs}))
        .collect();
    let syscalls: Vec<Value> = RULES
        .iter()
        .map(|r| {
            let mut o = json!({
                "names": r.names,
                "action": if r.errno.is_some() { "SCMP_ACT_ERRNO" } else { "SCMP_ACT_ALLOW" },
            });
            if let Some(e) = r.errno {
                o["errnoRet"] = json!(e);
            }
            if !r.args.is_empty() {
                o["args"] = r
                    .args
                    .iter()
                    .map(|(i, v, op)| json!({"index": i, "value": v, "op": op}))
                    .collect();
            }
            let mut inc = json!({});
            if !r.only_caps.is_empty() {
                inc["caps"] = json!(r.only_caps);
            }
            if !r.only_arches.is_empty() {
                inc["arches"] = json!(r.only_arches);
            }
            if let Some(k) = r.min_kernel {
                inc["minKernel"] = json!(k);
            }
            let mut exc = json!({});
            if !r.not_caps.is_empty() {
                exc["caps"] = json!(r.not_caps);
            }
            if !r.not_arches.is_empty() {
                exc["arches"] = json!(r.not_arches);
            }
            o["includes"] = inc;
            o["excludes"] = exc;
            o
        })
        .collect();
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "archMap": arch_map,
        "syscalls": syscalls,
    })
}

/// docker's name for this machine's architecture, and libseccomp's.
fn host_arch() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", "SCMP_ARCH_X86_64"),
        "aarch64" => ("arm64", "SCMP_ARCH_AARCH64"),
        "x86" => ("386", "SCMP_ARCH_X86"),
        "arm" => ("arm", "SCMP_ARCH_ARM"),
        "s390x" => ("s390x", "SCMP_ARCH_S390X"),
        "powerpc64" => ("ppc64le", "SCMP_ARCH_PPC64LE"),
        "riscv64" => ("riscv64", "SCMP_ARCH_RISCV64"),
        _ => ("", ""),
    }
}

/// "6.1.0-18-amd64" → (6, 1).
fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it
        .next()
        .map(|m| {
            m.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    Some((major, minor))
}

fn host_kernel() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|s| parse_kernel(s.trim()))
        .unwrap_or((0, 0))
}

/// The profile for a container: the rules that apply to its capabilities, this architecture
/// and this kernel, in OCI form. An OCI profile (no archMap, architectures given) passes
/// through unchanged.
pub fn convert(v: &Value, caps: &[String]) -> Value {
    convert_for(v, caps, host_arch(), host_kernel())
}

fn convert_for(v: &Value, caps: &[String], arch: (&str, &str), kernel: (u32, u32)) -> Value {
    if v.get("archMap").is_none() && v.get("architectures").is_some() {
        return v.clone();
    }
    let (arch, scmp) = arch;
    let mut architectures = vec![];
    for m in v["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == scmp {
            architectures.push(json!(scmp));
            architectures.extend(
                m["subArchitectures"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    let has = |c: &Value| caps.iter().any(|x| Some(x.as_str()) == c.as_str());
    let is_arch = |a: &Value| a == arch;
    let mut syscalls = Vec::new();
    for s in v["syscalls"].as_array().into_iter().flatten() {
        let (inc, exc) = (&s["includes"], &s["excludes"]);
        let applies = inc["arches"]
            .as_array()
            .is_none_or(|a| a.iter().any(is_arch))
            && inc["caps"].as_array().is_none_or(|c| c.iter().all(has))
            && inc["minKernel"]
                .as_str()
                .and_then(parse_kernel)
                .is_none_or(|k| kernel >= k)
            && !exc["arches"]
                .as_array()
                .is_some_and(|a| a.iter().any(is_arch))
            && !exc["caps"].as_array().is_some_and(|c| c.iter().any(has));
        if !applies {
            continue;
        }
        let mut o = json!({"names": s["names"], "action": s["action"]});
        if let Some(a) = s.get("args").filter(|a| !a.is_null()) {
            o["args"] = a.clone();
        }
        if let Some(e) = s.get("errnoRet").filter(|a| !a.is_null()) {
            o["errnoRet"] = e.clone();
        }
        syscalls.push(o);
    }
    let mut out = json!({
        "defaultAction": v["defaultAction"],
        "architectures": architectures,
        "syscalls": syscalls,
    });
    if let Some(e) = v.get("defaultErrnoRet").filter(|a| !a.is_null()) {
        out["defaultErrnoRet"] = e.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_for(caps: &[&str]) -> Value {
        let caps: Vec<String> = caps.iter().map(|s| s.to_string()).collect();
        convert_for(
            &docker_default(),
            &caps,
            ("amd64", "SCMP_ARCH_X86_64"),
            (6, 1),
        )
    }

    fn allowed(p: &Value, name: &str) -> bool {
        p["syscalls"].as_array().unwrap().iter().any(|r| {
            r["action"] == "SCMP_ACT_ALLOW"
                && r["names"].as_array().unwrap().iter().any(|n| n == name)
        })
    }

    #[test]
    fn default_denies_with_eperm_and_clone3_with_enosys() {
        let p = rules_for(&["CAP_CHOWN"]);
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(p["defaultErrnoRet"], 1);
        assert_eq!(
            p["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        );
        for denied in ["mount", "unshare", "keyctl", "setns", "reboot", "bpf"] {
            assert!(!allowed(&p, denied), "{denied}");
        }
        assert!(allowed(&p, "read") && allowed(&p, "arch_prctl") && allowed(&p, "ptrace"));
        assert!(!allowed(&p, "riscv_flush_icache"));
        let clone3: Vec<&Value> = p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == "clone3"))
            .collect();
        assert_eq!(clone3.len(), 1);
        assert_eq!(clone3[0]["errnoRet"], 38);
        // clone with namespace flags is masked out.
        assert!(p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["names"][0] == "clone" && r["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"));
    }

    #[test]
    fn capabilities_open_their_syscalls() {
        let p = rules_for(&["CAP_SYS_ADMIN", "CAP_SYS_TIME"]);
        assert!(allowed(&p, "mount") && allowed(&p, "unshare") && allowed(&p, "clone3"));
        assert!(allowed(&p, "clock_settime"));
        assert!(!p["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "SCMP_ACT_ERRNO"));
        // Before 4.8 ptrace needs CAP_SYS_PTRACE.
        let old = convert_for(
            &docker_default(),
            &[],
            ("amd64", "SCMP_ARCH_X86_64"),
            (4, 4),
        );
        assert!(!allowed(&old, "ptrace"));
    }

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(parse_kernel("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel("5.15rc2"), Some((5, 15)));
        assert_eq!(parse_kernel("x"), None);
    }
}
