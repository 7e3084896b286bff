//! `dock save` / `dock load`: round trip through dock, and interoperability with skopeo's
//! `oci-archive:` and `docker-archive:` transports.

mod common;

use common::*;
use std::process::Command;

fn skopeo(args: &[&str]) -> String {
    assert!(
        std::path::Path::new("/usr/bin/skopeo").exists(),
        "/usr/bin/skopeo is missing: install the Debian package `skopeo` (listed in .ci/packages)"
    );
    let out = Command::new("/usr/bin/skopeo")
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn save_load_round_trip_and_skopeo_archives() {
    let reg = RegistryProc::start(RegistryAuth::None);
    let shared = busybox_layer("amd64");
    let a = make_image("amd64", vec![shared.clone(), small_layer("a", b"a")], false);
    let b = make_image("amd64", vec![shared, small_layer("b", b"b")], true);
    upload(&reg.host, "arch/a", "1", &a, None);
    upload(&reg.host, "arch/b", "2", &b, None);
    let (na, nb) = (
        format!("{}/arch/a:1", reg.host),
        format!("{}/arch/b:2", reg.host),
    );
    let d = Dock::new();
    d.ok(&["pull", &na]);
    d.ok(&["pull", &nb]);
    let tmp = TempDir::new("archives");

    // dock save -> dock load: same names, same digests, same blobs.
    let both = tmp.path().join("both.tar");
    d.ok(&["save", "-o", both.to_str().unwrap(), &na, &nb]);
    let fresh = Dock::new();
    let out = fresh.ok(&["load", "-i", both.to_str().unwrap()]);
    assert!(out.contains(&format!("Loaded image: {na}")), "{out}");
    assert!(out.contains(&format!("Loaded image: {nb}")), "{out}");
    fresh.verify_store();
    assert_eq!(d.snapshot().0, fresh.snapshot().0);
    for n in [&na, &nb] {
        assert_eq!(
            stored_config(&d, n)["Manifest"]["digest"],
            stored_config(&fresh, n)["Manifest"]["digest"]
        );
    }

    // skopeo reads dock's archive both as an OCI archive and as a docker archive.
    let one = tmp.path().join("one.tar");
    d.ok(&["save", "-o", one.to_str().unwrap(), &na]);
    let v: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        &format!("oci-archive:{}", one.display()),
    ]))
    .unwrap();
    assert_eq!(v["Digest"], a.manifest.digest.to_string());
    let v: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--config",
        &format!("docker-archive:{}", one.display()),
    ]))
    .unwrap();
    assert_eq!(v["architecture"], "amd64");

    // dock loads skopeo's docker archive (uncompressed layers; the config is the same).
    let darch = tmp.path().join("skopeo-docker.tar");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{nb}"),
        &format!("docker-archive:{}:skopeo/b:9", darch.display()),
    ]);
    let l = Dock::new();
    let out = l.ok(&["load", "-i", darch.to_str().unwrap()]);
    assert!(out.contains("Loaded image: skopeo/b:9"), "{out}");
    assert_eq!(
        stored_config(&l, "skopeo/b:9")["Id"],
        b.config.digest.to_string()
    );
    l.verify_store();
    assert!(l.ok(&["gc"]).contains("removed 0 blobs"));

    // dock loads skopeo's OCI archive named with a full reference.
    let oarch = tmp.path().join("skopeo-oci.tar");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{na}"),
        &format!("oci-archive:{}:{}/skopeo/a:7", oarch.display(), reg.host),
    ]);
    let out = l.ok(&["load", "-i", oarch.to_str().unwrap()]);
    assert!(
        out.contains(&format!("Loaded image: {}/skopeo/a:7", reg.host)),
        "{out}"
    );
    assert!(l.index()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["digest"] == a.manifest.digest.to_string()));

    // A corrupt archive (a blob whose bytes do not match its name) changes nothing.
    let mut bytes = std::fs::read(&one).unwrap();
    let needle = b"dock test helper";
    let pos = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("config in tar");
    bytes[pos] ^= 0x20;
    let bad = tmp.path().join("bad.tar");
    std::fs::write(&bad, &bytes).unwrap();
    let c = Dock::new();
    c.ok(&["images"]);
    let before = c.snapshot();
    let err = c.fails(&["load", "-i", bad.to_str().unwrap()]);
    assert!(
        err.contains(&a.config.digest.to_string()) && err.contains("digest mismatch"),
        "{err}"
    );
    assert_eq!(before, c.snapshot());
}

/// The legacy `docker save` layout: `<id>/layer.tar` directories, a duplicate layer as a
/// symlink, `<config>.json`, `manifest.json` and `repositories`.
#[test]
fn load_legacy_docker_archive_with_symlinked_layer() {
    let layer_a = b"layer-a-uncompressed-tar-stand-in".to_vec();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
        "rootfs": {"type": "layers", "diff_ids": [
            dock::digest::Digest::sha256_of(&layer_a).to_string(),
            dock::digest::Digest::sha256_of(&layer_a).to_string()
        ]}
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = dock::digest::Digest::sha256_of(&config);
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        let file = |b: &mut tar::Builder<&mut Vec<u8>>, name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, data).unwrap();
        };
        file(&mut b, &format!("{}.json", config_digest.hex()), &config);
        file(&mut b, "aaa/VERSION", b"1.0");
        file(&mut b, "aaa/json", b"{}");
        file(&mut b, "aaa/layer.tar", &layer_a);
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "bbb/layer.tar", "../aaa/layer.tar")
            .unwrap();
        let manifest = serde_json::json!([{
            "Config": format!("{}.json", config_digest.hex()),
            "RepoTags": ["legacy/app:old"],
            "Layers": ["aaa/layer.tar", "bbb/layer.tar"]
        }]);
        file(&mut b, "manifest.json", manifest.to_string().as_bytes());
        file(&mut b, "repositories", br#"{"legacy/app":{"old":"aaa"}}"#);
        b.finish().unwrap();
    }
    let tmp = TempDir::new("legacy");
    let path = tmp.path().join("legacy.tar");
    std::fs::write(&path, &tar_bytes).unwrap();
    let d = Dock::new();
    let out = d.ok(&["load", "-i", path.to_str().unwrap()]);
    assert!(out.contains("Loaded image: legacy/app:old"), "{out}");
    let info = stored_config(&d, "legacy/app:old");
    assert_eq!(info["Id"], config_digest.to_string());
    let layers = info["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["digest"], layers[1]["digest"]);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar"
    );
    d.verify_store();
    // Only config, one layer and the made manifest are kept (VERSION/json were dropped).
    assert_eq!(d.snapshot().0.len(), 3, "{:?}", d.snapshot().0);
}
