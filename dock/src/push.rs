//! `push`: store → registry. Every blob is verified against its digest before it is sent; blobs
//! the registry has are skipped (HEAD), blobs another repository on the same registry has (as
//! far as the store knows) are mounted across repositories, the rest uploaded monolithically.

use crate::digest::Digest;
use crate::progress::Progress;
use crate::reference::Reference;
use crate::registry::{Body, Client, RegistryError};
use crate::store::{ImageEntry, Store, StoreError};
use std::collections::BTreeMap;

/// A failed push, naming the image.
#[derive(Debug, thiserror::Error)]
#[error("push {image}: {source}")]
pub struct PushError {
    pub image: String,
    #[source]
    pub source: RegistryError,
}

/// What a push sent.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: Digest,
    pub uploaded: usize,
    pub mounted: usize,
    pub skipped: usize,
}

/// Push the stored image `source` to `target` (which may be the same name).
pub fn push(
    client: &Client,
    store: &Store,
    source: &Reference,
    target: &Reference,
    progress: &Progress,
) -> Result<Pushed, PushError> {
    push_with(
        client,
        store,
        source,
        target,
        &PushOptions::default(),
        progress,
    )
}

/// Push settings.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Upload in chunks of this many bytes (PATCH) instead of one PUT.
    pub chunk: Option<u64>,
    /// Try cross-repository mounts.
    pub mount: bool,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            chunk: None,
            mount: true,
        }
    }
}

/// [`push`] with options.
pub fn push_with(
    client: &Client,
    store: &Store,
    source: &Reference,
    target: &Reference,
    opts: &PushOptions,
    progress: &Progress,
) -> Result<Pushed, PushError> {
    let err = |source: RegistryError| PushError {
        image: target.to_string(),
        source,
    };
    let _content = store.content_lock().map_err(|e| err(e.into()))?;
    let entry = find_entry(store, source).map_err(|e| err(e.into()))?;
    let desc = entry.descriptor.clone();
    let manifest = store.image_manifest(&desc).map_err(|e| err(e.into()))?;
    let manifest_body = store.read_blob(&desc.digest).map_err(|e| err(e.into()))?;
    let mount_sources = mount_candidates(store, &target.domain, &target.path);
    let registry = client.registry(&target.domain);
    let mut out = Pushed {
        digest: desc.digest.clone(),
        uploaded: 0,
        mounted: 0,
        skipped: 0,
    };
    let mut blobs = vec![manifest.config.clone()];
    blobs.extend(manifest.layers.iter().cloned());
    for b in &blobs {
        let size = store.verify_blob(&b.digest).map_err(|e| err(e.into()))?;
        if size != b.size {
            return Err(err(StoreError::SizeMismatch {
                digest: b.digest.clone(),
                expected: b.size,
                actual: size,
            }
            .into()));
        }
        let label = b.digest.short().to_string();
        if registry.blob_exists(&target.path, &b.digest).map_err(err)? {
            out.skipped += 1;
            progress.line(&format!("{label}: layer already exists"));
            continue;
        }
        let from = mount_sources
            .get(&b.digest)
            .map(String::as_str)
            .filter(|_| opts.mount);
        let body = Body::File {
            path: store.blob_path(&b.digest),
            len: size,
        };
        let mounted = registry
            .upload_blob_with(&target.path, &b.digest, body, from, opts.chunk)
            .map_err(err)?;
        if mounted {
            out.mounted += 1;
            progress.line(&format!(
                "{label}: mounted from {}",
                from.unwrap_or_default()
            ));
        } else {
            out.uploaded += 1;
            progress.line(&format!("{label}: pushed"));
        }
    }
    let tag = target
        .tag
        .clone()
        .unwrap_or_else(|| desc.digest.to_string());
    registry
        .put_manifest(&target.path, &tag, &desc.media_type, manifest_body)
        .map_err(err)?;
    progress.line(&format!(
        "{}: digest: {} size: {}",
        tag, desc.digest, desc.size
    ));
    Ok(out)
}

/// The store entry for a reference: by full name, else by digest.
pub fn find_entry(store: &Store, r: &Reference) -> Result<ImageEntry, StoreError> {
    let images = store.images()?;
    if let Some(e) = images.iter().find(|e| e.name == r.store_name()) {
        return Ok(e.clone());
    }
    if let Some(d) = &r.digest {
        let repo = r.repository();
        if let Some(e) = images.iter().find(|e| {
            e.name.starts_with(&repo)
                && (e.descriptor.digest == *d
                    || e.descriptor.annotation(crate::pull::REPO_DIGEST) == Some(&d.to_string()))
        }) {
            return Ok(e.clone());
        }
    }
    Err(StoreError::NoSuchImage(r.to_string()))
}

/// For each blob, a repository on `domain` (other than `repo`) that a stored image names and
/// that holds the blob, for cross-repository mounts.
fn mount_candidates(store: &Store, domain: &str, repo: &str) -> BTreeMap<Digest, String> {
    let mut out = BTreeMap::new();
    let Ok(images) = store.images() else {
        return out;
    };
    for e in images {
        let Ok(r) = Reference::parse(&e.name) else {
            continue;
        };
        if r.domain != domain || r.path == repo {
            continue;
        }
        let Ok(m) = store.image_manifest(&e.descriptor) else {
            continue;
        };
        for b in std::iter::once(&m.config).chain(m.layers.iter()) {
            out.entry(b.digest.clone())
                .or_insert_with(|| r.path.clone());
        }
    }
    out
}
