//! Safe layer extraction. Every entry is created relative to the layer directory's fd: parents
//! are opened with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), the final component is
//! created with an *at call on that parent fd, and metadata is applied through an fd or with
//! AT_SYMLINK_NOFOLLOW. No path string is ever joined to a host path, so no entry, symlink or
//! hardlink can reach outside the layer directory. Whiteouts become overlayfs whiteouts
//! (char 0:0 devices, `trusted.overlay.opaque=y`), so a snapshot is directly an overlay lower dir.

pub mod fsops;
pub mod snapshot;

use fsops::{Dir, Name};
use sha2::{Digest as _, Sha256};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};

/// Bounds on what one layer may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest single entry (its declared size, sparse or not).
    pub max_entry: u64,
    /// Total bytes of all entries.
    pub max_total: u64,
    /// Number of entries.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entry: 16 << 30,
            max_total: 64 << 30,
            max_entries: 1 << 22,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub limits: Limits,
    /// Apply ownership and create device nodes (root); otherwise ownership is left as the
    /// caller's and device nodes are skipped with a warning, as rootless docker does.
    pub privileged: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            // SAFETY: geteuid cannot fail.
            privileged: unsafe { libc::geteuid() } == 0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer entry {path:?}: {reason}")]
    Refused { path: String, reason: String },
    #[error("layer entry {path:?}: {op}: {source}")]
    Io {
        path: String,
        op: &'static str,
        source: io::Error,
    },
    #[error("layer: {0}")]
    Read(io::Error),
    #[error("layer is larger than the limit of {limit} bytes ({what})")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("layer diff-id mismatch: expected {expected}, got {got}")]
    DiffId { expected: String, got: String },
}

#[derive(Debug, Default)]
pub struct Stats {
    pub entries: u64,
    pub bytes: u64,
    pub skipped_devices: u64,
    /// sha256 of the uncompressed tar stream ("sha256:<hex>").
    pub diff_id: String,
}

/// Open a possibly compressed layer stream: gzip, zstd or plain tar, by magic bytes.
pub fn decompress<'a>(mut r: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < 4 {
        let k = r.read(&mut magic[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    let head = io::Cursor::new(magic[..n].to_vec()).chain(r);
    Ok(if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        Box::new(flate2::read::MultiGzDecoder::new(head))
    } else if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::stream::read::Decoder::new(head)?)
    } else {
        Box::new(head)
    })
}

/// Hashes everything read through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Most bytes of headers, PAX records and long names (and skipped data) before one entry.
pub const META_LIMIT: u64 = 4 << 20;

/// How many bytes the tar reader may still take while armed.
#[derive(Clone, Default)]
struct Budget(std::rc::Rc<std::cell::Cell<Option<u64>>>);

impl Budget {
    fn arm(&self, n: u64) {
        self.0.set(Some(n));
    }
    fn disarm(&self) {
        self.0.set(None);
    }
    fn exceeded(&self) -> bool {
        self.0.get() == Some(0)
    }
}

struct Metered<R> {
    inner: R,
    budget: Budget,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.budget.0.get();
        let want = match left {
            Some(0) => {
                return Err(io::Error::other(format!(
                    "more than {META_LIMIT} bytes of tar headers, PAX records or long names before one entry"
                )))
            }
            Some(l) => buf.len().min(l.min(usize::MAX as u64) as usize),
            None => buf.len(),
        };
        let n = self.inner.read(&mut buf[..want])?;
        if let Some(l) = left {
            self.budget.0.set(Some(l - n as u64));
        }
        Ok(n)
    }
}

fn meta_error(b: &Budget, e: io::Error) -> UnpackError {
    if b.exceeded() {
        UnpackError::TooLarge {
            what: "tar metadata before one entry",
            limit: META_LIMIT,
        }
    } else {
        UnpackError::Read(e)
    }
}

/// A cleaned entry path: components without `.`, a leading `/` dropped (absolute paths are
/// taken relative to the layer root), `..` refused.
pub fn clean_path(raw: &[u8]) -> Result<Vec<Name>, String> {
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("path contains `..`".into()),
            c => out.push(Name::new(c).map_err(|e| e.to_string())?),
        }
    }
    Ok(out)
}

/// Unpack a (decompressed) tar stream into `root`, an fd of an empty directory.
pub fn unpack(
    reader: impl Read,
    root: &OwnedFd,
    opts: &Options,
    expect_diff_id: Option<&str>,
) -> Result<Stats, UnpackError> {
    let mut hashing = Hashing {
        inner: reader,
        hash: Sha256::new(),
    };
    let mut stats = Stats::default();
    let mut dir_times: Vec<(Vec<Name>, i64)> = Vec::new();
    {
        let budget = Budget::default();
        let mut archive = tar::Archive::new(Metered {
            inner: &mut hashing,
            budget: budget.clone(),
        });
        let mut entries = archive.entries().map_err(UnpackError::Read)?;
        loop {
            // Between two entries the tar crate reads headers, PAX records and GNU long names
            // into memory (and skips unread data): bound that, or a 10 GiB "long name" would be
            // read into RAM before any limit of ours is checked.
            budget.arm(META_LIMIT);
            let Some(entry) = entries.next() else { break };
            let mut entry = entry.map_err(|e| meta_error(&budget, e))?;
            budget.disarm();
            stats.entries += 1;
            if stats.entries > opts.limits.max_entries {
                return Err(UnpackError::TooLarge {
                    what: "entry count",
                    limit: opts.limits.max_entries,
                });
            }
            let size = entry.header().entry_size().unwrap_or(0).max(entry.size());
            if size > opts.limits.max_entry {
                return Err(UnpackError::TooLarge {
                    what: "single entry",
                    limit: opts.limits.max_entry,
                });
            }
            stats.bytes = stats.bytes.saturating_add(size);
            if stats.bytes > opts.limits.max_total {
                return Err(UnpackError::TooLarge {
                    what: "total",
                    limit: opts.limits.max_total,
                });
            }
            let raw = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let path = clean_path(&raw).map_err(|reason| UnpackError::Refused {
                path: shown.clone(),
                reason,
            })?;
            let ctx = Entry {
                root,
                path: &path,
                shown: &shown,
                opts,
            };
            if let Some(t) = ctx.extract(&mut entry, &mut stats)? {
                dir_times.push((path, t));
            }
        }
    }
    // Directory mtimes last: creating their children changed them.
    for (path, t) in dir_times.iter().rev() {
        if let Ok(d) = Dir::open_in_root(root, path) {
            let _ = d.set_times(t);
        }
    }
    // The rest of the stream (tar's zero blocks) counts for the diff-id.
    let rest = io::copy(
        &mut (&mut hashing).take(opts.limits.max_total),
        &mut io::sink(),
    )
    .map_err(UnpackError::Read)?;
    if rest >= opts.limits.max_total {
        return Err(UnpackError::TooLarge {
            what: "trailing data",
            limit: opts.limits.max_total,
        });
    }
    stats.diff_id = hashing
        .hash
        .finalize()
        .iter()
        .fold(String::from("sha256:"), |mut s, b| {
            s.push_str(&format!("{b:02x}"));
            s
        });
    if let Some(exp) = expect_diff_id {
        if exp != stats.diff_id {
            return Err(UnpackError::DiffId {
                expected: exp.into(),
                got: stats.diff_id.clone(),
            });
        }
    }
    Ok(stats)
}

struct Entry<'a> {
    root: &'a OwnedFd,
    path: &'a [Name],
    shown: &'a str,
    opts: &'a Options,
}

const WHITEOUT: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";

impl Entry<'_> {
    fn refuse(&self, reason: impl Into<String>) -> UnpackError {
        UnpackError::Refused {
            path: self.shown.into(),
            reason: reason.into(),
        }
    }

    fn io(&self, op: &'static str) -> impl FnOnce(io::Error) -> UnpackError + '_ {
        move |source| UnpackError::Io {
            path: self.shown.into(),
            op,
            source,
        }
    }

    /// Extract one entry; returns the directory mtime to set at the end, for directories.
    fn extract<R: Read>(
        &self,
        entry: &mut tar::Entry<R>,
        stats: &mut Stats,
    ) -> Result<Option<i64>, UnpackError> {
        let h = entry.header();
        let kind = h.entry_type();
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mtime = h.mtime().unwrap_or(0) as i64;
        let dev = (
            h.device_major().ok().flatten().unwrap_or(0),
            h.device_minor().ok().flatten().unwrap_or(0),
        );
        let Some((name, parents)) = self.path.split_last() else {
            // The layer root itself ("./"): its mode and owner apply to the directory.
            if kind.is_dir() {
                let d = Dir::from_fd(self.root).map_err(self.io("open root"))?;
                self.meta_dir(&d, mode, uid, gid)?;
                return Ok(Some(mtime));
            }
            return Err(self.refuse("non-directory entry for the layer root"));
        };
        let parent = Dir::mkdir_all_in_root(self.root, parents).map_err(self.io("open parent"))?;

        // Whiteouts.
        let nb = name.as_bytes();
        if nb == OPAQUE {
            parent
                .set_xattr(b"trusted.overlay.opaque", b"y")
                .map_err(self.io("mark opaque"))?;
            return Ok(None);
        }
        if let Some(hidden) = nb.strip_prefix(WHITEOUT) {
            let hidden = match hidden {
                b"" | b"." | b".." => {
                    return Err(self.refuse("whiteout of `.`, `..` or an empty name"))
                }
                h => Name::new(h).map_err(|e| self.refuse(e.to_string()))?,
            };
            if !self.opts.privileged {
                return Err(self.refuse("whiteouts need root (overlay whiteout devices)"));
            }
            parent.remove(&hidden).map_err(self.io("remove"))?;
            parent
                .mknod(&hidden, libc::S_IFCHR, 0, 0)
                .map_err(self.io("create whiteout"))?;
            return Ok(None);
        }

        use tar::EntryType as T;
        match kind {
            T::Directory => {
                let d = parent.mkdir(name, 0o700).map_err(self.io("mkdir"))?;
                self.meta_dir(&d, mode, uid, gid)?;
                self.xattrs(entry, |k, v| d.set_xattr(k, v))?;
                return Ok(Some(mtime));
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                parent.remove(name).map_err(self.io("remove"))?;
                let f = parent.create_file(name).map_err(self.io("create"))?;
                let limit = self.opts.limits.max_entry;
                let mut out = std::fs::File::from(f);
                let n = io::copy(&mut (&mut *entry).take(limit + 1), &mut out)
                    .map_err(self.io("write"))?;
                if n > limit {
                    return Err(UnpackError::TooLarge {
                        what: "single entry",
                        limit,
                    });
                }
                let fd = OwnedFd::from(out);
                if self.opts.privileged {
                    fsops::fchown(&fd, uid, gid).map_err(self.io("chown"))?;
                }
                self.xattrs(entry, |k, v| fsops::fsetxattr(fd.as_raw_fd(), k, v))?;
                // chmod after chown: chown clears setuid/setgid.
                fsops::fchmod(&fd, mode).map_err(self.io("chmod"))?;
                fsops::futimens(&fd, mtime).map_err(self.io("utimes"))?;
            }
            T::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.refuse("symlink without a target"))?
                    .into_owned();
                parent.remove(name).map_err(self.io("remove"))?;
                parent.symlink(&target, name).map_err(self.io("symlink"))?;
                if self.opts.privileged {
                    parent.lchown(name, uid, gid).map_err(self.io("chown"))?;
                }
                parent.lutimes(name, mtime).map_err(self.io("utimes"))?;
            }
            T::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| self.refuse("hardlink without a target"))?
                    .into_owned();
                let tpath = clean_path(&target)
                    .map_err(|r| self.refuse(format!("hardlink target: {r}")))?;
                let Some((tname, tparents)) = tpath.split_last() else {
                    return Err(self.refuse("hardlink to the layer root"));
                };
                let tdir = Dir::open_in_root(self.root, tparents).map_err(|e| {
                    self.refuse(format!(
                        "hardlink target {:?} is not in this layer: {e}",
                        String::from_utf8_lossy(&target)
                    ))
                })?;
                parent.remove(name).map_err(self.io("remove"))?;
                // linkat without AT_SYMLINK_FOLLOW links the target entry itself, never what a
                // symlink there points to.
                fsops::linkat(&tdir, tname, &parent, name).map_err(|e| {
                    self.refuse(format!(
                        "hardlink target {:?} is not in this layer: {e}",
                        String::from_utf8_lossy(&target)
                    ))
                })?;
            }
            T::Char | T::Block | T::Fifo => {
                if kind != T::Fifo && !self.opts.privileged {
                    tracing::warn!("skipping device node {} (not root)", self.shown);
                    stats.skipped_devices += 1;
                    return Ok(None);
                }
                let fmt = match kind {
                    T::Char => libc::S_IFCHR,
                    T::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                parent.remove(name).map_err(self.io("remove"))?;
                parent
                    .mknod(name, fmt | (mode & 0o777), dev.0, dev.1)
                    .map_err(self.io("mknod"))?;
                let fd = parent.open_node(name).map_err(self.io("open"))?;
                if self.opts.privileged {
                    fsops::fchown_path(&fd, uid, gid).map_err(self.io("chown"))?;
                }
                fsops::chmod_path(&fd, mode).map_err(self.io("chmod"))?;
                parent.lutimes(name, mtime).map_err(self.io("utimes"))?;
            }
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
            other => {
                return Err(self.refuse(format!("unsupported entry type {other:?}")));
            }
        }
        Ok(None)
    }

    fn meta_dir(&self, d: &Dir, mode: u32, uid: u32, gid: u32) -> Result<(), UnpackError> {
        if self.opts.privileged {
            fsops::fchown(d.fd(), uid, gid).map_err(self.io("chown"))?;
        }
        fsops::fchmod(d.fd(), mode).map_err(self.io("chmod"))
    }

    /// PAX `SCHILY.xattr.*` records: `user.*` and `security.capability`; `trusted.*` (which
    /// would speak to overlayfs) and other security labels are dropped.
    fn xattrs<R: Read>(
        &self,
        entry: &mut tar::Entry<R>,
        mut set: impl FnMut(&[u8], &[u8]) -> io::Result<()>,
    ) -> Result<(), UnpackError> {
        let Ok(Some(exts)) = entry.pax_extensions() else {
            return Ok(());
        };
        let mut found = Vec::new();
        for ext in exts.flatten() {
            if let Some(k) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                if k.starts_with(b"user.") || k == b"security.capability" {
                    found.push((k.to_vec(), ext.value_bytes().to_vec()));
                }
            }
        }
        for (k, v) in found {
            set(&k, &v).map_err(self.io("setxattr"))?;
        }
        Ok(())
    }
}
