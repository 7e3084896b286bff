//! `mounts[].options` as runc reads them: mount flags, recursive (`r*`) attributes,
//! propagation, bind/rbind, and everything else passed to the filesystem as data.

use crate::error::Result;
use crate::sys::*;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct MountOptions {
    pub bind: bool,
    pub recursive_bind: bool,
    /// Attributes for the top mount only (`ro`, `nosuid`, ...).
    pub set: u64,
    pub clear: u64,
    /// Attributes applied to the whole tree (`rro`, `rnosuid`, ...).
    pub rec_set: u64,
    pub rec_clear: u64,
    /// (MS_* propagation flag, recursive)
    pub propagation: Vec<(u64, bool)>,
    /// Superblock flags the VFS parses for every filesystem (`sync`, `dirsync`, ...).
    pub sb_flags: Vec<String>,
    /// Filesystem-specific data: `mode=755`, `size=65536k`, `newinstance`...
    pub data: Vec<String>,
    /// `tmpcopyup`: fill a new tmpfs with what the image has at its destination.
    pub copy_up: bool,
    /// `idmap` / `ridmap` (runc 1.2): the bind mount shows its files through an id mapping;
    /// `ridmap` maps every mount of an rbind tree, `idmap` only the top one.
    pub idmap: bool,
    pub recursive_idmap: bool,
}

const ATTRS: &[(&str, bool, u64)] = &[
    ("ro", true, MOUNT_ATTR_RDONLY),
    ("rw", false, MOUNT_ATTR_RDONLY),
    ("nosuid", true, MOUNT_ATTR_NOSUID),
    ("suid", false, MOUNT_ATTR_NOSUID),
    ("nodev", true, MOUNT_ATTR_NODEV),
    ("dev", false, MOUNT_ATTR_NODEV),
    ("noexec", true, MOUNT_ATTR_NOEXEC),
    ("exec", false, MOUNT_ATTR_NOEXEC),
    ("nodiratime", true, MOUNT_ATTR_NODIRATIME),
    ("diratime", false, MOUNT_ATTR_NODIRATIME),
];

const ATIME: &[(&str, u64)] = &[
    ("noatime", MOUNT_ATTR_NOATIME),
    ("relatime", MOUNT_ATTR_RELATIME),
    ("strictatime", MOUNT_ATTR_STRICTATIME),
];

const PROPAGATION: &[(&str, u64, bool)] = &[
    ("private", libc::MS_PRIVATE, false),
    ("rprivate", libc::MS_PRIVATE, true),
    ("shared", libc::MS_SHARED, false),
    ("rshared", libc::MS_SHARED, true),
    ("slave", libc::MS_SLAVE, false),
    ("rslave", libc::MS_SLAVE, true),
    ("unbindable", libc::MS_UNBINDABLE, false),
    ("runbindable", libc::MS_UNBINDABLE, true),
];

pub fn parse(options: &[String]) -> Result<MountOptions> {
    let mut o = MountOptions::default();
    for opt in options {
        let opt = opt.as_str();
        let (rec, base) = match opt.strip_prefix('r') {
            Some(b) if opt != "rw" && opt != "relatime" && opt != "ro" && opt != "rbind" => {
                (true, b)
            }
            _ => (false, opt),
        };
        if let Some(&(_, on, bit)) = ATTRS.iter().find(|(n, ..)| *n == base) {
            let (set, clear) = if rec {
                (&mut o.rec_set, &mut o.rec_clear)
            } else {
                (&mut o.set, &mut o.clear)
            };
            if on {
                *set |= bit;
                *clear &= !bit;
            } else {
                *clear |= bit;
                *set &= !bit;
            }
            continue;
        }
        if let Some(&(_, v)) = ATIME.iter().find(|(n, _)| *n == base) {
            let (set, clear) = if rec {
                (&mut o.rec_set, &mut o.rec_clear)
            } else {
                (&mut o.set, &mut o.clear)
            };
            *set = (*set & !MOUNT_ATTR__ATIME) | v;
            *clear |= MOUNT_ATTR__ATIME;
            continue;
        }
        if base == "atime" || base == "norelatime" || base == "nostrictatime" {
            // Back to the kernel's default, relatime.
            let (set, clear) = if rec {
                (&mut o.rec_set, &mut o.rec_clear)
            } else {
                (&mut o.set, &mut o.clear)
            };
            *set &= !MOUNT_ATTR__ATIME;
            *clear |= MOUNT_ATTR__ATIME;
            continue;
        }
        if let Some(&(_, flag, r)) = PROPAGATION.iter().find(|(n, ..)| *n == opt) {
            o.propagation.push((flag, r));
            continue;
        }
        match opt {
            "bind" => o.bind = true,
            "rbind" => {
                o.bind = true;
                o.recursive_bind = true;
            }
            "defaults" | "remount" | "async" | "nomand" | "nolazytime" | "loud" => {}
            "sync" | "dirsync" | "mand" | "lazytime" | "silent" | "iversion" => {
                o.sb_flags.push(opt.into())
            }
            "tmpcopyup" => o.copy_up = true,
            "idmap" => o.idmap = true,
            "ridmap" => {
                o.idmap = true;
                o.recursive_idmap = true;
            }
            _ => o.data.push(opt.into()),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> MountOptions {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn flags_data_and_recursion() {
        let o = p(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        let o = p(&["rbind", "rro", "rprivate", "ro"]);
        assert!(o.bind && o.recursive_bind);
        assert_eq!(o.rec_set, MOUNT_ATTR_RDONLY);
        assert_eq!(o.set, MOUNT_ATTR_RDONLY);
        assert_eq!(o.propagation, vec![(libc::MS_PRIVATE, true)]);
        let o = p(&["ro", "rw"]);
        assert_eq!(o.set, 0);
        assert_eq!(o.clear, MOUNT_ATTR_RDONLY);
        let o = p(&["rbind", "idmap"]);
        assert!(o.idmap && !o.recursive_idmap && o.data.is_empty());
        let o = p(&["ridmap"]);
        assert!(o.idmap && o.recursive_idmap && o.rec_set == 0);
        assert!(p(&["tmpcopyup"]).copy_up);
    }
}
