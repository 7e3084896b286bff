//! Resource usage in runc's `events` format (types.Stats of runc's events package), read from
//! the container's cgroups on v1 or v2.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn read(p: &Path) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn num(p: &Path) -> u64 {
    read(p).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// "key value" lines (memory.stat, cpu.stat) as a map.
fn kv(p: &Path) -> BTreeMap<String, u64> {
    read(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect()
}

fn dir<'a>(dirs: &'a BTreeMap<String, PathBuf>, ctrl: &str) -> Option<&'a Path> {
    dirs.iter()
        .find(|(k, _)| k.split(',').any(|c| c == ctrl))
        .map(|(_, d)| d.as_path())
}

fn max_or(p: &Path) -> u64 {
    match read(p).as_deref() {
        Some("max") | None => u64::MAX,
        Some(s) => s.parse().unwrap_or(u64::MAX),
    }
}

pub fn collect(dirs: &BTreeMap<String, PathBuf>) -> Value {
    let v1 = dirs.keys().any(|k| !k.is_empty());
    let mut data = Map::new();
    if v1 {
        if let Some(d) = dir(dirs, "cpuacct") {
            // USER_HZ ticks to nanoseconds, as runc reports them.
            let ticks = kv(&d.join("cpuacct.stat"));
            let ns = |k: &str| ticks.get(k).copied().unwrap_or(0) * 10_000_000;
            let percpu: Vec<u64> = read(&d.join("cpuacct.usage_percpu"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
            let mut cpu = json!({"usage": {"total": num(&d.join("cpuacct.usage")), "percpu": percpu,
                "kernel": ns("system"), "user": ns("user")}});
            if let Some(c) = dir(dirs, "cpu") {
                let t = kv(&c.join("cpu.stat"));
                cpu["throttling"] = json!({"periods": t.get("nr_periods").copied().unwrap_or(0),
                    "throttled_periods": t.get("nr_throttled").copied().unwrap_or(0),
                    "throttled_time": t.get("throttled_time").copied().unwrap_or(0)});
            }
            data.insert("cpu".into(), cpu);
        }
        if let Some(d) = dir(dirs, "memory") {
            let entry = |prefix: &str| {
                json!({"limit": num(&d.join(format!("{prefix}limit_in_bytes"))),
                       "usage": num(&d.join(format!("{prefix}usage_in_bytes"))),
                       "max": num(&d.join(format!("{prefix}max_usage_in_bytes"))),
                       "failcnt": num(&d.join(format!("{prefix}failcnt")))})
            };
            data.insert("memory".into(), json!({
                "usage": entry("memory."), "swap": entry("memory.memsw."), "kernel": entry("memory.kmem."),
                "kernelTCP": entry("memory.kmem.tcp."), "raw": kv(&d.join("memory.stat"))}));
        }
        if let Some(d) = dir(dirs, "pids") {
            data.insert("pids".into(), json!({"current": num(&d.join("pids.current")), "limit": max_or(&d.join("pids.max"))}));
        }
    } else if let Some(d) = dirs.get("") {
        let c = kv(&d.join("cpu.stat"));
        let g = |k: &str| c.get(k).copied().unwrap_or(0);
        data.insert("cpu".into(), json!({
            "usage": {"total": g("usage_usec") * 1000, "kernel": g("system_usec") * 1000, "user": g("user_usec") * 1000, "percpu": []},
            "throttling": {"periods": g("nr_periods"), "throttled_periods": g("nr_throttled"), "throttled_time": g("throttled_usec") * 1000}}));
        let events = kv(&d.join("memory.events"));
        data.insert("memory".into(), json!({
            "usage": {"usage": num(&d.join("memory.current")), "limit": max_or(&d.join("memory.max")),
                      "max": num(&d.join("memory.peak")), "failcnt": events.get("max").copied().unwrap_or(0)},
            "swap": {"usage": num(&d.join("memory.swap.current")), "limit": max_or(&d.join("memory.swap.max"))},
            "raw": kv(&d.join("memory.stat"))}));
        data.insert(
            "pids".into(),
            json!({"current": num(&d.join("pids.current")), "limit": max_or(&d.join("pids.max"))}),
        );
    }
    Value::Object(data)
}

/// The container's OOM-kill count so far (v1 memory.oom_control, v2 memory.events).
pub fn oom_kills(dirs: &BTreeMap<String, PathBuf>) -> u64 {
    if let Some(d) = dir(dirs, "memory") {
        return kv(&d.join("memory.oom_control"))
            .get("oom_kill")
            .copied()
            .unwrap_or(0);
    }
    dirs.get("")
        .map(|d| {
            kv(&d.join("memory.events"))
                .get("oom_kill")
                .copied()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}
