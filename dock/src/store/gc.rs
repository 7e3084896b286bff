//! Garbage collection: remove blobs no name in index.json reaches, and leftovers of interrupted
//! writes. Runs under the exclusive gc lock, so no pull is adding content meanwhile.

use super::{io_err, Store, StoreError};
use crate::digest::Digest;
use crate::manifest::{Descriptor, Manifest};
use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};

/// What a collection removed.
#[derive(Debug, Default, Clone)]
pub struct GcStats {
    pub blobs_removed: Vec<Digest>,
    pub bytes_freed: u64,
    pub temp_files_removed: usize,
}

impl Store {
    /// Every blob reachable from index.json. A referenced manifest that cannot be read makes the
    /// whole collection fail: deleting on a guess could lose data.
    pub fn reachable(&self) -> Result<BTreeSet<Digest>, StoreError> {
        self.closure(self.index()?.manifests)
    }

    /// Every blob reachable from `roots` (manifests not stored are not followed).
    pub fn closure(&self, roots: Vec<Descriptor>) -> Result<BTreeSet<Digest>, StoreError> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<Descriptor> = roots;
        while let Some(d) = todo.pop() {
            if !seen.insert(d.digest.clone()) {
                continue;
            }
            let is_manifest = crate::manifest::ACCEPT.contains(&d.media_type.as_str());
            if !is_manifest || !self.has_blob(&d.digest) {
                continue;
            }
            let data = self.read_blob(&d.digest)?;
            let parsed =
                Manifest::parse(&d.media_type, &data).map_err(|e| StoreError::BadManifest {
                    digest: d.digest.clone(),
                    detail: e.to_string(),
                })?;
            match parsed.0 {
                Manifest::Image(m) => {
                    todo.push(m.config);
                    todo.extend(m.layers);
                }
                Manifest::Index(i) => todo.extend(i.manifests),
            }
        }
        Ok(seen)
    }

    /// Remove those of `added` (blobs an operation stored before it failed, or extra files a
    /// load stored) that nothing references. Takes the exclusive gc lock, so an operation that
    /// found one of them present has named its image already or not started yet.
    pub fn remove_unreferenced(&self, added: &BTreeSet<Digest>) -> Result<(), StoreError> {
        if added.is_empty() {
            return Ok(());
        }
        let _g = self.gc_lock()?;
        let keep = self.reachable()?;
        for d in added {
            if !keep.contains(d) {
                let _ = fs::remove_file(self.blob_path(d));
            }
        }
        Ok(())
    }

    /// Remove unreferenced blobs and stale temporary files.
    pub fn gc(&self) -> Result<GcStats, StoreError> {
        let _g = self.gc_lock()?;
        let keep = self.reachable()?;
        let mut stats = GcStats::default();
        for alg in ["sha256", "sha512"] {
            let dir = self.root.join("blobs").join(alg);
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(_) => continue,
            };
            for entry in entries {
                let entry = entry.map_err(io_err("read directory", &dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    if fs::remove_file(&path).is_ok() {
                        stats.temp_files_removed += 1;
                    }
                    continue;
                }
                let Ok(d) = Digest::parse(&format!("{alg}:{name}")) else {
                    continue; // not ours; leave it
                };
                if keep.contains(&d) {
                    continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
                stats.bytes_freed += size;
                stats.blobs_removed.push(d);
            }
        }
        // Partial downloads whose lock nobody holds are leftovers of killed pulls.
        let ingest = self.root.join("ingest");
        if let Ok(entries) = fs::read_dir(&ingest) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("tmp-") {
                    // Unnamed content being stored by `load`; no loader runs during gc.
                    let _ = fs::remove_file(entry.path());
                    stats.temp_files_removed += 1;
                    continue;
                }
                let Some(stem) = name.strip_suffix(".partial") else {
                    continue;
                };
                let lock_path = ingest.join(format!("{stem}.lock"));
                let free = match OpenOptions::new().write(true).open(&lock_path) {
                    Ok(f) => f.try_lock().is_ok(),
                    Err(_) => true,
                };
                if free {
                    let _ = fs::remove_file(entry.path());
                    let _ = fs::remove_file(&lock_path);
                    stats.temp_files_removed += 1;
                }
            }
        }
        let tmp_dir = self.root.clone();
        if let Ok(entries) = fs::read_dir(&tmp_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(".index.json.") && name.ends_with(".tmp") {
                    let _ = fs::remove_file(entry.path());
                    stats.temp_files_removed += 1;
                }
            }
        }
        Ok(stats)
    }
}
