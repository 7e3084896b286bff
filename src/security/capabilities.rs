//! The five capability sets of `process.capabilities`. The bounding set is reduced first
//! (while init still has CAP_SETPCAP), then permitted/effective/inheritable in one capset,
//! ambient last (it can only hold what is permitted and inheritable).

use crate::error::{Error, Result};
use caps::{CapSet, Capability};
use oci_spec::runtime::LinuxCapabilities;
use std::collections::HashSet;
use std::str::FromStr;

pub struct Wanted {
    pub bounding: HashSet<Capability>,
    pub effective: HashSet<Capability>,
    pub permitted: HashSet<Capability>,
    pub inheritable: HashSet<Capability>,
    pub ambient: HashSet<Capability>,
}

fn convert(
    set: &Option<oci_spec::runtime::Capabilities>,
    field: &str,
) -> Result<HashSet<Capability>> {
    let mut out = HashSet::new();
    for c in set.iter().flatten() {
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let cap = Capability::from_str(&name).map_err(|_| {
            Error::Config(format!(
                "process.capabilities.{field}: unknown capability {name:?}"
            ))
        })?;
        out.insert(cap);
    }
    Ok(out)
}

pub fn wanted(c: &LinuxCapabilities) -> Result<Wanted> {
    Ok(Wanted {
        bounding: convert(c.bounding(), "bounding")?,
        effective: convert(c.effective(), "effective")?,
        permitted: convert(c.permitted(), "permitted")?,
        inheritable: convert(c.inheritable(), "inheritable")?,
        ambient: convert(c.ambient(), "ambient")?,
    })
}

fn known_to_kernel() -> Vec<Capability> {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .unwrap_or(40);
    caps::all()
        .into_iter()
        .filter(|c| c.index() <= last)
        .collect()
}

pub fn drop_bounding(w: &Wanted) -> Result<()> {
    for cap in known_to_kernel() {
        if !w.bounding.contains(&cap) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| Error::msg(format!("drop {cap} from the bounding set: {e}")))?;
        }
    }
    Ok(())
}

pub fn apply(w: &Wanted) -> Result<()> {
    let known = known_to_kernel();
    let keep = |s: &HashSet<Capability>| -> HashSet<Capability> {
        s.iter().filter(|c| known.contains(c)).copied().collect()
    };
    let (eff, perm, inh) = (keep(&w.effective), keep(&w.permitted), keep(&w.inheritable));
    let mut data = [libc_capdata::default(); 2];
    for (set, which) in [(&eff, 0), (&perm, 1), (&inh, 2)] {
        for c in set {
            let (word, bit) = ((c.index() / 32) as usize, 1u32 << (c.index() % 32));
            match which {
                0 => data[word].effective |= bit,
                1 => data[word].permitted |= bit,
                _ => data[word].inheritable |= bit,
            }
        }
    }
    let mut header = libc_capheader {
        version: 0x2008_0522,
        pid: 0,
    };
    // SAFETY: capset with a v3 header and two data words, the layout the kernel expects.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_mut_ptr()) };
    if r != 0 {
        return Err(Error::msg(format!(
            "capset: {}",
            std::io::Error::last_os_error()
        )));
    }
    caps::clear(None, CapSet::Ambient)
        .map_err(|e| Error::msg(format!("clear ambient capabilities: {e}")))?;
    for cap in keep(&w.ambient) {
        caps::raise(None, CapSet::Ambient, cap)
            .map_err(|e| Error::msg(format!("raise ambient {cap}: {e}")))?;
    }
    Ok(())
}

#[repr(C)]
#[allow(non_camel_case_types)]
struct libc_capheader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
#[allow(non_camel_case_types)]
struct libc_capdata {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
