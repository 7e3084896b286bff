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
    #[arg(long)]
    pub memory: Option<i64>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<i64>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<i64>,
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    pub id: String,
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
    let res: LinuxResources = serde_path_to_error::deserialize(v).map_err(|e| {
        Error::Config(format!(
            "update: resources field {}: {}",
            e.path(),
            e.inner()
        ))
    })?;
    hull::lifecycle::update(rt, &a.id, &res)?;
    Ok(0)
}
