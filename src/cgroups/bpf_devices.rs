//! The cgroup v2 device controller: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) generated
//! from `linux.resources.devices` with v1's semantics, attached to the container's cgroup.
//! On update the new program is attached before the old one is detached; with
//! BPF_F_ALLOW_MULTI every attached program must allow an access, so the container is never
//! less restricted than either rule set in between.

use crate::error::{Error, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One v1-style rule: type 'a', 'b' or 'c'; None for a wildcard number; access bits
/// (1 mknod, 2 read, 4 write); allow or deny.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
    pub allow: bool,
}

pub fn parse_access(s: &str) -> Result<u32> {
    let mut bits = 0;
    for c in s.chars() {
        bits |= match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => {
                return Err(Error::Config(format!(
                    "device rule access {s:?}: only r, w and m are allowed"
                )))
            }
        };
    }
    Ok(bits)
}

/// Reduce a rule list the way the v1 devices controller would: a rule for all devices resets
/// the default; other rules become exceptions to it (or remove exceptions they contradict).
pub fn effective(rules: &[Rule]) -> (bool, Vec<Rule>) {
    let mut default_allow = true;
    let mut exceptions: Vec<Rule> = Vec::new();
    for r in rules {
        if r.typ == 'a' && r.major.is_none() && r.minor.is_none() {
            default_allow = r.allow;
            exceptions.clear();
            continue;
        }
        if r.allow != default_allow {
            exceptions.push(r.clone());
        } else {
            // Same direction as the default: strip these accesses from matching exceptions.
            for e in exceptions.iter_mut() {
                if e.typ == r.typ && e.major == r.major && e.minor == r.minor {
                    e.access &= !r.access;
                }
            }
            exceptions.retain(|e| e.access != 0);
        }
    }
    (default_allow, exceptions)
}

#[derive(Clone, Copy)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

const LDXW: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const AND64_K: u8 = 0x57;
const RSH64_K: u8 = 0x77;
const MOV64_K: u8 = 0xb7;
const MOV64_X: u8 = 0xbf;
const JNE_K: u8 = 0x55;
const JEQ_K: u8 = 0x15;
const EXIT: u8 = 0x95;

/// The program: r1 points at struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32
/// minor; } with access_type = access << 16 | type (1 block, 2 char).
pub fn program(default_allow: bool, exceptions: &[Rule]) -> Vec<u8> {
    let mut p = vec![
        ins(LDXW, 2, 1, 0, 0),
        ins(MOV64_X, 3, 2, 0, 0),
        ins(AND64_K, 3, 0, 0, 0xffff),
        ins(RSH64_K, 2, 0, 0, 16),
        ins(LDXW, 4, 1, 4, 0),
        ins(LDXW, 5, 1, 8, 0),
    ];
    for e in exceptions {
        let mut block: Vec<Insn> = Vec::new();
        // Each check jumps past the rest of the block when it does not match; offsets are
        // patched below, once the block's length is known (marked with off = i16::MIN).
        if e.typ != 'a' {
            let t = if e.typ == 'b' { 1 } else { 2 };
            block.push(ins(JNE_K, 3, 0, i16::MIN, t));
        }
        if let Some(m) = e.major {
            block.push(ins(JNE_K, 4, 0, i16::MIN, m as i32));
        }
        if let Some(m) = e.minor {
            block.push(ins(JNE_K, 5, 0, i16::MIN, m as i32));
        }
        block.push(ins(MOV64_X, 6, 2, 0, 0));
        if e.allow {
            // Allowed when every requested access is in the rule.
            block.push(ins(AND64_K, 6, 0, 0, !(e.access as i32) & 7));
            block.push(ins(JNE_K, 6, 0, i16::MIN, 0));
        } else {
            // Denied when any requested access is in the rule.
            block.push(ins(AND64_K, 6, 0, 0, e.access as i32));
            block.push(ins(JEQ_K, 6, 0, i16::MIN, 0));
        }
        block.push(ins(MOV64_K, 0, 0, 0, i32::from(e.allow)));
        block.push(ins(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, b) in block.iter_mut().enumerate() {
            if b.off == i16::MIN {
                b.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(ins(MOV64_K, 0, 0, 0, i32::from(default_allow)));
    p.push(ins(EXIT, 0, 0, 0, 0));
    p.iter()
        .flat_map(|i| {
            let mut b = vec![i.code, i.regs];
            b.extend_from_slice(&i.off.to_le_bytes());
            b.extend_from_slice(&i.imm.to_le_bytes());
            b
        })
        .collect()
}

fn bpf(cmd: libc::c_int, attr: &mut [u8; 128]) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a zero-padded bpf_attr of the size passed.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn put(attr: &mut [u8; 128], off: usize, bytes: &[u8]) {
    attr[off..off + bytes.len()].copy_from_slice(bytes);
}

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

pub fn load(code: &[u8]) -> Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut attr = [0u8; 128];
    put(&mut attr, 0, &BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    put(&mut attr, 4, &((code.len() / 8) as u32).to_ne_bytes());
    put(&mut attr, 8, &(code.as_ptr() as u64).to_ne_bytes());
    put(&mut attr, 16, &(license.as_ptr() as u64).to_ne_bytes());
    let fd = bpf(BPF_PROG_LOAD, &mut attr)
        .map_err(|e| Error::sys("load device filter", "bpf(BPF_PROG_LOAD)", e))?;
    // SAFETY: a new fd returned by the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

fn attached(cgroup: RawFd) -> Vec<u32> {
    let mut ids = [0u32; 64];
    let mut attr = [0u8; 128];
    put(&mut attr, 0, &(cgroup as u32).to_ne_bytes());
    put(&mut attr, 4, &BPF_CGROUP_DEVICE.to_ne_bytes());
    put(&mut attr, 16, &(ids.as_mut_ptr() as u64).to_ne_bytes());
    put(&mut attr, 24, &(ids.len() as u32).to_ne_bytes());
    match bpf(BPF_PROG_QUERY, &mut attr) {
        Ok(_) => {
            let n = u32::from_ne_bytes(attr[24..28].try_into().unwrap_or_default()) as usize;
            ids[..n.min(ids.len())].to_vec()
        }
        Err(_) => vec![],
    }
}

/// Attach `prog` to the cgroup at `dir`, then detach whatever device programs were there.
pub fn install(dir: &std::path::Path, prog: &OwnedFd) -> Result<()> {
    let cg = std::fs::File::open(dir).map_err(|e| Error::sys("open cgroup", dir.display(), e))?;
    let old = attached(cg.as_raw_fd());
    let mut attr = [0u8; 128];
    put(&mut attr, 0, &(cg.as_raw_fd() as u32).to_ne_bytes());
    put(&mut attr, 4, &(prog.as_raw_fd() as u32).to_ne_bytes());
    put(&mut attr, 8, &BPF_CGROUP_DEVICE.to_ne_bytes());
    put(&mut attr, 12, &BPF_F_ALLOW_MULTI.to_ne_bytes());
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map_err(|e| Error::sys("attach device filter to", dir.display(), e))?;
    for id in old {
        let mut a = [0u8; 128];
        put(&mut a, 0, &id.to_ne_bytes());
        let Ok(fd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut a) else {
            continue;
        };
        // SAFETY: a new fd returned by the kernel.
        let old_fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        let mut d = [0u8; 128];
        put(&mut d, 0, &(cg.as_raw_fd() as u32).to_ne_bytes());
        put(&mut d, 4, &(old_fd.as_raw_fd() as u32).to_ne_bytes());
        put(&mut d, 8, &BPF_CGROUP_DEVICE.to_ne_bytes());
        bpf(BPF_PROG_DETACH, &mut d)
            .map_err(|e| Error::sys("detach old device filter from", dir.display(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(typ: char, major: Option<u32>, minor: Option<u32>, access: &str, allow: bool) -> Rule {
        Rule {
            typ,
            major,
            minor,
            access: parse_access(access).unwrap(),
            allow,
        }
    }

    #[test]
    fn v1_semantics() {
        let (def, ex) = effective(&[
            r('a', None, None, "rwm", false),
            r('c', Some(1), Some(3), "rwm", true),
        ]);
        assert!(!def);
        assert_eq!(ex, vec![r('c', Some(1), Some(3), "rwm", true)]);
        let (def, ex) = effective(&[
            r('c', Some(1), Some(3), "rw", false),
            r('a', None, None, "rwm", true),
            r('c', Some(1), Some(5), "w", false),
            r('c', Some(1), Some(5), "w", true),
        ]);
        assert!(def);
        assert!(ex.is_empty());
    }

    /// Attach a program to a fresh cgroup2 directory, move a child into it and check which
    /// device opens succeed. Needs a cgroup2 mount (the unified hierarchy on hybrid hosts).
    #[test]
    fn program_enforces_rules_in_a_real_cgroup() {
        let Some(root) = crate::cgroups::hierarchies()
            .unwrap()
            .into_iter()
            .find(|h| h.key.is_empty())
        else {
            panic!("no cgroup2 hierarchy mounted: this test needs one (hybrid hosts have /sys/fs/cgroup/unified)");
        };
        let dir = root
            .mountpoint
            .join(format!("hull-bpf-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (def, ex) = effective(&[
            r('a', None, None, "rwm", false),
            r('c', Some(1), Some(3), "rw", true),
            r('c', Some(1), None, "r", true),
        ]);
        let prog = load(&program(def, &ex)).unwrap();
        install(&dir, &prog).unwrap();
        // A second install replaces the first: still one program attached.
        let prog2 = load(&program(def, &ex)).unwrap();
        install(&dir, &prog2).unwrap();
        let cg = std::fs::File::open(&dir).unwrap();
        assert_eq!(attached(cg.as_raw_fd()).len(), 1);
        // SAFETY: the child only makes syscalls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let me = std::process::id().to_string();
            let ok = std::fs::write(dir.join("cgroup.procs"), me).is_ok();
            let open = |p: &str, w: bool| {
                std::fs::OpenOptions::new()
                    .read(true)
                    .write(w)
                    .open(p)
                    .is_ok()
            };
            let code = if !ok {
                10
            } else if !open("/dev/null", true) {
                11
            } else if !open("/dev/zero", false) {
                12 // c 1:* r
            } else if open("/dev/zero", true) {
                13 // write not allowed on 1:5
            } else if open("/dev/tty", false) {
                14 // 5:0 not allowed at all
            } else {
                0
            };
            unsafe { libc::_exit(code) };
        }
        let mut st = 0;
        unsafe { libc::waitpid(pid, &mut st, 0) };
        let _ = std::fs::remove_dir(&dir);
        assert_eq!(
            libc::WEXITSTATUS(st),
            0,
            "child failed at check {}",
            libc::WEXITSTATUS(st)
        );
    }
}
