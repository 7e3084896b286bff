//! Loading and validating `config.json` before anything on the host is touched. Errors name the
//! JSON path of the offending field (`process.user.uid: invalid type ...`).

use crate::error::{Error, Result};
use crate::hooks::Kind;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let data =
        std::fs::read(&path).map_err(|e| Error::Config(format!("open {}: {e}", path.display())))?;
    parse(&data).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
}

pub fn parse(data: &[u8]) -> std::result::Result<Spec, String> {
    serde_json::from_slice(data).map_err(|e| crate::json_path::describe(data, &e, "config"))
}

/// The rootfs path, made absolute against the bundle.
pub fn rootfs(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Config("config.json: root is required".into()))?;
    let p = root.path();
    if p.as_os_str().is_empty() {
        return Err(Error::Config("config.json: root.path is empty".into()));
    }
    let abs = if p.is_absolute() {
        p.clone()
    } else {
        bundle.join(p)
    };
    match std::fs::metadata(&abs) {
        Ok(m) if m.is_dir() => Ok(abs),
        Ok(_) => Err(Error::Config(format!(
            "root.path {}: not a directory",
            abs.display()
        ))),
        Err(e) => Err(Error::Config(format!("root.path {}: {e}", abs.display()))),
    }
}

/// Checks that do not need the host: everything a create would otherwise discover half-way.
pub fn validate(spec: &Spec, need_process: bool) -> Result<()> {
    let bad = |m: String| Err(Error::Config(format!("config.json: {m}")));
    match spec.process() {
        None if need_process => return bad("process is required".into()),
        None => {}
        Some(p) => {
            match p.args() {
                Some(a) if !a.is_empty() && !a[0].is_empty() => {}
                _ => return bad("process.args must name the program to run".into()),
            }
            if !p.cwd().is_absolute() {
                return bad(format!("process.cwd {:?} is not an absolute path", p.cwd()));
            }
            // A profile or label the host cannot apply fails here, before anything exists.
            crate::security::lsm::ExecLabels::of(p)?;
            for (i, e) in p.env().iter().flatten().enumerate() {
                if !e.contains('=') || e.starts_with('=') {
                    return bad(format!("process.env[{i}] {e:?} is not KEY=VALUE"));
                }
            }
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return bad(format!(
                "mounts[{i}].destination {:?} is not an absolute path",
                m.destination()
            ));
        }
    }
    for kind in [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ] {
        for (i, h) in crate::hooks::list(spec.hooks().as_ref(), kind)
            .iter()
            .enumerate()
        {
            if !h.path().is_absolute() {
                return bad(format!(
                    "hooks.{}[{i}].path {:?} is not absolute",
                    kind.name(),
                    h.path()
                ));
            }
        }
    }
    if let Some(linux) = spec.linux() {
        let mut seen = Vec::new();
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            if seen.contains(&ns.typ()) {
                return bad(format!(
                    "linux.namespaces[{i}]: duplicate namespace {}",
                    ns.typ()
                ));
            }
            seen.push(ns.typ());
            if let Some(p) = ns.path() {
                if !p.is_absolute() {
                    return bad(format!("linux.namespaces[{i}].path {p:?} is not absolute"));
                }
            }
        }
        let has = |t: LinuxNamespaceType| seen.contains(&t);
        if (linux.uid_mappings().is_some() || linux.gid_mappings().is_some())
            && !has(LinuxNamespaceType::User)
        {
            return bad("linux.uidMappings/gidMappings need a user namespace".into());
        }
        for k in linux.sysctl().iter().flat_map(|s| s.keys()) {
            let ok_chars = k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c));
            if k.is_empty() || k.contains("..") || k.starts_with(['.', '/']) || !ok_chars {
                return bad(format!("linux.sysctl key {k:?} is not a sysctl name"));
            }
            check_sysctl_namespace(k, linux)?;
        }
        if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
        {
            return bad("hostname needs a new uts namespace".into());
        }
        if let Some(p) = linux.rootfs_propagation() {
            if crate::rootfs::propagation_flag(p).is_none() {
                return bad(format!(
                    "linux.rootfsPropagation {p:?} is not a propagation mode"
                ));
            }
        }
        if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
            return bad("linux.timeOffsets is not supported by this build of hull".into());
        }
    }
    Ok(())
}

/// runc's rule: a sysctl may only be set where it is namespaced, or it would change the
/// host (kernel.core_pattern, net.* in the host's network namespace, ...).
fn check_sysctl_namespace(key: &str, linux: &oci_spec::runtime::Linux) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let ns = |t: LinuxNamespaceType| linux.namespaces().iter().flatten().find(|n| n.typ() == t);
    let need = |t: LinuxNamespaceType, what: &str| -> Result<()> {
        match ns(t) {
            None => Err(Error::Config(format!(
                "linux.sysctl {key:?} needs a {what} namespace of its own (it would change the host's)"
            ))),
            Some(n) => match n.path() {
                Some(p) if same_as_host(p, what) => Err(Error::Config(format!(
                    "linux.sysctl {key:?}: the {what} namespace {} is the host's",
                    p.display()
                ))),
                _ => Ok(()),
            },
        }
    };
    let key_dots = key.replace('/', ".");
    if IPC.contains(&key_dots.as_str()) || key_dots.starts_with("fs.mqueue.") {
        need(LinuxNamespaceType::Ipc, "ipc")
    } else if key_dots.starts_with("net.") {
        need(LinuxNamespaceType::Network, "net")
    } else if key_dots == "kernel.domainname" || key_dots == "kernel.hostname" {
        need(LinuxNamespaceType::Uts, "uts")
    } else {
        Err(Error::Config(format!(
            "linux.sysctl {key:?} is not in a separate kernel namespace"
        )))
    }
}

fn same_as_host(path: &Path, ns: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata(path),
        std::fs::metadata(format!("/proc/self/ns/{ns}")),
    ) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// The template `hull spec` writes, equal in shape to runc's.
pub fn default_spec(rootless: bool) -> serde_json::Value {
    let caps = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut mounts = vec![
        serde_json::json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        serde_json::json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        serde_json::json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        serde_json::json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        serde_json::json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"]}),
        serde_json::json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"]}),
        serde_json::json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ];
    let mut namespaces = vec![
        serde_json::json!({"type": "pid"}),
        serde_json::json!({"type": "network"}),
        serde_json::json!({"type": "ipc"}),
        serde_json::json!({"type": "uts"}),
        serde_json::json!({"type": "mount"}),
        serde_json::json!({"type": "cgroup"}),
    ];
    let mut linux = serde_json::json!({
        "resources": {"devices": [{"allow": false, "access": "rwm"}]},
        "namespaces": [],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    });
    if rootless {
        // runc's rootless template: a user namespace mapping the caller, no network namespace
        // (it could not be configured), sysfs bound from the host, no cgroup limits.
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        namespaces.retain(|n| n["type"] != "network" && n["type"] != "cgroup");
        namespaces.push(serde_json::json!({"type": "user"}));
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        linux.as_object_mut().map(|o| o.remove("resources"));
        mounts.retain(|m| m["type"] != "cgroup" && m["type"] != "sysfs");
        mounts[2]["options"] = serde_json::json!([
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620"
        ]);
        mounts.push(
            serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
        );
    }
    linux["namespaces"] = serde_json::Value::Array(namespaces);
    serde_json::json!({
        "ociVersion": crate::state::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "hull",
        "mounts": mounts,
        "linux": linux,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_spec_parses_and_validates() {
        for rootless in [false, true] {
            let v = super::default_spec(rootless);
            let spec = super::parse(v.to_string().as_bytes()).unwrap();
            super::validate(&spec, true).unwrap();
        }
    }

    #[test]
    fn bad_field_is_named() {
        let e = super::parse(
            br#"{"ociVersion":"1.0.0","process":{"cwd":"/","user":{"uid":"x","gid":0}}}"#,
        )
        .unwrap_err();
        assert!(e.contains("process.user.uid"), "{e}");
        let e = super::parse(b"not json").unwrap_err();
        assert!(e.contains("invalid config"), "{e}");
    }

    // Found by the fuzzer (fuzz/fuzz_targets/config.rs): a key with a control character
    // (here DEL, which JSON allows unescaped) went into the error verbatim.
    #[test]
    fn control_characters_in_keys_are_escaped() {
        let e = super::parse(b"{\"lknu\x7f\" :").unwrap_err();
        assert_eq!(
            e,
            r#"invalid config field ["lknu\u{7f}"]: EOF while parsing a value at line 1 column 10"#
        );
        let e = super::parse(br#"{"linux":{"sysctl":{"a\nb\u001b[2J":1}}}"#).unwrap_err();
        assert!(!e.chars().any(char::is_control), "{e:?}");
        assert!(
            e.starts_with(r#"invalid config field linux.sysctl["a\nb\u{1b}[2J"]: "#),
            "{e}"
        );
    }

    #[test]
    fn control_characters_in_echoed_values_are_escaped() {
        let e = super::parse(br#"{"linux":{"namespaces":[{"type":"pid\u0000\n"}]}}"#).unwrap_err();
        assert!(!e.chars().any(char::is_control), "{e:?}");
        assert!(e.contains(r"pid\u{0}\n"), "{e}");
        assert!(e.contains("linux.namespaces[0].type"), "{e}");
    }

    // The fuzzer's corpus showed `invalid config field linux.?: key must be a string`: the
    // unknown segment of a key that did not parse is left out.
    #[test]
    fn unparsed_key_is_not_shown_as_question_mark() {
        let e = super::parse(br#"{"linux":{"sysctl":{}, 1:2}}"#).unwrap_err();
        assert!(
            e.starts_with("invalid config field linux: key must be a string"),
            "{e}"
        );
        let e = super::parse(b"{1:2}").unwrap_err();
        assert!(e.starts_with("invalid config: key must be a string"), "{e}");
    }

    #[test]
    fn dotted_keys_are_quoted_in_the_path() {
        let e = super::parse(br#"{"linux":{"sysctl":{"net.ipv4.ip_forward":1}}}"#).unwrap_err();
        assert!(
            e.starts_with(
                r#"invalid config field linux.sysctl["net.ipv4.ip_forward"]: invalid type"#
            ),
            "{e}"
        );
    }
}
