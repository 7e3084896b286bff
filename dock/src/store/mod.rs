//! The image store: an OCI image layout on disk.
//!
//! ```text
//! <root>/oci-layout           {"imageLayoutVersion":"1.0.0"}
//! <root>/index.json           one descriptor per named image (org.opencontainers.image.ref.name)
//! <root>/blobs/sha256/<hex>   content-addressed blobs, only ever written verified, by rename
//! <root>/ingest/<hex>.partial downloads in progress (resumable), <hex>.lock their locks
//! <root>/gc.lock              shared by pulls/pushes/tags, exclusive for rmi/gc
//! <root>/index.lock           exclusive around every read-modify-write of index.json
//! ```
//!
//! Every write is a temp file in the same directory + fsync + rename. A blob is read back only
//! through [`Store::read_blob`], which verifies it against its digest.

mod gc;
mod ingest;

pub use gc::GcStats;
pub use ingest::Ingest;

use crate::digest::{Digest, Hasher};
use crate::manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, OCI_INDEX, REF_NAME};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Blobs read whole into memory (manifests, configs) are refused above this size.
pub const MAX_METADATA_BLOB: u64 = 4 << 20;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("blob {digest} is not in the store")]
    MissingBlob { digest: Digest },
    #[error("blob {digest} in the store is corrupt (content hashes to {actual})")]
    CorruptBlob { digest: Digest, actual: Digest },
    #[error("blob {digest}: {size} bytes is over the {limit} byte limit for metadata")]
    TooLarge {
        digest: Digest,
        size: u64,
        limit: u64,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("blob {digest}: {detail}")]
    BadManifest { digest: Digest, detail: String },
    #[error("blob {digest}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("blob {expected}: digest mismatch: content hashes to {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("no such image: {0}")]
    NoSuchImage(String),
}

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// An image named in index.json.
#[derive(Debug, Clone)]
pub struct ImageEntry {
    /// The full name, e.g. `docker.io/library/busybox:latest`.
    pub name: String,
    pub descriptor: Descriptor,
}

/// A held lock; released on drop.
pub struct LockGuard {
    _file: File,
}

/// An OCI image layout used as dock's store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store at `root`. Directories are 0700.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let store = Store { root };
        for dir in [
            store.root.clone(),
            store.root.join("blobs"),
            store.root.join("blobs/sha256"),
            store.root.join("blobs/sha512"),
            store.root.join("ingest"),
        ] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(io_err("create directory", &dir))?;
        }
        let layout = store.root.join("oci-layout");
        if !layout.exists() {
            atomic_write(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = store.root.join("index.json");
        if !index.exists() {
            let _g = store.index_lock()?;
            if !index.exists() {
                store.write_index(&empty_index())?;
            }
        }
        Ok(store)
    }

    /// The default data root: `/var/lib/dock` for root, `$XDG_DATA_HOME/dock` (or
    /// `~/.local/share/dock`) otherwise.
    pub fn default_root() -> PathBuf {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        if euid == 0 {
            return PathBuf::from("/var/lib/dock");
        }
        match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x).join("dock"),
            None => {
                let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
                PathBuf::from(home).join(".local/share/dock")
            }
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives. The digest was validated on parse, so its hex is a safe component.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().name())
            .join(d.hex())
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Size of a stored blob, if present.
    pub fn blob_size(&self, d: &Digest) -> Option<u64> {
        fs::metadata(self.blob_path(d)).ok().map(|m| m.len())
    }

    /// Read a (small) blob whole, verifying it against its digest.
    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(d);
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::MissingBlob { digest: d.clone() })
            }
            Err(e) => return Err(io_err("open", &path)(e)),
        };
        let mut data = Vec::new();
        f.take(MAX_METADATA_BLOB + 1)
            .read_to_end(&mut data)
            .map_err(io_err("read", &path))?;
        if data.len() as u64 > MAX_METADATA_BLOB {
            return Err(StoreError::TooLarge {
                digest: d.clone(),
                size: data.len() as u64,
                limit: MAX_METADATA_BLOB,
            });
        }
        let mut h = Hasher::new(d.algorithm());
        h.update(&data);
        let actual = h.finish();
        if &actual != d {
            return Err(StoreError::CorruptBlob {
                digest: d.clone(),
                actual,
            });
        }
        Ok(data)
    }

    /// Verify a stored blob of any size against its digest by streaming it.
    pub fn verify_blob(&self, d: &Digest) -> Result<u64, StoreError> {
        let path = self.blob_path(d);
        let mut f = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::MissingBlob { digest: d.clone() },
            _ => io_err("open", &path)(e),
        })?;
        let mut h = Hasher::new(d.algorithm());
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        loop {
            let k = f.read(&mut buf).map_err(io_err("read", &path))?;
            if k == 0 {
                break;
            }
            h.update(&buf[..k]);
            n += k as u64;
        }
        let actual = h.finish();
        if &actual != d {
            return Err(StoreError::CorruptBlob {
                digest: d.clone(),
                actual,
            });
        }
        Ok(n)
    }

    /// Store bytes whose digest is `expected` (verified) atomically.
    pub fn put_blob(&self, expected: &Digest, data: &[u8]) -> Result<(), StoreError> {
        let mut h = Hasher::new(expected.algorithm());
        h.update(data);
        let actual = h.finish();
        if &actual != expected {
            return Err(StoreError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }
        if self.has_blob(expected) {
            return Ok(());
        }
        atomic_write(&self.blob_path(expected), data)
    }

    /// Store bytes under their sha256 digest.
    pub fn put_blob_sha256(&self, data: &[u8]) -> Result<Digest, StoreError> {
        let d = Digest::sha256_of(data);
        self.put_blob(&d, data)?;
        Ok(d)
    }

    /// Store content from a reader. With `expected` the content is verified against that digest
    /// and size; without, it is stored under its sha256. Returns the digest and size.
    pub fn put_blob_reader(
        &self,
        reader: &mut dyn Read,
        expected: Option<(&Digest, u64)>,
    ) -> Result<(Digest, u64, bool), StoreError> {
        let mut buf = vec![0u8; 1 << 16];
        if let Some((d, size)) = expected {
            let mut ingest = self.ingest(d, size)?;
            if ingest.already_present() {
                std::io::copy(reader, &mut io::sink()).map_err(io_err("read", &self.root))?;
                return Ok((d.clone(), size, false));
            }
            ingest.restart()?;
            loop {
                let n = reader.read(&mut buf).map_err(io_err("read", &self.root))?;
                if n == 0 {
                    break;
                }
                if let Err(e) = ingest.write(&buf[..n]) {
                    ingest.discard();
                    return Err(e);
                }
            }
            ingest.commit()?;
            return Ok((d.clone(), size, true));
        }
        let tmp = self
            .root
            .join("ingest")
            .join(format!("tmp-{}-{}", std::process::id(), unique()));
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err("create", &tmp))?;
            let mut h = Hasher::new(crate::digest::Algorithm::Sha256);
            let mut n_total = 0u64;
            loop {
                let n = reader.read(&mut buf).map_err(io_err("read", &tmp))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                f.write_all(&buf[..n]).map_err(io_err("write", &tmp))?;
                n_total += n as u64;
            }
            f.sync_all().map_err(io_err("fsync", &tmp))?;
            let d = h.finish();
            let dest = self.blob_path(&d);
            if dest.exists() {
                let _ = fs::remove_file(&tmp);
                return Ok((d, n_total, false));
            }
            fs::rename(&tmp, &dest).map_err(io_err("rename", &dest))?;
            if let Some(dir) = dest.parent() {
                sync_dir(dir);
            }
            Ok((d, n_total, true))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Start (or resume) writing a blob. Blocks while another process writes the same blob.
    pub fn ingest(&self, expected: &Digest, size: u64) -> Result<Ingest, StoreError> {
        Ingest::open(self, expected, size)
    }

    fn lock(&self, name: &str, exclusive: bool) -> Result<LockGuard, StoreError> {
        let path = self.root.join(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("open lock", &path))?;
        if exclusive {
            file.lock().map_err(io_err("lock", &path))?;
        } else {
            file.lock_shared().map_err(io_err("lock", &path))?;
        }
        Ok(LockGuard { _file: file })
    }

    /// Held by operations that add content (pull, load, tag); excludes garbage collection.
    pub fn content_lock(&self) -> Result<LockGuard, StoreError> {
        self.lock("gc.lock", false)
    }

    /// Held by garbage collection; excludes every content-adding operation.
    pub fn gc_lock(&self) -> Result<LockGuard, StoreError> {
        self.lock("gc.lock", true)
    }

    fn index_lock(&self) -> Result<LockGuard, StoreError> {
        self.lock("index.lock", true)
    }

    /// Read index.json.
    pub fn index(&self) -> Result<ImageIndex, StoreError> {
        let path = self.root.join("index.json");
        let data = fs::read(&path).map_err(io_err("read", &path))?;
        serde_json::from_slice(&data).map_err(|source| StoreError::Json { path, source })
    }

    fn write_index(&self, index: &ImageIndex) -> Result<(), StoreError> {
        let path = self.root.join("index.json");
        let data = serde_json::to_vec_pretty(index).map_err(|source| StoreError::Json {
            path: path.clone(),
            source,
        })?;
        atomic_write(&path, &data)
    }

    /// Read-modify-write index.json under the index lock.
    pub fn update_index<T>(
        &self,
        f: impl FnOnce(&mut ImageIndex) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _g = self.index_lock()?;
        let mut index = self.index()?;
        let out = f(&mut index)?;
        self.write_index(&index)?;
        Ok(out)
    }

    /// Point `name` at `descriptor` (replacing what it named before). The blobs must be stored.
    pub fn set_ref(&self, name: &str, descriptor: &Descriptor) -> Result<(), StoreError> {
        let mut desc = descriptor.clone();
        let mut ann = desc.annotations.take().unwrap_or_default();
        ann.insert(REF_NAME.to_string(), name.to_string());
        desc.annotations = Some(ann);
        self.update_index(|index| {
            index
                .manifests
                .retain(|d| d.annotation(REF_NAME) != Some(name));
            index.manifests.push(desc);
            Ok(())
        })
    }

    /// Every named image.
    pub fn images(&self) -> Result<Vec<ImageEntry>, StoreError> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .map(|d| ImageEntry {
                name: d.annotation(REF_NAME).unwrap_or("").to_string(),
                descriptor: d,
            })
            .collect())
    }

    /// Find an image by full name (`domain/path:tag`), by digest or digest prefix (12+ hex).
    pub fn find(&self, key: &str) -> Result<Vec<ImageEntry>, StoreError> {
        let images = self.images()?;
        let by_name: Vec<_> = images.iter().filter(|e| e.name == key).cloned().collect();
        if !by_name.is_empty() {
            return Ok(by_name);
        }
        let hex = key.strip_prefix("sha256:").unwrap_or(key);
        if hex.len() >= 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(images
                .into_iter()
                .filter(|e| e.descriptor.digest.hex().starts_with(hex))
                .collect());
        }
        Ok(Vec::new())
    }

    /// Load and verify the image manifest behind a descriptor (an index resolves to its first
    /// entry whose manifest is stored).
    pub fn image_manifest(&self, desc: &Descriptor) -> Result<ImageManifest, StoreError> {
        let data = self.read_blob(&desc.digest)?;
        let bad = |detail: String| StoreError::BadManifest {
            digest: desc.digest.clone(),
            detail,
        };
        match Manifest::parse(&desc.media_type, &data).map_err(|e| bad(e.to_string()))? {
            (Manifest::Image(m), _) => Ok(m),
            (Manifest::Index(i), _) => {
                for d in &i.manifests {
                    if self.has_blob(&d.digest) {
                        return self.image_manifest(d);
                    }
                }
                Err(bad("index has no stored manifest".into()))
            }
        }
    }

    /// Remove names from index.json; returns the entries removed.
    pub fn remove_refs(&self, names: &[String]) -> Result<Vec<ImageEntry>, StoreError> {
        self.update_index(|index| {
            let mut removed = Vec::new();
            index.manifests.retain(|d| {
                let name = d.annotation(REF_NAME).unwrap_or("").to_string();
                if names.contains(&name) {
                    removed.push(ImageEntry {
                        name,
                        descriptor: d.clone(),
                    });
                    false
                } else {
                    true
                }
            });
            Ok(removed)
        })
    }
}

fn empty_index() -> ImageIndex {
    ImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_string()),
        manifests: Vec::new(),
        annotations: None,
    }
}

/// Write a file atomically: a temp file in the same directory, fsync, rename, fsync the dir.
pub fn atomic_write(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.{}.tmp", std::process::id(), unique()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(data).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("rename", path))?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

pub(crate) fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (N.fetch_add(1, Ordering::Relaxed) << 48)
}

/// Names in the index grouped by the digest they point at.
pub fn names_by_digest(images: &[ImageEntry]) -> BTreeMap<Digest, Vec<String>> {
    let mut m: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    for e in images {
        m.entry(e.descriptor.digest.clone())
            .or_default()
            .push(e.name.clone());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let p = std::env::temp_dir().join(format!("dock-store-test-{}", unique()));
        fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn layout_blobs_and_refs() {
        let root = tmp();
        let s = Store::open(&root).unwrap();
        assert!(root.join("oci-layout").is_file());
        assert_eq!(s.index().unwrap().manifests.len(), 0);
        let d = s.put_blob_sha256(b"hello").unwrap();
        assert_eq!(s.read_blob(&d).unwrap(), b"hello");
        let other = Digest::sha256_of(b"other");
        assert!(matches!(
            s.put_blob(&other, b"hello"),
            Err(StoreError::DigestMismatch { .. })
        ));
        assert!(!s.has_blob(&other));
        // Corruption on disk is detected on read.
        fs::write(s.blob_path(&d), b"HELLO").unwrap();
        assert!(matches!(
            s.read_blob(&d),
            Err(StoreError::CorruptBlob { .. })
        ));
        let desc = Descriptor {
            media_type: "x".into(),
            digest: d.clone(),
            size: 5,
            platform: None,
            annotations: None,
            urls: None,
        };
        s.set_ref("docker.io/library/a:1", &desc).unwrap();
        s.set_ref("docker.io/library/a:1", &desc).unwrap();
        s.set_ref("docker.io/library/a:2", &desc).unwrap();
        assert_eq!(s.images().unwrap().len(), 2);
        assert_eq!(s.find(&d.hex()[..12]).unwrap().len(), 2);
        s.remove_refs(&["docker.io/library/a:1".into()]).unwrap();
        assert_eq!(s.images().unwrap().len(), 1);
        fs::remove_dir_all(root).unwrap();
    }
}
