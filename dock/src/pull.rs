//! `pull`: registry → store. Blobs first (verified, in parallel), then the manifest, then the
//! name in index.json, so a failure at any point leaves no name behind; blobs this pull added
//! are removed again on failure unless something else references them.

use crate::digest::Digest;
use crate::manifest::{
    Descriptor, ImageConfigSummary, ImageManifest, Manifest, Platform, DOCKER_CONFIG,
    DOCKER_MANIFEST, OCI_CONFIG, OCI_MANIFEST,
};
use crate::progress::Progress;
use crate::reference::Reference;
use crate::registry::{Client, Registry, RegistryError};
use crate::store::Store;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// The annotation recording the digest the registry served for the reference (the index
/// digest for multi-platform images).
pub const REPO_DIGEST: &str = "io.github.hull.dock.repo-digest";

/// Pull settings.
#[derive(Debug, Clone)]
pub struct PullOptions {
    pub platform: Platform,
    /// Blobs downloaded at once.
    pub max_concurrent: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            max_concurrent: 3,
        }
    }
}

/// What a pull stored.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The name written to index.json.
    pub name: String,
    /// The image manifest now named.
    pub manifest: Descriptor,
    /// The digest of what the registry served for the reference (index or manifest).
    pub repo_digest: Digest,
    pub config: Digest,
}

/// A failed pull, naming the image.
#[derive(Debug, thiserror::Error)]
#[error("pull {image}: {source}")]
pub struct PullError {
    pub image: String,
    #[source]
    pub source: RegistryError,
}

/// Pull `reference` into `store`.
pub fn pull(
    client: &Client,
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
    progress: &Progress,
) -> Result<Pulled, PullError> {
    let added = Mutex::new(BTreeSet::new());
    let result = {
        let _content = store.content_lock().map_err(|e| PullError {
            image: reference.to_string(),
            source: e.into(),
        })?;
        pull_locked(client, store, reference, opts, progress, &added)
    };
    match result {
        Ok(p) => Ok(p),
        Err(source) => {
            let added = added.into_inner().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = store.remove_unreferenced(&added) {
                tracing::warn!("cleaning up after failed pull: {e}");
            }
            Err(PullError {
                image: reference.to_string(),
                source,
            })
        }
    }
}

fn pull_locked(
    client: &Client,
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
    progress: &Progress,
    added: &Mutex<BTreeSet<Digest>>,
) -> Result<Pulled, RegistryError> {
    let registry = client.registry(&reference.domain);
    let repo = &reference.path;
    let wanted = reference.manifest_ref();
    let (body, media_type, top_digest) = registry.get_manifest(repo, &wanted)?;
    let bad = |reference: String, detail: String| RegistryError::BadManifest { reference, detail };
    let (parsed, media_type) =
        Manifest::parse(&media_type, &body).map_err(|e| bad(wanted.clone(), e.to_string()))?;
    let (manifest, manifest_desc, manifest_body) = match parsed {
        Manifest::Image(m) => {
            let desc = Descriptor {
                media_type,
                digest: top_digest.clone(),
                size: body.len() as u64,
                platform: None,
                annotations: None,
                urls: None,
            };
            (m, desc, body)
        }
        Manifest::Index(index) => {
            let chosen = index.select(&opts.platform).cloned().ok_or_else(|| {
                bad(
                    format!("{wanted} ({top_digest})"),
                    format!(
                        "no manifest for platform {} (the index offers: {})",
                        opts.platform,
                        index.platforms().join(", ")
                    ),
                )
            })?;
            let (mbody, mtype, mdigest) =
                registry.get_manifest(repo, &chosen.digest.to_string())?;
            if mbody.len() as u64 != chosen.size {
                return Err(bad(
                    chosen.digest.to_string(),
                    format!(
                        "size mismatch: the index says {} bytes, got {}",
                        chosen.size,
                        mbody.len()
                    ),
                ));
            }
            let (m, mt) = Manifest::parse(&mtype, &mbody)
                .map_err(|e| bad(chosen.digest.to_string(), e.to_string()))?;
            let Manifest::Image(m) = m else {
                return Err(bad(
                    chosen.digest.to_string(),
                    "an index entry is itself an index".into(),
                ));
            };
            let desc = Descriptor {
                media_type: mt,
                digest: mdigest,
                size: mbody.len() as u64,
                platform: chosen.platform.clone(),
                annotations: None,
                urls: None,
            };
            (m, desc, mbody)
        }
    };
    check_manifest(&manifest, &manifest_desc)?;
    progress.line(&format!(
        "{}: pulling {} ({})",
        reference,
        manifest_desc.digest,
        human_platform(&manifest_desc)
    ));

    let mut blobs: Vec<Descriptor> = vec![manifest.config.clone()];
    for l in &manifest.layers {
        if !blobs.iter().any(|b| b.digest == l.digest) {
            blobs.push(l.clone());
        }
    }
    fetch_all(&registry, store, repo, &blobs, opts, progress, added)?;

    let config = store.read_blob(&manifest.config.digest)?;
    let summary: ImageConfigSummary =
        serde_json::from_slice(&config).map_err(|e| RegistryError::BadManifest {
            reference: manifest.config.digest.to_string(),
            detail: format!("image config is not valid JSON: {e}"),
        })?;
    if let (Some(os), Some(arch)) = (&summary.os, &summary.architecture) {
        if os != &opts.platform.os || arch != &opts.platform.architecture {
            progress.line(&format!(
                "warning: {reference} is {os}/{arch}, not the requested {}",
                opts.platform
            ));
        }
    }

    if !store.has_blob(&manifest_desc.digest) {
        store.put_blob(&manifest_desc.digest, &manifest_body)?;
        lock(added).insert(manifest_desc.digest.clone());
    }
    let mut named = manifest_desc.clone();
    let mut ann = std::collections::BTreeMap::new();
    ann.insert(REPO_DIGEST.to_string(), top_digest.to_string());
    named.annotations = Some(ann);
    let name = reference.store_name();
    store.set_ref(&name, &named)?;
    progress.line(&format!("Digest: {top_digest}"));
    progress.line(&format!("Status: Downloaded newer image for {reference}"));
    Ok(Pulled {
        name,
        manifest: manifest_desc,
        repo_digest: top_digest,
        config: manifest.config.digest.clone(),
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn human_platform(d: &Descriptor) -> String {
    d.platform
        .as_ref()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "single-platform".into())
}

fn check_manifest(m: &ImageManifest, desc: &Descriptor) -> Result<(), RegistryError> {
    let bad = |detail: String| RegistryError::BadManifest {
        reference: desc.digest.to_string(),
        detail,
    };
    let want_config = match desc.media_type.as_str() {
        OCI_MANIFEST => [OCI_CONFIG, DOCKER_CONFIG],
        DOCKER_MANIFEST => [DOCKER_CONFIG, OCI_CONFIG],
        other => return Err(bad(format!("unexpected media type {other}"))),
    };
    if !want_config.contains(&m.config.media_type.as_str()) {
        return Err(bad(format!(
            "config media type {:?} is not an image config (artifacts are not pulled)",
            m.config.media_type
        )));
    }
    if m.config.size > crate::store::MAX_METADATA_BLOB {
        return Err(bad(format!(
            "config of {} bytes is too large",
            m.config.size
        )));
    }
    for l in &m.layers {
        if l.urls.as_ref().is_some_and(|u| !u.is_empty()) {
            tracing::debug!(
                "layer {} has foreign urls; fetching from the registry",
                l.digest
            );
        }
    }
    Ok(())
}

/// Download blobs with at most `max_concurrent` threads; the first error stops new work.
fn fetch_all(
    registry: &Registry,
    store: &Store,
    repo: &str,
    blobs: &[Descriptor],
    opts: &PullOptions,
    progress: &Progress,
    added: &Mutex<BTreeSet<Digest>>,
) -> Result<(), RegistryError> {
    let queue = Mutex::new(blobs.iter().collect::<Vec<_>>());
    let first_error: Mutex<Option<RegistryError>> = Mutex::new(None);
    let workers = opts.max_concurrent.clamp(1, 16).min(blobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if lock(&first_error).is_some() {
                    return;
                }
                let Some(desc) = lock(&queue).pop() else {
                    return;
                };
                let label = desc.digest.short().to_string();
                if store.has_blob(&desc.digest) {
                    progress.item(&label, desc.size).finish("already exists");
                    continue;
                }
                let r = store
                    .ingest(&desc.digest, desc.size)
                    .map_err(RegistryError::from)
                    .and_then(|ingest| {
                        let present = ingest.already_present();
                        let item = progress.item(&label, desc.size);
                        registry.fetch_blob(repo, desc, ingest, &|n| item.inc(n))?;
                        item.finish(if present {
                            "already exists"
                        } else {
                            "pull complete"
                        });
                        Ok(present)
                    });
                match r {
                    Ok(false) => {
                        lock(added).insert(desc.digest.clone());
                    }
                    Ok(true) => {}
                    Err(e) => {
                        let mut fe = lock(&first_error);
                        if fe.is_none() {
                            *fe = Some(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
