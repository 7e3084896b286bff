//! `save` and `load`: image archives.
//!
//! `save` writes one tar that is both an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/...`) and a docker archive (`manifest.json` with `Config`, `RepoTags`,
//! `Layers` pointing into `blobs/`), as docker 25+ does, so `docker load`, skopeo's
//! `oci-archive:`/`docker-archive:` and dock all read it.
//!
//! `load` reads either kind, including the legacy docker layout (`<id>/layer.tar`, `<id>.json`,
//! symlinked duplicate layers). Archive paths never become filesystem paths: content goes into
//! the store by digest only. A `blobs/<alg>/<hex>` entry is verified against its name; any
//! other file is stored under its computed sha256. Content the loaded images do not reference
//! is removed again.

use crate::digest::Digest;
use crate::manifest::{
    Descriptor, ImageIndex, ImageManifest, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, REF_NAME,
};
use crate::reference::Reference;
use crate::store::{Store, StoreError, MAX_METADATA_BLOB};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};

/// containerd's (and docker's) annotation for the full image name in an index.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Archive failures.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("archive: {0}")]
    Invalid(String),
}

/// An image to save: its stored name and descriptor.
pub struct SaveItem {
    pub reference: Reference,
    pub descriptor: Descriptor,
}

/// Write `items` (with every blob they reference, each verified) as a tar to `out`.
pub fn save(store: &Store, items: &[SaveItem], out: &mut dyn Write) -> Result<(), ArchiveError> {
    let _content = store.content_lock()?;
    let mut blobs = BTreeSet::new();
    let mut index = ImageIndex {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_string()),
        manifests: Vec::new(),
        annotations: None,
    };
    let mut docker_manifest = Vec::new();
    for item in items {
        let m = store.image_manifest(&item.descriptor)?;
        blobs.extend(store.closure(vec![item.descriptor.clone()])?);
        blobs.insert(m.config.digest.clone());
        blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
        let mut d = item.descriptor.clone();
        let mut ann = BTreeMap::new();
        ann.insert(CONTAINERD_NAME.to_string(), item.reference.store_name());
        if let Some(t) = &item.reference.tag {
            ann.insert(REF_NAME.to_string(), t.clone());
        }
        d.annotations = Some(ann);
        index.manifests.push(d);
        let path = |d: &Digest| format!("blobs/{}/{}", d.algorithm().name(), d.hex());
        let tags: Vec<String> = item
            .reference
            .tag
            .as_ref()
            .map(|t| format!("{}:{t}", item.reference.familiar_repository()))
            .into_iter()
            .collect();
        docker_manifest.push(serde_json::json!({
            "Config": path(&m.config.digest),
            "RepoTags": tags,
            "Layers": m.layers.iter().map(|l| path(&l.digest)).collect::<Vec<_>>(),
        }));
    }
    let mut tar = tar::Builder::new(out);
    let mut add = |name: &str, size: u64, data: &mut dyn Read| -> std::io::Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, data)
    };
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    add("oci-layout", layout.len() as u64, &mut &layout[..])?;
    for d in &blobs {
        let size = store.verify_blob(d)?;
        let mut f = std::fs::File::open(store.blob_path(d))?;
        add(
            &format!("blobs/{}/{}", d.algorithm().name(), d.hex()),
            size,
            &mut f,
        )?;
    }
    let idx =
        serde_json::to_vec_pretty(&index).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
    add("index.json", idx.len() as u64, &mut &idx[..])?;
    let dm = serde_json::to_vec_pretty(&docker_manifest)
        .map_err(|e| ArchiveError::Invalid(e.to_string()))?;
    add("manifest.json", dm.len() as u64, &mut &dm[..])?;
    tar.into_inner()?.flush()?;
    Ok(())
}

/// What `load` named.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub names: Vec<String>,
    /// Image manifests loaded without a name (not kept).
    pub unnamed: Vec<Digest>,
}

/// Read an archive (OCI layout tar or docker archive) into the store.
pub fn load(store: &Store, input: &mut dyn Read) -> Result<Loaded, ArchiveError> {
    let mut added = BTreeSet::new();
    let result = {
        let _content = store.content_lock()?;
        load_locked(store, input, &mut added)
    };
    // Drop what no loaded name references (legacy metadata files, a failed load's blobs).
    if let Err(e) = store.remove_unreferenced(&added) {
        tracing::warn!("cleaning up after load: {e}");
    }
    result
}

fn load_locked(
    store: &Store,
    input: &mut dyn Read,
    added: &mut BTreeSet<Digest>,
) -> Result<Loaded, ArchiveError> {
    let mut files: BTreeMap<String, (Digest, u64)> = BTreeMap::new();
    let mut links: BTreeMap<String, String> = BTreeMap::new();
    let mut meta: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = normalize(&entry.path()?.to_string_lossy());
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            if let Some(target) = entry.link_name()? {
                let target = target.to_string_lossy().into_owned();
                let resolved = if kind.is_symlink() {
                    join_relative(&path, &target)
                } else {
                    normalize(&target)
                };
                links.insert(path, resolved);
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        if matches!(
            path.as_str(),
            "index.json" | "manifest.json" | "oci-layout" | "repositories"
        ) {
            if size > MAX_METADATA_BLOB {
                return Err(ArchiveError::Invalid(format!(
                    "{path}: {size} bytes is too large"
                )));
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            meta.insert(path, data);
            continue;
        }
        let expected = path
            .strip_prefix("blobs/")
            .and_then(|rest| rest.split_once('/'))
            .map(|(alg, hex)| Digest::parse(&format!("{alg}:{hex}")));
        let (digest, len, new) = match expected {
            Some(Ok(d)) => store.put_blob_reader(&mut entry, Some((&d, size)))?,
            Some(Err(e)) => return Err(ArchiveError::Invalid(format!("{path}: {e}"))),
            None => store.put_blob_reader(&mut entry, None)?,
        };
        if new {
            added.insert(digest.clone());
        }
        files.insert(path, (digest, len));
    }
    let lookup = |p: &str| -> Option<(Digest, u64)> {
        let mut p = normalize(p);
        for _ in 0..16 {
            if let Some(v) = files.get(&p) {
                return Some(v.clone());
            }
            p = links.get(&p)?.clone();
        }
        None
    };
    let mut loaded = Loaded {
        names: Vec::new(),
        unnamed: Vec::new(),
    };
    if let Some(idx) = meta.get("index.json") {
        let index: ImageIndex = serde_json::from_slice(idx)
            .map_err(|e| ArchiveError::Invalid(format!("index.json: {e}")))?;
        for d in &index.manifests {
            let m = store.image_manifest(d)?;
            for b in std::iter::once(&m.config).chain(m.layers.iter()) {
                if !store.has_blob(&b.digest) {
                    return Err(ArchiveError::Invalid(format!(
                        "manifest {} references blob {} that is not in the archive",
                        d.digest, b.digest
                    )));
                }
            }
            let name = d
                .annotation(CONTAINERD_NAME)
                .or_else(|| d.annotation(REF_NAME).filter(|n| n.contains(['/', ':'])))
                .and_then(|n| Reference::parse(n).ok());
            name_image(store, d, name, &mut loaded)?;
        }
        return Ok(loaded);
    }
    let Some(dm) = meta.get("manifest.json") else {
        return Err(ArchiveError::Invalid(
            "neither index.json nor manifest.json in the archive".into(),
        ));
    };
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(rename = "Config")]
        config: String,
        #[serde(rename = "RepoTags", default)]
        repo_tags: Option<Vec<String>>,
        #[serde(rename = "Layers", default)]
        layers: Vec<String>,
    }
    let items: Vec<Item> = serde_json::from_slice(dm)
        .map_err(|e| ArchiveError::Invalid(format!("manifest.json: {e}")))?;
    for item in items {
        let missing =
            |p: &str| ArchiveError::Invalid(format!("manifest.json names {p}, not in the archive"));
        let (config, config_size) = lookup(&item.config).ok_or_else(|| missing(&item.config))?;
        let mut layers = Vec::new();
        for l in &item.layers {
            let (d, size) = lookup(l).ok_or_else(|| missing(l))?;
            layers.push(Descriptor {
                media_type: layer_media_type(store, &d),
                digest: d,
                size,
                platform: None,
                annotations: None,
                urls: None,
            });
        }
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.to_string()),
            config: Descriptor {
                media_type: OCI_CONFIG.to_string(),
                digest: config,
                size: config_size,
                platform: None,
                annotations: None,
                urls: None,
            },
            layers,
            annotations: None,
        };
        let body =
            serde_json::to_vec(&manifest).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
        let digest = store.put_blob_sha256(&body)?;
        added.insert(digest.clone());
        let desc = Descriptor {
            media_type: OCI_MANIFEST.to_string(),
            digest,
            size: body.len() as u64,
            platform: None,
            annotations: None,
            urls: None,
        };
        let tags = item.repo_tags.unwrap_or_default();
        if tags.is_empty() {
            loaded.unnamed.push(desc.digest.clone());
        }
        for t in tags {
            let r = Reference::parse(&t)
                .map_err(|e| ArchiveError::Invalid(format!("manifest.json: {e}")))?;
            name_image(store, &desc, Some(r), &mut loaded)?;
        }
    }
    Ok(loaded)
}

fn name_image(
    store: &Store,
    d: &Descriptor,
    name: Option<Reference>,
    loaded: &mut Loaded,
) -> Result<(), ArchiveError> {
    match name {
        Some(r) => {
            let mut desc = d.clone();
            desc.annotations = None;
            store.set_ref(&r.store_name(), &desc)?;
            loaded.names.push(r.to_string());
        }
        None => loaded.unnamed.push(d.digest.clone()),
    }
    Ok(())
}

/// The OCI layer media type for a stored layer, from its first bytes.
fn layer_media_type(store: &Store, d: &Digest) -> String {
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(store.blob_path(d))
        .and_then(|mut f| f.read(&mut magic))
        .unwrap_or(0);
    let base = "application/vnd.oci.image.layer.v1.tar";
    if n >= 2 && magic[..2] == [0x1f, 0x8b] {
        format!("{base}+gzip")
    } else if n >= 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
        format!("{base}+zstd")
    } else {
        base.to_string()
    }
}

/// `./a//b/` → `a/b`; `..` components are dropped (names only, never filesystem paths).
fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// Resolve a symlink target relative to the link's directory.
fn join_relative(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize(target);
    }
    let dir = link.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    normalize(&format!("{dir}/{target}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths() {
        assert_eq!(super::normalize("./a//b/"), "a/b");
        assert_eq!(super::normalize("../../etc/passwd"), "etc/passwd");
        assert_eq!(
            super::join_relative("abc/layer.tar", "../def/layer.tar"),
            "def/layer.tar"
        );
    }
}
