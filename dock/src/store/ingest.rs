//! Writing one blob into the store: a per-blob lock, a resumable partial file in `ingest/`,
//! hashing of every byte, and a commit that renames only verified content into `blobs/`.

use super::{io_err, sync_dir, Store, StoreError};
use crate::digest::{Digest, Hasher};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

/// A blob being written. Dropping it without [`Ingest::commit`] keeps the partial file so a
/// later attempt resumes; [`Ingest::discard`] removes it.
pub struct Ingest {
    expected: Digest,
    size: u64,
    blob: PathBuf,
    partial_path: PathBuf,
    lock_path: PathBuf,
    partial: Option<File>,
    _lock: File,
    hasher: Hasher,
    written: u64,
    present: bool,
}

impl Ingest {
    pub(super) fn open(store: &Store, expected: &Digest, size: u64) -> Result<Self, StoreError> {
        let dir = store.root.join("ingest");
        let stem = format!("{}-{}", expected.algorithm().name(), expected.hex());
        let lock_path = dir.join(format!("{stem}.lock"));
        let partial_path = dir.join(format!("{stem}.partial"));
        // Lock, then make sure the lock file we hold is still the one at the path: a writer that
        // finished removes it, and whoever waited on the old file must retry on a fresh one.
        let lock = loop {
            let f = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&lock_path)
                .map_err(io_err("open lock", &lock_path))?;
            f.lock().map_err(io_err("lock", &lock_path))?;
            let held = f.metadata().map_err(io_err("stat", &lock_path))?;
            match fs::metadata(&lock_path) {
                Ok(m) if m.ino() == held.ino() && m.dev() == held.dev() => break f,
                _ => continue,
            }
        };
        let blob = store.blob_path(expected);
        let mut ingest = Ingest {
            expected: expected.clone(),
            size,
            blob,
            partial_path,
            lock_path,
            partial: None,
            _lock: lock,
            hasher: Hasher::new(expected.algorithm()),
            written: 0,
            present: false,
        };
        if ingest.blob.is_file() {
            ingest.present = true;
            let _ = fs::remove_file(&ingest.lock_path);
            return Ok(ingest);
        }
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&ingest.partial_path)
            .map_err(io_err("open", &ingest.partial_path))?;
        let len = f
            .metadata()
            .map_err(io_err("stat", &ingest.partial_path))?
            .len();
        if len > size {
            f.set_len(0)
                .map_err(io_err("truncate", &ingest.partial_path))?;
        } else if len > 0 {
            // Resume: hash what an earlier attempt wrote.
            let mut buf = vec![0u8; 1 << 16];
            let mut n = 0u64;
            loop {
                let k = f
                    .read(&mut buf)
                    .map_err(io_err("read", &ingest.partial_path))?;
                if k == 0 {
                    break;
                }
                ingest.hasher.update(&buf[..k]);
                n += k as u64;
            }
            ingest.written = n;
        }
        f.seek(SeekFrom::End(0))
            .map_err(io_err("seek", &ingest.partial_path))?;
        ingest.partial = Some(f);
        Ok(ingest)
    }

    /// The blob was already in the store; nothing to write.
    pub fn already_present(&self) -> bool {
        self.present
    }

    /// Bytes already written (a download resumes from here).
    pub fn offset(&self) -> u64 {
        self.written
    }

    pub fn expected(&self) -> &Digest {
        &self.expected
    }

    /// Throw away what was written and start from byte 0.
    pub fn restart(&mut self) -> Result<(), StoreError> {
        if let Some(f) = self.partial.as_mut() {
            f.set_len(0)
                .map_err(io_err("truncate", &self.partial_path))?;
            f.seek(SeekFrom::Start(0))
                .map_err(io_err("seek", &self.partial_path))?;
        }
        self.hasher = Hasher::new(self.expected.algorithm());
        self.written = 0;
        Ok(())
    }

    /// Append bytes. More bytes than the descriptor's size is an error at once (a hostile
    /// server cannot fill the disk).
    pub fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        if self.written + data.len() as u64 > self.size {
            return Err(StoreError::SizeMismatch {
                digest: self.expected.clone(),
                expected: self.size,
                actual: self.written + data.len() as u64,
            });
        }
        let f = self
            .partial
            .as_mut()
            .ok_or_else(|| StoreError::MissingBlob {
                digest: self.expected.clone(),
            })?;
        f.write_all(data)
            .map_err(io_err("write", &self.partial_path))?;
        self.hasher.update(data);
        self.written += data.len() as u64;
        Ok(())
    }

    /// Whether what was written so far is exactly the expected blob (does not commit).
    pub fn is_complete_and_valid(&self) -> bool {
        self.present || (self.written == self.size && self.hasher.clone().finish() == self.expected)
    }

    /// Verify size and digest, then move the blob into place. On a mismatch the partial file is
    /// removed, so the next attempt starts clean.
    pub fn commit(mut self) -> Result<(), StoreError> {
        if self.present {
            return Ok(());
        }
        if self.written != self.size {
            let err = StoreError::SizeMismatch {
                digest: self.expected.clone(),
                expected: self.size,
                actual: self.written,
            };
            self.remove_partial();
            return Err(err);
        }
        let hasher = std::mem::replace(&mut self.hasher, Hasher::new(self.expected.algorithm()));
        let actual = hasher.finish();
        if actual != self.expected {
            self.remove_partial();
            return Err(StoreError::DigestMismatch {
                expected: self.expected.clone(),
                actual,
            });
        }
        if let Some(f) = self.partial.take() {
            f.sync_all().map_err(io_err("fsync", &self.partial_path))?;
        }
        fs::rename(&self.partial_path, &self.blob).map_err(io_err("rename", &self.blob))?;
        if let Some(dir) = self.blob.parent() {
            sync_dir(dir);
        }
        let _ = fs::remove_file(&self.lock_path);
        Ok(())
    }

    /// Give up and remove the partial file.
    pub fn discard(mut self) {
        self.remove_partial();
    }

    fn remove_partial(&mut self) {
        self.partial = None;
        let _ = fs::remove_file(&self.partial_path);
        let _ = fs::remove_file(&self.lock_path);
    }
}
