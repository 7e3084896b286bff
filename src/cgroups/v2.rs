//! `linux.resources` on the cgroup v2 unified hierarchy, with runc's conversions from the v1
//! fields of the runtime-spec (cpu shares → weight, blkio weight → io.weight, swap semantics),
//! raw `unified` keys, and devices as an eBPF program.

use super::bpf_devices::{self, Rule};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDeviceType, LinuxResources};
use std::fs;
use std::path::Path;

fn write(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    let path = dir.join(file);
    fs::write(&path, value).map_err(|e| {
        Error::msg(format!(
            "set {field}: write {value:?} to {}: {e}",
            path.display()
        ))
    })
}

/// runc's mapping of cpu.shares (2..262144) onto cpu.weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.saturating_sub(2)) * 9999) / 262142
}

/// runc's mapping of blkio.weight (10..1000) onto io.weight (1..10000).
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + ((w as u64).saturating_sub(10) * 9999) / 990
}

fn unified_key_ok(key: &str) -> bool {
    !key.is_empty()
        && !key.contains('/')
        && !key.contains("..")
        && key.contains('.')
        && !key.starts_with("cgroup.")
}

pub fn device_rules(r: &LinuxResources, spec_devices: &[String]) -> Result<Vec<Rule>> {
    let mut rules = Vec::new();
    for (i, d) in r.devices().iter().flatten().enumerate() {
        let typ = match d.typ() {
            Some(LinuxDeviceType::B) => 'b',
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
            Some(LinuxDeviceType::P) => continue,
            _ => 'a',
        };
        let access = bpf_devices::parse_access(d.access().as_deref().unwrap_or("rwm"))
            .map_err(|e| Error::Config(format!("linux.resources.devices[{i}]: {e}")))?;
        let num = |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n as u32);
        rules.push(Rule {
            typ,
            major: num(d.major()),
            minor: num(d.minor()),
            access,
            allow: d.allow(),
        });
    }
    // The same defaults as on v1, written in v1 syntax.
    for line in super::v1::default_allow().iter().chain(spec_devices.iter()) {
        let mut f = line.split(' ');
        let (t, nums, acc) = (
            f.next().unwrap_or("a"),
            f.next().unwrap_or("*:*"),
            f.next().unwrap_or("rwm"),
        );
        let (maj, min) = nums.split_once(':').unwrap_or(("*", "*"));
        rules.push(Rule {
            typ: t.chars().next().unwrap_or('a'),
            major: maj.parse().ok(),
            minor: min.parse().ok(),
            access: bpf_devices::parse_access(acc)?,
            allow: true,
        });
    }
    Ok(rules)
}

pub fn apply(dir: &Path, r: &LinuxResources, spec_devices: &[String]) -> Result<()> {
    if let Some(m) = r.memory() {
        let f = "linux.resources.memory";
        if let Some(l) = m.limit() {
            let v = if l < 0 {
                "max".to_string()
            } else {
                l.to_string()
            };
            write(dir, "memory.max", &v, &format!("{f}.limit"))?;
        }
        if let Some(s) = m.swap() {
            // v1's swap is memory+swap; v2's memory.swap.max is swap alone.
            let v = match (s, m.limit()) {
                (s, _) if s < 0 => "max".to_string(),
                (s, Some(l)) if l > 0 && s >= l => (s - l).to_string(),
                (0, _) => "0".to_string(),
                (s, Some(l)) if l > 0 => {
                    return Err(Error::Config(format!(
                        "{f}.swap {s} is below {f}.limit {l}"
                    )))
                }
                (s, _) => s.to_string(),
            };
            write(dir, "memory.swap.max", &v, &format!("{f}.swap"))?;
        }
        if let Some(v) = m.reservation() {
            write(
                dir,
                "memory.low",
                &v.to_string(),
                &format!("{f}.reservation"),
            )?;
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(Error::Config(format!(
                "{f}.disableOOMKiller is not available on cgroup v2"
            )));
        }
        if m.swappiness().is_some_and(|s| s != 0) {
            return Err(Error::Config(format!(
                "{f}.swappiness is not available on cgroup v2"
            )));
        }
    }
    if let Some(c) = r.cpu() {
        let f = "linux.resources.cpu";
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            write(
                dir,
                "cpu.weight",
                &shares_to_weight(s).to_string(),
                &format!("{f}.shares"),
            )?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let period = c.period().filter(|p| *p != 0).unwrap_or(100_000);
            let quota = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            write(
                dir,
                "cpu.max",
                &format!("{quota} {period}"),
                &format!("{f}.quota"),
            )?;
        }
        if let Some(b) = c.burst() {
            write(dir, "cpu.max.burst", &b.to_string(), &format!("{f}.burst"))?;
        }
        if let Some(i) = c.idle() {
            write(dir, "cpu.idle", &i.to_string(), &format!("{f}.idle"))?;
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            write(dir, "cpuset.cpus", v, &format!("{f}.cpus"))?;
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            write(dir, "cpuset.mems", v, &format!("{f}.mems"))?;
        }
        if c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0)
        {
            return Err(Error::Config(format!(
                "{f}.realtimeRuntime/realtimePeriod are not available on cgroup v2"
            )));
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        write(dir, "pids.max", &v, "linux.resources.pids.limit")?;
    }
    if let Some(b) = r.block_io() {
        let f = "linux.resources.blockIO";
        if let Some(w) = b.weight() {
            write(
                dir,
                "io.weight",
                &format!("default {}", blkio_to_io_weight(w)),
                &format!("{f}.weight"),
            )?;
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                write(
                    dir,
                    "io.weight",
                    &format!("{}:{} {}", d.major(), d.minor(), blkio_to_io_weight(w)),
                    &format!("{f}.weightDevice"),
                )?;
            }
        }
        for (list, key, name) in [
            (
                b.throttle_read_bps_device(),
                "rbps",
                "throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "wbps",
                "throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "riops",
                "throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "wiops",
                "throttleWriteIOPSDevice",
            ),
        ] {
            for d in list.iter().flatten() {
                write(
                    dir,
                    "io.max",
                    &format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
                    &format!("{f}.{name}"),
                )?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        write(
            dir,
            &format!("hugetlb.{}.max", h.page_size()),
            &h.limit().to_string(),
            "linux.resources.hugepageLimits",
        )?;
    }
    if r.network()
        .as_ref()
        .is_some_and(|n| n.class_id().is_some() || n.priorities().is_some())
    {
        return Err(Error::Config(
            "linux.resources.network needs the v1 net_cls/net_prio controllers".into(),
        ));
    }
    if let Some(u) = r.unified() {
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort();
        for (k, v) in keys {
            if !unified_key_ok(k) {
                return Err(Error::Config(format!(
                    "linux.resources.unified: {k:?} is not a cgroup v2 interface file"
                )));
            }
            if !dir.join(k).exists() {
                return Err(Error::Config(format!(
                    "linux.resources.unified: {k:?} does not exist in {} (is its controller enabled?)",
                    dir.display()
                )));
            }
            write(dir, k, v, &format!("linux.resources.unified.{k}"))?;
        }
    }
    if r.devices().is_some() {
        let (default_allow, exceptions) = bpf_devices::effective(&device_rules(r, spec_devices)?);
        let prog = bpf_devices::load(&bpf_devices::program(default_allow, &exceptions))?;
        bpf_devices::install(dir, &prog)?;
    }
    Ok(())
}

/// Enable every available controller in `cgroup.subtree_control` from the hierarchy's root
/// down to the container's parent, so the container's own interface files exist.
pub fn enable_controllers(mountpoint: &Path, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(mountpoint) else {
        return Ok(());
    };
    let mut cur = mountpoint.to_path_buf();
    for comp in rel
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
        .map(Some)
        .chain(std::iter::once(None))
    {
        let avail = fs::read_to_string(cur.join("cgroup.controllers")).unwrap_or_default();
        let want: Vec<String> = avail.split_whitespace().map(|c| format!("+{c}")).collect();
        if !want.is_empty() {
            let ctl = cur.join("cgroup.subtree_control");
            fs::write(&ctl, want.join(" "))
                .map_err(|e| Error::sys("enable controllers in", ctl.display(), e))?;
        }
        match comp {
            Some(c) => cur.push(c),
            None => break,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn runc_conversions() {
        assert_eq!(super::shares_to_weight(2), 1);
        assert_eq!(super::shares_to_weight(1024), 39);
        assert_eq!(super::shares_to_weight(262144), 10000);
        assert_eq!(super::blkio_to_io_weight(10), 1);
        assert_eq!(super::blkio_to_io_weight(1000), 10000);
        assert!(super::unified_key_ok("memory.high"));
        assert!(!super::unified_key_ok("../memory.high"));
        assert!(!super::unified_key_ok("cgroup.procs"));
    }
}
