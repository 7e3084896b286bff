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
    assert_eq!(
        l.index()["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["digest"] == a.manifest.digest.to_string())
            .is_some(),
        true
    );

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
