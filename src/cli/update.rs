//! `update`: change a running container's resources, from LinuxResources JSON (`--resources
//! FILE`, `-` for stdin, as dockerd sends it) and/or runc's per-resource flags.

use hull::{Error, Result, Runtime};
use oci_spec::runtime::LinuxResources;
use std::io::Read;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// LinuxResources JSON file, or - for stdin
    #[arg(short, long)]
    pub resources: Option<String>,
    /// Memory limit: bytes, or a number with a unit (k, m, g, t; binary, as runc reads it)
    #[arg(long, value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory: Option<i64>,
    #[arg(long = "memory-reservation", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory_reservation: Option<i64>,
    /// Memory plus swap (-1 for unlimited)
    #[arg(long = "memory-swap", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    #[arg(long = "kernel-memory-tcp", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<i64>,
    /// CPU shares (runc's flag name; --cpu-shares is accepted too)
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

/// "100M", "1g", "512k", "4096", "-1": runc's units.RAMInBytes (binary multiples).
fn parse_bytes(s: &str) -> std::result::Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let digits_end = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (like 4096, 512k, 100M, 1g)"))?;
    let mult: f64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "p" => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use k, m, g, t)")),
    };
    Ok((n * mult) as i64)
}

pub fn run(rt: &Runtime, a: Args) -> Result<i32> {
    let mut v: serde_json::Value = match a.resources.as_deref() {
        Some(src) => {
            let mut data = Vec::new();
            if src == "-" {
                std::io::stdin()
                    .read_to_end(&mut data)
                    .map_err(|e| Error::sys("read", "stdin", e))?;
            } else {
                data = std::fs::read(src).map_err(|e| Error::sys("read", src, e))?;
            }
            serde_json::from_slice(&data)
                .map_err(|e| Error::Config(format!("update --resources {src}: {e}")))?
        }
        None => serde_json::json!({}),
    };
    let mut set = |section: &str, key: &str, val: serde_json::Value| {
        v[section][key] = val;
    };
    if let Some(x) = a.memory {
        set("memory", "limit", x.into());
    }
    if let Some(x) = a.memory_reservation {
        set("memory", "reservation", x.into());
    }
    if let Some(x) = a.memory_swap {
        set("memory", "swap", x.into());
    }
    if let Some(x) = a.cpu_shares {
        set("cpu", "shares", x.into());
    }
    if let Some(x) = a.kernel_memory_tcp {
        set("memory", "kernelTCP", x.into());
    }
    if let Some(x) = a.cpu_rt_period {
        set("cpu", "realtimePeriod", x.into());
    }
    if let Some(x) = a.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", x.into());
    }
    if let Some(x) = a.cpu_period {
        set("cpu", "period", x.into());
    }
    if let Some(x) = a.cpu_quota {
        set("cpu", "quota", x.into());
    }
    if let Some(x) = a.cpuset_cpus {
        set("cpu", "cpus", x.into());
    }
    if let Some(x) = a.cpuset_mems {
        set("cpu", "mems", x.into());
    }
    if let Some(x) = a.pids_limit {
        set("pids", "limit", x.into());
    }
    if let Some(x) = a.blkio_weight {
        set("blockIO", "weight", x.into());
    }
    let res: LinuxResources = hull::json_path::from_value(&v, "resources")
        .map_err(|e| Error::Config(format!("update: {e}")))?;
    hull::lifecycle::update(rt, &a.id, &res)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_runc() {
        assert_eq!(super::parse_bytes("4096"), Ok(4096));
        assert_eq!(super::parse_bytes("100M"), Ok(100 << 20));
        assert_eq!(super::parse_bytes("1g"), Ok(1 << 30));
        assert_eq!(super::parse_bytes("512KiB"), Ok(512 << 10));
        assert_eq!(super::parse_bytes("-1"), Ok(-1));
        assert!(super::parse_bytes("lots").is_err());
        assert!(super::parse_bytes("10x").is_err());
    }
}
