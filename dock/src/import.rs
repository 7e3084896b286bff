//! `dock import-busybox`: a busybox image built offline from the host's static busybox
//! (Debian's busybox-static), so dock can run something on a machine with no network.

use crate::digest::Digest;
use crate::manifest::{Descriptor, OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST};
use crate::store::Store;
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::Path;

pub const BUSYBOX: &str = "/bin/busybox";
pub const NAME: &str = "docker.io/library/busybox:latest";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\nwheel:x:10:root\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65534:\n";

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// The uncompressed layer tar: /bin/busybox, a symlink per applet, /etc/passwd and group,
/// and the usual empty directories.
pub fn busybox_tar(busybox: &Path) -> Result<Vec<u8>> {
    let data = std::fs::read(busybox).with_context(|| {
        format!(
            "read {}: install Debian's busybox-static (apt-get install busybox-static)",
            busybox.display()
        )
    })?;
    let list = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("run {} --list", busybox.display()))?;
    if !list.status.success() {
        bail!("{} --list failed", busybox.display());
    }
    let mut out = Vec::new();
    {
        let mut b = tar::Builder::new(&mut out);
        use tar::EntryType as T;
        for (d, mode) in [
            ("bin", 0o755),
            ("dev", 0o755),
            ("etc", 0o755),
            ("home", 0o755),
            ("proc", 0o555),
            ("root", 0o700),
            ("sys", 0o555),
            ("tmp", 0o1777),
            ("usr", 0o755),
            ("usr/sbin", 0o755),
            ("var", 0o755),
            ("var/www", 0o755),
        ] {
            b.append_data(&mut header(T::Directory, mode, 0), d, std::io::empty())?;
        }
        b.append_data(
            &mut header(T::Regular, 0o755, data.len() as u64),
            "bin/busybox",
            &data[..],
        )?;
        for name in String::from_utf8_lossy(&list.stdout).lines() {
            let name = name.trim();
            if name.is_empty() || name == "busybox" || name.contains('/') {
                continue;
            }
            b.append_link(
                &mut header(T::Symlink, 0o777, 0),
                format!("bin/{name}"),
                "busybox",
            )?;
        }
        for (p, c) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
            b.append_data(
                &mut header(T::Regular, 0o644, c.len() as u64),
                p,
                c.as_bytes(),
            )?;
        }
        b.finish()?;
    }
    Ok(out)
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Store an image made of `layers` (uncompressed tars, base first) and `config` (the image
/// config's `config` object) under `name`; returns the manifest digest.
pub fn store_image(
    store: &Store,
    name: &str,
    layers: &[Vec<u8>],
    config: serde_json::Value,
) -> Result<Digest> {
    let _content = store.content_lock()?;
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in layers {
        diff_ids.push(Digest::sha256_of(tar).to_string());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(tar)?;
        let gz = gz.finish()?;
        let d = store.put_blob_sha256(&gz)?;
        descs.push(desc(OCI_LAYER_GZIP, d, gz.len()));
    }
    let cfg = serde_json::json!({
        "created": "2023-11-14T22:13:20Z",
        "architecture": arch(),
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "dock import"}],
    });
    let cfg = serde_json::to_vec(&cfg)?;
    let cd = store.put_blob_sha256(&cfg)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc(OCI_CONFIG, cd, cfg.len()),
        "layers": descs,
    });
    let m = serde_json::to_vec(&manifest)?;
    let md = store.put_blob_sha256(&m)?;
    store.set_ref(name, &desc(OCI_MANIFEST, md.clone(), m.len()))?;
    Ok(md)
}

fn desc(mt: &str, digest: Digest, size: usize) -> Descriptor {
    Descriptor {
        media_type: mt.into(),
        digest,
        size: size as u64,
        platform: None,
        annotations: None,
        urls: None,
    }
}

/// Build and store `busybox:latest` from the host's static busybox.
pub fn busybox(store: &Store, busybox: &Path) -> Result<Digest> {
    let tar = busybox_tar(busybox)?;
    store_image(
        store,
        NAME,
        &[tar],
        serde_json::json!({
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
        }),
    )
}
