//! `linux.resources` on cgroup v1 hierarchies: one file per limit, named as runc names them,
//! every error naming the config field it came from.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

struct Writer<'a> {
    dirs: &'a BTreeMap<String, PathBuf>,
}

impl Writer<'_> {
    fn dir(&self, ctrl: &str, field: &str) -> Result<&Path> {
        self.dirs
            .iter()
            .find(|(k, _)| k.split(',').any(|c| c == ctrl))
            .map(|(_, d)| d.as_path())
            .ok_or_else(|| {
                Error::Config(format!(
                    "{field}: the host has no {ctrl} cgroup controller mounted"
                ))
            })
    }

    fn write(&self, ctrl: &str, file: &str, value: &str, field: &str) -> Result<()> {
        let path = self.dir(ctrl, field)?.join(file);
        fs::write(&path, value).map_err(|e| {
            Error::msg(format!(
                "set {field}: write {value:?} to {}: {e}",
                path.display()
            ))
        })
    }

    fn read_i64(&self, ctrl: &str, file: &str) -> Option<i64> {
        let d = self
            .dirs
            .iter()
            .find(|(k, _)| k.split(',').any(|c| c == ctrl))?
            .1;
        fs::read_to_string(d.join(file)).ok()?.trim().parse().ok()
    }
}

/// runc's device rules every container gets on top of the config's (mknod of anything, and the
/// default device nodes plus ptys and tun).
pub(super) fn default_allow() -> Vec<String> {
    [
        "c *:* m",
        "b *:* m",
        "c 1:3 rwm",
        "c 1:5 rwm",
        "c 1:7 rwm",
        "c 1:8 rwm",
        "c 1:9 rwm",
        "c 5:0 rwm",
        "c 5:1 rwm",
        "c 5:2 rwm",
        "c 136:* rwm",
        "c 10:200 rwm",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn device_rule(d: &LinuxDeviceCgroup) -> String {
    let typ = match d.typ() {
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::P) => "p",
        _ => "a",
    };
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    if typ == "a" && d.major().is_none() && d.minor().is_none() {
        return format!("a *:* {}", d.access().as_deref().unwrap_or("rwm"));
    }
    format!(
        "{typ} {}:{} {}",
        num(d.major()),
        num(d.minor()),
        d.access().as_deref().unwrap_or("rwm")
    )
}

pub fn apply(
    dirs: &BTreeMap<String, PathBuf>,
    r: &LinuxResources,
    devices: &[String],
) -> Result<()> {
    let w = Writer { dirs };
    if let Some(m) = r.memory() {
        let f = "linux.resources.memory";
        // 0 means unset for limit, swap, reservation and kernelTCP, as in runc: `docker update`
        // sends every memory field, 0 for those not given (writing 0 fails with EBUSY).
        let swap = m.swap().filter(|v| *v != 0);
        if let Some(l) = m.limit().filter(|v| *v != 0) {
            // memsw (memory+swap) must never be below the memory limit: raise it first.
            let cur_memsw = w.read_i64("memory", "memory.memsw.limit_in_bytes");
            // runc's rule: an unlimited memory limit with no swap given lifts memsw too.
            let swap = swap.or((l == -1).then_some(-1));
            if let (Some(cur), Some(swap)) = (cur_memsw, swap) {
                if swap == -1 || swap > cur {
                    w.write(
                        "memory",
                        "memory.memsw.limit_in_bytes",
                        &swap.to_string(),
                        &format!("{f}.swap"),
                    )?;
                }
            }
            w.write(
                "memory",
                "memory.limit_in_bytes",
                &l.to_string(),
                &format!("{f}.limit"),
            )?;
        }
        if let Some(s) = swap {
            if w.read_i64("memory", "memory.memsw.limit_in_bytes")
                .is_some()
            {
                w.write(
                    "memory",
                    "memory.memsw.limit_in_bytes",
                    &s.to_string(),
                    &format!("{f}.swap"),
                )?;
            } else if s != 0 && s != -1 {
                return Err(Error::Config(format!(
                    "{f}.swap: swap accounting is not enabled on this host"
                )));
            }
        }
        if let Some(v) = m.reservation().filter(|v| *v != 0) {
            w.write(
                "memory",
                "memory.soft_limit_in_bytes",
                &v.to_string(),
                &format!("{f}.reservation"),
            )?;
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                return Err(Error::Config(format!("{f}.swappiness {v} is above 100")));
            }
            w.write(
                "memory",
                "memory.swappiness",
                &v.to_string(),
                &format!("{f}.swappiness"),
            )?;
        }
        if let Some(h) = m.use_hierarchy() {
            // Always on since Linux 5.x (writing 0 fails there): only a request to turn it off
            // on a kernel that still allows it changes anything.
            let cur = w.read_i64("memory", "memory.use_hierarchy");
            if cur != Some(i64::from(h)) {
                w.write(
                    "memory",
                    "memory.use_hierarchy",
                    if h { "1" } else { "0" },
                    &format!("{f}.useHierarchy"),
                )?;
            }
        }
        if m.disable_oom_killer() == Some(true) {
            w.write(
                "memory",
                "memory.oom_control",
                "1",
                &format!("{f}.disableOOMKiller"),
            )?;
        }
        if let Some(v) = m.kernel_tcp().filter(|v| *v != 0) {
            w.write(
                "memory",
                "memory.kmem.tcp.limit_in_bytes",
                &v.to_string(),
                &format!("{f}.kernelTCP"),
            )?;
        }
    }
    if let Some(c) = r.cpu() {
        let f = "linux.resources.cpu";
        if let Some(v) = c.shares().filter(|v| *v != 0) {
            w.write("cpu", "cpu.shares", &v.to_string(), &format!("{f}.shares"))?;
        }
        if let Some(v) = c.period().filter(|v| *v != 0) {
            w.write(
                "cpu",
                "cpu.cfs_period_us",
                &v.to_string(),
                &format!("{f}.period"),
            )?;
        }
        if let Some(v) = c.quota().filter(|v| *v != 0) {
            w.write(
                "cpu",
                "cpu.cfs_quota_us",
                &v.to_string(),
                &format!("{f}.quota"),
            )?;
        }
        if let Some(v) = c.burst() {
            w.write(
                "cpu",
                "cpu.cfs_burst_us",
                &v.to_string(),
                &format!("{f}.burst"),
            )?;
        }
        if let Some(v) = c.realtime_period().filter(|v| *v != 0) {
            w.write(
                "cpu",
                "cpu.rt_period_us",
                &v.to_string(),
                &format!("{f}.realtimePeriod"),
            )?;
        }
        if let Some(v) = c.realtime_runtime().filter(|v| *v != 0) {
            w.write(
                "cpu",
                "cpu.rt_runtime_us",
                &v.to_string(),
                &format!("{f}.realtimeRuntime"),
            )?;
        }
        if let Some(v) = c.idle() {
            w.write("cpu", "cpu.idle", &v.to_string(), &format!("{f}.idle"))?;
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            w.write("cpuset", "cpuset.cpus", v, &format!("{f}.cpus"))?;
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            w.write("cpuset", "cpuset.mems", v, &format!("{f}.mems"))?;
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        w.write("pids", "pids.max", &v, "linux.resources.pids.limit")?;
    }
    if let Some(b) = r.block_io() {
        let f = "linux.resources.blockIO";
        // 0 means unset, as in runc: dockerd always sends weight 0, and hosts without a
        // proportional-weight IO scheduler have no blkio.weight file to write it to.
        if let Some(v) = b.weight().filter(|v| *v != 0) {
            w.write(
                "blkio",
                "blkio.weight",
                &v.to_string(),
                &format!("{f}.weight"),
            )?;
        }
        if let Some(v) = b.leaf_weight().filter(|v| *v != 0) {
            w.write(
                "blkio",
                "blkio.leaf_weight",
                &v.to_string(),
                &format!("{f}.leafWeight"),
            )?;
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(v) = d.weight().filter(|v| *v != 0) {
                w.write(
                    "blkio",
                    "blkio.weight_device",
                    &format!("{}:{} {v}", d.major(), d.minor()),
                    &format!("{f}.weightDevice"),
                )?;
            }
            if let Some(v) = d.leaf_weight().filter(|v| *v != 0) {
                w.write(
                    "blkio",
                    "blkio.leaf_weight_device",
                    &format!("{}:{} {v}", d.major(), d.minor()),
                    &format!("{f}.weightDevice"),
                )?;
            }
        }
        for (list, file, name) in [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
                "throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
                "throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
                "throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
                "throttleWriteIOPSDevice",
            ),
        ] {
            for d in list.iter().flatten() {
                w.write(
                    "blkio",
                    file,
                    &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                    &format!("{f}.{name}"),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let file = format!("hugetlb.{}.limit_in_bytes", h.page_size());
        w.write(
            "hugetlb",
            &file,
            &h.limit().to_string(),
            "linux.resources.hugepageLimits",
        )?;
    }
    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            w.write(
                "net_cls",
                "net_cls.classid",
                &id.to_string(),
                "linux.resources.network.classID",
            )?;
        }
        for p in n.priorities().iter().flatten() {
            w.write(
                "net_prio",
                "net_prio.ifpriomap",
                &format!("{} {}", p.name(), p.priority()),
                "linux.resources.network.priorities",
            )?;
        }
    }
    for (dev, l) in r.rdma().iter().flatten() {
        let v = super::rdma_line(dev, l);
        w.write(
            "rdma",
            "rdma.max",
            &v,
            &format!("linux.resources.rdma.{dev}"),
        )?;
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(Error::Config(
            "linux.resources.unified needs cgroup v2; this host's controllers are v1".into(),
        ));
    }
    if let Some(rules) = r.devices() {
        let f = "linux.resources.devices";
        let mut lines: Vec<(bool, String, &str)> = rules
            .iter()
            .map(|d| (d.allow(), device_rule(d), f))
            .collect();
        lines.extend(
            default_allow()
                .into_iter()
                .map(|l| (true, l, "the default device rules")),
        );
        lines.extend(devices.iter().map(|l| (true, l.clone(), "linux.devices")));
        for (allow, rule, field) in lines {
            let file = if allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            w.write("devices", file, &rule, field)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};

    #[test]
    fn device_rules_read_like_the_kernel_wants() {
        let all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap();
        assert_eq!(super::device_rule(&all), "a *:* rwm");
        let one = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .access("rw")
            .build()
            .unwrap();
        assert_eq!(super::device_rule(&one), "c 10:229 rw");
        let any_minor = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::B)
            .major(8)
            .access("r")
            .build()
            .unwrap();
        assert_eq!(super::device_rule(&any_minor), "b 8:* r");
    }
}
