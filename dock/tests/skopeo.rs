//! Interoperability with skopeo (Debian): skopeo reads what dock pushed, skopeo copies dock's
//! store (an OCI image layout) to a registry, and dock pulls what skopeo pushed.

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
fn skopeo_reads_dock_pushes_and_dock_reads_skopeo_pushes() {
    let reg = RegistryProc::start(RegistryAuth::None);
    let img = make_image(
        "amd64",
        vec![busybox_layer("amd64"), small_layer("etc/x", b"x")],
        false,
    );
    upload(&reg.host, "seed/app", "1", &img, None);
    let d = Dock::new();
    let seed = format!("{}/seed/app:1", reg.host);
    d.ok(&["pull", &seed]);

    // dock push -> skopeo inspect / copy (skopeo verifies every blob digest on copy).
    let pushed = format!("{}/dock/pushed:1", reg.host);
    d.ok(&["tag", &seed, &pushed]);
    d.ok(&["push", &pushed]);
    let inspect = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{pushed}"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v["Digest"], img.manifest.digest.to_string());
    assert_eq!(v["Architecture"], "amd64");
    let out = TempDir::new("skopeo-oci");
    let layout = out.path().join("layout");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{pushed}"),
        &format!("oci:{}:copied", layout.display()),
    ]);
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        idx["manifests"][0]["digest"],
        img.manifest.digest.to_string()
    );

    // skopeo copies dock's own store (an OCI layout) to the registry; dock pulls it back.
    let by_skopeo = format!("{}/skopeo/pushed:2", reg.host);
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:{seed}", d.root.path().display()),
        &format!("docker://{by_skopeo}"),
    ]);
    let fresh = Dock::new();
    fresh.ok(&["pull", &by_skopeo]);
    fresh.verify_store();
    assert_eq!(
        fresh.index()["manifests"][0]["digest"],
        img.manifest.digest.to_string()
    );
}
